package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// Elementwise family: the shared drivers. A broadcasting plan walks the
// output in contiguous runs; generic loops apply an element function chosen
// once per call (never per element) for the Go element type of the tensor.
// float16 and bfloat16 tensors are widened to float32, computed there and
// rounded back (round to nearest even).

// ewNum is the set of numeric Go element types.
type ewNum interface {
	~float32 | ~float64 | ~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64
}

// ewInt is the set of integer Go element types.
type ewInt interface {
	~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64
}

// ewFloat is the set of floating-point Go element types.
type ewFloat interface{ ~float32 | ~float64 }

// ewOrdered is the set of element types with < and ==.
type ewOrdered interface{ ewNum | ~string }

// ewPlan iterates a broadcast output in runs over its innermost
// (coalesced) dimension. Size-1 output dims are dropped and adjacent dims
// are merged where every input is contiguous across them, so runs are as
// long as possible.
type ewPlan struct {
	shape   []int64 // the output shape
	n       int     // number of output elements
	dims    []int   // coalesced dims, at least one
	strides [][]int // per input, coalesced element strides (0 = broadcast)
}

func ewNewPlan(shapes ...[]int64) (*ewPlan, error) {
	out, err := broadcastShapes(shapes...)
	if err != nil {
		return nil, err
	}
	rank := len(out)
	full := make([][]int, len(shapes))
	for k, s := range shapes {
		full[k] = make([]int, rank)
		acc, off := 1, rank-len(s)
		for i := len(s) - 1; i >= 0; i-- {
			if s[i] != 1 {
				full[k][off+i] = acc
			}
			acc *= int(s[i])
		}
	}
	p := &ewPlan{shape: out, n: int(ir.NumElements(out)), strides: make([][]int, len(shapes))}
	for i := 0; i < rank; i++ {
		d := int(out[i])
		if d == 1 {
			continue
		}
		if last := len(p.dims) - 1; last >= 0 {
			merge := true
			for k := range shapes {
				if p.strides[k][last] != full[k][i]*d {
					merge = false
					break
				}
			}
			if merge {
				p.dims[last] *= d
				for k := range shapes {
					p.strides[k][last] = full[k][i]
				}
				continue
			}
		}
		p.dims = append(p.dims, d)
		for k := range shapes {
			p.strides[k] = append(p.strides[k], full[k][i])
		}
	}
	if len(p.dims) == 0 {
		p.dims = []int{1}
		for k := range shapes {
			p.strides[k] = []int{0}
		}
	}
	return p, nil
}

// inner is the stride of input k along the innermost run.
func (p *ewPlan) inner(k int) int { return p.strides[k][len(p.dims)-1] }

// each calls fn for every run: o is the output offset of the run, off the
// offsets of the inputs, n the run length.
func (p *ewPlan) each(fn func(o int, off []int, n int)) {
	last := len(p.dims) - 1
	run := p.dims[last]
	if run == 0 || p.n == 0 {
		return
	}
	off := make([]int, len(p.strides))
	counter := make([]int, last)
	for o := 0; o < p.n; o += run {
		fn(o, off, run)
		for d := last - 1; d >= 0; d-- {
			counter[d]++
			for k := range off {
				off[k] += p.strides[k][d]
			}
			if counter[d] < p.dims[d] {
				break
			}
			for k := range off {
				off[k] -= p.strides[k][d] * p.dims[d]
			}
			counter[d] = 0
		}
	}
}

// ewLoop2 computes out[i] = f(a[.], b[.]) over a binary plan.
func ewLoop2[A, B, R any](p *ewPlan, out []R, a []A, b []B, f func(A, B) R) {
	sa, sb := p.inner(0), p.inner(1)
	p.each(func(o int, off []int, n int) {
		dst := out[o : o+n]
		ia, ib := off[0], off[1]
		switch {
		case sa == 1 && sb == 1:
			x, y := a[ia:ia+n], b[ib:ib+n]
			for i := range dst {
				dst[i] = f(x[i], y[i])
			}
		case sa == 1 && sb == 0:
			x, y := a[ia:ia+n], b[ib]
			for i := range dst {
				dst[i] = f(x[i], y)
			}
		case sa == 0 && sb == 1:
			x, y := a[ia], b[ib:ib+n]
			for i := range dst {
				dst[i] = f(x, y[i])
			}
		default:
			for i := range dst {
				dst[i] = f(a[ia+i*sa], b[ib+i*sb])
			}
		}
	})
}

// ewBinary broadcasts a and b and returns a new tensor of dtype od holding
// f applied elementwise. A and B are the Go element types of a and b.
func ewBinary[A, B ir.Elem, R any](c *Call, a, b *ir.Tensor, od ir.DType, f func(A, B) R) (*ir.Tensor, error) {
	p, err := ewPlan2(c, a, b)
	if err != nil {
		return nil, err
	}
	out := make([]R, p.n)
	ewLoop2(p, out, ir.Elems[A](a), ir.Elems[B](b), f)
	return &ir.Tensor{DType: od, Shape: p.shape, Data: out}, nil
}

// ewPlan2 is the broadcast plan of a binary op. Before opset 7 the ONNX
// binary ops broadcast only when the attribute broadcast=1 is set, with
// B's dims aligned to A's starting at attribute axis (suffix-aligned when
// axis is absent); ewPlan2 reshapes B accordingly.
func ewPlan2(c *Call, a, b *ir.Tensor) (*ewPlan, error) {
	bs := b.Shape
	if c.Opset < 7 && c.Node.HasAttr("broadcast") {
		if c.Node.AttrInt("broadcast", 0) == 0 {
			if !sameShape(a.Shape, b.Shape) {
				return nil, c.Errorf("shapes %v and %v differ and broadcast=0", a.Shape, b.Shape)
			}
		} else if c.Node.HasAttr("axis") {
			ax := c.Node.AttrInt("axis", 0)
			if ax < 0 {
				ax += int64(len(a.Shape))
			}
			if ax < 0 || int(ax)+len(bs) > len(a.Shape) {
				return nil, c.Errorf("broadcast axis %d does not fit B %v into A %v", c.Node.AttrInt("axis", 0), bs, a.Shape)
			}
			ns := make([]int64, len(a.Shape)-int(ax))
			for i := range ns {
				ns[i] = 1
			}
			copy(ns, bs)
			bs = ns
		}
	}
	p, err := ewNewPlan(a.Shape, bs)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return p, nil
}

// ewMap returns a new tensor of dtype od with out[i] = f(x[i]).
func ewMap[A ir.Elem, R any](x *ir.Tensor, od ir.DType, f func(A) R) *ir.Tensor {
	in := ir.Elems[A](x)
	out := make([]R, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return &ir.Tensor{DType: od, Shape: append([]int64{}, x.Shape...), Data: out}
}

// ewIsHalf reports whether d is stored as uint16 bits of a 16-bit float.
func ewIsHalf(d ir.DType) bool { return d == ir.Float16 || d == ir.BFloat16 }

// ewWiden returns a float32 copy of a float16/bfloat16 tensor, or t itself.
func ewWiden(t *ir.Tensor) *ir.Tensor {
	conv := ir.F16ToF32
	switch t.DType {
	case ir.Float16:
	case ir.BFloat16:
		conv = ir.BF16ToF32
	default:
		return t
	}
	return ewMap(t, ir.Float32, conv)
}

// ewNarrow rounds a float32 tensor to d when d is a 16-bit float type
// (nearest even); other tensors are returned unchanged.
func ewNarrow(t *ir.Tensor, d ir.DType) *ir.Tensor {
	if t.DType != ir.Float32 {
		return t
	}
	switch d {
	case ir.Float16:
		return ewMap(t, d, ir.F32ToF16)
	case ir.BFloat16:
		return ewMap(t, d, ir.F32ToBF16)
	}
	return t
}

// ewInputs fetches n required tensor inputs (n < 0: all inputs, at least one).
func ewInputs(c *Call, in []Value, n int) ([]*ir.Tensor, error) {
	if n < 0 {
		n = len(in)
		if n == 0 {
			return nil, c.Errorf("needs at least one input")
		}
	}
	ts := make([]*ir.Tensor, n)
	for i := range ts {
		t, err := tensorArg(c, in, i)
		if err != nil {
			return nil, err
		}
		ts[i] = t
	}
	return ts, nil
}

// ewSameDType checks that all tensors share the dtype of the first one.
func ewSameDType(c *Call, ts ...*ir.Tensor) error {
	for i, t := range ts[1:] {
		if t.DType != ts[0].DType {
			return c.Errorf("input %d has dtype %s, input 0 has %s", i+1, t.DType, ts[0].DType)
		}
	}
	return nil
}

// ewKind reports whether the element type T is a float type.
func ewKindFloat[T ewNum]() bool {
	switch any(*new(T)).(type) {
	case float32, float64:
		return true
	}
	return false
}

// ewMax and ewMin propagate NaN as numpy's maximum/minimum do.
func ewMax[T ewNum](x, y T) T {
	if x != x || x > y {
		return x
	}
	return y
}

func ewMin[T ewNum](x, y T) T {
	if x != x || x < y {
		return x
	}
	return y
}

// ewArith returns the element function of a binary arithmetic op for T,
// or nil if op does not apply to T. Integer division and modulus by zero
// are rejected before the loop by the caller (ewCheckDivisor).
func ewArith[T ewNum](op string) func(x, y T) T {
	switch op {
	case "Add", "Sum", "Mean":
		return func(x, y T) T { return x + y }
	case "Sub":
		return func(x, y T) T { return x - y }
	case "Mul":
		return func(x, y T) T { return x * y }
	case "Div":
		return func(x, y T) T { return x / y }
	case "Max":
		return ewMax[T]
	case "Min":
		return ewMin[T]
	case "PRelu":
		return func(x, slope T) T {
			if x < 0 {
				return slope * x
			}
			return x
		}
	}
	return nil
}

// ewIntArith adds the integer-only ops to ewArith.
func ewIntArith[T ewInt](op string) func(x, y T) T {
	switch op {
	case "Mod": // Python semantics: the result has the sign of the divisor
		return func(x, y T) T {
			r := x % y
			if r != 0 && (r < 0) != (y < 0) {
				r += y
			}
			return r
		}
	case "Fmod": // C semantics: the sign of the dividend
		return func(x, y T) T { return x % y }
	case "BitShiftLeft":
		return func(x, y T) T { return x << y }
	case "BitShiftRight":
		return func(x, y T) T { return x >> y }
	}
	return ewArith[T](op)
}

// ewFloatArith adds the float-only ops to ewArith.
func ewFloatArith[T ewFloat](op string) func(x, y T) T {
	if op == "Fmod" {
		// fmod is exact, so computing it in float64 is exact for float32.
		return func(x, y T) T { return T(math.Mod(float64(x), float64(y))) }
	}
	return ewArith[T](op)
}

// ewRunArith applies f (nil: op unsupported for the dtype) with broadcasting.
func ewRunArith[T ewNum](c *Call, op string, a, b *ir.Tensor, f func(x, y T) T) (*ir.Tensor, error) {
	if f == nil {
		return nil, c.Errorf("%s is not defined for dtype %s", op, a.DType)
	}
	if !ewKindFloat[T]() && (op == "Div" || op == "Mod" || op == "Fmod") {
		for _, v := range ir.Elems[T](b) {
			if v == 0 {
				return nil, c.Errorf("integer %s by zero", op)
			}
		}
	}
	return ewBinary(c, a, b, a.DType, f)
}

// ewBinaryArith computes a binary arithmetic op (see ewArith) on two
// tensors of the same dtype with broadcasting.
func ewBinaryArith(c *Call, op string, a, b *ir.Tensor) (*ir.Tensor, error) {
	if err := ewSameDType(c, a, b); err != nil {
		return nil, err
	}
	switch a.DType {
	case ir.Float32:
		return ewRunArith(c, op, a, b, ewFloatArith[float32](op))
	case ir.Float64:
		return ewRunArith(c, op, a, b, ewFloatArith[float64](op))
	case ir.Float16, ir.BFloat16:
		r, err := ewBinaryArith(c, op, ewWiden(a), ewWiden(b))
		if err != nil {
			return nil, err
		}
		return ewNarrow(r, a.DType), nil
	case ir.Int8, ir.Int4:
		return ewRunArith(c, op, a, b, ewIntArith[int8](op))
	case ir.Uint8, ir.Uint4:
		return ewRunArith(c, op, a, b, ewIntArith[uint8](op))
	case ir.Int16:
		return ewRunArith(c, op, a, b, ewIntArith[int16](op))
	case ir.Uint16:
		return ewRunArith(c, op, a, b, ewIntArith[uint16](op))
	case ir.Int32:
		return ewRunArith(c, op, a, b, ewIntArith[int32](op))
	case ir.Uint32:
		return ewRunArith(c, op, a, b, ewIntArith[uint32](op))
	case ir.Int64:
		return ewRunArith(c, op, a, b, ewIntArith[int64](op))
	case ir.Uint64:
		return ewRunArith(c, op, a, b, ewIntArith[uint64](op))
	}
	return nil, c.Errorf("%s is not defined for dtype %s", op, a.DType)
}

// ewCompare returns the element predicate of a comparison op.
func ewCompare[T ewOrdered](op string) func(x, y T) bool {
	switch op {
	case "Equal":
		return func(x, y T) bool { return x == y }
	case "Greater":
		return func(x, y T) bool { return x > y }
	case "Less":
		return func(x, y T) bool { return x < y }
	case "GreaterOrEqual":
		return func(x, y T) bool { return x >= y }
	case "LessOrEqual":
		return func(x, y T) bool { return x <= y }
	}
	return nil
}

func ewRunCompare[T ewOrdered](c *Call, a, b *ir.Tensor, f func(x, y T) bool) (*ir.Tensor, error) {
	return ewBinary(c, a, b, ir.Bool, f)
}

// ewBinaryCompare computes a comparison op with a bool result.
func ewBinaryCompare(c *Call, op string, a, b *ir.Tensor) (*ir.Tensor, error) {
	if err := ewSameDType(c, a, b); err != nil {
		return nil, err
	}
	switch a.DType {
	case ir.Float32:
		return ewRunCompare(c, a, b, ewCompare[float32](op))
	case ir.Float64:
		return ewRunCompare(c, a, b, ewCompare[float64](op))
	case ir.Float16, ir.BFloat16:
		// Widening is exact, so comparing in float32 is exact.
		return ewBinaryCompare(c, op, ewWiden(a), ewWiden(b))
	case ir.Int8, ir.Int4:
		return ewRunCompare(c, a, b, ewCompare[int8](op))
	case ir.Uint8, ir.Uint4:
		return ewRunCompare(c, a, b, ewCompare[uint8](op))
	case ir.Int16:
		return ewRunCompare(c, a, b, ewCompare[int16](op))
	case ir.Uint16:
		return ewRunCompare(c, a, b, ewCompare[uint16](op))
	case ir.Int32:
		return ewRunCompare(c, a, b, ewCompare[int32](op))
	case ir.Uint32:
		return ewRunCompare(c, a, b, ewCompare[uint32](op))
	case ir.Int64:
		return ewRunCompare(c, a, b, ewCompare[int64](op))
	case ir.Uint64:
		return ewRunCompare(c, a, b, ewCompare[uint64](op))
	case ir.String:
		if op == "Equal" {
			return ewRunCompare(c, a, b, ewCompare[string](op))
		}
	case ir.Bool:
		if op == "Equal" {
			return ewBinary(c, a, b, ir.Bool, func(x, y bool) bool { return x == y })
		}
	}
	return nil, c.Errorf("%s is not defined for dtype %s", op, a.DType)
}

// ewFloatMap applies a float64 element function to a float tensor:
// float64 directly, float32 in float64 rounded back once (exact for the
// correctly rounded operations sqrt, division, negation, rounding, and the
// reference behaviour for transcendental functions), 16-bit floats through
// float32 and rounded back.
func ewFloatMap(c *Call, x *ir.Tensor, f func(float64) float64) (*ir.Tensor, error) {
	switch x.DType {
	case ir.Float64:
		return ewMap(x, ir.Float64, f), nil
	case ir.Float32:
		return ewMap(x, ir.Float32, func(v float32) float32 { return float32(f(float64(v))) }), nil
	case ir.Float16, ir.BFloat16:
		r, err := ewFloatMap(c, ewWiden(x), f)
		if err != nil {
			return nil, err
		}
		return ewNarrow(r, x.DType), nil
	}
	return nil, c.Errorf("input dtype %s: want a float type", x.DType)
}

// ewFloatPred applies a float64 predicate to a float tensor.
func ewFloatPred(c *Call, x *ir.Tensor, f func(float64) bool) (*ir.Tensor, error) {
	switch x.DType {
	case ir.Float64:
		return ewMap(x, ir.Bool, f), nil
	case ir.Float32:
		return ewMap(x, ir.Bool, func(v float32) bool { return f(float64(v)) }), nil
	case ir.Float16, ir.BFloat16:
		return ewFloatPred(c, ewWiden(x), f)
	}
	return nil, c.Errorf("input dtype %s: want a float type", x.DType)
}

// ewNumMaker describes a unary numeric op so that ewMake can instantiate
// its element function for any numeric T: lo/hi are Clip's optional
// scalar bounds (of the input's dtype), shrink holds Shrink's bias and lambd.
type ewNumMaker struct {
	op     string
	lo, hi *ir.Tensor // Clip bounds (nil: none)
	shrink [2]float64 // Shrink bias, lambd
}

// ewMake builds the element function of mk.op for T.
func ewMake[T ewNum](mk ewNumMaker) func(T) T {
	switch mk.op {
	case "Abs":
		return func(x T) T {
			if x < 0 {
				return -x
			}
			return x
		}
	case "Neg":
		return func(x T) T { return -x }
	case "Sign":
		return func(x T) T {
			switch {
			case x > 0:
				return 1
			case x < 0:
				one := T(1)
				return -one
			case x == 0:
				return 0
			}
			return x // NaN
		}
	case "Relu":
		return func(x T) T {
			if x < 0 {
				return 0
			}
			return x
		}
	case "Clip":
		lo, hi, hasLo, hasHi := ewClipBounds[T](mk)
		return func(x T) T {
			if hasLo && x < lo {
				x = lo
			}
			if hasHi && x > hi {
				x = hi
			}
			return x
		}
	case "Shrink":
		bias, lambd := mk.shrink[0], mk.shrink[1]
		return func(x T) T {
			v := float64(x)
			switch {
			case v < -lambd:
				return T(v + bias)
			case v > lambd:
				return T(v - bias)
			}
			return 0
		}
	}
	return nil
}

// ewClipBounds reads Clip's scalar bounds as T.
func ewClipBounds[T ewNum](mk ewNumMaker) (lo, hi T, hasLo, hasHi bool) {
	if mk.lo != nil {
		if v, ok := mk.lo.Data.([]T); ok && len(v) > 0 {
			lo, hasLo = v[0], true
		}
	}
	if mk.hi != nil {
		if v, ok := mk.hi.Data.([]T); ok && len(v) > 0 {
			hi, hasHi = v[0], true
		}
	}
	return
}

// ewNumMap applies a unary numeric op to x, dispatching on its dtype once.
func ewNumMap(c *Call, x *ir.Tensor, mk ewNumMaker) (*ir.Tensor, error) {
	if ewIsHalf(x.DType) {
		w := mk
		w.lo, w.hi = ewWidenOpt(mk.lo), ewWidenOpt(mk.hi)
		r, err := ewNumMap(c, ewWiden(x), w)
		if err != nil {
			return nil, err
		}
		return ewNarrow(r, x.DType), nil
	}
	var r *ir.Tensor
	switch x.DType {
	case ir.Float32:
		r = ewMapPick(x, ewMake[float32](mk))
	case ir.Float64:
		r = ewMapPick(x, ewMake[float64](mk))
	case ir.Int8, ir.Int4:
		r = ewMapPick(x, ewMake[int8](mk))
	case ir.Uint8, ir.Uint4:
		r = ewMapPick(x, ewMake[uint8](mk))
	case ir.Int16:
		r = ewMapPick(x, ewMake[int16](mk))
	case ir.Uint16:
		r = ewMapPick(x, ewMake[uint16](mk))
	case ir.Int32:
		r = ewMapPick(x, ewMake[int32](mk))
	case ir.Uint32:
		r = ewMapPick(x, ewMake[uint32](mk))
	case ir.Int64:
		r = ewMapPick(x, ewMake[int64](mk))
	case ir.Uint64:
		r = ewMapPick(x, ewMake[uint64](mk))
	}
	if r == nil {
		return nil, c.Errorf("%s is not defined for dtype %s", mk.op, x.DType)
	}
	return r, nil
}

func ewMapPick[T ewNum](x *ir.Tensor, f func(T) T) *ir.Tensor {
	if f == nil {
		return nil
	}
	return ewMap(x, x.DType, f)
}

func ewWidenOpt(t *ir.Tensor) *ir.Tensor {
	if t == nil {
		return nil
	}
	return ewWiden(t)
}
