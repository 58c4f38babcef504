package native_test

import (
	"context"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
	"github.com/optc-dev/optc/runtime/native"
)

// Native code is compared with the interpreter (the reference) within
// atol 1e-4 + rtol 1e-4: FMA contraction, a different summation order in
// GEMM and the polynomial exp/tanh differ from Go's float32 arithmetic in
// the last bits only.
const atol, rtol = 1e-4, 1e-4

func TestNativeMatchesInterpreter(t *testing.T) {
	host := codegentest.Host(t)
	for _, c := range codegentest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Build()
			dir := t.TempDir()
			res := codegentest.Bundle(t, g, host, c.Shapes, dir, "")
			if res.FullyNative() == c.Partitioned {
				t.Fatalf("fully native = %v, fallback %v", res.FullyNative(), res.Fallback)
			}
			m, err := native.Open(dir, native.Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			in := codegentest.Inputs(t, g, 1)
			compare(t, g, m, in)
		})
	}
}

// compare runs m and the interpreter on the same inputs.
func compare(t *testing.T, g *ir.Graph, m *native.Model, in map[string]*ir.Tensor) {
	t.Helper()
	got, err := m.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	iin := map[string]interp.Value{}
	for k, v := range in {
		iin[k] = v
	}
	want, err := interp.Run(context.Background(), g, iin)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range g.Outputs {
		if err := codegentest.Close(got[o.Name], want[o.Name].(*ir.Tensor), atol, rtol); err != nil {
			t.Errorf("output %q: %v", o.Name, err)
		}
	}
}

func interpRunValues(g *ir.Graph, in map[string]any) (map[string]interp.Value, error) {
	iin := map[string]interp.Value{}
	for k, v := range in {
		iin[k] = v
	}
	return interp.Run(context.Background(), g, iin)
}
