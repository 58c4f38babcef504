package interp

import (
	"context"
	"math"
	"testing"

	"github.com/optc-dev/optc/ir"
)

// TestMomentumByHand checks one standard-momentum step computed by hand:
// G' = 0.1·2 + 1 = 1.2, V' = 0.9·0.5 + 1·1.2 = 1.65 (beta applies from T>0),
// X' = 2 - 0.01·1.65 = 1.9835.
func TestMomentumByHand(t *testing.T) {
	b := ir.NewBuilder("m")
	r := b.Const("R", ir.ScalarF32(0.01))
	tt := b.Const("T", ir.ScalarI64(3))
	x := b.Input("X", ir.TensorType(ir.Float32, ir.ShapeOf(1)))
	g := b.Input("G", ir.TensorType(ir.Float32, ir.ShapeOf(1)))
	v := b.Input("V", ir.TensorType(ir.Float32, ir.ShapeOf(1)))
	outs := b.Op("Momentum", []*ir.Value{r, tt, x, g, v}, map[string]*ir.Attr{
		"alpha": ir.FloatAttr(0.9), "beta": ir.FloatAttr(1), "norm_coefficient": ir.FloatAttr(0.1),
		"mode": ir.StringAttr("standard"),
	}, 2)
	outs[0].Def.Domain = trainingDomain
	b.Output(outs...)
	in := map[string]Value{
		"X": ir.FromSlice(ir.Float32, []int64{1}, []float32{2}),
		"G": ir.FromSlice(ir.Float32, []int64{1}, []float32{1}),
		"V": ir.FromSlice(ir.Float32, []int64{1}, []float32{0.5}),
	}
	res, err := Run(context.Background(), b.Graph(), in)
	if err != nil {
		t.Fatal(err)
	}
	gotX := res[outs[0].Name].(*ir.Tensor).Float64At(0)
	gotV := res[outs[1].Name].(*ir.Tensor).Float64At(0)
	if math.Abs(gotX-1.9835) > 1e-6 || math.Abs(gotV-1.65) > 1e-6 {
		t.Fatalf("got X=%v V=%v, want 1.9835 and 1.65", gotX, gotV)
	}
}
