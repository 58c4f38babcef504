package codegentest

import (
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// convCase builds x[in] -> Conv(weight [M, C/group, k...], bias) -> the
// epilogue ops (each a unary op name, "Clip" with bounds -0.5, 0.5).
func convCase(seed uint64, in, wshape []int64, attrs map[string]*ir.Attr, bias bool, epi ...string) func() *ir.Graph {
	return convOpCase("Conv", seed, in, wshape, attrs, bias, epi...)
}

// convOpCase is convCase for Conv or ConvTranspose (weight [C, M, k...],
// bias of size M = wshape[1]).
func convOpCase(op string, seed uint64, in, wshape []int64, attrs map[string]*ir.Attr, bias bool, epi ...string) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(seed, 17))
		b := ir.NewBuilder("conv")
		x := b.Input("x", f32(in...))
		ins := []*ir.Value{x, weight(b, rng, "w", wshape...)}
		if bias {
			m := wshape[0]
			if op == "ConvTranspose" {
				m = wshape[1]
			}
			ins = append(ins, weight(b, rng, "b", m))
		}
		h := b.Op1(op, attrs, ins...)
		for _, op := range epi {
			switch op {
			case "Clip":
				h = b.Op1("Clip", nil, h, b.Const("lo", ir.ScalarF32(-0.5)), b.Const("hi", ir.ScalarF32(0.5)))
			case "Scale":
				h = b.Op1("Mul", nil, h, b.Const("k", ir.ScalarF32(1.5)))
			default:
				h = b.Op1(op, nil, h)
			}
		}
		b.Output(h)
		return b.Graph()
	}
}

func ints(v ...int64) *ir.Attr { return ir.IntsAttr(v...) }

// ConvCases are differential cases for Conv lowering: group 1 (im2col +
// GEMM), depthwise, 1-D and 2-D, strides, pads, dilations, auto_pad, 1x1,
// 3x3, 5x5, odd sizes and fused epilogues.
func ConvCases() []Case {
	type A = map[string]*ir.Attr
	return []Case{
		{Name: "conv3x3_pad1_relu", Build: convCase(1, []int64{1, 3, 13, 11}, []int64{8, 3, 3, 3}, A{"pads": ints(1, 1, 1, 1)}, true, "Relu")},
		{Name: "conv3x3_stride2_batch3", Build: convCase(2, []int64{3, 5, 15, 16}, []int64{20, 5, 3, 3}, A{"strides": ints(2, 2), "pads": ints(1, 0, 1, 2)}, true, "Clip")},
		{Name: "conv1x1_hardswish", Build: convCase(3, []int64{2, 37, 7, 9}, []int64{45, 37, 1, 1}, nil, true, "HardSwish")},
		{Name: "conv5x5_dilated", Build: convCase(4, []int64{1, 4, 19, 17}, []int64{7, 4, 5, 5}, A{"dilations": ints(2, 1), "pads": ints(2, 2, 3, 1)}, false, "Sigmoid")},
		{Name: "conv_same_upper_s2", Build: convCase(5, []int64{2, 6, 10, 9}, []int64{13, 6, 3, 3}, A{"auto_pad": ir.StringAttr("SAME_UPPER"), "strides": ints(2, 2)}, true, "HardSigmoid")},
		{Name: "conv_same_lower", Build: convCase(6, []int64{1, 2, 8, 8}, []int64{3, 2, 4, 4}, A{"auto_pad": ir.StringAttr("SAME_LOWER")}, false)},
		{Name: "conv_bigk_blocked", Build: convCase(7, []int64{1, 64, 12, 12}, []int64{80, 64, 3, 3}, A{"pads": ints(1, 1, 1, 1)}, true, "Relu", "Scale")},
		{Name: "conv1d_stride_dilation", Build: convCase(8, []int64{2, 5, 40}, []int64{9, 5, 3}, A{"strides": ints(2), "dilations": ints(3), "pads": ints(2, 1)}, true, "Relu")},
		{Name: "dwconv3x3_pad1_relu", Build: convCase(9, []int64{2, 12, 13, 21}, []int64{12, 1, 3, 3}, A{"group": ir.IntAttr(12), "pads": ints(1, 1, 1, 1)}, true, "Relu")},
		{Name: "dwconv5x5_stride2", Build: convCase(10, []int64{1, 8, 17, 19}, []int64{8, 1, 5, 5}, A{"group": ir.IntAttr(8), "pads": ints(2, 2, 2, 2), "strides": ints(2, 2)}, true, "HardSwish")},
		{Name: "dwconv3x3_dilated_same", Build: convCase(11, []int64{1, 5, 9, 30}, []int64{5, 1, 3, 3}, A{"group": ir.IntAttr(5), "dilations": ints(2, 2), "auto_pad": ir.StringAttr("SAME_UPPER")}, false, "Clip")},
		{Name: "grouped_conv_g3", Build: convCase(13, []int64{2, 6, 11, 10}, []int64{9, 2, 3, 3}, A{"group": ir.IntAttr(3), "pads": ints(1, 1, 1, 1), "strides": ints(1, 2)}, true, "Relu")},
		{Name: "dwconv_multiplier2", Build: convCase(14, []int64{1, 4, 9, 9}, []int64{8, 1, 3, 3}, A{"group": ir.IntAttr(4)}, true)},
		{Name: "convtranspose_s2_pads", Build: convOpCase("ConvTranspose", 15, []int64{2, 6, 5, 7}, []int64{6, 4, 3, 3}, A{"strides": ints(2, 2), "pads": ints(1, 1, 1, 1), "output_padding": ints(1, 1)}, true, "Relu")},
		{Name: "convtranspose_2x2_s2", Build: convOpCase("ConvTranspose", 16, []int64{1, 8, 4, 6}, []int64{8, 5, 2, 2}, A{"strides": ints(2, 2)}, false, "Sigmoid")},
		{Name: "convtranspose1d_dilated", Build: convOpCase("ConvTranspose", 17, []int64{1, 3, 9}, []int64{3, 2, 3}, A{"dilations": ints(2), "strides": ints(3)}, true)},
		// Batch >= 16: the direct conv's tasks are whole images, each writing its phase planes itself.
		{Name: "conv3x3_s2_batch17", Build: convCase(18, []int64{17, 3, 19, 21}, []int64{10, 3, 3, 3}, A{"strides": ints(2, 2), "pads": ints(1, 1, 1, 1)}, true, "Relu")},
		{Name: "dwconv1d", Build: convCase(12, []int64{1, 4, 33}, []int64{4, 1, 3}, A{"group": ir.IntAttr(4), "pads": ints(1, 1)}, true)},
	}
}
