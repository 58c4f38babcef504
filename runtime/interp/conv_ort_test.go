package interp_test

import (
	"math/rand"
	"testing"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/internal/ort"
	"github.com/optc-dev/optc/ir"
)

// Differential tests of the convolution, pooling, normalization and
// vision kernels against ONNX Runtime, over attribute combinations the
// conformance suite leaves out (single-node models with seeded random
// data, built and compared by the helpers of
// ort_helpers_test.go). Skipped when the ONNX Runtime library is absent.
// Not compared: LRN with an even size (ONNX Runtime rejects it) and
// MeanVarianceNormalization (the oracle cannot run its dynamic output
// shape); norm_test.go checks those by hand.

func TestConvFamilyVersusORT(t *testing.T) {
	if _, ok := ort.Available(); !ok {
		t.Skip(ort.SkipReason())
	}
	r := rand.New(rand.NewSource(5))
	w := func(shape ...int64) *ir.Tensor { return randF32(r, shape...) }
	conv := func(name string, x []int64, wt *ir.Tensor, attrs ...*onnxpb.AttributeProto) ortCase {
		return ortCase{
			name: name, op: "Conv", opset: 13, inputs: []string{"X", "W", "B"},
			feeds:  map[string][]int64{"X": x},
			consts: map[string]*ir.Tensor{"W": wt, "B": w(wt.Shape[0])},
			attrs:  attrs, nOut: 1,
		}
	}
	convT := func(name string, x []int64, wt *ir.Tensor, cout int64, attrs ...*onnxpb.AttributeProto) ortCase {
		return ortCase{
			name: name, op: "ConvTranspose", opset: 13, inputs: []string{"X", "W", "B"},
			feeds:  map[string][]int64{"X": x},
			consts: map[string]*ir.Tensor{"W": wt, "B": w(cout)},
			attrs:  attrs, nOut: 1,
		}
	}
	unary := func(name, op string, opset int64, x []int64, attrs ...*onnxpb.AttributeProto) ortCase {
		return ortCase{name: name, op: op, opset: opset, inputs: []string{"X"}, feeds: map[string][]int64{"X": x}, attrs: attrs, nOut: 1}
	}
	cases := []ortCase{
		conv("conv_group_asym", []int64{2, 4, 9, 8}, w(6, 2, 3, 2),
			ortAttrI("group", 2), ortAttrIs("strides", 2, 1), ortAttrIs("dilations", 1, 2), ortAttrIs("pads", 1, 0, 2, 1)),
		conv("conv_same_upper", []int64{1, 3, 10, 9}, w(4, 3, 3, 3), ortAttrS("auto_pad", "SAME_UPPER"), ortAttrIs("strides", 2, 2)),
		conv("conv_same_lower", []int64{1, 3, 10, 9}, w(4, 3, 4, 2), ortAttrS("auto_pad", "SAME_LOWER"), ortAttrIs("strides", 3, 2)),
		conv("conv_valid", []int64{1, 3, 10, 9}, w(4, 3, 3, 3), ortAttrS("auto_pad", "VALID"), ortAttrIs("strides", 2, 2)),
		conv("conv_depthwise_mult", []int64{2, 3, 11, 7}, w(6, 1, 3, 3), ortAttrI("group", 3), ortAttrIs("strides", 2, 2), ortAttrIs("pads", 1, 1, 1, 1)),
		conv("conv_depthwise_1d", []int64{1, 4, 17}, w(4, 1, 5), ortAttrI("group", 4), ortAttrIs("dilations", 2), ortAttrIs("pads", 3, 1)),
		conv("conv_pointwise_s2", []int64{1, 8, 9, 9}, w(5, 8, 1, 1), ortAttrIs("strides", 2, 2)),
		conv("conv_3d", []int64{1, 2, 5, 6, 7}, w(3, 2, 2, 3, 3), ortAttrIs("strides", 1, 2, 2), ortAttrIs("pads", 0, 1, 1, 1, 0, 1)),
		conv("conv_deep", []int64{1, 64, 4, 4}, w(96, 64, 3, 3), ortAttrIs("pads", 1, 1, 1, 1)),
		convT("convt_group_dil", []int64{1, 4, 5, 4}, w(4, 3, 3, 2), 6,
			ortAttrI("group", 2), ortAttrIs("strides", 2, 3), ortAttrIs("dilations", 2, 1), ortAttrIs("output_padding", 1, 0), ortAttrIs("pads", 1, 0, 0, 1)),
		convT("convt_same_lower", []int64{1, 2, 4, 5}, w(2, 3, 3, 3), 3, ortAttrS("auto_pad", "SAME_LOWER"), ortAttrIs("strides", 2, 2)),
		convT("convt_output_shape", []int64{1, 2, 4, 5}, w(2, 3, 3, 3), 3, ortAttrIs("output_shape", 8, 10), ortAttrIs("strides", 2, 2)),
		convT("convt_1d", []int64{2, 3, 6}, w(3, 2, 4), 2, ortAttrIs("strides", 2), ortAttrIs("pads", 1, 2)),
		unary("maxpool_ceil_dil", "MaxPool", 12, []int64{1, 2, 9, 8},
			ortAttrIs("kernel_shape", 3, 2), ortAttrIs("strides", 2, 3), ortAttrIs("dilations", 1, 2), ortAttrIs("pads", 1, 0, 1, 1), ortAttrI("ceil_mode", 1)),
		unary("maxpool_3d_same", "MaxPool", 12, []int64{1, 1, 5, 6, 7}, ortAttrIs("kernel_shape", 2, 3, 2), ortAttrIs("strides", 2, 2, 2), ortAttrS("auto_pad", "SAME_LOWER")),
		unary("avgpool_ceil_incl", "AveragePool", 11, []int64{1, 2, 8, 7},
			ortAttrIs("kernel_shape", 3, 3), ortAttrIs("strides", 2, 2), ortAttrIs("pads", 1, 0, 0, 1), ortAttrI("ceil_mode", 1), ortAttrI("count_include_pad", 1)),
		unary("avgpool_ceil_excl", "AveragePool", 11, []int64{1, 2, 8, 7},
			ortAttrIs("kernel_shape", 3, 3), ortAttrIs("strides", 2, 2), ortAttrIs("pads", 1, 0, 0, 1), ortAttrI("ceil_mode", 1)),
		unary("lppool_p3", "LpPool", 11, []int64{1, 2, 7, 6}, ortAttrIs("kernel_shape", 2, 3), ortAttrIs("strides", 2, 1), ortAttrIs("pads", 1, 0, 0, 1), ortAttrI("p", 3)),
		unary("globallppool", "GlobalLpPool", 2, []int64{2, 3, 4, 5}, ortAttrI("p", 3)),
		unary("lrn_size5", "LRN", 13, []int64{2, 7, 3, 3}, ortAttrI("size", 5), ortAttrF("alpha", 0.1), ortAttrF("beta", 0.6), ortAttrF("bias", 1.5)),
		unary("lpnorm_p1", "LpNormalization", 1, []int64{2, 3, 4}, ortAttrI("axis", 1), ortAttrI("p", 1)),
		{
			name: "instancenorm_3d", op: "InstanceNormalization", opset: 6, inputs: []string{"X", "S", "B"},
			feeds: map[string][]int64{"X": {2, 3, 4, 3, 2}}, consts: map[string]*ir.Tensor{"S": w(3), "B": w(3)}, nOut: 1,
		},
		{
			name: "layernorm_axis1", op: "LayerNormalization", opset: 17, inputs: []string{"X", "S", "B"},
			feeds: map[string][]int64{"X": {2, 3, 4}}, consts: map[string]*ir.Tensor{"S": w(3, 4), "B": w(4)},
			attrs: []*onnxpb.AttributeProto{ortAttrI("axis", 1)}, nOut: 1,
		},
		{
			name: "maxroipool", op: "MaxRoiPool", opset: 1, inputs: []string{"X", "rois"},
			feeds: map[string][]int64{"X": {2, 3, 10, 9}},
			consts: map[string]*ir.Tensor{"rois": f32([]int64{3, 5},
				0, 1, 1, 6, 7, 1, 0.4, 2.6, 8.2, 9.5, 1, 3, 3, 3, 3)},
			attrs: []*onnxpb.AttributeProto{ortAttrIs("pooled_shape", 3, 2), ortAttrF("spatial_scale", 0.9)}, nOut: 1,
		},
	}
	for _, mode := range []string{"avg", "max"} {
		for _, ctm := range []string{"half_pixel", "output_half_pixel"} {
			cases = append(cases, ortCase{
				name: "roialign_" + mode + "_" + ctm, op: "RoiAlign", opset: 16, inputs: []string{"X", "rois", "idx"},
				feeds: map[string][]int64{"X": {2, 2, 8, 9}},
				consts: map[string]*ir.Tensor{
					"rois": f32([]int64{3, 4}, 0.5, 1, 7, 6.5, -1, 2, 3, 9, 2, 2, 2.5, 2.2),
					"idx":  ir.FromSlice(ir.Int64, []int64{3}, []int64{0, 1, 1}),
				},
				attrs: []*onnxpb.AttributeProto{ortAttrS("mode", mode), ortAttrS("coordinate_transformation_mode", ctm),
					ortAttrI("output_height", 3), ortAttrI("output_width", 4), ortAttrF("spatial_scale", 1.1)},
				nOut: 1,
			})
		}
	}
	// QLinearConv: u8 activations, weights and zero points (random 0..99),
	// per-channel weight scales, int32 bias.
	for _, group := range []int64{1, 2} {
		cases = append(cases, ortCase{
			name: "qlinearconv_group" + string(rune('0'+group)), op: "QLinearConv", opset: 13, dtype: ir.Uint8,
			inputs: []string{"X", "xs", "xz", "W", "ws", "wz", "ys", "yz", "B"},
			feeds:  map[string][]int64{"X": {1, 4, 7, 6}, "xz": {}, "W": {4, 4 / group, 3, 3}, "wz": {}, "yz": {}},
			consts: map[string]*ir.Tensor{
				"xs": f32(nil, 0.02), "ws": f32([]int64{4}, 0.01, 0.03, 0.002, 0.05), "ys": f32(nil, 0.7),
				"B": ir.FromSlice(ir.Int32, []int64{4}, []int32{-300, 25, 0, 1000}),
			},
			attrs: []*onnxpb.AttributeProto{ortAttrI("group", group), ortAttrIs("pads", 1, 0, 1, 2), ortAttrIs("strides", 1, 2)},
			nOut:  1,
		})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { ortCheck(t, tc, 1e-4) })
	}
}
