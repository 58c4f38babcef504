package codegentest

import (
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// convTCase builds x[in] -> ConvTranspose(weight [C, M/group, k...], bias
// of size M when bias) -> Relu when relu.
func convTCase(seed uint64, in, wshape []int64, attrs map[string]*ir.Attr, bias, relu bool) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(seed, 19))
		b := ir.NewBuilder("convT")
		ins := []*ir.Value{b.Input("x", f32(in...)), weight(b, rng, "w", wshape...)}
		if bias {
			g := int64(1)
			if a, ok := attrs["group"]; ok {
				g = a.Int
			}
			ins = append(ins, weight(b, rng, "b", wshape[1]*g))
		}
		h := b.Op1("ConvTranspose", attrs, ins...)
		if relu {
			h = b.Op1("Relu", nil, h)
		}
		b.Output(h)
		return b.Graph()
	}
}

// ConvTransposeCases cover the ConvTranspose attributes beyond explicit
// pads (ConvCases has those): group > 1 (grouped and depthwise), auto_pad
// SAME_UPPER / SAME_LOWER with even and odd total padding, output_shape
// (one dim cropped, one extended: a negative total), output_padding.
func ConvTransposeCases() []Case {
	type A = map[string]*ir.Attr
	s := ir.StringAttr
	return []Case{
		{Name: "convtranspose_group2_s2", Build: convTCase(41, []int64{2, 4, 5, 6}, []int64{4, 3, 3, 3}, A{"group": ir.IntAttr(2), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1)}, true, true)},
		{Name: "convtranspose_depthwise_4x4_s2", Build: convTCase(42, []int64{1, 3, 6, 5}, []int64{3, 1, 4, 4}, A{"group": ir.IntAttr(3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1)}, true, false)},
		{Name: "convtranspose_same_upper_s2", Build: convTCase(43, []int64{1, 3, 5, 5}, []int64{3, 2, 3, 3}, A{"auto_pad": s("SAME_UPPER"), "strides": ints(2, 2)}, true, false)},
		{Name: "convtranspose_same_lower_s3", Build: convTCase(44, []int64{1, 2, 4, 3}, []int64{2, 3, 4, 4}, A{"auto_pad": s("SAME_LOWER"), "strides": ints(3, 3)}, false, true)},
		{Name: "convtranspose_output_shape", Build: convTCase(45, []int64{1, 2, 3, 3}, []int64{2, 2, 3, 3}, A{"strides": ints(3, 3), "output_shape": ints(10, 8)}, true, false)},
		{Name: "convtranspose1d_output_padding", Build: convTCase(46, []int64{1, 2, 7}, []int64{2, 3, 3}, A{"strides": ints(2), "output_padding": ints(1), "pads": ints(1, 0)}, true, false)},
	}
}
