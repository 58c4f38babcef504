package interp

import (
	"github.com/optc-dev/optc/ir"
)

// ConvTranspose: per output channel a GEMM of the transposed weights with
// the input gives a column matrix (kernel positions × input positions)
// that is scattered into the output plane (col2im).

func init() { Register("ConvTranspose", convTransposeKernel) }

// convTransposeSetup validates X (N×C×D…) and W (C×M/group×k…) and resolves
// the output geometry: g.in is the input grid, g.out the output grid, and
// g.padB the padding cropped from the start of the full result.
func convTransposeSetup(c *Call, xs, ws []int64) (*convSpec, error) {
	if len(xs) < 3 {
		return nil, c.Errorf("input X must have shape N×C×D1×…, got %v", xs)
	}
	if len(ws) != len(xs) {
		return nil, c.Errorf("weight W has shape %v, want rank %d like X %v", ws, len(xs), xs)
	}
	group := int(c.Node.AttrInt("group", 1))
	s := &convSpec{n: int(xs[0]), cin: int(xs[1]), group: group}
	if group < 1 || s.cin%group != 0 || int(ws[0]) != s.cin {
		return nil, c.Errorf("X %v and W %v do not fit group=%d (W must be C×M/group×k…)", xs, ws, group)
	}
	s.cout = int(ws[1]) * group
	r := len(xs) - 2
	g := &convGeom{in: make([]int, r), kernel: make([]int, r), padB: make([]int, r), padE: make([]int, r), out: make([]int, r)}
	for i := 0; i < r; i++ {
		g.in[i], g.kernel[i] = int(xs[i+2]), int(ws[i+2])
	}
	if ks := c.Node.AttrInts("kernel_shape", nil); ks != nil {
		if len(ks) != r {
			return nil, c.Errorf("kernel_shape %v does not match W %v", ks, ws)
		}
		for i, k := range ks {
			if int(k) != g.kernel[i] {
				return nil, c.Errorf("kernel_shape %v does not match W %v", ks, ws)
			}
		}
	}
	var err error
	if g.stride, err = convIntsAttr(c, "strides", r, 1); err != nil {
		return nil, err
	}
	if g.dil, err = convIntsAttr(c, "dilations", r, 1); err != nil {
		return nil, err
	}
	outPad, err := convIntsAttr(c, "output_padding", r, 0)
	if err != nil {
		return nil, err
	}
	for i := 0; i < r; i++ {
		if g.stride[i] < 1 || g.dil[i] < 1 {
			return nil, c.Errorf("strides %v and dilations %v must be positive", g.stride, g.dil)
		}
	}
	// full is the size of the uncropped result.
	full := make([]int, r)
	for i := 0; i < r; i++ {
		full[i] = g.stride[i]*(g.in[i]-1) + outPad[i] + (g.kernel[i]-1)*g.dil[i] + 1
	}
	autoPad := c.Node.AttrString("auto_pad", "NOTSET")
	// split divides the total padding as the ONNX reference does:
	// SAME_UPPER pads less at the start, everything else more, with floor
	// division (a negative total, an output_shape larger than the full
	// result, leaves the start in place and extends the end).
	split := func(i, total int) {
		half := total / 2
		if total < 0 && total%2 != 0 {
			half--
		}
		if autoPad == "SAME_UPPER" {
			g.padB[i] = half
		} else {
			g.padB[i] = total - half
		}
		g.padE[i] = total - g.padB[i]
	}
	if os := c.Node.AttrInts("output_shape", nil); os != nil {
		if len(os) == r+2 {
			os = os[2:]
		}
		if len(os) != r {
			return nil, c.Errorf("output_shape %v has the wrong rank for input %v", c.Node.AttrInts("output_shape", nil), xs)
		}
		for i := 0; i < r; i++ {
			g.out[i] = int(os[i])
			split(i, full[i]-g.out[i])
		}
	} else {
		switch autoPad {
		case "NOTSET", "":
			if err := convPadsAttr(c, g, true); err != nil {
				return nil, err
			}
		case "VALID":
		case "SAME_UPPER", "SAME_LOWER":
			for i := 0; i < r; i++ {
				split(i, full[i]-g.in[i]*g.stride[i])
			}
		default:
			return nil, c.Errorf("unknown auto_pad %q", autoPad)
		}
		for i := 0; i < r; i++ {
			g.out[i] = full[i] - g.padB[i] - g.padE[i]
		}
	}
	for i := 0; i < r; i++ {
		if g.out[i] < 0 {
			return nil, c.Errorf("output dims %v are negative (pads %v %v)", g.out, g.padB, g.padE)
		}
	}
	s.g = g
	return s, nil
}

func convTransposeKernel(c *Call, in []Value) ([]Value, error) {
	s, args, err := convArgs(c, in, convTransposeSetup)
	if err != nil {
		return nil, err
	}
	x, w, bias := args[0], args[1], args[2]
	return convByFloat(c, "ConvTranspose", x.DType,
		func() ([]Value, error) { return convTransposeRun[float32](s, x, w, bias) },
		func() ([]Value, error) { return convTransposeRun[float64](s, x, w, bias) })
}

func convTransposeRun[T convFloat](s *convSpec, xt, wt, bt *ir.Tensor) ([]Value, error) {
	x, w := convElems[T](xt), convElems[T](wt)
	g := s.g
	cinG, mG := s.cin/s.group, s.cout/s.group
	inSp, outSp, kSp := convProd(g.in), convProd(g.out), convProd(g.kernel)
	// at[gi] is the group's weights transposed to (mG·kSp)×cinG.
	at := make([]T, len(w))
	rows := mG * kSp
	for gi := 0; gi < s.group; gi++ {
		for ci := 0; ci < cinG; ci++ {
			src := w[(gi*cinG+ci)*rows : (gi*cinG+ci+1)*rows]
			dst := at[gi*rows*cinG:]
			for r, v := range src {
				dst[r*cinG+ci] = v
			}
		}
	}
	y := make([]T, s.n*s.cout*outSp)
	if bt != nil {
		bias := convElems[T](bt)
		for i := 0; i < s.n*s.cout; i++ {
			plane := y[i*outSp : (i+1)*outSp]
			for j := range plane {
				plane[j] = bias[i%s.cout]
			}
		}
	}
	offs := convKernelOffsets(g)
	tile := convTile(max(cinG, kSp), inSp)
	work := int64(s.n) * int64(s.cout) * int64(inSp) * int64(kSp) * int64(cinG)
	if inSp > 0 && kSp > 0 {
		convParallel(s.n*s.cout, work, func(lo, hi int) {
			col := make([]T, kSp*tile)
			for it := lo; it < hi; it++ {
				b, co := it/s.cout, it%s.cout
				gi, cl := co/mG, co%mG
				a := at[(gi*rows+cl*kSp)*cinG : (gi*rows+(cl+1)*kSp)*cinG]
				xg := x[(b*s.cin+gi*cinG)*inSp : (b*s.cin+(gi+1)*cinG)*inSp]
				plane := y[it*outSp : (it+1)*outSp]
				for p0 := 0; p0 < inSp; p0 += tile {
					tl := min(tile, inSp-p0)
					cm := col[:kSp*tl]
					clear(cm)
					convGemm(kSp, tl, cinG, a, cinG, xg[p0:], inSp, cm, tl)
					for kp, off := range offs {
						convWalk(cm[kp*tl:(kp+1)*tl], plane, g.in, g.out, g.stride, off, p0, true)
					}
				}
			}
		})
	}
	return one(convTensor(xt.DType, s.convOutShape(), y))
}
