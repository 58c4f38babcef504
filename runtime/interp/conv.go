package interp

import (
	"math"
	"runtime"

	"github.com/optc-dev/optc/ir"
)

// Conv, ConvInteger and QLinearConv: im2col over tiles of output positions
// followed by a GEMM per group, or a direct loop for depthwise 1-D/2-D
// convolutions; work is split over batches, groups and output tiles.

func init() {
	Register("Conv", convKernel)
	Register("ConvInteger", convIntegerKernel)
	Register("QLinearConv", convQLinearKernel)
}

// convSpec is a validated convolution problem.
type convSpec struct {
	n, cin, cout, group int
	g                   *convGeom
}

// convOutShape is the N×Cout×out… shape of the result.
func (s *convSpec) convOutShape() []int64 {
	shape := []int64{int64(s.n), int64(s.cout)}
	for _, o := range s.g.out {
		shape = append(shape, int64(o))
	}
	return shape
}

// convSetup validates the shapes of X (N×C×D…) and W (M×C/group×k…) and
// resolves the window geometry from the node's attributes.
func convSetup(c *Call, xs, ws []int64) (*convSpec, error) {
	if len(xs) < 3 {
		return nil, c.Errorf("input X must have shape N×C×D1×…, got %v", xs)
	}
	if len(ws) != len(xs) {
		return nil, c.Errorf("weight W has shape %v, want rank %d like X %v", ws, len(xs), xs)
	}
	group := c.Node.AttrInt("group", 1)
	s := &convSpec{n: int(xs[0]), cin: int(xs[1]), cout: int(ws[0]), group: int(group)}
	if group < 1 || s.cin%s.group != 0 || s.cout%s.group != 0 || int(ws[1])*s.group != s.cin {
		return nil, c.Errorf("X %v and W %v do not fit group=%d (W must be M×C/group×k…, M divisible by group)", xs, ws, group)
	}
	kernel := make([]int, len(ws)-2)
	for i, k := range ws[2:] {
		kernel[i] = int(k)
	}
	if ks := c.Node.AttrInts("kernel_shape", nil); ks != nil {
		if len(ks) != len(kernel) {
			return nil, c.Errorf("kernel_shape %v does not match W %v", ks, ws)
		}
		for i, k := range ks {
			if int(k) != kernel[i] {
				return nil, c.Errorf("kernel_shape %v does not match W %v", ks, ws)
			}
		}
	}
	in := make([]int, len(xs)-2)
	for i, d := range xs[2:] {
		in[i] = int(d)
	}
	g, err := convGeometry(c, in, kernel, false)
	if err != nil {
		return nil, err
	}
	s.g = g
	return s, nil
}

// convTile is the number of output positions one im2col tile covers, so
// that a K×tile tile stays cache resident.
func convTile(k, outSp int) int {
	t := (1 << 16) / k
	if t < 32 {
		t = 32
	}
	if t > outSp {
		t = outSp
	}
	return t
}

// convForward computes the convolution of x (N×Cin×in…) with w
// (Cout×Cin/group×k…) plus bias (Cout, or nil) and returns N×Cout×out….
func convForward[T convNum](s *convSpec, x, w, bias []T) []T {
	g := s.g
	cinG, mG := s.cin/s.group, s.cout/s.group
	inSp, outSp, kSp := convProd(g.in), convProd(g.out), convProd(g.kernel)
	k := cinG * kSp
	y := make([]T, s.n*s.cout*outSp)
	if bias != nil {
		for b := 0; b < s.n; b++ {
			for co := 0; co < s.cout; co++ {
				plane := y[(b*s.cout+co)*outSp : (b*s.cout+co+1)*outSp]
				for i := range plane {
					plane[i] = bias[co]
				}
			}
		}
	}
	work := int64(s.n) * int64(s.cout) * int64(outSp) * int64(k)
	if outSp == 0 || work == 0 {
		return y
	}
	if cinG == 1 && len(g.in) <= 2 {
		convDepthwise(s, x, w, y)
		return y
	}
	pointwise := true
	for d := range g.in {
		if g.kernel[d] != 1 || g.stride[d] != 1 || g.padB[d] != 0 || g.padE[d] != 0 {
			pointwise = false
		}
	}
	tile := convTile(k, outSp)
	tiles := (outSp + tile - 1) / tile
	// Small spatial outputs (deep layers) give few tiles: split the
	// output channels too, in blocks of at least 16, so every worker has
	// work. Each block builds its own im2col tile.
	items := s.n * s.group * tiles
	splits := 1
	if want := 4 * runtime.GOMAXPROCS(0); items < want {
		splits = max(1, min((want+items-1)/items, mG/16))
	}
	offs := convKernelOffsets(g)
	convParallel(items*splits, work, func(lo, hi int) {
		var col []T
		if !pointwise {
			col = make([]T, k*tile)
		}
		for it := lo; it < hi; it++ {
			mi, rest := it%splits, it/splits
			ti, ng := rest%tiles, rest/tiles
			b, gi := ng/s.group, ng%s.group
			p0 := ti * tile
			tl := min(tile, outSp-p0)
			m0, m1 := mi*mG/splits, (mi+1)*mG/splits
			xg := x[(b*s.cin+gi*cinG)*inSp : (b*s.cin+(gi+1)*cinG)*inSp]
			wg := w[(gi*mG+m0)*k : (gi*mG+m1)*k]
			yg := y[(b*s.cout+gi*mG+m0)*outSp : (b*s.cout+gi*mG+m1)*outSp]
			if pointwise {
				convGemm(m1-m0, tl, k, wg, k, xg[p0:], inSp, yg[p0:], outSp)
				continue
			}
			for ci := 0; ci < cinG; ci++ {
				plane := xg[ci*inSp : (ci+1)*inSp]
				for kp, off := range offs {
					r := ci*kSp + kp
					convWalk(col[r*tl:(r+1)*tl], plane, g.out, g.in, g.stride, off, p0, false)
				}
			}
			convGemm(m1-m0, tl, k, wg, k, col, tl, yg[p0:], outSp)
		}
	})
	return y
}

// convDepthwise is the direct loop for 1-D and 2-D convolutions with one
// input channel per group; y already holds the bias.
func convDepthwise[T convNum](s *convSpec, x, w, y []T) {
	g := s.g
	// View 1-D as 2-D with a height of 1.
	h, wd, oh, ow, kh, kw := 1, g.in[0], 1, g.out[0], 1, g.kernel[0]
	sh, sw, dh, dw, ph, pw := 1, g.stride[0], 1, g.dil[0], 0, g.padB[0]
	if len(g.in) == 2 {
		h, wd, oh, ow, kh, kw = g.in[0], g.in[1], g.out[0], g.out[1], g.kernel[0], g.kernel[1]
		sh, sw, dh, dw, ph, pw = g.stride[0], g.stride[1], g.dil[0], g.dil[1], g.padB[0], g.padB[1]
	}
	inSp, outSp, kSp := h*wd, oh*ow, kh*kw
	mG := s.cout / s.group
	work := int64(s.n) * int64(s.cout) * int64(outSp) * int64(kSp)
	convParallel(s.n*s.cout, work, func(lo, hi int) {
		for it := lo; it < hi; it++ {
			b, co := it/s.cout, it%s.cout
			ci := co / mG
			plane := x[(b*s.cin+ci)*inSp : (b*s.cin+ci+1)*inSp]
			out := y[(b*s.cout+co)*outSp : (b*s.cout+co+1)*outSp]
			wk := w[co*kSp : (co+1)*kSp]
			for ky := 0; ky < kh; ky++ {
				for kx := 0; kx < kw; kx++ {
					wv := wk[ky*kw+kx]
					c0 := kx*dw - pw
					// Output columns whose input column ox*sw+c0 is inside.
					oxLo := 0
					if c0 < 0 {
						oxLo = (-c0 + sw - 1) / sw
					}
					oxHi := 0
					if wd-1-c0 >= 0 {
						oxHi = min((wd-1-c0)/sw+1, ow)
					}
					if oxLo >= oxHi {
						continue
					}
					for oy := 0; oy < oh; oy++ {
						iy := oy*sh + ky*dh - ph
						if iy < 0 || iy >= h {
							continue
						}
						xrow := plane[iy*wd : (iy+1)*wd]
						orow := out[oy*ow+oxLo : oy*ow+oxHi]
						if sw == 1 {
							xs := xrow[oxLo+c0 : oxHi+c0][:len(orow)]
							for i := range orow {
								orow[i] += wv * xs[i]
							}
						} else {
							ix := oxLo*sw + c0
							for i := range orow {
								orow[i] += wv * xrow[ix]
								ix += sw
							}
						}
					}
				}
			}
		}
	})
}

// convArgs reads X, W and the optional bias B of Conv and ConvTranspose
// and resolves the geometry with setup (convSetup, convTransposeSetup); B
// needs one value per output channel.
func convArgs(c *Call, in []Value, setup func(*Call, []int64, []int64) (*convSpec, error)) (*convSpec, []*ir.Tensor, error) {
	args, err := tensorArgs(c, in, 2, 3)
	if err != nil {
		return nil, nil, err
	}
	x, w, bias := args[0], args[1], args[2]
	s, err := setup(c, x.Shape, w.Shape)
	if err != nil {
		return nil, nil, err
	}
	if bias != nil && bias.Len() != s.cout {
		return nil, nil, c.Errorf("bias B has shape %v, want [%d]", bias.Shape, s.cout)
	}
	return s, args, nil
}

// convKernel is Conv for float tensors.
func convKernel(c *Call, in []Value) ([]Value, error) {
	s, args, err := convArgs(c, in, convSetup)
	if err != nil {
		return nil, err
	}
	x, w, bias := args[0], args[1], args[2]
	return convByFloat(c, "Conv", x.DType,
		func() ([]Value, error) { return convFloatRun[float32](s, x, w, bias) },
		func() ([]Value, error) { return convFloatRun[float64](s, x, w, bias) })
}

func convFloatRun[T convFloat](s *convSpec, x, w, bias *ir.Tensor) ([]Value, error) {
	var bv []T
	if bias != nil {
		bv = convElems[T](bias)
	}
	y := convForward(s, convElems[T](x), convElems[T](w), bv)
	return one(convTensor(x.DType, s.convOutShape(), y))
}

// convZeroPoints returns a zero point per channel (m of them) from an
// optional scalar or 1-D integer tensor.
func convZeroPoints(c *Call, name string, t *ir.Tensor, m int) ([]int32, error) {
	zp := make([]int32, m)
	if t == nil {
		return zp, nil
	}
	switch t.Len() {
	case 1:
		v := int32(t.Int64At(0))
		for i := range zp {
			zp[i] = v
		}
	case m:
		for i := range zp {
			zp[i] = int32(t.Int64At(i))
		}
	default:
		return nil, c.Errorf("%s has shape %v, want a scalar or [%d]", name, t.Shape, m)
	}
	return zp, nil
}

// convQuantInputs resolves the geometry of an integer convolution
// (convSetup), checks that x and w are 8-bit integers and returns them as
// int32 with their zero points subtracted (w per output channel).
func convQuantInputs(c *Call, x, xzp, w, wzp *ir.Tensor) (s *convSpec, xi, wi []int32, err error) {
	if s, err = convSetup(c, x.Shape, w.Shape); err != nil {
		return nil, nil, nil, err
	}
	for _, t := range []*ir.Tensor{x, w} {
		if t.DType != ir.Uint8 && t.DType != ir.Int8 {
			return nil, nil, nil, c.Errorf("inputs must be u8 or i8, got %s", t)
		}
	}
	xz, err := convZeroPoints(c, "x_zero_point", xzp, 1)
	if err != nil {
		return nil, nil, nil, err
	}
	wz, err := convZeroPoints(c, "w_zero_point", wzp, s.cout)
	if err != nil {
		return nil, nil, nil, err
	}
	xi = make([]int32, x.Len())
	for i := range xi {
		xi[i] = int32(x.Int64At(i)) - xz[0]
	}
	wi = make([]int32, w.Len())
	per := w.Len() / s.cout
	for i := range wi {
		wi[i] = int32(w.Int64At(i)) - wz[i/per]
	}
	return s, xi, wi, nil
}

// convIntegerKernel is ConvInteger: int32 accumulation of zero-point
// adjusted 8-bit inputs.
func convIntegerKernel(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 2, 4)
	if err != nil {
		return nil, err
	}
	x, w, xzp, wzp := args[0], args[1], args[2], args[3]
	s, xi, wi, err := convQuantInputs(c, x, xzp, w, wzp)
	if err != nil {
		return nil, err
	}
	return one(ir.FromSlice(ir.Int32, s.convOutShape(), convForward(s, xi, wi, nil)))
}

// convQLinearKernel is QLinearConv: ConvInteger followed by requantization
// y = saturate(round_half_even(acc · x_scale·w_scale/y_scale) + y_zero_point).
func convQLinearKernel(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 8, 9)
	if err != nil {
		return nil, err
	}
	x, xScale, xzp, w, wScale, wzp, yScale, yzp, bias := args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8]
	s, xi, wi, err := convQuantInputs(c, x, xzp, w, wzp)
	if err != nil {
		return nil, err
	}
	var bi []int32
	if bias != nil {
		if bias.Len() != s.cout {
			return nil, c.Errorf("bias B has shape %v, want [%d]", bias.Shape, s.cout)
		}
		bi = make([]int32, s.cout)
		for i := range bi {
			bi[i] = int32(bias.Int64At(i))
		}
	}
	if xScale.Len() != 1 || yScale.Len() != 1 || yzp.Len() != 1 {
		return nil, c.Errorf("x_scale, y_scale and y_zero_point must be scalars")
	}
	if wScale.Len() != 1 && wScale.Len() != s.cout {
		return nil, c.Errorf("w_scale has shape %v, want a scalar or [%d]", wScale.Shape, s.cout)
	}
	acc := convForward(s, xi, wi, bi)
	lo, hi := 0.0, 255.0
	if yzp.DType == ir.Int8 {
		lo, hi = -128, 127
	} else if yzp.DType != ir.Uint8 {
		return nil, c.Errorf("y_zero_point must be u8 or i8, got %s", yzp)
	}
	y := ir.NewTensor(yzp.DType, s.convOutShape()...)
	outSp := convProd(s.g.out)
	zp := float64(yzp.Int64At(0))
	xs, ys := float32(xScale.Float64At(0)), float32(yScale.Float64At(0))
	for co := 0; co < s.cout; co++ {
		ws := float32(wScale.Float64At(min(co, wScale.Len()-1)))
		scale := xs * ws / ys
		for b := 0; b < s.n; b++ {
			base := (b*s.cout + co) * outSp
			for i := base; i < base+outSp; i++ {
				v := math.RoundToEven(float64(float32(acc[i])*scale)) + zp
				y.SetFloat64(i, math.Max(lo, math.Min(hi, v)))
			}
		}
	}
	return one(y)
}
