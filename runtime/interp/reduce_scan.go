package interp

import (
	"math"
	"sort"

	"github.com/optc-dev/optc/ir"
)

// Scans and selections along an axis: CumSum and TopK; and Range.

func init() {
	Register("CumSum", reduceCumSumKernel)
	Register("TopK", reduceTopKKernel)
	Register("Range", reduceRangeKernel)
}

// reduceCumSum sums along every lane of length dim (stride inner).
func reduceCumSum[T laNum](d []T, outer, dim, inner int, exclusive, reverse bool) []T {
	out := make([]T, len(d))
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			base := o*dim*inner + i
			var s T
			for j := 0; j < dim; j++ {
				jj := j
				if reverse {
					jj = dim - 1 - j
				}
				at := base + jj*inner
				if exclusive {
					out[at] = s
					s += d[at]
				} else {
					s += d[at]
					out[at] = s
				}
			}
		}
	}
	return out
}

func reduceCumSumKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	at, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	if err := laRequire(c, "x", x.DType, laNumTypes...); err != nil {
		return nil, err
	}
	a, err := laScalarInt(c, at, "axis")
	if err != nil {
		return nil, err
	}
	axis, err := normAxis(c, a, x.Rank())
	if err != nil {
		return nil, err
	}
	outer, dim, inner := reduceLanes(x.Shape, axis)
	ex := c.Node.AttrInt("exclusive", 0) != 0
	rev := c.Node.AttrInt("reverse", 0) != 0
	cx, _ := laCanon(c, x)
	var y *ir.Tensor
	switch d := cx.Data.(type) {
	case []float32:
		y = ir.FromSlice(cx.DType, x.Shape, reduceCumSum(d, outer, dim, inner, ex, rev))
	case []float64:
		y = ir.FromSlice(cx.DType, x.Shape, reduceCumSum(d, outer, dim, inner, ex, rev))
	case []int64:
		y = ir.FromSlice(cx.DType, x.Shape, reduceCumSum(d, outer, dim, inner, ex, rev))
	case []uint64:
		y = ir.FromSlice(cx.DType, x.Shape, reduceCumSum(d, outer, dim, inner, ex, rev))
	}
	return one(laUncanon(y, x.DType))
}

// reduceTopK selects the k largest (or smallest) values of every lane,
// sorted, ties broken by the lower index. NaN counts as larger than any
// number, as in ONNX Runtime. It returns the values as a tensor of dtype
// dt and shape outShape, and their indices.
func reduceTopK[T laNum](d []T, dt ir.DType, outShape []int64, outer, dim, inner, k int, largest bool) (*ir.Tensor, []int64) {
	vals := make([]T, outer*k*inner)
	idx := make([]int64, outer*k*inner)
	order := make([]int, dim)
	before := func(a, b T) bool { // a ranks strictly before b
		switch an, bn := a != a, b != b; {
		case an && bn:
			return false
		case an:
			return largest
		case bn:
			return !largest
		}
		if largest {
			return a > b
		}
		return a < b
	}
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			base := o*dim*inner + i
			for j := range order {
				order[j] = j
			}
			sort.SliceStable(order, func(p, q int) bool {
				return before(d[base+order[p]*inner], d[base+order[q]*inner])
			})
			obase := o*k*inner + i
			for j := 0; j < k; j++ {
				vals[obase+j*inner] = d[base+order[j]*inner]
				idx[obase+j*inner] = int64(order[j])
			}
		}
	}
	return ir.FromSlice(dt, outShape, vals), idx
}

func reduceTopKKernel(c *Call, in []Value) ([]Value, error) {
	x, err := laTypedArg(c, in, 0, "X", laNumTypes...)
	if err != nil {
		return nil, err
	}
	var k int64
	if c.Opset < 10 {
		if !c.Node.HasAttr("k") {
			return nil, c.Errorf("attribute k is required before opset 10")
		}
		k = c.Node.AttrInt("k", 0)
	} else {
		kt, err := tensorArg(c, in, 1)
		if err != nil {
			return nil, err
		}
		if k, err = laScalarInt(c, kt, "K"); err != nil {
			return nil, err
		}
	}
	if x.Rank() == 0 {
		return nil, c.Errorf("input must have rank >= 1")
	}
	axis, err := normAxis(c, c.Node.AttrInt("axis", -1), x.Rank())
	if err != nil {
		return nil, err
	}
	if k < 0 || k > x.Shape[axis] {
		return nil, c.Errorf("K=%d out of range for axis %d of size %d", k, axis, x.Shape[axis])
	}
	largest := c.Node.AttrInt("largest", 1) != 0
	outer, dim, inner := reduceLanes(x.Shape, axis)
	outShape := append([]int64{}, x.Shape...)
	outShape[axis] = k
	cx, _ := laCanon(c, x)
	var v *ir.Tensor
	var idx []int64
	switch d := cx.Data.(type) {
	case []float32:
		v, idx = reduceTopK(d, cx.DType, outShape, outer, dim, inner, int(k), largest)
	case []float64:
		v, idx = reduceTopK(d, cx.DType, outShape, outer, dim, inner, int(k), largest)
	case []int64:
		v, idx = reduceTopK(d, cx.DType, outShape, outer, dim, inner, int(k), largest)
	case []uint64:
		v, idx = reduceTopK(d, cx.DType, outShape, outer, dim, inner, int(k), largest)
	}
	return []Value{laUncanon(v, x.DType), ir.FromSlice(ir.Int64, outShape, idx)}, nil
}

// reduceRangeMax bounds the length of a Range output (a guard against
// absurd start/limit/delta combinations exhausting memory).
const reduceRangeMax = 1 << 31

// reduceRange produces start, start+delta, … accumulating in T as ONNX
// Runtime does; the count is ceil((limit-start)/delta) in float64.
func reduceRange[T laNum](start, limit, delta T) []T {
	n := int64(math.Ceil(float64(limit-start) / float64(delta)))
	if float64(limit) < float64(start) {
		// limit-start may wrap for unsigned T; recompute in float64.
		n = int64(math.Ceil((float64(limit) - float64(start)) / float64(delta)))
	}
	n = max(n, 0)
	out := make([]T, n)
	v := start
	for i := range out {
		out[i] = v
		v += delta
	}
	return out
}

// reduceRangeOf is reduceRange of the scalar canonical tensors start,
// limit and delta, as a 1-D tensor.
func reduceRangeOf[T laNum](cs [3]*ir.Tensor) *ir.Tensor {
	d := reduceRange(cs[0].Data.([]T)[0], cs[1].Data.([]T)[0], cs[2].Data.([]T)[0])
	return ir.FromSlice(cs[0].DType, []int64{int64(len(d))}, d)
}

func reduceRangeKernel(c *Call, in []Value) ([]Value, error) {
	var ts [3]*ir.Tensor
	for i, name := range []string{"start", "limit", "delta"} {
		t, err := tensorArg(c, in, i)
		if err != nil {
			return nil, err
		}
		if t.Len() != 1 {
			return nil, c.Errorf("%s must be a scalar, got shape %v", name, t.Shape)
		}
		if i > 0 && t.DType != ts[0].DType {
			return nil, c.Errorf("%s dtype %s differs from start dtype %s", name, t.DType, ts[0].DType)
		}
		ts[i] = t
	}
	dt := ts[0].DType
	if err := laRequire(c, "start", dt, laNumTypes...); err != nil {
		return nil, err
	}
	if ts[2].Float64At(0) == 0 {
		return nil, c.Errorf("delta must not be zero")
	}
	if n := math.Ceil((ts[1].Float64At(0) - ts[0].Float64At(0)) / ts[2].Float64At(0)); n > reduceRangeMax || n != n {
		return nil, c.Errorf("range of %g elements is too large", n)
	}
	var cs [3]*ir.Tensor
	for i, t := range ts {
		cs[i], _ = laCanon(c, t)
	}
	var y *ir.Tensor
	switch cs[0].Data.(type) {
	case []float32:
		y = reduceRangeOf[float32](cs)
	case []float64:
		y = reduceRangeOf[float64](cs)
	case []int64:
		y = reduceRangeOf[int64](cs)
	case []uint64:
		y = reduceRangeOf[uint64](cs)
	}
	return one(laUncanon(y, dt))
}
