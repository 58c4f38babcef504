package codegentest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// Test graphs of AdaPT fixed-point layers on the int8 kernels, in the form
// passes/quant's act=fixed emits: the activation in ⟨WL_a, FL_a⟩ (a Clip
// to [−2^(WL_a−1), 2^(WL_a−1)−1]·2^−FL_a when WL_a < 8, then
// QuantizeLinear → DequantizeLinear with scale 2^−FL_a and int8 zero point
// 0) and a fixed-point weight ⟨WL_w, FL_w⟩ with WL_w ≤ 8. Every product is
// k_a·k_w·2^−(FL_a+FL_w) with |k_a|, |k_w| ≤ 128 and K ≤ 784, so the sums
// stay below 2^24 units of the product grid and the interpreter's float32
// arithmetic is exact (biases are multiples of 2^−10): its output is the
// int32 accumulator times 2^−(FL_a+FL_w) plus the bias, and native code
// must equal it bit for bit.

// FixedQDQ puts AdaPT's fixed-point activation ⟨wl, fl⟩ (wl ≤ 8) on x: a
// Clip to the representable range when wl < 8, then QuantizeLinear →
// DequantizeLinear with scale 2^−fl and int8 zero point 0.
func FixedQDQ(b *ir.Builder, x *ir.Value, wl, fl int) *ir.Value {
	if wl < 8 {
		h, s := math.Ldexp(1, wl-1), math.Ldexp(1, -fl)
		lo := b.Const("act_clip_min", ir.ScalarF32(float32(-h*s)))
		hi := b.Const("act_clip_max", ir.ScalarF32(float32((h-1)*s)))
		x = b.Op1("Clip", nil, x, lo, hi)
	}
	return I8QDQ(b, x, fl, 0, true)
}

// fixedWeight is a fixed-point ⟨wl, fl⟩ weight with random codes over the
// whole signed range.
func fixedWeight(b *ir.Builder, rng *rand.Rand, name string, wl, fl int, shape ...int64) *ir.Value {
	return QuantWeight(b, rng, name, wl, -1, true, fl, shape...)
}

// adaptMatMul: x ⟨awl, afl⟩ · W ⟨wwl, wfl⟩ (MatMul, or Gemm with transB
// and a bias), then Relu.
func adaptMatMul(M, K, N int64, awl, afl, wwl, wfl int, gemm bool) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(uint64(M*1000+K*10+N), uint64(awl*100+wwl)))
		b := ir.NewBuilder("adapt_i8_gemm")
		x := FixedQDQ(b, b.Input("x", f32(M, K)), awl, afl)
		var y *ir.Value
		if gemm {
			y = b.Op1("Gemm", map[string]*ir.Attr{"transB": ir.IntAttr(1)}, x, fixedWeight(b, rng, "w", wwl, wfl, N, K), i8Bias(b, rng, N))
		} else {
			y = b.Op1("MatMul", nil, x, fixedWeight(b, rng, "w", wwl, wfl, K, N))
		}
		b.Output(b.Op1("Relu", nil, y))
		return b.Graph()
	}
}

// adaptConv: a 3×3 Conv (pad 1) on ⟨awl, afl⟩ codes with a ⟨wwl, wfl⟩
// filter and a bias, then Relu.
func adaptConv(N, C, H, W, M int64, awl, afl, wwl, wfl int) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(uint64(C*100+M), uint64(awl*10+wwl)))
		b := ir.NewBuilder("adapt_i8_conv")
		x := FixedQDQ(b, b.Input("x", f32(N, C, H, W)), awl, afl)
		attrs := map[string]*ir.Attr{"pads": ir.IntsAttr(1, 1, 1, 1), "kernel_shape": ir.IntsAttr(3, 3)}
		y := b.Op1("Conv", attrs, x, fixedWeight(b, rng, "w", wwl, wfl, M, C, 3, 3), i8Bias(b, rng, M))
		b.Output(b.Op1("Relu", nil, y))
		return b.Graph()
	}
}

// adaptMLP: two fixed-point layers in a row; the first layer's output
// (exact) is requantized to the second's ⟨5, 3⟩ activation format.
func adaptMLP() *ir.Graph {
	rng := rand.New(rand.NewPCG(9, 9))
	b := ir.NewBuilder("adapt_i8_mlp")
	x := FixedQDQ(b, b.Input("x", f32(4, 100)), 7, 6)
	h := b.Op1("Gemm", map[string]*ir.Attr{"transB": ir.IntAttr(1)}, x, fixedWeight(b, rng, "w1", 4, 4, 48, 100), i8Bias(b, rng, 48))
	h = FixedQDQ(b, b.Op1("Relu", nil, h), 5, 3)
	b.Output(b.Op1("MatMul", nil, h, fixedWeight(b, rng, "w2", 6, 5, 48, 10)))
	return b.Graph()
}

// AdaptI8Case is a fixed-point test graph and the number of its layers
// (each must run on an int8 kernel).
type AdaptI8Case struct {
	Case
	Layers int
}

// AdaptI8Cases are the AdaPT fixed-point int8 test graphs (all exact, all
// fully native). Weight word lengths 2–8 and activation word lengths 4–8.
func AdaptI8Cases() []AdaptI8Case {
	type mm struct {
		M, K, N            int64
		awl, afl, wwl, wfl int
		gemm               bool
	}
	var cs []AdaptI8Case
	for _, d := range []mm{
		{1, 64, 10, 5, 5, 4, 5, false},
		{5, 37, 50, 8, 7, 8, 7, true},
		{13, 300, 35, 6, 4, 3, 3, true},
		{32, 784, 128, 8, 6, 2, 2, false},
		{17, 96, 288, 4, 2, 5, 6, false},
	} {
		cs = append(cs, AdaptI8Case{Case: Case{
			Name:  fmt.Sprintf("adapt_i8_%s_%dx%dx%d_a%d.%d_w%d.%d", map[bool]string{false: "matmul", true: "gemm"}[d.gemm], d.M, d.K, d.N, d.awl, d.afl, d.wwl, d.wfl),
			Build: adaptMatMul(d.M, d.K, d.N, d.awl, d.afl, d.wwl, d.wfl, d.gemm)}, Layers: 1})
	}
	cs = append(cs,
		AdaptI8Case{Case: Case{Name: "adapt_i8_conv3x3_a6.5_w4.6", Build: adaptConv(2, 8, 9, 11, 20, 6, 5, 4, 6)}, Layers: 1},
		AdaptI8Case{Case: Case{Name: "adapt_i8_conv3x3_a8.6_w3.2", Build: adaptConv(1, 16, 7, 7, 32, 8, 6, 3, 2)}, Layers: 1},
		AdaptI8Case{Case: Case{Name: "adapt_i8_mlp", Build: adaptMLP}, Layers: 2},
	)
	return cs
}
