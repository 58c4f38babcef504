package native_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/native"
	"github.com/optc-dev/optc/targets"
)

// TestNativeControlMatchesInterpreter runs the LSTM / If / Pad cases
// natively and on the interpreter (the oracle) within atol 1e-4 + rtol
// 1e-4 (see compare), for every 0/1 combination of the int64 "sel*"
// inputs, so that every If branch runs (codegentest.ControlInputs).
func TestNativeControlMatchesInterpreter(t *testing.T) {
	host := codegentest.Host(t)
	for _, c := range codegentest.ControlCases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Build()
			m := openFullyNative(t, g, host, c.Shapes)
			for combo := 0; combo < codegentest.ControlCombos(g); combo++ {
				compare(t, g, m, codegentest.ControlInputs(g, combo, 1))
			}
		})
	}
}

// openFullyNative compiles g into a bundle, requires it to be fully
// native (no interpreter step) and opens it with 2 threads; the model is
// closed when the test ends.
func openFullyNative(t *testing.T, g *ir.Graph, host *targets.Target, shapes map[string][]int64) *native.Model {
	t.Helper()
	dir := t.TempDir()
	res := codegentest.Bundle(t, g, host, shapes, dir, "")
	if !res.FullyNative() || len(res.Fallback) > 0 {
		t.Fatalf("not fully native: %d steps, fallback %v", len(res.Steps), res.Fallback)
	}
	m, err := native.Open(dir, native.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
