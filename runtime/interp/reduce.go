package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// Reductions: one driver (reduceKernel) runs every Reduce* op; each op is
// a reducer, a function from the values of one reduction group (in input
// order) to the result. ArgMax and ArgMin use the same driver with an
// index-valued reducer.

// reduceFns is one reducer instantiated for the four canonical types.
type reduceFns struct {
	f32 func([]float32) float32
	f64 func([]float64) float64
	i64 func([]int64) int64
	u64 func([]uint64) uint64
}

func init() {
	ops := []struct {
		name string
		fns  reduceFns
	}{
		{"ReduceSum", reduceFns{reduceSum[float32], reduceSum[float64], reduceSum[int64], reduceSum[uint64]}},
		{"ReduceMean", reduceFns{reduceMean[float32], reduceMean[float64], reduceMean[int64], reduceMean[uint64]}},
		{"ReduceMax", reduceFns{reduceMax[float32], reduceMax[float64], reduceMax[int64], reduceMax[uint64]}},
		{"ReduceMin", reduceFns{reduceMin[float32], reduceMin[float64], reduceMin[int64], reduceMin[uint64]}},
		{"ReduceProd", reduceFns{reduceProd[float32], reduceProd[float64], reduceProd[int64], reduceProd[uint64]}},
		{"ReduceL1", reduceFns{reduceL1[float32], reduceL1[float64], reduceL1[int64], reduceL1[uint64]}},
		{"ReduceL2", reduceFns{reduceL2[float32], reduceL2[float64], reduceL2[int64], reduceL2[uint64]}},
		{"ReduceLogSum", reduceFns{reduceLogSum[float32], reduceLogSum[float64], reduceLogSum[int64], reduceLogSum[uint64]}},
		{"ReduceLogSumExp", reduceFns{reduceLogSumExp[float32], reduceLogSumExp[float64], reduceLogSumExp[int64], reduceLogSumExp[uint64]}},
		{"ReduceSumSquare", reduceFns{reduceSumSquare[float32], reduceSumSquare[float64], reduceSumSquare[int64], reduceSumSquare[uint64]}},
	}
	for _, op := range ops {
		Register(op.name, reduceKernel(op.fns))
	}
	Register("ArgMax", reduceArgKernel(false))
	Register("ArgMin", reduceArgKernel(true))
}

// The reducers. An empty group gives the identity of the reduction
// (0 for sums, 1 for products, -inf / +inf for max / min, NaN for a mean),
// as ONNX specifies since opset 18.

// reduceSum adds in four interleaved partial sums (as a vectorized
// float32 sum does), which is faster and more accurate than one running
// sum; still in T.
func reduceSum[T laNum](v []T) T {
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += v[i]
		s1 += v[i+1]
		s2 += v[i+2]
		s3 += v[i+3]
	}
	for ; i < len(v); i++ {
		s0 += v[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func reduceMean[T laNum](v []T) T {
	if len(v) == 0 {
		return laNaN[T]()
	}
	return reduceSum(v) / T(len(v))
}

func reduceMax[T laNum](v []T) T {
	m := laLowest[T]()
	for _, x := range v {
		if x > m {
			m = x
		} else if x != x {
			return x // NaN propagates
		}
	}
	return m
}

func reduceMin[T laNum](v []T) T {
	m := laHighest[T]()
	for _, x := range v {
		if x < m {
			m = x
		} else if x != x {
			return x
		}
	}
	return m
}

func reduceProd[T laNum](v []T) T {
	p := T(1)
	for _, x := range v {
		p *= x
	}
	return p
}

func reduceL1[T laNum](v []T) T {
	var s T
	for _, x := range v {
		s += laAbs(x)
	}
	return s
}

func reduceSumSquare[T laNum](v []T) T {
	var s0, s1 T
	i := 0
	for ; i+2 <= len(v); i += 2 {
		s0 += v[i] * v[i]
		s1 += v[i+1] * v[i+1]
	}
	if i < len(v) {
		s0 += v[i] * v[i]
	}
	return s0 + s1
}

func reduceL2[T laNum](v []T) T { return T(math.Sqrt(float64(reduceSumSquare(v)))) }

func reduceLogSum[T laNum](v []T) T { return T(math.Log(float64(reduceSum(v)))) }

func reduceLogSumExp[T laNum](v []T) T {
	m := reduceMax(v)
	fm := float64(m)
	if math.IsInf(fm, 0) || math.IsNaN(fm) || len(v) == 0 {
		// All -inf (or empty): log(0) = -inf. +inf or NaN propagate.
		if len(v) == 0 {
			return T(math.Inf(-1))
		}
		return m
	}
	var s T
	for _, x := range v {
		s += T(math.Exp(float64(x - m)))
	}
	return m + T(math.Log(float64(s)))
}

// reducePlan describes which axes of a shape are reduced.
type reducePlan struct {
	shape    []int64
	reduced  []bool
	outShape []int64 // with keepdims applied
}

// reduceAxes reads the axes of a Reduce node (input 1 when present,
// else the axes attribute) and builds the plan. noop reports that the
// op must return its input unchanged (empty axes with
// noop_with_empty_axes set).
func reduceAxes(c *Call, in []Value, x *ir.Tensor) (p *reducePlan, noop bool, err error) {
	var axes []int64
	if len(in) > 1 && in[1] != nil {
		at, err := tensorArg(c, in, 1)
		if err != nil {
			return nil, false, err
		}
		if at.DType != ir.Int64 || at.Rank() > 1 {
			return nil, false, c.Errorf("axes must be a 1-D int64 tensor, got %s", at)
		}
		axes = at.Int64s()
	} else {
		axes = c.Node.AttrInts("axes", nil)
	}
	if len(axes) == 0 && c.Node.AttrInt("noop_with_empty_axes", 0) != 0 {
		return nil, true, nil
	}
	keep := c.Node.AttrInt("keepdims", 1) != 0
	p, err = reduceMakePlan(c, x.Shape, axes, keep)
	return p, false, err
}

// reduceMakePlan reduces the given axes (all axes when empty).
func reduceMakePlan(c *Call, shape []int64, axes []int64, keep bool) (*reducePlan, error) {
	r := len(shape)
	p := &reducePlan{shape: shape, reduced: make([]bool, r)}
	if len(axes) == 0 {
		for i := range p.reduced {
			p.reduced[i] = true
		}
	}
	for _, a := range axes {
		ax, err := normAxis(c, a, r)
		if err != nil {
			return nil, err
		}
		if p.reduced[ax] {
			return nil, c.Errorf("axis %d is listed twice", a)
		}
		p.reduced[ax] = true
	}
	for i, d := range shape {
		switch {
		case !p.reduced[i]:
			p.outShape = append(p.outShape, d)
		case keep:
			p.outShape = append(p.outShape, 1)
		}
	}
	if p.outShape == nil {
		p.outShape = []int64{}
	}
	return p, nil
}

// reduceApply gathers every reduction group of d (a tensor of shape
// p.shape) and applies fn to it; the results are in row-major order of
// the kept dims.
func reduceApply[T, R any](p *reducePlan, d []T, fn func([]T) R) []R {
	st := strides(p.shape)
	var keptDims, keptSt, redDims, redSt []int64
	group := 1
	for i, n := range p.shape {
		if p.reduced[i] {
			redDims, redSt = append(redDims, n), append(redSt, st[i])
			group *= int(n)
		} else {
			keptDims, keptSt = append(keptDims, n), append(keptSt, st[i])
		}
	}
	nOut := int(ir.NumElements(keptDims))
	out := make([]R, nOut)
	// A trailing block of reduced dims is contiguous: no gathering.
	contiguous, seenReduced := true, false
	for i, n := range p.shape {
		switch {
		case n == 1:
		case p.reduced[i]:
			seenReduced = true
		case seenReduced:
			contiguous = false
		}
	}
	buf := make([]T, group)
	kept := make([]int64, len(keptDims))
	red := make([]int64, len(redDims))
	base := int64(0)
	for o := 0; o < nOut; o++ {
		if contiguous {
			out[o] = fn(d[base : base+int64(group)])
		} else {
			clear(red)
			off := base
			for g := 0; g < group; g++ {
				buf[g] = d[off]
				off = reduceStep(red, redDims, redSt, off)
			}
			out[o] = fn(buf)
		}
		base = reduceStep(kept, keptDims, keptSt, base)
	}
	return out
}

// reduceStep advances the odometer idx over dims by one element and
// returns the updated flat offset off (whose strides are st).
func reduceStep(idx, dims, st []int64, off int64) int64 {
	for k := len(idx) - 1; k >= 0; k-- {
		idx[k]++
		off += st[k]
		if idx[k] < dims[k] {
			return off
		}
		off -= st[k] * idx[k]
		idx[k] = 0
	}
	return off
}

// reduceTensor runs the reducer fns over a canonical tensor.
func reduceTensor(c *Call, p *reducePlan, x *ir.Tensor, fns reduceFns) (*ir.Tensor, error) {
	switch d := x.Data.(type) {
	case []float32:
		return ir.FromSlice(x.DType, p.outShape, reduceApply(p, d, fns.f32)), nil
	case []float64:
		return ir.FromSlice(x.DType, p.outShape, reduceApply(p, d, fns.f64)), nil
	case []int64:
		return ir.FromSlice(x.DType, p.outShape, reduceApply(p, d, fns.i64)), nil
	case []uint64:
		return ir.FromSlice(x.DType, p.outShape, reduceApply(p, d, fns.u64)), nil
	}
	return nil, c.Errorf("unsupported dtype %s", x.DType)
}

// reduceKernel is the shared kernel of every Reduce* op.
func reduceKernel(fns reduceFns) Kernel {
	return func(c *Call, in []Value) ([]Value, error) {
		x, err := laTypedArg(c, in, 0, "data", laNumTypes...)
		if err != nil {
			return nil, err
		}
		p, noop, err := reduceAxes(c, in, x)
		if err != nil {
			return nil, err
		}
		if noop {
			return one(x)
		}
		cx, err := laCanon(c, x)
		if err != nil {
			return nil, err
		}
		y, err := reduceTensor(c, p, cx, fns)
		if err != nil {
			return nil, err
		}
		return one(laUncanon(y, x.DType))
	}
}

// reduceArgBest returns the index of the largest (or, with smallest, the
// smallest) value, first or last occurrence; a NaN wins as ONNX Runtime
// and NumPy do.
func reduceArgBest[T laNum](v []T, smallest, last bool) int64 {
	best := 0
	for i := 1; i < len(v); i++ {
		x, b := v[i], v[best]
		if b != b {
			break
		}
		better := x > b
		if smallest {
			better = x < b
		}
		if better || x != x || (last && x == b) {
			best = i
		}
	}
	return int64(best)
}

func reduceArgKernel(smallest bool) Kernel {
	return func(c *Call, in []Value) ([]Value, error) {
		x, err := laTypedArg(c, in, 0, "data", laNumTypes...)
		if err != nil {
			return nil, err
		}
		if x.Rank() == 0 {
			return nil, c.Errorf("input must have rank >= 1")
		}
		axis, err := normAxis(c, c.Node.AttrInt("axis", 0), x.Rank())
		if err != nil {
			return nil, err
		}
		if x.Shape[axis] == 0 {
			return nil, c.Errorf("cannot take %s over an empty axis %d", c.Node.Op, axis)
		}
		p, err := reduceMakePlan(c, x.Shape, []int64{int64(axis)}, c.Node.AttrInt("keepdims", 1) != 0)
		if err != nil {
			return nil, err
		}
		last := c.Node.AttrInt("select_last_index", 0) != 0
		cx, _ := laCanon(c, x)
		var out []int64
		switch d := cx.Data.(type) {
		case []float32:
			out = reduceApply(p, d, func(v []float32) int64 { return reduceArgBest(v, smallest, last) })
		case []float64:
			out = reduceApply(p, d, func(v []float64) int64 { return reduceArgBest(v, smallest, last) })
		case []int64:
			out = reduceApply(p, d, func(v []int64) int64 { return reduceArgBest(v, smallest, last) })
		case []uint64:
			out = reduceApply(p, d, func(v []uint64) int64 { return reduceArgBest(v, smallest, last) })
		}
		return one(ir.FromSlice(ir.Int64, p.outShape, out))
	}
}

// reduceLanes splits shape around axis: outer × dim × inner.
func reduceLanes(shape []int64, axis int) (outer, dim, inner int) {
	return int(ir.NumElements(shape[:axis])), int(shape[axis]), int(ir.NumElements(shape[axis+1:]))
}
