package codegentest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// QuantWeight builds a constant of the given shape holding random
// symmetric codes of bits bits (full range, −2^(bits−1) included) with
// one positive scale per slice along axis (−1: one scale), or fixed point
// with frac fraction bits when fixed is set.
func QuantWeight(b *ir.Builder, rng *rand.Rand, name string, bits, axis int, fixed bool, frac int, shape ...int64) *ir.Value {
	n := int(ir.NumElements(shape))
	lo, span := -(int32(1) << (bits - 1)), int32(1)<<bits
	codes := make([]int32, n)
	for i := range codes {
		codes[i] = lo + int32(rng.IntN(int(span)))
	}
	packed, err := ir.PackCodes(codes, bits, true)
	if err != nil {
		panic(err)
	}
	q := &ir.Quantized{Bits: bits, Scheme: ir.QuantUniform, Signed: true, Axis: axis, Codes: packed}
	if fixed {
		q.Scheme, q.Axis, q.FracLength = ir.QuantFixed, -1, frac
	} else {
		C := 1
		if axis >= 0 {
			C = int(shape[axis])
		}
		q.Scales = make([]float32, C)
		for i := range q.Scales {
			q.Scales[i] = float32((0.5 + rng.Float64()) / math.Pow(2, float64(bits-1)))
		}
	}
	t := &ir.Tensor{DType: ir.Float32, Shape: append([]int64(nil), shape...), Enc: q}
	if err := q.Validate(shape); err != nil {
		panic(err)
	}
	return b.Const(name, t)
}

// quantGemm is x[M,K] · B[K,N] (MatMul) or Gemm(x, B[N,K], bias, transB=1,
// alpha) with a quantized B, followed by Relu.
func quantGemm(M, K, N int64, bits int, gemm, perTensor, fixed bool) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(uint64(M*1000+K*10+N), uint64(bits)))
		b := ir.NewBuilder("qgemm")
		x := b.Input("x", f32(M, K))
		var y *ir.Value
		if gemm {
			axis := 0
			if perTensor {
				axis = -1
			}
			w := QuantWeight(b, rng, "w", bits, axis, fixed, bits-2, N, K)
			bias := weight(b, rng, "bias", N)
			y = b.Op1("Gemm", map[string]*ir.Attr{"transB": ir.IntAttr(1), "alpha": ir.FloatAttr(0.75)}, x, w, bias)
		} else {
			axis := 1
			if perTensor {
				axis = -1
			}
			w := QuantWeight(b, rng, "w", bits, axis, fixed, bits-2, K, N)
			y = b.Op1("MatMul", nil, x, w)
		}
		b.Output(b.Op1("Relu", nil, y))
		return b.Graph()
	}
}

// quantMLP is an MLP whose MatMul weights are quantized per output channel.
func quantMLP(in int64, hidden []int64, out int64, bits int) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(11, uint64(bits)))
		b := ir.NewBuilder("qmlp")
		x := b.Input("x", ir.TensorType(ir.Float32, ir.Shape{ir.Sym("N"), ir.D(in)}))
		h, width := x, in
		layers := append(append([]int64(nil), hidden...), out)
		for i, n := range layers {
			w := QuantWeight(b, rng, "w", bits, 1, false, 0, width, n)
			h = b.Op1("Add", nil, b.Op1("MatMul", nil, h, w), weight(b, rng, "b", n))
			if i < len(layers)-1 {
				h = b.Op1("Relu", nil, h)
			}
			width = n
		}
		b.Output(b.Op1("Softmax", map[string]*ir.Attr{"axis": ir.IntAttr(-1)}, h))
		return b.Graph()
	}
}

// QuantCases are differential test graphs for the weight-only quantized
// GEMM: M, K, N with tails of the register tile and of the K blocking,
// int8 and 4-bit codes, per-channel and per-tensor scales, fixed point.
func QuantCases() []Case {
	var cs []Case
	for _, bits := range []int{8, 4} {
		for _, d := range [][3]int64{{1, 1, 1}, {1, 17, 33}, {5, 3, 10}, {7, 40, 16}, {13, 300, 35}, {32, 64, 100}, {2, 513, 48}} {
			M, K, N := d[0], d[1], d[2]
			cs = append(cs,
				Case{Name: fmt.Sprintf("qmatmul_i%d_%dx%dx%d", bits, M, K, N), Build: quantGemm(M, K, N, bits, false, false, false)},
				Case{Name: fmt.Sprintf("qgemm_i%d_%dx%dx%d", bits, M, K, N), Build: quantGemm(M, K, N, bits, true, false, false)})
		}
		cs = append(cs,
			Case{Name: fmt.Sprintf("qmatmul_i%d_pertensor", bits), Build: quantGemm(9, 20, 30, bits, false, true, false)},
			Case{Name: fmt.Sprintf("qgemm_i%d_fixed", bits), Build: quantGemm(9, 20, 30, bits, true, false, true)},
			Case{Name: fmt.Sprintf("qmlp_i%d_b1", bits), Build: quantMLP(784, []int64{128, 64}, 10, bits), Shapes: map[string][]int64{"x": {1, 784}}},
			Case{Name: fmt.Sprintf("qmlp_i%d_b32", bits), Build: quantMLP(784, []int64{128, 64}, 10, bits), Shapes: map[string][]int64{"x": {32, 784}}})
	}
	return cs
}
