package interp_test

import (
	"testing"

	"github.com/optc-dev/optc/ir"
)

// Hand-calculated Resize/Upsample cases for what the conformance suite
// does not cover: Resize-10 and Upsample rounding, integer and string
// data, tf_crop_and_resize with nearest mode, 3-D linear, errors.

func TestResizeHand(t *testing.T) {
	s := ir.StringAttr
	tests := []struct {
		name    string
		op      string
		opset   int64
		attrs   map[string]*ir.Attr
		inputs  []*ir.Tensor
		shape   []int64
		want    []float64
		wantStr []string
	}{
		{
			// Resize-10 downsamples with the old rule: asymmetric
			// coordinates x/0.6 = 0, 1.67, 3.33, rounded up -> 0, 2, 4.
			name: "resize10_nearest_down", op: "Resize", opset: 10,
			attrs:  map[string]*ir.Attr{"mode": s("nearest")},
			inputs: []*ir.Tensor{f32([]int64{5}, 10, 20, 30, 40, 50), f32([]int64{1}, 0.6)},
			shape:  []int64{3}, want: []float64{10, 30, 50},
		},
		{
			// The same with Resize-11 asymmetric, round_prefer_floor:
			// 0, 1.67, 3.33 -> 0, 2, 3.
			name: "resize11_nearest_down", op: "Resize", opset: 11,
			attrs:  map[string]*ir.Attr{"mode": s("nearest"), "coordinate_transformation_mode": s("asymmetric")},
			inputs: []*ir.Tensor{f32([]int64{5}, 10, 20, 30, 40, 50), f32([]int64{0}), f32([]int64{1}, 0.6)},
			shape:  []int64{3}, want: []float64{10, 30, 40},
		},
		{
			// Upsample-7, scales attribute: x/2 truncated -> 0,0,1,1.
			name: "upsample7_nearest", op: "Upsample", opset: 7,
			attrs:  map[string]*ir.Attr{"mode": s("nearest"), "scales": ir.FloatsAttr(1, 2)},
			inputs: []*ir.Tensor{f32([]int64{1, 2}, 1, 2)},
			shape:  []int64{1, 4}, want: []float64{1, 1, 2, 2},
		},
		{
			// Upsample-9 linear, asymmetric: x/2 = 0, .5, 1, 1.5 over
			// [1, 3] with the edge repeated -> 1, 2, 3, 3.
			name: "upsample9_linear", op: "Upsample", opset: 9,
			attrs:  map[string]*ir.Attr{"mode": s("linear")},
			inputs: []*ir.Tensor{f32([]int64{1, 2}, 1, 3), f32([]int64{2}, 1, 2)},
			shape:  []int64{1, 4}, want: []float64{1, 2, 3, 3},
		},
		{
			// uint8 linear, half_pixel: x' = -.25, .25, .75, 1.25 over
			// [0, 255] -> 0, 63.75, 191.25, 255, truncated toward zero
			// (as ONNX Runtime converts).
			name: "linear_uint8", op: "Resize", opset: 13,
			attrs:  map[string]*ir.Attr{"mode": s("linear")},
			inputs: []*ir.Tensor{ir.FromSlice(ir.Uint8, []int64{2}, []uint8{0, 255}), nil, f32([]int64{1}, 2)},
			shape:  []int64{4}, want: []float64{0, 63, 191, 255},
		},
		{
			// tf_crop_and_resize, nearest: roi [0.5, 1.5] on 4 elements,
			// 3 outputs: x' = 0.5*3 + x*3/2 = 1.5, 3, 4.5; 1.5 rounds
			// down (round_prefer_floor), 4.5 > 3 extrapolates.
			name: "crop_nearest_extrapolate", op: "Resize", opset: 13,
			attrs: map[string]*ir.Attr{"mode": s("nearest"), "coordinate_transformation_mode": s("tf_crop_and_resize"),
				"extrapolation_value": ir.FloatAttr(9)},
			inputs: []*ir.Tensor{f32([]int64{4}, 1, 2, 3, 4), f32([]int64{2}, 0.5, 1.5), nil,
				ir.FromSlice(ir.Int64, []int64{1}, []int64{3})},
			shape: []int64{3}, want: []float64{2, 4, 9},
		},
		{
			// Trilinear, align_corners, 2x2x2 -> 3x3x3 of v = 4i+2j+k:
			// linear interpolation of a linear function is exact, so
			// out(i,j,k) = 4(i/2) + 2(j/2) + k/2.
			name: "trilinear_align_corners", op: "Resize", opset: 13,
			attrs:  map[string]*ir.Attr{"mode": s("linear"), "coordinate_transformation_mode": s("align_corners")},
			inputs: []*ir.Tensor{f32([]int64{2, 2, 2}, 0, 1, 2, 3, 4, 5, 6, 7), nil, nil, ir.FromSlice(ir.Int64, []int64{3}, []int64{3, 3, 3})},
			shape:  []int64{3, 3, 3},
			want: func() []float64 {
				var w []float64
				for i := 0.0; i < 3; i++ {
					for j := 0.0; j < 3; j++ {
						for k := 0.0; k < 3; k++ {
							w = append(w, 2*i+j+k/2)
						}
					}
				}
				return w
			}(),
		},
		{
			// int32 nearest, half_pixel round_prefer_floor, scale 2:
			// x' = -.25, .25, .75, 1.25 -> 0, 0, 1, 1.
			name: "nearest_int32", op: "Resize", opset: 13,
			attrs:  map[string]*ir.Attr{"mode": s("nearest")},
			inputs: []*ir.Tensor{ir.FromSlice(ir.Int32, []int64{2}, []int32{-7, 1 << 30}), nil, f32([]int64{1}, 2)},
			shape:  []int64{4}, want: []float64{-7, -7, 1 << 30, 1 << 30},
		},
		{
			name: "nearest_string", op: "Resize", opset: 13,
			attrs:  map[string]*ir.Attr{"mode": s("nearest")},
			inputs: []*ir.Tensor{ir.FromSlice(ir.String, []int64{2}, []string{"a", "b"}), nil, f32([]int64{1}, 2)},
			shape:  []int64{4}, wantStr: []string{"a", "a", "b", "b"},
		},
		{
			// f16 linear: [0, 1] scale 2, half_pixel -> 0, .25, .75, 1
			// (all exact in f16).
			name: "linear_f16", op: "Resize", opset: 13,
			attrs:  map[string]*ir.Attr{"mode": s("linear")},
			inputs: []*ir.Tensor{ir.FromSlice(ir.Float16, []int64{2}, []uint16{ir.F32ToF16(0), ir.F32ToF16(1)}), nil, f32([]int64{1}, 2)},
			shape:  []int64{4}, want: []float64{0, 0.25, 0.75, 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := resampleNode(t, tc.op, tc.opset, tc.attrs, tc.inputs, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if out[0].DType != tc.inputs[0].DType {
				t.Fatalf("dtype %s, want %s", out[0].DType, tc.inputs[0].DType)
			}
			if tc.wantStr != nil {
				got := out[0].Data.([]string)
				if len(got) != len(tc.wantStr) {
					t.Fatalf("got %q, want %q", got, tc.wantStr)
				}
				for i := range got {
					if got[i] != tc.wantStr[i] {
						t.Fatalf("got %q, want %q", got, tc.wantStr)
					}
				}
				return
			}
			resampleExpect(t, tc.name, out[0], tc.shape, tc.want, 1e-6)
		})
	}
}

func TestResizeErrors(t *testing.T) {
	x := f32([]int64{2}, 1, 2)
	sizes := ir.FromSlice(ir.Int64, []int64{1}, []int64{4})
	tests := []struct {
		name   string
		op     string
		attrs  map[string]*ir.Attr
		inputs []*ir.Tensor
	}{
		{"both_scales_and_sizes", "Resize", nil, []*ir.Tensor{x, nil, f32([]int64{1}, 2), sizes}},
		{"neither", "Resize", nil, []*ir.Tensor{x, nil, nil, nil}},
		{"scales_rank", "Resize", nil, []*ir.Tensor{x, nil, f32([]int64{2}, 2, 2)}},
		{"negative_scale", "Resize", nil, []*ir.Tensor{x, nil, f32([]int64{1}, -2)}},
		{"bad_mode", "Resize", map[string]*ir.Attr{"mode": ir.StringAttr("area")}, []*ir.Tensor{x, nil, nil, sizes}},
		{"crop_without_roi", "Resize", map[string]*ir.Attr{"coordinate_transformation_mode": ir.StringAttr("tf_crop_and_resize")}, []*ir.Tensor{x, nil, nil, sizes}},
		{"upsample_below_one", "Upsample", nil, []*ir.Tensor{x, f32([]int64{1}, 0.5)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := resampleNode(t, tc.op, 13, tc.attrs, tc.inputs, 1, nil); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
