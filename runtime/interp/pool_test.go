package interp_test

import (
	"fmt"
	"testing"

	"github.com/optc-dev/optc/ir"
)

// poolCheck compares got's shape and values with want exactly or within
// 1e-6.
func poolCheck(t *testing.T, name string, got *ir.Tensor, shape []int64, want ...float64) {
	t.Helper()
	if fmt.Sprint(got.Shape) != fmt.Sprint(shape) || got.Len() != len(want) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape, shape)
	}
	for i, w := range want {
		if d := got.Float64At(i) - w; d > 1e-6 || d < -1e-6 {
			t.Fatalf("%s: element %d = %v, want %v (all: %v)", name, i, got.Float64At(i), w, got.Data)
		}
	}
}

// TestPoolHand checks pooling ops on small inputs against values computed
// by hand (in the comments).
func TestPoolHand(t *testing.T) {
	x1 := f32([]int64{1, 1, 4}, -3, 4, 0, -5)
	cases := []struct {
		name  string
		op    string
		attrs map[string]*ir.Attr
		x     *ir.Tensor
		shape []int64
		want  []float64
	}{
		// windows [-3,4], [0,-5]: sqrt(9+16) = 5, sqrt(0+25) = 5.
		{"lp2", "LpPool", map[string]*ir.Attr{"kernel_shape": ir.IntsAttr(2), "strides": ir.IntsAttr(2)}, x1, []int64{1, 1, 2}, []float64{5, 5}},
		// p=1, pads [1,0]: windows [pad,-3], [-3,4], [4,0], [0,-5]: 3, 7, 4, 5.
		{"lp1", "LpPool", map[string]*ir.Attr{"kernel_shape": ir.IntsAttr(2), "p": ir.IntAttr(1), "pads": ir.IntsAttr(1, 0)}, x1, []int64{1, 1, 4}, []float64{3, 7, 4, 5}},
		// channels [3,4] and [6,8]: 5 and 10.
		{"globallp", "GlobalLpPool", nil, f32([]int64{1, 2, 2}, 3, 4, 6, 8), []int64{1, 2, 1}, []float64{5, 10}},
		// x=[1,2,3,4], k=3, s=2, pads [1,1], ceil: windows start at -1, 1, 3.
		// Excluding pads: (1+2)/2, (2+3+4)/3, 4/1.
		{"avg_ceil", "AveragePool", map[string]*ir.Attr{"kernel_shape": ir.IntsAttr(3), "strides": ir.IntsAttr(2), "pads": ir.IntsAttr(1, 1), "ceil_mode": ir.IntAttr(1)},
			f32([]int64{1, 1, 4}, 1, 2, 3, 4), []int64{1, 1, 3}, []float64{1.5, 3, 4}},
		// Including pads: (0+1+2)/3, 9/3, and the last window covers
		// positions 3, 4 (pad) and 5 (past the padding, not counted): 4/2.
		{"avg_ceil_incl", "AveragePool", map[string]*ir.Attr{"kernel_shape": ir.IntsAttr(3), "strides": ir.IntsAttr(2), "pads": ir.IntsAttr(1, 1), "ceil_mode": ir.IntAttr(1), "count_include_pad": ir.IntAttr(1)},
			f32([]int64{1, 1, 4}, 1, 2, 3, 4), []int64{1, 1, 3}, []float64{1, 3, 2}},
		// Global max/avg over a 1×2×3 input.
		{"globalmax", "GlobalMaxPool", nil, f32([]int64{1, 2, 3}, 1, 5, 2, -1, -7, -2), []int64{1, 2, 1}, []float64{5, -1}},
		{"globalavg", "GlobalAveragePool", nil, f32([]int64{1, 2, 3}, 1, 5, 3, -1, -7, -2), []int64{1, 2, 1}, []float64{3, -10.0 / 3}},
	}
	for _, c := range cases {
		got, err := convRun(c.op, 0, c.attrs, 1, c.x)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		poolCheck(t, c.name, got[0], c.shape, c.want...)
	}
}

// TestMaxPoolTypes checks MaxPool values and indices for f64, int8 and a
// column-major storage order: x is the 3×3 plane
//
//	1 9 2
//	8 3 7
//	4 6 5
//
// with 2×2 windows at stride 1: maxima 9 9 / 8 7 at row-major indices
// 1 1 / 3 5, column-major (col·3 + row) 3 3 / 1 7.
func TestMaxPoolTypes(t *testing.T) {
	vals := []float64{1, 9, 2, 8, 3, 7, 4, 6, 5}
	i8 := make([]int8, 9)
	for i, v := range vals {
		i8[i] = int8(v)
	}
	attrs := map[string]*ir.Attr{"kernel_shape": ir.IntsAttr(2, 2)}
	for _, x := range []*ir.Tensor{ir.FromSlice(ir.Float64, []int64{1, 1, 3, 3}, vals), ir.FromSlice(ir.Int8, []int64{1, 1, 3, 3}, i8)} {
		got, err := convRun("MaxPool", 0, attrs, 2, x)
		if err != nil {
			t.Fatal(err)
		}
		if got[0].DType != x.DType {
			t.Fatalf("dtype %s, want %s", got[0].DType, x.DType)
		}
		poolCheck(t, "maxpool "+x.DType.String(), got[0], []int64{1, 1, 2, 2}, 9, 9, 8, 7)
		poolCheck(t, "indices "+x.DType.String(), got[1], []int64{1, 1, 2, 2}, 1, 1, 3, 5)
	}
	attrs["storage_order"] = ir.IntAttr(1)
	got, err := convRun("MaxPool", 0, attrs, 2, ir.FromSlice(ir.Float64, []int64{1, 1, 3, 3}, vals))
	if err != nil {
		t.Fatal(err)
	}
	poolCheck(t, "column-major indices", got[1], []int64{1, 1, 2, 2}, 3, 3, 1, 7)
}
