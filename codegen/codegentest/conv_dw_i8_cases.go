package codegentest

import (
	"fmt"
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// i8GroupConv is a grouped Conv (group groups, k×k filters) on int8 codes
// in the exact form of I8Cases (power-of-two scales, 2^-10 biases), so
// the interpreter's float32 result is the int32 accumulators scaled.
func i8GroupConv(N, C, H, W, M, group, k, stride, pad, dil int64, zp int, signed bool) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(uint64(C*100+M+group), uint64(k*10+stride+dil)))
		b := ir.NewBuilder("i8gconv")
		x := I8QDQ(b, b.Input("x", f32(N, C, H, W)), 5, zp, signed)
		w := i8Weight(b, rng, "w", 0, M, C/group, k, k)
		attrs := map[string]*ir.Attr{"group": ir.IntAttr(group), "strides": ir.IntsAttr(stride, stride),
			"pads": ir.IntsAttr(pad, pad, pad, pad), "dilations": ir.IntsAttr(dil, dil)}
		y := b.Op1("Conv", attrs, x, w, i8Bias(b, rng, M))
		b.Output(b.Op1("Relu", nil, y))
		return b.Graph()
	}
}

// I8GroupCases are grouped and depthwise int8 Conv graphs (the direct
// kernel of codegen/conv_dw_i8.go): depthwise with channel multiplier 1
// and 2, groups of 2 input channels, stride 2, padding, dilation, int8
// and uint8 codes, widths that leave a partial vector, a group large
// enough for int32 accumulation. Each has exactly
// one int8 Conv kernel and computes exactly (see I8Cases).
func I8GroupCases() []Case {
	type g struct {
		name                                 string
		N, C, H, W, M, group, k, s, pad, dil int64
		zp                                   int
		signed                               bool
	}
	var cs []Case
	for _, c := range []g{
		{"dw3x3_pad1", 1, 8, 10, 10, 8, 8, 3, 1, 1, 1, 128, false},
		{"dw3x3_s2_pad1", 2, 6, 13, 21, 6, 6, 3, 2, 1, 1, 17, false},
		{"dw5x5_mult2_pad2", 1, 3, 9, 19, 6, 3, 5, 1, 2, 1, 200, false},
		{"dw3x3_dil2_s8", 1, 5, 12, 35, 5, 5, 3, 1, 2, 2, -7, true},
		{"dw3x3_s2_dil2_mult2", 1, 4, 11, 40, 8, 4, 3, 2, 2, 2, 3, false},
		{"g2_of4_3x3_pad1", 2, 4, 7, 9, 6, 2, 3, 1, 1, 1, 99, false},
		{"g2_of8_3x3_s2", 1, 8, 10, 17, 4, 2, 3, 2, 0, 1, -20, true},
		// Cg·KH·KW = 576 > 513: int32 accumulators (not float32).
		{"g2_of128_3x3_int32", 1, 128, 6, 21, 4, 2, 3, 1, 1, 1, 140, false},
	} {
		cs = append(cs, Case{Name: fmt.Sprintf("i8_exact_gconv_%s", c.name),
			Build: i8GroupConv(c.N, c.C, c.H, c.W, c.M, c.group, c.k, c.s, c.pad, c.dil, c.zp, c.signed)})
	}
	return append(cs, Case{Name: "i8_exact_gconv_dw1d_mult2_s2", Build: i8GroupConv1D})
}

// i8GroupConv1D is a 1-D depthwise Conv (rank-3 input, multiplier 2,
// stride 2, dilation 2, asymmetric padding) on int8 codes.
func i8GroupConv1D() *ir.Graph {
	rng := rand.New(rand.NewPCG(3, 9))
	b := ir.NewBuilder("i8gconv1d")
	x := I8QDQ(b, b.Input("x", f32(2, 3, 37)), 5, 90, false)
	w := i8Weight(b, rng, "w", 0, 6, 1, 5)
	attrs := map[string]*ir.Attr{"group": ir.IntAttr(3), "strides": ir.IntsAttr(2), "dilations": ir.IntsAttr(2), "pads": ir.IntsAttr(3, 1)}
	b.Output(b.Op1("Conv", attrs, x, w, i8Bias(b, rng, 6)))
	return b.Graph()
}

// i8AxisQDQ is QuantizeLinear → DequantizeLinear with per-axis scales
// (not powers of two) and zero points on an input of shape [2, 5, 3, 7]:
// uint8 along axis 1 (a zero point per channel), int8 along axis -1 (one
// element per channel row; a scalar zero point) and uint8 along axis 2
// without a zero point. The outputs are the dequantized values, so a
// wrong code shows.
func i8AxisQDQ() *ir.Graph {
	b := ir.NewBuilder("i8axisqdq")
	x := b.Input("x", f32(2, 5, 3, 7))
	qdq := func(axis int64, scales []float32, zp *ir.Value) *ir.Value {
		s := b.Const("s", ir.FromSlice(ir.Float32, []int64{int64(len(scales))}, scales))
		at := map[string]*ir.Attr{"axis": ir.IntAttr(axis)}
		args := func(v *ir.Value) []*ir.Value {
			if zp == nil {
				return []*ir.Value{v, s}
			}
			return []*ir.Value{v, s, zp}
		}
		return b.Op1("DequantizeLinear", at, args(b.Op1("QuantizeLinear", at, args(x)...))...)
	}
	y1 := qdq(1, []float32{0.01, 0.037, 0.1, 0.0051, 0.25}, b.Const("z", ir.FromSlice(ir.Uint8, []int64{5}, []uint8{0, 128, 7, 200, 255})))
	y2 := qdq(-1, []float32{0.02, 0.03, 0.05, 0.07, 0.011, 0.013, 0.17}, b.Const("z", ir.FromSlice(ir.Int8, []int64{}, []int8{-3})))
	y3 := qdq(2, []float32{0.004, 0.019, 0.0625}, nil)
	b.Output(y1, y2, y3)
	return b.Graph()
}

// I8AxisCases are per-axis QuantizeLinear/DequantizeLinear graphs (the
// quantize kernel of codegen/gemm_i8.go with per-channel parameters),
// fully native and bit for bit the interpreter's.
func I8AxisCases() []Case {
	return []Case{{Name: "i8_exact_axis_qdq", Build: i8AxisQDQ}}
}
