package passes

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

func bnRand(rng *rand.Rand, lo, hi float64, shape ...int64) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	d := t.Data.([]float32)
	for i := range d {
		d[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return t
}

// bnGraph: Conv(+bias) -> BN -> Relu, Gemm(transB) -> BN and grouped
// ConvTranspose -> BN; all outputs.
func bnGraph(convBias bool) *ir.Graph {
	rng := rand.New(rand.NewPCG(5, 5))
	b := ir.NewBuilder("bn")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(2, 3, 9, 9)))
	bn := func(h *ir.Value, c int64) *ir.Value {
		return b.Op1("BatchNormalization", map[string]*ir.Attr{"epsilon": ir.FloatAttr(1e-3)}, h,
			b.Const("scale", bnRand(rng, 0.5, 2, c)), b.Const("bias", bnRand(rng, -1, 1, c)),
			b.Const("mean", bnRand(rng, -0.5, 0.5, c)), b.Const("var", bnRand(rng, 0.2, 3, c)))
	}
	ins := []*ir.Value{x, b.Const("w", bnRand(rng, -1, 1, 4, 3, 3, 3))}
	if convBias {
		ins = append(ins, b.Const("cb", bnRand(rng, -1, 1, 4)))
	}
	h := b.Op1("Conv", map[string]*ir.Attr{"pads": ir.IntsAttr(1, 1, 1, 1), "strides": ir.IntsAttr(2, 2)}, ins...)
	h = b.Op1("Relu", nil, bn(h, 4))
	b.Output(h)
	f := b.Op1("Flatten", nil, h) // [2, 4*5*5]
	y := b.Op1("Gemm", map[string]*ir.Attr{"transB": ir.IntAttr(1), "beta": ir.FloatAttr(0.5)}, f,
		b.Const("gw", bnRand(rng, -1, 1, 6, 100)), b.Const("gc", bnRand(rng, -1, 1, 6)))
	b.Output(bn(y, 6))
	// ConvTranspose with groups 2: weight [4, 3, 2, 2], 6 output channels.
	ct := b.Op1("ConvTranspose", map[string]*ir.Attr{"group": ir.IntAttr(2), "strides": ir.IntsAttr(2, 2)}, h,
		b.Const("ctw", bnRand(rng, -1, 1, 4, 3, 2, 2)))
	// The bias as a separate per-channel Add (as PP-OCR det exports it).
	ct = b.Op1("Add", nil, ct, b.Const("ctb", bnRand(rng, -1, 1, 6, 1, 1)))
	b.Output(bn(ct, 6))
	g := b.Graph()
	g.Opsets = map[string]int64{"": 17}
	return g
}

func bnRun(t *testing.T, g *ir.Graph, in map[string]interp.Value) []*ir.Tensor {
	t.Helper()
	out, err := interp.Run(context.Background(), g, in)
	if err != nil {
		t.Fatal(err)
	}
	var res []*ir.Tensor
	for _, o := range g.Outputs {
		res = append(res, out[o.Name].(*ir.Tensor))
	}
	return res
}

func bnCount(g *ir.Graph, op string) int {
	k := 0
	for _, n := range g.Nodes {
		if n.Op == op {
			k++
		}
	}
	return k
}

func bnCompare(t *testing.T, got, want []*ir.Tensor, tol float64) {
	t.Helper()
	for i := range want {
		w, gt := want[i].Data.([]float32), got[i].Data.([]float32)
		for j := range w {
			if d := math.Abs(float64(w[j] - gt[j])); d > tol*(1+math.Abs(float64(w[j]))) {
				t.Fatalf("output %d element %d: %g after folding, %g before", i, j, gt[j], w[j])
			}
		}
	}
}

func TestFoldBN(t *testing.T) {
	for _, bias := range []bool{false, true} {
		g := bnGraph(bias)
		rng := rand.New(rand.NewPCG(1, 2))
		in := map[string]interp.Value{"x": bnRand(rng, -1, 1, 2, 3, 9, 9)}
		want := bnRun(t, g, in)
		if err := Run(NewContext(1), g, []Pass{FoldBN{}}); err != nil {
			t.Fatal(err)
		}
		if k, a := bnCount(g, "BatchNormalization"), bnCount(g, "Add"); k != 0 || a != 0 {
			t.Fatalf("bias=%v: %d BatchNormalization and %d Add nodes left", bias, k, a)
		}
		bnCompare(t, bnRun(t, g, in), want, 1e-5)
	}
}

// A BatchNormalization whose input is also a graph output must stay.
func TestFoldBNSharedInput(t *testing.T) {
	g := bnGraph(true)
	g.Outputs = append(g.Outputs, g.Nodes[0].Outputs[0])
	if err := Run(NewContext(1), g, []Pass{FoldBN{}}); err != nil {
		t.Fatal(err)
	}
	if k := bnCount(g, "BatchNormalization"); k != 1 {
		t.Fatalf("%d BatchNormalization nodes, want 1 (the Gemm and ConvTranspose ones folded)", k)
	}
}

func TestFoldBNFixtureCNN(t *testing.T) {
	g, err := onnx.LoadFile("../testdata/models/fmnist-cnn/model-op17.onnx")
	if err != nil {
		t.Skip(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	in := map[string]interp.Value{g.Inputs[0].Name: bnRand(rng, 0, 1, 1, 1, 28, 28)}
	want := bnRun(t, g, in)
	if err := Run(NewContext(1), g, []Pass{FoldBN{}}); err != nil {
		t.Fatal(err)
	}
	bnCompare(t, bnRun(t, g, in), want, 1e-5)
}
