package native_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/native"
	"github.com/optc-dev/optc/targets"
)

// TestNativeControlMatchesInterpreter runs the LSTM / If / Pad cases
// natively and on the interpreter (the oracle) within atol 1e-4 + rtol
// 1e-4 (see compare), for every 0/1 combination of the int64 "sel*"
// inputs, so that every If branch runs.
func TestNativeControlMatchesInterpreter(t *testing.T) {
	host := codegentest.Host(t)
	for _, c := range codegentest.ControlCases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Build()
			m := openFullyNative(t, g, host, c.Shapes)
			var sels []string
			rng := rand.New(rand.NewPCG(1, 1))
			in := map[string]*ir.Tensor{}
			for _, v := range g.Inputs {
				shape, _ := v.Type.Shape.Concrete()
				switch {
				case strings.HasPrefix(v.Name, "sel"):
					sels = append(sels, v.Name)
				case v.Type.DType == ir.Int32:
					// LSTM sequence lengths: T is the time dim of the
					// LSTM's X (the graph input "x", layout 0 or 1).
					in[v.Name] = codegentest.ControlInt32(shape, ctrlSeqLen(g))
				default:
					in[v.Name] = codegentest.Random(rng, shape...)
				}
			}
			for combo := 0; combo < 1<<len(sels); combo++ {
				for i, s := range sels {
					in[s] = ir.ScalarI64(int64(combo >> i & 1))
				}
				compare(t, g, m, in)
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

// ctrlSeqLen is the sequence length of the graph's LSTM.
func ctrlSeqLen(g *ir.Graph) int64 {
	for _, n := range g.Nodes {
		if n.Op == "LSTM" {
			xs, _ := n.Inputs[0].Type.Shape.Concrete()
			return xs[n.AttrInt("layout", 0)]
		}
	}
	return 0
}
