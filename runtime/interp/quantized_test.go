package interp

import (
	"context"
	"math"
	"testing"

	"github.com/optc-dev/optc/ir"
)

// Quantized (ir.Quantized) constants need no kernel of their own: every
// kernel reads its inputs through tensorArg, which decodes them with the
// encoding's reference Decode. A graph over encoded weights must therefore
// give bit for bit the result of the same graph over the decoded dense
// weights, for every scheme.
func TestQuantizedConstantsDecode(t *testing.T) {
	pack := func(codes []int32, bits int, signed bool) []byte {
		b, err := ir.PackCodes(codes, bits, signed)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	codes := []int32{-3, -2, -1, 0, 1, 2, 3, 1, -1, 2, -2, 3}
	ucodes := []int32{0, 1, 2, 3, 4, 5, 6, 7, 15, 14, 13, 12}
	encs := map[string]*ir.Quantized{
		"uniform-sym-4": {Bits: 4, Signed: true, Axis: 0, Scales: []float32{0.5, 0.25, 2}, Codes: pack(codes, 4, true)},
		"uniform-asym-group": {Bits: 4, Axis: 0, GroupSize: 2, Scales: []float32{1, 2, 3, 4, 5, 6},
			ZeroPoints: []int32{8, 7, 6, 5, 4, 3}, Codes: pack(ucodes, 4, false)},
		"power-3": {Bits: 3, Signed: true, Scheme: ir.QuantPower, Axis: 1, Scales: []float32{0.5, 1, 1.5, 2},
			Exponent: []float32{0.6}, Codes: pack(codes, 3, true)},
		"fixed-6": {Bits: 6, Signed: true, Scheme: ir.QuantFixed, Axis: -1, FracLength: 4, Codes: pack(codes, 6, true)},
	}
	x := ir.FromSlice(ir.Float32, []int64{2, 4}, []float32{1, -2, 0.5, 3, -1, 0.25, 2, -0.75})
	for name, q := range encs {
		t.Run(name, func(t *testing.T) {
			wq := &ir.Tensor{DType: ir.Float32, Shape: []int64{3, 4}, Enc: q}
			wd, err := wq.Dense()
			if err != nil {
				t.Fatal(err)
			}
			run := func(w *ir.Tensor) []float32 {
				b := ir.NewBuilder("g")
				in := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(2, 4)))
				wv := b.Const("w", w)
				b.Output(b.Op1("Gemm", map[string]*ir.Attr{"transB": ir.IntAttr(1)}, in, wv))
				g := b.Graph()
				out, err := Run(context.Background(), g, map[string]Value{"x": x})
				if err != nil {
					t.Fatal(err)
				}
				return out[g.Outputs[0].Name].(*ir.Tensor).Data.([]float32)
			}
			a, d := run(wq), run(ir.FromSlice(ir.Float32, wd.Shape, append([]float32{}, wd.Data.([]float32)...)))
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(d[i]) {
					t.Fatalf("element %d: encoded %v, dense %v", i, a[i], d[i])
				}
			}
		})
	}
}
