package interp_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/internal/ort"
	"github.com/optc-dev/optc/ir"
)

// Differential tests of the recurrent and resampling kernels against ONNX
// Runtime (the oracle the real models are matched with): single-node
// models over the attribute combinations the conformance suite leaves out,
// seeded random data. Skipped when the ONNX Runtime library is absent.
//
// Not covered here, because ONNX Runtime does not implement them: layout 1
// of the recurrent ops, cubic resize of integer tensors. Known and
// intended difference, so avoided: align_corners and tf_crop_and_resize
// with scales whose input_length * scale is not an integer (see
// resize.go); integer linear resize (ONNX Runtime uses fixed-point
// weights).

func TestRecurrentVersusORT(t *testing.T) {
	if _, ok := ort.Available(); !ok {
		t.Skip(ort.SkipReason())
	}
	const T, B, I, H = 4, 3, 3, 5
	r := rand.New(rand.NewSource(3))
	for _, cell := range []struct {
		op    string
		gates int
		acts  []string
	}{{"RNN", 1, []string{"LeakyRelu"}}, {"GRU", 3, []string{"HardSigmoid", "Softsign"}}, {"LSTM", 4, []string{"HardSigmoid", "Elu", "Softplus"}}} {
		for _, dir := range []string{"forward", "reverse", "bidirectional"} {
			D := int64(1)
			if dir == "bidirectional" {
				D = 2
			}
			for _, variant := range []string{"plain", "lens", "clip", "lbr", "acts", "forget"} {
				if (variant == "lbr" && cell.op != "GRU") || (variant == "forget" && cell.op != "LSTM") {
					continue
				}
				G := int64(cell.gates)
				tc := ortCase{
					name: cell.op + "_" + dir + "_" + variant, op: cell.op, opset: 14,
					inputs: []string{"X", "W", "R", "B", "", "h0"},
					feeds:  map[string][]int64{"X": {T, B, I}, "h0": {D, B, H}},
					consts: map[string]*ir.Tensor{
						"W": randF32(r, D, G*H, I), "R": randF32(r, D, G*H, H), "B": randF32(r, D, 2*G*H),
					},
					attrs: []*onnxpb.AttributeProto{ortAttrI("hidden_size", H), ortAttrS("direction", dir)},
					nOut:  2,
				}
				if cell.op == "LSTM" {
					tc.inputs = append(tc.inputs, "c0", "P")
					tc.feeds["c0"] = []int64{D, B, H}
					tc.consts["P"] = randF32(r, D, 3*H)
					tc.nOut = 3
				}
				switch variant {
				case "lens":
					tc.inputs[4] = "lens"
					tc.consts["lens"] = ir.FromSlice(ir.Int32, []int64{B}, []int32{4, 0, 2})
				case "clip":
					tc.attrs = append(tc.attrs, ortAttrF("clip", 0.7))
				case "lbr":
					tc.attrs = append(tc.attrs, ortAttrI("linear_before_reset", 1))
				case "forget":
					tc.attrs = append(tc.attrs, ortAttrI("input_forget", 1))
				case "acts":
					acts := cell.acts
					if D == 2 {
						acts = append(append([]string{}, acts...), acts...)
					}
					tc.attrs = append(tc.attrs, ortAttrSs("activations", acts...),
						ortAttrFs("activation_alpha", 0.3, 0.4, 0.5, 0.6, 0.7, 0.8), ortAttrFs("activation_beta", 0.45, 0.55, 0.6))
				}
				t.Run(tc.name, func(t *testing.T) { ortCheck(t, tc, 1e-4) })
			}
		}
	}
}

func TestResizeVersusORT(t *testing.T) {
	if _, ok := ort.Available(); !ok {
		t.Skip(ort.SkipReason())
	}
	x := []int64{1, 2, 5, 6}
	// Scales whose input_length * scale is an integer (5*2.4 = 12,
	// 6*1.5 = 9; 5*0.6 = 3, 6*0.5 = 3), though 2.4 and 0.6 are not exact
	// in float32.
	up := f32([]int64{4}, 1, 1, 2.4, 1.5)
	down := f32([]int64{4}, 1, 1, 0.6, 0.5)
	sizes := ir.FromSlice(ir.Int64, []int64{4}, []int64{1, 2, 9, 4})
	roi := f32([]int64{8}, 0, 0, 0.1, 0.2, 1, 1, 0.8, 1.1)
	for _, mode := range []string{"nearest", "linear", "cubic"} {
		for _, coord := range []string{"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"} {
			for _, kind := range []string{"up", "down", "sizes"} {
				tc := ortCase{
					name: "Resize_" + mode + "_" + coord + "_" + kind, op: "Resize", opset: 13,
					feeds:  map[string][]int64{"X": x},
					consts: map[string]*ir.Tensor{"roi": roi, "scales": up, "sizes": sizes},
					attrs:  []*onnxpb.AttributeProto{ortAttrS("mode", mode), ortAttrS("coordinate_transformation_mode", coord)},
					nOut:   1,
				}
				switch kind {
				case "up":
					tc.inputs = []string{"X", "roi", "scales"}
				case "down":
					tc.inputs = []string{"X", "roi", "scales"}
					tc.consts["scales"] = down
				case "sizes":
					tc.inputs = []string{"X", "roi", "", "sizes"}
				}
				if coord == "tf_crop_and_resize" {
					tc.attrs = append(tc.attrs, ortAttrF("extrapolation_value", -3))
				}
				switch {
				case mode == "cubic" && kind == "down":
					tc.attrs = append(tc.attrs, ortAttrI("exclude_outside", 1), ortAttrF("cubic_coeff_a", -0.5))
				case mode == "nearest" && kind == "up":
					tc.attrs = append(tc.attrs, ortAttrS("nearest_mode", "round_prefer_ceil"))
				case mode == "nearest" && kind == "down":
					tc.attrs = append(tc.attrs, ortAttrS("nearest_mode", "floor"))
				case mode == "nearest" && kind == "sizes":
					tc.attrs = append(tc.attrs, ortAttrS("nearest_mode", "ceil"))
				}
				t.Run(tc.name, func(t *testing.T) { ortCheck(t, tc, 1e-4) })
			}
		}
	}
	// Resize-10 and Upsample-9: asymmetric, the old nearest rule.
	for _, mode := range []string{"nearest", "linear"} {
		for kind, s := range map[string]*ir.Tensor{"up": f32([]int64{4}, 1, 1, 2, 3), "down": down} {
			tc := ortCase{
				name: "Resize10_" + mode + "_" + kind, op: "Resize", opset: 10, inputs: []string{"X", "scales"},
				feeds: map[string][]int64{"X": x}, consts: map[string]*ir.Tensor{"scales": s},
				attrs: []*onnxpb.AttributeProto{ortAttrS("mode", mode)}, nOut: 1,
			}
			t.Run(tc.name, func(t *testing.T) { ortCheck(t, tc, 1e-4) })
		}
		tc := ortCase{
			name: "Upsample9_" + mode, op: "Upsample", opset: 9, inputs: []string{"X", "scales"},
			feeds: map[string][]int64{"X": x}, consts: map[string]*ir.Tensor{"scales": f32([]int64{4}, 1, 1, 2, 2.5)},
			attrs: []*onnxpb.AttributeProto{ortAttrS("mode", mode)}, nOut: 1,
		}
		t.Run(tc.name, func(t *testing.T) { ortCheck(t, tc, 1e-4) })
	}
	// Nearest on integer tensors is exact.
	for _, dt := range []ir.DType{ir.Uint8, ir.Int8, ir.Int32} {
		tc := ortCase{
			name: "Resize_nearest_" + dt.String(), op: "Resize", opset: 13, inputs: []string{"X", "", "scales"},
			feeds: map[string][]int64{"X": x}, consts: map[string]*ir.Tensor{"scales": up},
			attrs: []*onnxpb.AttributeProto{ortAttrS("mode", "nearest")}, nOut: 1, dtype: dt,
		}
		t.Run(tc.name, func(t *testing.T) { ortCheck(t, tc, 0) })
	}
}

func TestGridSampleVersusORT(t *testing.T) {
	if _, ok := ort.Available(); !ok {
		t.Skip(ort.SkipReason())
	}
	for _, mode := range []string{"bilinear", "nearest", "bicubic"} {
		for _, pad := range []string{"zeros", "border", "reflection"} {
			for _, ac := range []int64{0, 1} {
				tc := ortCase{
					name: fmt.Sprintf("GridSample_%s_%s_%d", mode, pad, ac), op: "GridSample", opset: 16,
					inputs: []string{"X", "grid"},
					feeds:  map[string][]int64{"X": {2, 3, 5, 6}, "grid": {2, 4, 7, 2}},
					attrs: []*onnxpb.AttributeProto{ortAttrS("mode", mode), ortAttrS("padding_mode", pad),
						ortAttrI("align_corners", ac)},
					nOut: 1,
				}
				t.Run(tc.name, func(t *testing.T) { ortCheck(t, tc, 1e-4) })
			}
		}
	}
}
