package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// MaxPool, AveragePool, LpPool and their Global variants, and MaxUnpool.

func init() {
	Register("MaxPool", poolMaxKernel)
	Register("AveragePool", poolAvgKernel)
	Register("LpPool", poolLpKernel)
	Register("GlobalMaxPool", poolGlobalKernel("max"))
	Register("GlobalAveragePool", poolGlobalKernel("avg"))
	Register("GlobalLpPool", poolGlobalKernel("lp"))
	Register("MaxUnpool", poolMaxUnpoolKernel)
}

// poolOrdered are the element types MaxPool compares.
type poolOrdered interface {
	~float32 | ~float64 | ~int8 | ~uint8
}

// poolSpec is a validated pooling problem over N·C planes.
type poolSpec struct {
	planes int
	g      *convGeom
	// win[d][o] lists the input coordinates along dim d that the window
	// of output coordinate o covers (padding positions left out), in
	// increasing order.
	win [][][]int
	// span[d][o] counts the window positions along dim d that lie inside
	// the padded input (for count_include_pad).
	span [][]int
}

func (s *poolSpec) outShape(xs []int64) []int64 {
	shape := []int64{xs[0], xs[1]}
	for _, o := range s.g.out {
		shape = append(shape, int64(o))
	}
	return shape
}

// poolSetup validates X (N×C×D…) and resolves the window from the node's
// kernel_shape, strides, dilations, pads, auto_pad and ceil_mode.
func poolSetup(c *Call, xs []int64) (*poolSpec, error) {
	if len(xs) < 3 {
		return nil, c.Errorf("input X must have shape N×C×D1×…, got %v", xs)
	}
	r := len(xs) - 2
	ks := c.Node.AttrInts("kernel_shape", nil)
	if len(ks) != r {
		return nil, c.Errorf("kernel_shape %v must have one entry per spatial dim of X %v", ks, xs)
	}
	in, kernel := make([]int, r), make([]int, r)
	for i := 0; i < r; i++ {
		in[i], kernel[i] = int(xs[i+2]), int(ks[i])
	}
	g, err := convGeometry(c, in, kernel, c.Node.AttrInt("ceil_mode", 0) != 0)
	if err != nil {
		return nil, err
	}
	s := &poolSpec{planes: int(xs[0] * xs[1]), g: g, win: make([][][]int, r), span: make([][]int, r)}
	for d := 0; d < r; d++ {
		s.win[d] = make([][]int, g.out[d])
		s.span[d] = make([]int, g.out[d])
		for o := 0; o < g.out[d]; o++ {
			st := o*g.stride[d] - g.padB[d]
			for k := 0; k < kernel[d]; k++ {
				i := st + k*g.dil[d]
				if i < in[d]+g.padE[d] {
					s.span[d][o]++
				}
				if i >= 0 && i < in[d] {
					s.win[d][o] = append(s.win[d][o], i)
				}
			}
		}
	}
	return s, nil
}

// forEach calls fn for every output position of one plane with the flat
// output index and the flat input indices the window covers (in
// row-major window order, padding left out), and the window's span count.
func (s *poolSpec) forEach(fn func(o int, idx []int, span int)) {
	g := s.g
	r := len(g.in)
	oc := make([]int, r)
	idx := make([]int, 0, convProd(g.kernel))
	wc := make([]int, r)
	for o := 0; o < convProd(g.out); o++ {
		idx = idx[:0]
		span, empty := 1, false
		for d := 0; d < r; d++ {
			span *= s.span[d][oc[d]]
			if len(s.win[d][oc[d]]) == 0 {
				empty = true
			}
		}
		if !empty {
			clear(wc)
			for {
				flat := 0
				for d := 0; d < r; d++ {
					flat = flat*g.in[d] + s.win[d][oc[d]][wc[d]]
				}
				idx = append(idx, flat)
				d := r - 1
				for ; d >= 0; d-- {
					wc[d]++
					if wc[d] < len(s.win[d][oc[d]]) {
						break
					}
					wc[d] = 0
				}
				if d < 0 {
					break
				}
			}
		}
		fn(o, idx, span)
		for d := r - 1; d >= 0; d-- {
			oc[d]++
			if oc[d] < g.out[d] {
				break
			}
			oc[d] = 0
		}
	}
}

// poolColumnMajor converts a row-major flat index within a plane of dims
// in to the column-major one (MaxPool storage_order=1).
func poolColumnMajor(flat int, in []int) int {
	cm, mul := 0, 1
	coords := make([]int, len(in))
	for d := len(in) - 1; d >= 0; d-- {
		coords[d] = flat % in[d]
		flat /= in[d]
	}
	for d := 0; d < len(in); d++ {
		cm += coords[d] * mul
		mul *= in[d]
	}
	return cm
}

func poolMaxKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	s, err := poolSetup(c, x.Shape)
	if err != nil {
		return nil, err
	}
	colMajor := c.Node.AttrInt("storage_order", 0) == 1
	shape := s.outShape(x.Shape)
	switch x.DType {
	case ir.Float32, ir.Float16, ir.BFloat16:
		y, ind := poolMaxRun(s, convElems[float32](x), colMajor)
		return convOuts(c, convTensor(x.DType, shape, y), ir.FromSlice(ir.Int64, shape, ind))
	case ir.Float64:
		y, ind := poolMaxRun(s, x.Data.([]float64), colMajor)
		return convOuts(c, ir.FromSlice(x.DType, shape, y), ir.FromSlice(ir.Int64, shape, ind))
	case ir.Int8:
		y, ind := poolMaxRun(s, x.Data.([]int8), colMajor)
		return convOuts(c, ir.FromSlice(x.DType, shape, y), ir.FromSlice(ir.Int64, shape, ind))
	case ir.Uint8:
		y, ind := poolMaxRun(s, x.Data.([]uint8), colMajor)
		return convOuts(c, ir.FromSlice(x.DType, shape, y), ir.FromSlice(ir.Int64, shape, ind))
	}
	return nil, c.Errorf("MaxPool: unsupported dtype %s", x.DType)
}

// poolMaxRun returns the window maxima and the flat indices (over the
// whole input tensor) of the first maximum of each window. NaNs are
// skipped; a window with no input element yields the type's lowest value
// and index -1.
func poolMaxRun[T poolOrdered](s *poolSpec, x []T, colMajor bool) ([]T, []int64) {
	inSp, outSp := convProd(s.g.in), convProd(s.g.out)
	y := make([]T, s.planes*outSp)
	ind := make([]int64, s.planes*outSp)
	var lowest T
	switch any(lowest).(type) {
	case float32:
		lowest = T(float32(math.Inf(-1)))
	case float64:
		lowest = T(math.Inf(-1))
	case int8:
		var v int8 = math.MinInt8
		lowest = T(v)
	}
	work := int64(s.planes) * int64(outSp) * int64(convProd(s.g.kernel))
	convParallel(s.planes, work, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			plane := x[p*inSp : (p+1)*inSp]
			yp, ip := y[p*outSp:(p+1)*outSp], ind[p*outSp:(p+1)*outSp]
			s.forEach(func(o int, idx []int, _ int) {
				best, at := lowest, -1
				for _, i := range idx {
					v := plane[i]
					if v != v {
						continue
					}
					if at < 0 || v > best {
						best, at = v, i
					}
				}
				yp[o] = best
				if at < 0 {
					ip[o] = -1
					return
				}
				if colMajor {
					at = poolColumnMajor(at, s.g.in)
				}
				ip[o] = int64(p*inSp + at)
			})
		}
	})
	return y, ind
}

func poolAvgKernel(c *Call, in []Value) ([]Value, error) {
	includePad := c.Node.AttrInt("count_include_pad", 0) != 0
	return poolFloatKernel(c, in, "AveragePool", func(v []float64, span int) float64 {
		if len(v) == 0 {
			return 0
		}
		var sum float64
		for _, x := range v {
			sum += x
		}
		if includePad {
			return sum / float64(span)
		}
		return sum / float64(len(v))
	})
}

// poolLpP reads the p of LpPool and GlobalLpPool (an int since opset 2,
// a float before).
func poolLpP(c *Call) float64 {
	if a, ok := c.Node.Attrs["p"]; ok && a.Kind == ir.AttrFloat {
		return float64(a.Float)
	}
	return float64(c.Node.AttrInt("p", 2))
}

func poolLpKernel(c *Call, in []Value) ([]Value, error) {
	p := poolLpP(c)
	return poolFloatKernel(c, in, "LpPool", func(v []float64, _ int) float64 { return poolLpNorm(v, p) })
}

// poolLpNorm is (Σ|x|^p)^(1/p), accumulated in float64.
func poolLpNorm[T convFloat](v []T, p float64) float64 {
	var sum float64
	for _, e := range v {
		x := float64(e)
		if p == 2 {
			sum += x * x
		} else {
			sum += math.Pow(math.Abs(x), p)
		}
	}
	if p == 2 {
		return math.Sqrt(sum)
	}
	return math.Pow(sum, 1/p)
}

// poolFloatKernel runs a windowed reduction over a float tensor, computed
// in float64 and rounded to the tensor's dtype; reduce gets the window's
// values (padding left out) and its span count.
func poolFloatKernel(c *Call, in []Value, op string, reduce func(v []float64, span int) float64) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	if !convIsFloat(x.DType) {
		return nil, c.Errorf("%s: unsupported dtype %s (want f32, f64, f16 or bf16)", op, x.DType)
	}
	s, err := poolSetup(c, x.Shape)
	if err != nil {
		return nil, err
	}
	xv := convElems[float64](x)
	inSp, outSp := convProd(s.g.in), convProd(s.g.out)
	y := make([]float64, s.planes*outSp)
	work := int64(s.planes) * int64(outSp) * int64(convProd(s.g.kernel))
	convParallel(s.planes, work, func(lo, hi int) {
		var vals []float64
		for p := lo; p < hi; p++ {
			plane := xv[p*inSp : (p+1)*inSp]
			yp := y[p*outSp : (p+1)*outSp]
			s.forEach(func(o int, idx []int, span int) {
				vals = vals[:0]
				for _, i := range idx {
					vals = append(vals, plane[i])
				}
				yp[o] = reduce(vals, span)
			})
		}
	})
	return one(convTensor(x.DType, s.outShape(x.Shape), y))
}

// poolGlobalKernel returns the kernel of GlobalMaxPool ("max"),
// GlobalAveragePool ("avg") or GlobalLpPool ("lp"): a reduction over all
// spatial dims to N×C×1×…×1.
func poolGlobalKernel(kind string) Kernel {
	return func(c *Call, in []Value) ([]Value, error) {
		x, err := tensorArg(c, in, 0)
		if err != nil {
			return nil, err
		}
		if len(x.Shape) < 2 {
			return nil, c.Errorf("input X must have shape N×C×…, got %v", x.Shape)
		}
		if !convIsFloat(x.DType) {
			return nil, c.Errorf("unsupported dtype %s (want f32, f64, f16 or bf16)", x.DType)
		}
		shape := []int64{x.Shape[0], x.Shape[1]}
		for range x.Shape[2:] {
			shape = append(shape, 1)
		}
		n, ch, sp := convPlanes(x)
		planes := n * ch
		var y []float64
		if xv, ok := x.Data.([]float32); ok {
			y = poolGlobalRun(xv, planes, sp, kind, poolLpP(c))
		} else {
			y = poolGlobalRun(convElems[float64](x), planes, sp, kind, poolLpP(c))
		}
		return one(convTensor(x.DType, shape, y))
	}
}

// poolGlobalRun reduces each of the planes (sp elements each) of xv,
// accumulating in float64.
func poolGlobalRun[T convFloat](xv []T, planes, sp int, kind string, p float64) []float64 {
	y := make([]float64, planes)
	for i := range y {
		v := xv[i*sp : (i+1)*sp]
		switch kind {
		case "max":
			m := math.Inf(-1)
			for _, e := range v {
				m = math.Max(m, float64(e))
			}
			y[i] = m
		case "avg":
			var sum float64
			for _, e := range v {
				sum += float64(e)
			}
			y[i] = sum / float64(sp)
		default:
			y[i] = poolLpNorm(v, p)
		}
	}
	return y
}

// poolMaxUnpoolKernel is MaxUnpool: scatter X into a zero tensor at the
// flat indices I (as MaxPool produced them). The output shape is the
// output_shape input when given, else (in-1)·stride + kernel - pads.
func poolMaxUnpoolKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	ind, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	osT, err := optTensorArg(c, in, 2)
	if err != nil {
		return nil, err
	}
	if len(x.Shape) < 3 {
		return nil, c.Errorf("input X must have shape N×C×D1×…, got %v", x.Shape)
	}
	if !sameShape(x.Shape, ind.Shape) {
		return nil, c.Errorf("indices I %v must have the shape of X %v", ind.Shape, x.Shape)
	}
	r := len(x.Shape) - 2
	ks := c.Node.AttrInts("kernel_shape", nil)
	if len(ks) != r {
		return nil, c.Errorf("kernel_shape %v must have one entry per spatial dim of X %v", ks, x.Shape)
	}
	strides, err := convIntsAttr(c, "strides", r, 1)
	if err != nil {
		return nil, err
	}
	pads := c.Node.AttrInts("pads", make([]int64, 2*r))
	if len(pads) != 2*r {
		return nil, c.Errorf("attribute pads has %d values, want %d", len(pads), 2*r)
	}
	// The indices address the inferred shape; with an explicit
	// output_shape each element keeps its coordinates there.
	inferred := []int64{x.Shape[0], x.Shape[1]}
	for d := 0; d < r; d++ {
		inferred = append(inferred, (x.Shape[d+2]-1)*int64(strides[d])+ks[d]-pads[d]-pads[d+r])
	}
	shape := inferred
	if osT != nil {
		shape = osT.Int64s()
		if len(shape) != len(x.Shape) {
			return nil, c.Errorf("output_shape %v must have the rank of X %v", shape, x.Shape)
		}
	}
	n := ir.NumElements(inferred)
	idx := make([]int, x.Len())
	for i := range idx {
		v := ind.Int64At(i)
		if v < 0 || v >= n {
			return nil, c.Errorf("index %d is outside the unpooled shape %v", v, inferred)
		}
		at, mul := int64(0), int64(1)
		for d := len(shape) - 1; d >= 0; d-- {
			co := v % inferred[d]
			v /= inferred[d]
			if co >= shape[d] {
				return nil, c.Errorf("index %d does not fit output_shape %v", ind.Int64At(i), shape)
			}
			at += co * mul
			mul *= shape[d]
		}
		idx[i] = int(at)
	}
	y, err := visionMove(x, shape, idx, true)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return one(y)
}
