package native_test

import (
	"context"
	"math"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
)

// TestSinCos compares the vectorized Cephes sine and cosine with the
// interpreter (Go's float64 math.Sin/Cos rounded to float32) over the
// rotary-embedding range, the octant boundaries, zeros and non-finite
// values (which must give NaN, as the interpreter's do).
func TestSinCos(t *testing.T) {
	var xs []float32
	for i := -4000; i <= 4000; i++ {
		xs = append(xs, float32(i)*0.37) // ±1480 rad, every octant many times
	}
	for q := -16; q <= 16; q++ {
		c := float32(float64(q) * math.Pi / 4)
		xs = append(xs, c, math.Nextafter32(c, 100), math.Nextafter32(c, -100))
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), 1e-30, 4095.9, -4095.9)
	nonFinite := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	xs = append(xs, nonFinite...)
	n := int64(len(xs))
	b := ir.NewBuilder("trig")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(n)))
	b.Output(b.Op1("Sin", nil, x), b.Op1("Cos", nil, x))
	g := b.Graph()
	m := openFullyNative(t, g, codegentest.Host(t), nil)
	in := map[string]*ir.Tensor{"x": ir.FromSlice(ir.Float32, []int64{n}, xs)}
	got, err := m.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := interpRun(t, g, in)
	for _, o := range g.Outputs {
		gv, wv := got[o.Name].Data.([]float32), want[o.Name].Data.([]float32)
		worst := 0.0
		for i := range xs {
			if i >= len(xs)-len(nonFinite) {
				if !math.IsNaN(float64(gv[i])) || !math.IsNaN(float64(wv[i])) {
					t.Errorf("%s(%v) = %v, interpreter %v: want NaN from both", o.Def.Op, xs[i], gv[i], wv[i])
				}
				continue
			}
			// Absolute error: the argument itself carries float32 rounding of
			// up to 6e-5 rad at |x| ≈ 1480, which both sides see alike.
			worst = math.Max(worst, math.Abs(float64(gv[i]-wv[i])))
		}
		if worst > 2e-6 {
			t.Errorf("%s: max |native − interpreter| = %.3g, want ≤ 2e-6", o.Def.Op, worst)
		}
		t.Logf("%s: max |native − interpreter| = %.3g over %d finite arguments", o.Def.Op, worst, len(xs)-len(nonFinite))
	}
}
