package interp

import (
	"fmt"
	"math"
	"strings"

	"github.com/optc-dev/optc/ir"
)

// Shared helpers of the tensor-manipulation kernels (reshape, layout,
// gather/scatter, sequences, control flow). Most of these ops only move
// elements, so they are written once against tmElems, a type-erased view
// of a dense tensor's data slice, and an index map that says which input
// element every output element comes from.

// tmElems is a dense data slice of any element type.
type tmElems interface {
	// take returns a new slice with out[i] = s[idx[i]]; an index < 0 gives
	// fill[0] when fill is a non-empty slice of the same type, else zero.
	take(idx []int, fill any) any
	// copyTo copies n elements from s[sOff:] to dst[dOff:] (dst has s's type).
	copyTo(dst any, dOff, sOff, n int)
	// set stores src[j] into s[i] (src has s's type).
	set(i int, src any, j int)
	// equal reports whether s[i] == s[j] (NaNs are unequal).
	equal(i, j int) bool
}

type tmSlice[T ir.Elem] []T

func (s tmSlice[T]) take(idx []int, fill any) any {
	out := make([]T, len(idx))
	var f T
	if fs, ok := fill.([]T); ok && len(fs) > 0 {
		f = fs[0]
	}
	for i, j := range idx {
		if j < 0 {
			out[i] = f
		} else {
			out[i] = s[j]
		}
	}
	return out
}

func (s tmSlice[T]) copyTo(dst any, dOff, sOff, n int) {
	copy(dst.([]T)[dOff:dOff+n], s[sOff:sOff+n])
}

func (s tmSlice[T]) set(i int, src any, j int) { s[i] = src.([]T)[j] }

func (s tmSlice[T]) equal(i, j int) bool { return s[i] == s[j] }

// tmView wraps the data of a dense tensor. It panics on a tensor that is
// not dense; kernels obtain inputs through tensorArg, which decodes.
func tmView(t *ir.Tensor) tmElems {
	switch d := t.Data.(type) {
	case []float32:
		return tmSlice[float32](d)
	case []float64:
		return tmSlice[float64](d)
	case []int8:
		return tmSlice[int8](d)
	case []uint8:
		return tmSlice[uint8](d)
	case []int16:
		return tmSlice[int16](d)
	case []uint16:
		return tmSlice[uint16](d)
	case []int32:
		return tmSlice[int32](d)
	case []uint32:
		return tmSlice[uint32](d)
	case []int64:
		return tmSlice[int64](d)
	case []uint64:
		return tmSlice[uint64](d)
	case []bool:
		return tmSlice[bool](d)
	case []string:
		return tmSlice[string](d)
	}
	panic(fmt.Sprintf("interp: tensor %s has data of type %T", t, t.Data))
}

// tmRaw returns the underlying slice of a tmElems as any (the form stored
// in ir.Tensor.Data).
func tmRaw(e tmElems) any {
	switch s := e.(type) {
	case tmSlice[float32]:
		return []float32(s)
	case tmSlice[float64]:
		return []float64(s)
	case tmSlice[int8]:
		return []int8(s)
	case tmSlice[uint8]:
		return []uint8(s)
	case tmSlice[int16]:
		return []int16(s)
	case tmSlice[uint16]:
		return []uint16(s)
	case tmSlice[int32]:
		return []int32(s)
	case tmSlice[uint32]:
		return []uint32(s)
	case tmSlice[int64]:
		return []int64(s)
	case tmSlice[uint64]:
		return []uint64(s)
	case tmSlice[bool]:
		return []bool(s)
	case tmSlice[string]:
		return []string(s)
	}
	panic(fmt.Sprintf("interp: tmRaw of %T", e))
}

// tmTake builds a tensor of t's dtype and the given shape whose element i
// is t's element idx[i] (or fill's first element, or zero, where idx[i] < 0).
func tmTake(t *ir.Tensor, shape []int64, idx []int, fill *ir.Tensor) *ir.Tensor {
	var f any
	if fill != nil {
		f = fill.Data
	}
	return &ir.Tensor{DType: t.DType, Shape: append([]int64{}, shape...), Data: tmView(t).take(idx, f)}
}

// tmIndexMap returns, for every element of a tensor of shape out in
// row-major order, the sum over dims d of dimMap[d][o_d], where o_d is the
// element's coordinate along d; if any term is negative the entry is -1
// (an element that comes from outside the source, e.g. constant padding).
// dimMap[d] has out[d] entries, usually coordinate*stride of the source.
func tmIndexMap(out []int64, dimMap [][]int) []int {
	n := int(ir.NumElements(out))
	idx := make([]int, 0, n)
	if n == 0 {
		return idx
	}
	var rec func(d int, base int)
	rec = func(d int, base int) {
		m := dimMap[d]
		if d == len(out)-1 {
			for _, v := range m {
				if base < 0 || v < 0 {
					idx = append(idx, -1)
				} else {
					idx = append(idx, base+v)
				}
			}
			return
		}
		for _, v := range m {
			if base < 0 || v < 0 {
				rec(d+1, -1)
			} else {
				rec(d+1, base+v)
			}
		}
	}
	if len(out) == 0 {
		return append(idx, 0)
	}
	rec(0, 0)
	return idx
}

// tmTakeView is tmTake(t, shape, tmIndexMap(shape, dimMap), fill), with
// a fast path that copies whole rows when the innermost dim reads a
// contiguous run of the source (slices, concats, most pads and tiles).
func tmTakeView(t *ir.Tensor, shape []int64, dimMap [][]int, fill *ir.Tensor) *ir.Tensor {
	r := len(shape)
	if r == 0 || shape[r-1] < 8 {
		return tmTake(t, shape, tmIndexMap(shape, dimMap), fill)
	}
	inner := dimMap[r-1]
	for o, v := range inner {
		if v < 0 || v != inner[0]+o {
			return tmTake(t, shape, tmIndexMap(shape, dimMap), fill)
		}
	}
	rows := tmIndexMap(shape[:r-1], dimMap[:r-1])
	for _, b := range rows {
		if b < 0 {
			return tmTake(t, shape, tmIndexMap(shape, dimMap), fill)
		}
	}
	out := ir.NewTensor(t.DType, shape...)
	src := tmView(t)
	n := len(inner)
	for i, b := range rows {
		src.copyTo(out.Data, i*n, b+inner[0], n)
	}
	return out
}

// tmStridedMap is the dim map of a strided walk: dim d of the output
// visits source coordinates start[d] + o*step[d], weighted by the source
// stride st[d].
func tmStridedMap(out, start, step, st []int64) [][]int {
	m := make([][]int, len(out))
	for d := range out {
		m[d] = make([]int, out[d])
		for o := range m[d] {
			m[d][o] = int((start[d] + int64(o)*step[d]) * st[d])
		}
	}
	return m
}

// tmInts reads a 0-D or 1-D integer tensor as []int64.
func tmInts(c *Call, t *ir.Tensor, what string) ([]int64, error) {
	if t.Rank() > 1 {
		return nil, c.Errorf("%s must be a scalar or 1-D, got shape %v", what, t.Shape)
	}
	if !t.DType.IsInt() {
		return nil, c.Errorf("%s must be an integer tensor, got %s", what, t.DType)
	}
	return t.Int64s(), nil
}

// tmScalarInt reads a one-element integer tensor.
func tmScalarInt(c *Call, t *ir.Tensor, what string) (int64, error) {
	if t.Len() != 1 || !(t.DType.IsInt() || t.DType == ir.Bool) {
		return 0, c.Errorf("%s must be a single integer, got %s", what, t)
	}
	return t.Int64At(0), nil
}

// tmAxes normalizes a list of axes against rank, rejecting duplicates.
func tmAxes(c *Call, axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make(map[int]bool, len(axes))
	for i, a := range axes {
		ax, err := normAxis(c, a, rank)
		if err != nil {
			return nil, err
		}
		if seen[ax] {
			return nil, c.Errorf("axis %d repeated in %v", a, axes)
		}
		seen[ax] = true
		out[i] = ax
	}
	return out, nil
}

// tmCheckShape rejects negative dims and sizes that would not fit in
// memory, before a kernel allocates an output.
func tmCheckShape(c *Call, shape []int64) error {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return c.Errorf("negative dimension in output shape %v", shape)
		}
		if d != 0 && n > math.MaxInt32*16/d {
			return c.Errorf("output shape %v is too large", shape)
		}
		n *= d
	}
	return nil
}

// tmConcat joins tensors of one dtype along axis (all other dims equal).
func tmConcat(c *Call, ts []*ir.Tensor, axis int) (*ir.Tensor, error) {
	if len(ts) == 0 {
		return nil, c.Errorf("nothing to concatenate")
	}
	first := ts[0]
	rank := first.Rank()
	shape := append([]int64{}, first.Shape...)
	shape[axis] = 0
	for i, t := range ts {
		if t.DType != first.DType {
			return nil, c.Errorf("input %d has dtype %s, input 0 has %s", i, t.DType, first.DType)
		}
		if t.Rank() != rank {
			return nil, c.Errorf("input %d has shape %v, input 0 has %v (ranks differ)", i, t.Shape, first.Shape)
		}
		for d := range t.Shape {
			if d != axis && t.Shape[d] != first.Shape[d] {
				return nil, c.Errorf("input %d has shape %v, input 0 has %v (dim %d differs)", i, t.Shape, first.Shape, d)
			}
		}
		shape[axis] += t.Shape[axis]
	}
	if err := tmCheckShape(c, shape); err != nil {
		return nil, err
	}
	out := ir.NewTensor(first.DType, shape...)
	outer := int(ir.NumElements(shape[:axis]))
	inner := int(ir.NumElements(shape[axis+1:]))
	off := 0
	for o := 0; o < outer; o++ {
		for _, t := range ts {
			blk := int(t.Shape[axis]) * inner
			tmView(t).copyTo(out.Data, off, o*blk, blk)
			off += blk
		}
	}
	return out, nil
}

// tmSliceAxis returns t[..., lo:hi, ...] along axis.
func tmSliceAxis(t *ir.Tensor, axis int, lo, hi int64) *ir.Tensor {
	shape := append([]int64{}, t.Shape...)
	shape[axis] = hi - lo
	start := make([]int64, len(shape))
	step := make([]int64, len(shape))
	for i := range step {
		step[i] = 1
	}
	start[axis] = lo
	return tmTakeView(t, shape, tmStridedMap(shape, start, step, strides(t.Shape)), nil)
}

// tmStack joins same-shaped tensors along a new axis.
func tmStack(c *Call, ts []*ir.Tensor, axis int) (*ir.Tensor, error) {
	parts := make([]*ir.Tensor, len(ts))
	for i, t := range ts {
		if i > 0 && !sameShape(t.Shape, ts[0].Shape) {
			return nil, c.Errorf("cannot stack shapes %v and %v", ts[0].Shape, t.Shape)
		}
		s := make([]int64, 0, t.Rank()+1)
		s = append(s, t.Shape[:axis]...)
		s = append(s, 1)
		s = append(s, t.Shape[axis:]...)
		parts[i] = t.Reshaped(s)
	}
	return tmConcat(c, parts, axis)
}

// tmShapeString formats a shape for messages.
func tmShapeString(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
