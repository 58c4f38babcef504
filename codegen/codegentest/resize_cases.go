package codegentest

import (
	"github.com/optc-dev/optc/ir"
)

// resizeCase builds x[in] -> Resize(attrs; roi, scales, sizes: constants
// when given as tensors, run-time inputs named "roi", "scales", "sizes"
// when given as runtime) -> Relu when relu. The output type is declared
// (out), as an exporter writes it: run-time scales leave it to the model.
func resizeCase(in, out []int64, attrs map[string]*ir.Attr, roi, scales, sizes *ir.Tensor, runtime map[string]bool, relu bool) func() *ir.Graph {
	return func() *ir.Graph {
		b := ir.NewBuilder("resize")
		x := b.Input("x", f32(in...))
		arg := func(name string, t *ir.Tensor) *ir.Value {
			switch {
			case t == nil:
				return nil
			case runtime[name]:
				return b.Input(name, ir.TensorType(t.DType, ir.ShapeOf(t.Shape...)))
			}
			return b.Const(name, t)
		}
		y := b.Op1("Resize", attrs, x, arg("roi", roi), arg("scales", scales), arg("sizes", sizes))
		y.Type = f32(out...)
		if relu {
			y = b.Op1("Relu", nil, y)
		}
		b.Output(y)
		return b.Graph()
	}
}

func f32t(v ...float32) *ir.Tensor { return ir.FromSlice(ir.Float32, []int64{int64(len(v))}, v) }

// ResizeCases are the Resize forms beyond integer replication: linear,
// cubic and nearest modes over the coordinate transformations, up- and
// downsampling, constant and run-time scales, sizes, tf_crop_and_resize
// with a constant and a run-time roi. Fixed holds the run-time scales,
// sizes and roi.
func ResizeCases() []InputCase {
	type A = map[string]*ir.Attr
	s := ir.StringAttr
	rt := func(names ...string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	return []InputCase{
		{Case: Case{Name: "resize_linear_half_pixel_up", Build: resizeCase([]int64{2, 3, 5, 7}, []int64{2, 3, 10, 21},
			A{"mode": s("linear")}, nil, f32t(1, 1, 2, 3), nil, nil, true)}},
		{Case: Case{Name: "resize_linear_align_corners_sizes_down", Build: resizeCase([]int64{1, 2, 7, 9}, []int64{1, 2, 3, 4},
			A{"mode": s("linear"), "coordinate_transformation_mode": s("align_corners")}, nil, nil, i64s(1, 2, 3, 4), nil, false)}},
		{Case: Case{Name: "resize_nearest_half_pixel_mixed", Build: resizeCase([]int64{1, 2, 4, 10}, []int64{1, 2, 6, 6},
			A{"mode": s("nearest")}, nil, f32t(1, 1, 1.5, 0.6), nil, nil, false)}},
		{Case: Case{Name: "resize_nearest_ceil_tf_half_pixel", Build: resizeCase([]int64{1, 3, 5, 4}, []int64{1, 3, 7, 10},
			A{"mode": s("nearest"), "coordinate_transformation_mode": s("tf_half_pixel_for_nn"), "nearest_mode": s("ceil")}, nil, nil, i64s(1, 3, 7, 10), nil, false)}},
		{Case: Case{Name: "resize_cubic_pytorch_exclude", Build: resizeCase([]int64{1, 1, 10, 6}, []int64{1, 1, 8, 10},
			A{"mode": s("cubic"), "coordinate_transformation_mode": s("pytorch_half_pixel"), "exclude_outside": ir.IntAttr(1), "cubic_coeff_a": ir.FloatAttr(-0.5)}, nil, f32t(1, 1, 0.8, 1.7), nil, nil, false)}},
		{Case: Case{Name: "resize_linear_3d_last_axis", Build: resizeCase([]int64{2, 3, 9}, []int64{2, 3, 4},
			A{"mode": s("linear"), "coordinate_transformation_mode": s("asymmetric")}, nil, f32t(1, 1, 0.5), nil, nil, true)}},
		{Case: Case{Name: "resize_linear_runtime_scales", Build: resizeCase([]int64{1, 2, 4, 5}, []int64{1, 2, 8, 7},
			A{"mode": s("linear")}, nil, f32t(1, 1, 2, 1.5), nil, rt("scales"), false)},
			Fixed: map[string]*ir.Tensor{"scales": f32t(1, 1, 2, 1.5)}},
		{Case: Case{Name: "resize_linear_runtime_sizes", Build: resizeCase([]int64{1, 1, 5, 5}, []int64{1, 1, 3, 8},
			A{"mode": s("linear")}, nil, nil, i64s(1, 1, 3, 8), rt("sizes"), false)},
			Fixed: map[string]*ir.Tensor{"sizes": i64s(1, 1, 3, 8)}},
		{Case: Case{Name: "resize_crop_linear_const_roi", Build: resizeCase([]int64{1, 1, 4, 4}, []int64{1, 1, 3, 3},
			A{"mode": s("linear"), "coordinate_transformation_mode": s("tf_crop_and_resize"), "extrapolation_value": ir.FloatAttr(10)},
			f32t(0, 0, 0.4, 0.6, 1, 1, 1.2, 0.9), nil, i64s(1, 1, 3, 3), nil, false)}},
		{Case: Case{Name: "resize_crop_nearest_runtime_roi", Build: resizeCase([]int64{1, 2, 6, 5}, []int64{1, 2, 4, 4},
			A{"mode": s("nearest"), "coordinate_transformation_mode": s("tf_crop_and_resize"), "extrapolation_value": ir.FloatAttr(-3)},
			f32t(0, 0, -0.2, 0.1, 1, 1, 0.9, 1.3), nil, i64s(1, 2, 4, 4), rt("roi"), false)},
			Fixed: map[string]*ir.Tensor{"roi": f32t(0, 0, -0.2, 0.1, 1, 1, 0.9, 1.3)}},
	}
}
