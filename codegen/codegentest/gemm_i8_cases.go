package codegentest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// Test graphs of the int8 (weight + activation) kernels: QuantizeLinear →
// DequantizeLinear → MatMul/Gemm/Conv with an 8-bit quantized weight, in
// the form passes/quant emits. Scales are powers of two and biases
// multiples of 2^-10, so that every value the interpreter computes in
// float32 (products of grid values, their sums, the bias add) is exact:
// its output is the integer result scaled, and native code must equal it
// bit for bit.

// I8QDQ puts QuantizeLinear → DequantizeLinear with scale 2^-scaleExp and
// zero point zp (int8 codes when signed, else uint8) on x.
func I8QDQ(b *ir.Builder, x *ir.Value, scaleExp int, zp int, signed bool) *ir.Value {
	s := b.Const("act_scale", ir.ScalarF32(float32(math.Ldexp(1, -scaleExp))))
	var z *ir.Value
	if signed {
		z = b.Const("act_zp", ir.FromSlice(ir.Int8, []int64{}, []int8{int8(zp)}))
	} else {
		z = b.Const("act_zp", ir.FromSlice(ir.Uint8, []int64{}, []uint8{uint8(zp)}))
	}
	q := b.Op1("QuantizeLinear", nil, x, s, z)
	return b.Op1("DequantizeLinear", nil, q, s, z)
}

// i8Weight is QuantWeight with power-of-two scales (2^-4 … 2^-7).
func i8Weight(b *ir.Builder, rng *rand.Rand, name string, axis int, shape ...int64) *ir.Value {
	v := QuantWeight(b, rng, name, 8, axis, false, 0, shape...)
	q := v.Const.Enc.(*ir.Quantized)
	for i := range q.Scales {
		q.Scales[i] = float32(math.Ldexp(1, -4-rng.IntN(4)))
	}
	return v
}

// i8Bias is a float32 constant of multiples of 2^-10 in [-1, 1).
func i8Bias(b *ir.Builder, rng *rand.Rand, n int64) *ir.Value {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(rng.IntN(2048)-1024) / 1024
	}
	return b.Const("bias", ir.FromSlice(ir.Float32, []int64{n}, d))
}

func i8MatMul(M, K, N int64, zp int, signed, gemm bool) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(uint64(M*1000+K*10+N), 8))
		b := ir.NewBuilder("i8gemm")
		x := I8QDQ(b, b.Input("x", f32(M, K)), 6, zp, signed)
		var y *ir.Value
		if gemm {
			w := i8Weight(b, rng, "w", 0, N, K)
			y = b.Op1("Gemm", map[string]*ir.Attr{"transB": ir.IntAttr(1), "alpha": ir.FloatAttr(0.5)}, x, w, i8Bias(b, rng, N))
		} else {
			y = b.Op1("MatMul", nil, x, i8Weight(b, rng, "w", 1, K, N))
		}
		b.Output(b.Op1("Relu", nil, y))
		return b.Graph()
	}
}

func i8Conv(N, C, H, W, M, k, stride, pad int64, zp int, signed bool) func() *ir.Graph {
	return i8ConvWith("i8conv", N, C, H, W, M, k, stride, pad, zp, signed, func(b *ir.Builder, rng *rand.Rand, shape ...int64) *ir.Value {
		return i8Weight(b, rng, "w", 0, shape...)
	})
}

// i8ConvWith is i8Conv with the weight (of shape [M, C, k, k]) from
// weight.
func i8ConvWith(name string, N, C, H, W, M, k, stride, pad int64, zp int, signed bool, weight func(b *ir.Builder, rng *rand.Rand, shape ...int64) *ir.Value) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(uint64(C*100+M), uint64(k*10+stride)))
		b := ir.NewBuilder(name)
		x := I8QDQ(b, b.Input("x", f32(N, C, H, W)), 5, zp, signed)
		w := weight(b, rng, M, C, k, k)
		attrs := map[string]*ir.Attr{"strides": ir.IntsAttr(stride, stride), "pads": ir.IntsAttr(pad, pad, pad, pad),
			"kernel_shape": ir.IntsAttr(k, k)}
		y := b.Op1("Conv", attrs, x, w, i8Bias(b, rng, M))
		b.Output(b.Op1("Relu", nil, y))
		return b.Graph()
	}
}

// i8Conv1D is a 1-D Conv (rank-3 input) on int8 codes.
func i8Conv1D() *ir.Graph {
	rng := rand.New(rand.NewPCG(1, 1))
	b := ir.NewBuilder("i8conv1d")
	x := I8QDQ(b, b.Input("x", f32(2, 5, 30)), 5, 60, false)
	w := i8Weight(b, rng, "w", 0, 12, 5, 3)
	attrs := map[string]*ir.Attr{"strides": ir.IntsAttr(2), "pads": ir.IntsAttr(1, 1)}
	b.Output(b.Op1("Conv", attrs, x, w, i8Bias(b, rng, 12)))
	return b.Graph()
}

// i8Float: QDQ before layers the int8 kernels do not take (a depthwise
// Conv and a MatMul with 4-bit weights): DequantizeLinear stays a kernel
// and the layers run in float on the dequantized values (exact here too).
func i8Float() *ir.Graph {
	rng := rand.New(rand.NewPCG(2, 2))
	b := ir.NewBuilder("i8float")
	x := I8QDQ(b, b.Input("x", f32(1, 8, 10, 10)), 5, 128, false)
	w := QuantWeight(b, rng, "w", 4, 0, false, 0, 8, 1, 3, 3)
	for i, q := 0, w.Const.Enc.(*ir.Quantized); i < len(q.Scales); i++ {
		q.Scales[i] = 1.0 / 8
	}
	attrs := map[string]*ir.Attr{"group": ir.IntAttr(8), "pads": ir.IntsAttr(1, 1, 1, 1)}
	y := b.Op1("Conv", attrs, x, w)
	m := I8QDQ(b, b.Op1("Flatten", nil, y), 5, 128, false)
	w4 := QuantWeight(b, rng, "w4", 4, 1, false, 0, 800, 16)
	q := w4.Const.Enc.(*ir.Quantized)
	for i := range q.Scales {
		q.Scales[i] = 1.0 / 8
	}
	b.Output(b.Op1("MatMul", nil, m, w4))
	return b.Graph()
}

// i8Shared: one quantized activation read by two int8 MatMuls, and one
// also read by an Add (so its DequantizeLinear must stay a float kernel
// and its MatMul runs in float).
func i8Shared() *ir.Graph {
	rng := rand.New(rand.NewPCG(5, 8))
	b := ir.NewBuilder("i8shared")
	x := b.Input("x", f32(3, 40))
	d := I8QDQ(b, x, 6, 128, false)
	y1 := b.Op1("MatMul", nil, d, i8Weight(b, rng, "w1", 1, 40, 20))
	y2 := b.Op1("MatMul", nil, d, i8Weight(b, rng, "w2", 1, 40, 20))
	e := I8QDQ(b, x, 6, 100, false)
	y3 := b.Op1("MatMul", nil, e, i8Weight(b, rng, "w3", 1, 40, 20))
	b.Output(b.Op1("Add", nil, y1, y2), y3, b.Op1("Add", nil, e, x))
	return b.Graph()
}

// I8Cases are the int8 kernel test graphs (all fully native; names
// starting with i8_exact compute exactly, see above; i8_exact_float_*
// has no layer the int8 kernels take, i8_exact_shared one of three).
func I8Cases() []Case {
	var cs []Case
	for _, d := range [][3]int64{{1, 64, 10}, {5, 37, 50}, {13, 300, 35}, {32, 784, 128}} {
		M, K, N := d[0], d[1], d[2]
		cs = append(cs,
			Case{Name: fmt.Sprintf("i8_exact_matmul_%dx%dx%d", M, K, N), Build: i8MatMul(M, K, N, 128, false, false)},
			Case{Name: fmt.Sprintf("i8_exact_gemm_s8_%dx%dx%d", M, K, N), Build: i8MatMul(M, K, N, -5, true, true)})
	}
	cs = append(cs,
		Case{Name: "i8_exact_conv3x3_s2_pad1", Build: i8Conv(2, 3, 9, 11, 20, 3, 2, 1, 10, false)},
		Case{Name: "i8_exact_conv3x3_s1_pad1_zp128", Build: i8Conv(1, 8, 14, 14, 32, 3, 1, 1, 128, false)},
		Case{Name: "i8_exact_conv1x1_s8", Build: i8Conv(3, 16, 7, 7, 13, 1, 1, 0, 3, true)},
		Case{Name: "i8_exact_conv5x5_b4", Build: i8Conv(4, 2, 12, 12, 24, 5, 1, 2, 0, false)},
		Case{Name: "i8_exact_shared", Build: i8Shared},
		Case{Name: "i8_exact_conv1d", Build: i8Conv1D},
		Case{Name: "i8_exact_float_layers", Build: i8Float},
	)
	return cs
}
