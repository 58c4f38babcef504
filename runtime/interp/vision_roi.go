package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// RoiAlign and MaxRoiPool: pooling of regions of interest of an N×C×H×W
// feature map to fixed-size outputs.

func init() {
	Register("RoiAlign", visionRoiAlignKernel)
	Register("MaxRoiPool", visionMaxRoiPoolKernel)
}

// visionRoiArgs returns X (N×C×H×W, float) and the rois (R×cols) as
// float64 values.
func visionRoiArgs(c *Call, in []Value, cols int) (*ir.Tensor, []float64, int, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, nil, 0, err
	}
	rois, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, nil, 0, err
	}
	if len(x.Shape) != 4 {
		return nil, nil, 0, c.Errorf("input X must have shape N×C×H×W, got %v", x.Shape)
	}
	if !convIsFloat(x.DType) {
		return nil, nil, 0, c.Errorf("unsupported dtype %s (want f32, f64, f16 or bf16)", x.DType)
	}
	if len(rois.Shape) != 2 || rois.Shape[1] != int64(cols) {
		return nil, nil, 0, c.Errorf("rois must have shape [num_rois, %d], got %v", cols, rois.Shape)
	}
	return x, convElems[float64](rois), int(rois.Shape[0]), nil
}

// visionBilinear is one bilinear sample: four plane positions and weights.
type visionBilinear struct {
	pos [4]int
	w   [4]float64
}

// visionBilinearAt prepares the sample at (y, x) of an h×w plane the way
// the ONNX reference RoiAlign does: points more than one pixel outside
// contribute nothing, others are clamped to the plane.
func visionBilinearAt(y, x float64, h, w int) visionBilinear {
	if y < -1 || y > float64(h) || x < -1 || x > float64(w) {
		return visionBilinear{}
	}
	y, x = math.Max(y, 0), math.Max(x, 0)
	yl, xl := int(y), int(x)
	yh, xh := yl+1, xl+1
	if yl >= h-1 {
		yl, yh, y = h-1, h-1, float64(h-1)
	}
	if xl >= w-1 {
		xl, xh, x = w-1, w-1, float64(w-1)
	}
	ly, lx := y-float64(yl), x-float64(xl)
	hy, hx := 1-ly, 1-lx
	return visionBilinear{
		pos: [4]int{yl*w + xl, yl*w + xh, yh*w + xl, yh*w + xh},
		w:   [4]float64{hy * hx, hy * lx, ly * hx, ly * lx},
	}
}

func visionRoiAlignKernel(c *Call, in []Value) ([]Value, error) {
	x, rois, nr, err := visionRoiArgs(c, in, 4)
	if err != nil {
		return nil, err
	}
	bi, err := tensorArg(c, in, 2)
	if err != nil {
		return nil, err
	}
	if bi.Len() != nr {
		return nil, c.Errorf("batch_indices has shape %v, want [%d]", bi.Shape, nr)
	}
	mode := c.Node.AttrString("mode", "avg")
	if mode != "avg" && mode != "max" {
		return nil, c.Errorf("unknown mode %q (want avg or max)", mode)
	}
	ctm := c.Node.AttrString("coordinate_transformation_mode", "half_pixel")
	if c.Opset < 16 {
		ctm = "output_half_pixel"
	}
	if ctm != "half_pixel" && ctm != "output_half_pixel" {
		return nil, c.Errorf("unknown coordinate_transformation_mode %q", ctm)
	}
	oh, ow := int(c.Node.AttrInt("output_height", 1)), int(c.Node.AttrInt("output_width", 1))
	ratio := int(c.Node.AttrInt("sampling_ratio", 0))
	scale := float64(c.Node.AttrFloat("spatial_scale", 1))
	if oh < 1 || ow < 1 || ratio < 0 {
		return nil, c.Errorf("output_height %d, output_width %d must be positive and sampling_ratio %d non-negative", oh, ow, ratio)
	}
	n, ch, h, w := int(x.Shape[0]), int(x.Shape[1]), int(x.Shape[2]), int(x.Shape[3])
	xv := convElems[float64](x)
	y := make([]float64, nr*ch*oh*ow)
	offset := 0.0
	if ctm == "half_pixel" {
		offset = 0.5
	}
	for r := 0; r < nr; r++ {
		b := int(bi.Int64At(r))
		if b < 0 || b >= n {
			return nil, c.Errorf("batch index %d of roi %d is outside [0, %d)", b, r, n)
		}
		roi := rois[r*4 : r*4+4]
		x0, y0 := roi[0]*scale-offset, roi[1]*scale-offset
		rw, rh := roi[2]*scale-offset-x0, roi[3]*scale-offset-y0
		if ctm == "output_half_pixel" {
			rw, rh = math.Max(rw, 1), math.Max(rh, 1)
		}
		bh, bw := rh/float64(oh), rw/float64(ow)
		gh, gw := ratio, ratio
		if ratio == 0 {
			gh, gw = int(math.Ceil(rh/float64(oh))), int(math.Ceil(rw/float64(ow)))
		}
		count := float64(max(gh*gw, 1))
		// The samples of every output cell, shared by all channels.
		samples := make([]visionBilinear, 0, oh*ow*gh*gw)
		for py := 0; py < oh; py++ {
			for px := 0; px < ow; px++ {
				for iy := 0; iy < gh; iy++ {
					sy := y0 + float64(py)*bh + (float64(iy)+0.5)*bh/float64(gh)
					for ix := 0; ix < gw; ix++ {
						sx := x0 + float64(px)*bw + (float64(ix)+0.5)*bw/float64(gw)
						samples = append(samples, visionBilinearAt(sy, sx, h, w))
					}
				}
			}
		}
		per := gh * gw
		for cc := 0; cc < ch; cc++ {
			plane := xv[(b*ch+cc)*h*w : (b*ch+cc+1)*h*w]
			out := y[(r*ch+cc)*oh*ow : (r*ch+cc+1)*oh*ow]
			for o := range out {
				var acc float64
				for si, s := range samples[o*per : (o+1)*per] {
					if mode == "avg" {
						acc += s.w[0]*plane[s.pos[0]] + s.w[1]*plane[s.pos[1]] + s.w[2]*plane[s.pos[2]] + s.w[3]*plane[s.pos[3]]
						continue
					}
					v := math.Max(math.Max(s.w[0]*plane[s.pos[0]], s.w[1]*plane[s.pos[1]]),
						math.Max(s.w[2]*plane[s.pos[2]], s.w[3]*plane[s.pos[3]]))
					if si == 0 || v > acc {
						acc = v
					}
				}
				if mode == "avg" {
					acc /= count
				}
				out[o] = acc
			}
		}
	}
	return one(convTensor(x.DType, []int64{int64(nr), int64(ch), int64(oh), int64(ow)}, y))
}

// visionMaxRoiPoolKernel is MaxRoiPool as in Fast R-CNN: rois are
// [batch, x1, y1, x2, y2]; the scaled, rounded box is split into
// pooled_shape bins whose maxima form the output (empty bins give 0).
func visionMaxRoiPoolKernel(c *Call, in []Value) ([]Value, error) {
	x, rois, nr, err := visionRoiArgs(c, in, 5)
	if err != nil {
		return nil, err
	}
	ps := c.Node.AttrInts("pooled_shape", nil)
	if len(ps) != 2 || ps[0] < 1 || ps[1] < 1 {
		return nil, c.Errorf("pooled_shape must be two positive ints, got %v", ps)
	}
	ph, pw := int(ps[0]), int(ps[1])
	scale := float64(c.Node.AttrFloat("spatial_scale", 1))
	n, ch, h, w := int(x.Shape[0]), int(x.Shape[1]), int(x.Shape[2]), int(x.Shape[3])
	xv := convElems[float64](x)
	y := make([]float64, nr*ch*ph*pw)
	clamp := func(v, hi int) int { return min(max(v, 0), hi) }
	for r := 0; r < nr; r++ {
		roi := rois[r*5 : r*5+5]
		b := int(roi[0])
		if b < 0 || b >= n {
			return nil, c.Errorf("batch index %v of roi %d is outside [0, %d)", roi[0], r, n)
		}
		sw, sh := int(math.Round(roi[1]*scale)), int(math.Round(roi[2]*scale))
		ew, eh := int(math.Round(roi[3]*scale)), int(math.Round(roi[4]*scale))
		bh := float64(max(eh-sh+1, 1)) / float64(ph)
		bw := float64(max(ew-sw+1, 1)) / float64(pw)
		for cc := 0; cc < ch; cc++ {
			plane := xv[(b*ch+cc)*h*w : (b*ch+cc+1)*h*w]
			out := y[(r*ch+cc)*ph*pw:]
			for py := 0; py < ph; py++ {
				hs := clamp(int(math.Floor(float64(py)*bh))+sh, h)
				he := clamp(int(math.Ceil(float64(py+1)*bh))+sh, h)
				for px := 0; px < pw; px++ {
					ws := clamp(int(math.Floor(float64(px)*bw))+sw, w)
					we := clamp(int(math.Ceil(float64(px+1)*bw))+sw, w)
					m := 0.0
					if he > hs && we > ws {
						m = math.Inf(-1)
						for iy := hs; iy < he; iy++ {
							for ix := ws; ix < we; ix++ {
								m = math.Max(m, plane[iy*w+ix])
							}
						}
					}
					out[py*pw+px] = m
				}
			}
		}
	}
	return one(convTensor(x.DType, []int64{int64(nr), int64(ch), int64(ph), int64(pw)}, y))
}
