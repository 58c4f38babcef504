package interp_test

import (
	"testing"

	"github.com/optc-dev/optc/ir"
)

// TestMaxRoiPoolHand pools the 4×4 plane 0..15 (row-major).
func TestMaxRoiPoolHand(t *testing.T) {
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i)
	}
	// Roi 0 covers rows/cols 0..3: 2×2 bins of 2×2 pixels with maxima
	// 5, 7, 13, 15. Roi 1 covers rows/cols 1..2: one pixel per bin,
	// 5, 6, 9, 10.
	rois := f32([]int64{2, 5}, 0, 0, 0, 3, 3, 0, 1, 1, 2, 2)
	got, err := convRun("MaxRoiPool", 0, map[string]*ir.Attr{"pooled_shape": ir.IntsAttr(2, 2)}, 1,
		f32([]int64{1, 1, 4, 4}, x...), rois)
	if err != nil {
		t.Fatal(err)
	}
	poolCheck(t, "maxroipool", got[0], []int64{2, 1, 2, 2}, 5, 7, 13, 15, 5, 6, 9, 10)
}

// TestRoiAlignModes samples the plane [[1,2],[3,4]] once at (0.5, 0.5)
// (roi [0,0,1,1], output_half_pixel, one 1×1 bin, sampling_ratio 1): the
// four neighbours weigh 0.25 each, so avg = 2.5 and max = max(0.25·v) = 1.
func TestRoiAlignModes(t *testing.T) {
	for mode, want := range map[string]float64{"avg": 2.5, "max": 1} {
		got, err := convRun("RoiAlign", 0, map[string]*ir.Attr{
			"mode": ir.StringAttr(mode), "coordinate_transformation_mode": ir.StringAttr("output_half_pixel"),
			"output_height": ir.IntAttr(1), "output_width": ir.IntAttr(1), "sampling_ratio": ir.IntAttr(1),
		}, 1, f32([]int64{1, 1, 2, 2}, 1, 2, 3, 4), f32([]int64{1, 4}, 0, 0, 1, 1),
			ir.FromSlice(ir.Int64, []int64{1}, []int64{0}))
		if err != nil {
			t.Fatal(err)
		}
		poolCheck(t, "roialign "+mode, got[0], []int64{1, 1, 1, 1}, want)
	}
}

// TestQuantConvHand: x = [10, 20] (u8, zero point 10) convolved with the
// 1×1 kernels 3 and 5 (zero points 1 and 4, per channel) gives the int32
// accumulators [0·2, 10·2] = [0, 20] and [0·1, 10·1] = [0, 10].
func TestQuantConvHand(t *testing.T) {
	x := ir.FromSlice(ir.Uint8, []int64{1, 1, 1, 2}, []uint8{10, 20})
	w := ir.FromSlice(ir.Uint8, []int64{2, 1, 1, 1}, []uint8{3, 5})
	xzp := ir.FromSlice(ir.Uint8, nil, []uint8{10})
	wzp := ir.FromSlice(ir.Uint8, []int64{2}, []uint8{1, 4})
	got, err := convRun("ConvInteger", 0, nil, 1, x, w, xzp, wzp)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].DType != ir.Int32 {
		t.Fatalf("dtype %s, want i32", got[0].DType)
	}
	poolCheck(t, "convinteger", got[0], []int64{1, 2, 1, 2}, 0, 20, 0, 10)
	// QLinearConv with bias [1, 6], x_scale 0.5, w_scale [1, 0.125],
	// y_scale 1, y_zero_point 0: channel 0 (0+1)·0.5 = 0.5 → 0 and
	// (20+1)·0.5 = 10.5 → 10 (half to even); channel 1 (0+6)·0.0625 =
	// 0.375 → 0 and (10+6)·0.0625 = 1.
	got, err = convRun("QLinearConv", 0, nil, 1, x, ir.ScalarF32(0.5), xzp, w,
		f32([]int64{2}, 1, 0.125), wzp, ir.ScalarF32(1), ir.FromSlice(ir.Uint8, nil, []uint8{0}),
		ir.FromSlice(ir.Int32, []int64{2}, []int32{1, 6}))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].DType != ir.Uint8 {
		t.Fatalf("dtype %s, want u8", got[0].DType)
	}
	poolCheck(t, "qlinearconv", got[0], []int64{1, 2, 1, 2}, 0, 10, 0, 1)
}
