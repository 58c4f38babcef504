package llm

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// TestNativeRopeOps: the standard ops nativeRopeOps puts in place of an
// optc.RotaryEmbedding give the interpreter's RotaryEmbedding kernel's
// output (the reference), for the Hugging Face (rotate-half) and GGUF
// (interleaved) layouts, with the whole head rotated and with only part
// of it (rotary_embedding_dim < head size).
func TestNativeRopeOps(t *testing.T) {
	const s, heads, d, maxPos = 3, 2, 8, 16
	for _, c := range []struct {
		rd          int
		interleaved bool
	}{{8, false}, {8, true}, {4, false}, {4, true}} {
		t.Run(fmt.Sprintf("rd%d_interleaved%v", c.rd, c.interleaved), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(c.rd), 3))
			randn := func(n int) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				return x
			}
			b := ir.NewBuilder("rope")
			g := b.Graph()
			g.Opsets[ir.DomainOptc] = 1
			x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(1, s, heads*d)))
			pos := b.Input("pos", ir.TensorType(ir.Int64, ir.ShapeOf(1, s)))
			half := int64(c.rd / 2)
			cos := b.Const("cos", ir.FromSlice(ir.Float32, []int64{maxPos, half}, randn(maxPos*int(half))))
			sin := b.Const("sin", ir.FromSlice(ir.Float32, []int64{maxPos, half}, randn(maxPos*int(half))))
			il := int64(0)
			if c.interleaved {
				il = 1
			}
			y := b.Op1("RotaryEmbedding", map[string]*ir.Attr{"interleaved": ir.IntAttr(il), "num_heads": ir.IntAttr(heads), "rotary_embedding_dim": ir.IntAttr(int64(c.rd))}, x, cos, sin, pos)
			y.Def.Domain = ir.DomainOptc
			b.Output(y)
			if err := ir.InferShapes(g); err != nil {
				t.Fatal(err)
			}
			feeds := map[string]interp.Value{
				"x":   ir.FromSlice(ir.Float32, []int64{1, s, heads * d}, randn(s*heads*d)),
				"pos": ir.FromSlice(ir.Int64, []int64{1, s}, []int64{5, 0, 15}),
			}
			want, err := interp.Run(context.Background(), g, feeds)
			if err != nil {
				t.Fatal(err)
			}
			rg := ir.CloneGraph(g)
			if err := nativeRopeOps(rg); err != nil {
				t.Fatal(err)
			}
			for _, n := range rg.Nodes {
				if n.Op == "RotaryEmbedding" {
					t.Fatalf("%s is still there", n.Describe())
				}
			}
			if err := ir.InferShapes(rg); err != nil {
				t.Fatal(err)
			}
			got, err := interp.Run(context.Background(), rg, feeds)
			if err != nil {
				t.Fatal(err)
			}
			a := want[g.Outputs[0].Name].(*ir.Tensor)
			bt := got[rg.Outputs[0].Name].(*ir.Tensor)
			if fmt.Sprint(a.Shape) != fmt.Sprint(bt.Shape) {
				t.Fatalf("shape %v, want %v", bt.Shape, a.Shape)
			}
			av, bv := a.Float32s(), bt.Float32s()
			for i := range av {
				// Both compute x0·cos − x1·sin in float32: equal up to rounding.
				if math.Abs(float64(av[i]-bv[i])) > 1e-6 {
					t.Fatalf("element %d: %g, want %g", i, bv[i], av[i])
				}
			}
		})
	}
}
