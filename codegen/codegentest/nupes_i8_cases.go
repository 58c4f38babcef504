package codegentest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// Test graphs of integer-only NUPES layers (ir.QuantPowerInt weights on
// the int8 kernels, codegen/gemm_nupes_i8.go), in the form passes/quant's
// nupes:B:int emits: QuantizeLinear → DequantizeLinear on the input, a
// power_int weight. Activation scales and weight scales are powers of two
// and so is the table ratio r, so each weight is T[k]·2^−j exactly and,
// as for I8Cases, the interpreter's float32 arithmetic is exact: native
// code must equal it bit for bit.

// PowerIntWeight is a power_int weight of the given bits and exponent(s)
// with random codes in ±Qmax and power-of-two scales (2^-2 … 2^-5) along
// axis (−1: one scale).
func PowerIntWeight(b *ir.Builder, rng *rand.Rand, name string, bits, axis int, exps []float32, shape ...int64) *ir.Value {
	n := int(ir.NumElements(shape))
	qmax := int32(1)<<(bits-1) - 1
	codes := make([]int32, n)
	for i := range codes {
		codes[i] = int32(rng.IntN(int(2*qmax+1))) - qmax
	}
	packed, err := ir.PackCodes(codes, bits, true)
	if err != nil {
		panic(err)
	}
	C := 1
	if axis >= 0 {
		C = int(shape[axis])
	}
	q := &ir.Quantized{Bits: bits, Scheme: ir.QuantPowerInt, Signed: true, Axis: axis, Codes: packed,
		Exponent: append([]float32(nil), exps...), Scales: make([]float32, C)}
	for i := range q.Scales {
		q.Scales[i] = float32(math.Ldexp(1, -2-rng.IntN(4)))
	}
	if err := q.Validate(shape); err != nil {
		panic(err)
	}
	return b.Const(name, &ir.Tensor{DType: ir.Float32, Shape: append([]int64(nil), shape...), Enc: q})
}

func nupesI8MatMul(M, K, N int64, bits int, a float32, zp int, signed, gemm bool) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(uint64(M*1000+K*10+N), uint64(bits)))
		b := ir.NewBuilder("nupes_i8_gemm")
		x := I8QDQ(b, b.Input("x", f32(M, K)), 6, zp, signed)
		var y *ir.Value
		if gemm {
			w := PowerIntWeight(b, rng, "w", bits, 0, []float32{a}, N, K)
			y = b.Op1("Gemm", map[string]*ir.Attr{"transB": ir.IntAttr(1)}, x, w, i8Bias(b, rng, N))
		} else {
			y = b.Op1("MatMul", nil, x, PowerIntWeight(b, rng, "w", bits, 1, []float32{a}, K, N))
		}
		b.Output(b.Op1("Relu", nil, y))
		return b.Graph()
	}
}

func nupesI8Conv(N, C, H, W, M, k, stride, pad int64, bits int, a float32, zp int, signed bool) func() *ir.Graph {
	return i8ConvWith("nupes_i8_conv", N, C, H, W, M, k, stride, pad, zp, signed, func(b *ir.Builder, rng *rand.Rand, shape ...int64) *ir.Value {
		return PowerIntWeight(b, rng, "w", bits, 0, []float32{a}, shape...)
	})
}

// nupesI8PerChannel: per-channel exponents do not take the int8 kernels
// (one table per column); the layer runs in float on its packed codes
// and the DequantizeLinear stays a kernel (exact here too).
func nupesI8PerChannel() *ir.Graph {
	rng := rand.New(rand.NewPCG(4, 4))
	b := ir.NewBuilder("nupes_i8_perch")
	x := I8QDQ(b, b.Input("x", f32(3, 40)), 6, 128, false)
	exps := make([]float32, 12)
	for i := range exps {
		exps[i] = 0.4 + 0.05*float32(i)
	}
	b.Output(b.Op1("MatMul", nil, x, PowerIntWeight(b, rng, "w", 4, 1, exps, 40, 12)))
	return b.Graph()
}

// NupesI8Cases are the integer-only NUPES test graphs, all exact (the
// names say the int8 kernel count: every case has one int8 layer but
// nupes_i8_exact_float_perchannel, which has none).
func NupesI8Cases() []Case {
	var cs []Case
	for _, d := range []struct {
		M, K, N int64
		bits    int
		a       float32
	}{{1, 64, 10, 4, 0.6}, {5, 37, 50, 3, 0.45}, {13, 300, 35, 4, 1}, {32, 784, 128, 4, 0.7}, {2, 100, 70, 2, 0.5}} {
		cs = append(cs,
			Case{Name: fmt.Sprintf("nupes_i8_exact_matmul_b%d_%dx%dx%d", d.bits, d.M, d.K, d.N), Build: nupesI8MatMul(d.M, d.K, d.N, d.bits, d.a, 128, false, false)},
			Case{Name: fmt.Sprintf("nupes_i8_exact_gemm_s8_b%d_%dx%dx%d", d.bits, d.M, d.K, d.N), Build: nupesI8MatMul(d.M, d.K, d.N, d.bits, d.a, -5, true, true)})
	}
	return append(cs,
		Case{Name: "nupes_i8_exact_conv3x3_s1_pad1_b4", Build: nupesI8Conv(1, 8, 14, 14, 32, 3, 1, 1, 4, 0.6, 128, false)},
		Case{Name: "nupes_i8_exact_conv3x3_s2_b3", Build: nupesI8Conv(2, 3, 9, 11, 20, 3, 2, 1, 3, 0.5, 10, false)},
		Case{Name: "nupes_i8_exact_conv5x5_b4x4", Build: nupesI8Conv(4, 2, 12, 12, 100, 5, 1, 2, 4, 0.8, 3, true)},
		Case{Name: "nupes_i8_exact_float_perchannel", Build: nupesI8PerChannel})
}
