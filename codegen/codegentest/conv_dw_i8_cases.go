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
	return cs
}
