package interp_test

import (
	"testing"

	"github.com/optc-dev/optc/ir"
)

// Hand-calculated GridSample cases beyond the conformance suite: nearest
// with reflection, bicubic with border and zeros padding, float64, errors.
//
// Bicubic weights (A = -0.75) at fraction 0.5: near(0.5) = ((1.25*0.5 -
// 2.25)*0.25 + 1 = 0.59375 and far(1.5) = ((-0.75*1.5 + 3.75)*1.5 - 6)*1.5
// + 3 = -0.09375, i.e. [-0.09375, 0.59375, 0.59375, -0.09375].

func TestGridSampleHand(t *testing.T) {
	s := ir.StringAttr
	// A 1x1x1xW image: a row. H = 1 makes y irrelevant: with
	// align_corners=0, iy = ((gy+1)*1 - 1)/2 = 0 for gy = 0.
	row := func(vals ...float32) *ir.Tensor { return f32([]int64{1, 1, 1, int64(len(vals))}, vals...) }
	// grid of points (gx, 0) in a 1x1xKx2 grid.
	xs := func(gx ...float32) *ir.Tensor {
		var d []float32
		for _, g := range gx {
			d = append(d, g, 0)
		}
		return f32([]int64{1, 1, int64(len(gx)), 2}, d...)
	}
	tests := []struct {
		name  string
		attrs map[string]*ir.Attr
		x, g  *ir.Tensor
		want  []float64
	}{
		{
			// W = 3, align_corners = 0: ix = ((gx+1)*3 - 1)/2.
			// gx = 1.5: ix = 3.25, reflected about 2.5 -> 1.75 -> 2.
			// gx = -1.4: ix = -1.1, reflected about -0.5 -> 0.1 -> 0.
			// gx = 0.2: ix = 1.3 -> 1.
			name:  "nearest_reflection",
			attrs: map[string]*ir.Attr{"mode": s("nearest"), "padding_mode": s("reflection")},
			x:     row(1, 2, 3), g: xs(1.5, -1.4, 0.2),
			want: []float64{3, 1, 2},
		},
		{
			// Nearest rounds half to even. W = 4: ix = ((gx+1)*4 - 1)/2;
			// gx = -0.5, 0, 0.5 give ix = 0.5, 1.5, 2.5 -> 0, 2, 2.
			name:  "nearest_half_even",
			attrs: map[string]*ir.Attr{"mode": s("nearest")},
			x:     row(1, 2, 3, 4), g: xs(-0.5, 0, 0.5),
			want: []float64{1, 3, 3},
		},
		{
			// Image x^2+1 = [1, 2, 5, 10, 17], align_corners = 1:
			// ix = (gx+1)/2*4. gx = -0.25: ix = 1.5, taps 0..3:
			// -0.09375*1 + 0.59375*(2+5) - 0.09375*10 = 3.125.
			// gx = -0.75: ix = 0.5, taps -1..2, tap -1 clamps to 0 with
			// border padding: -0.09375*1 + 0.59375*(1+2) - 0.09375*5 = 1.21875.
			name:  "bicubic_border",
			attrs: map[string]*ir.Attr{"mode": s("bicubic"), "padding_mode": s("border"), "align_corners": ir.IntAttr(1)},
			x:     row(1, 2, 5, 10, 17), g: xs(-0.25, -0.75),
			want: []float64{3.125, 1.21875},
		},
		{
			// As above with zeros padding: tap -1 reads 0, so at
			// ix = 0.5: 0.59375*(1+2) - 0.09375*5 = 1.3125.
			name:  "bicubic_zeros",
			attrs: map[string]*ir.Attr{"mode": s("bicubic"), "align_corners": ir.IntAttr(1)},
			x:     row(1, 2, 5, 10, 17), g: xs(-0.25, -0.75),
			want: []float64{3.125, 1.3125},
		},
		{
			// Bilinear, float64, border: gx = 2 is far right, clamped to
			// ix = 2 -> 30; gx = 0 -> ix = 1 -> 20; gx = -2/3 -> ix = 0 ->
			// 10 (align_corners = 0, W = 3: ix = ((gx+1)*3-1)/2).
			name:  "bilinear_border_f64",
			attrs: map[string]*ir.Attr{"padding_mode": s("border")},
			x:     ir.FromSlice(ir.Float64, []int64{1, 1, 1, 3}, []float64{10, 20, 30}),
			g:     ir.FromSlice(ir.Float64, []int64{1, 1, 3, 2}, []float64{2, 0, 0, 0, -2.0 / 3, 0}),
			want:  []float64{30, 20, 10},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := resampleNode(t, "GridSample", 16, tc.attrs, []*ir.Tensor{tc.x, tc.g}, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if out[0].DType != tc.x.DType {
				t.Fatalf("dtype %s, want %s", out[0].DType, tc.x.DType)
			}
			resampleExpect(t, tc.name, out[0], []int64{1, 1, tc.g.Shape[1], tc.g.Shape[2]}, tc.want, 1e-6)
		})
	}
}

func TestGridSampleErrors(t *testing.T) {
	x := f32([]int64{1, 1, 2, 2}, 1, 2, 3, 4)
	g := f32([]int64{1, 1, 1, 2}, 0, 0)
	tests := []struct {
		name  string
		attrs map[string]*ir.Attr
		x, g  *ir.Tensor
	}{
		{"bad_mode", map[string]*ir.Attr{"mode": ir.StringAttr("area")}, x, g},
		{"bad_padding", map[string]*ir.Attr{"padding_mode": ir.StringAttr("wrap")}, x, g},
		{"grid_last_dim", nil, x, f32([]int64{1, 1, 1, 3}, 0, 0, 0)},
		{"batch_mismatch", nil, x, f32([]int64{2, 1, 1, 2}, 0, 0, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := resampleNode(t, "GridSample", 16, tc.attrs, []*ir.Tensor{tc.x, tc.g}, 1, nil); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
