package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// Elementwise family: math, logic and comparison ops of the default ONNX
// domain (opsets 1..17).

// ewUnaryFloatOps are the float-only unary ops, as float64 functions.
var ewUnaryFloatOps = map[string]func(float64) float64{
	"Ceil":       math.Ceil,
	"Floor":      math.Floor,
	"Round":      math.RoundToEven,
	"Sqrt":       math.Sqrt,
	"Reciprocal": func(x float64) float64 { return 1 / x },
	"Exp":        math.Exp,
	"Log":        math.Log,
	"Sin":        math.Sin,
	"Cos":        math.Cos,
	"Tan":        math.Tan,
	"Asin":       math.Asin,
	"Acos":       math.Acos,
	"Atan":       math.Atan,
	"Sinh":       math.Sinh,
	"Cosh":       math.Cosh,
	"Asinh":      math.Asinh,
	"Acosh":      math.Acosh,
	"Atanh":      math.Atanh,
	"Erf":        math.Erf,
	"Tanh":       math.Tanh,
	"Sigmoid":    func(x float64) float64 { return 1 / (1 + math.Exp(-x)) },
}

func init() {
	for op, f := range ewUnaryFloatOps {
		Register(op, ewFloatKernel(func(*Call) func(float64) float64 { return f }))
	}
	for _, op := range []string{"Abs", "Neg", "Sign"} {
		Register(op, ewNumKernel(op))
	}
	for _, op := range []string{"Add", "Sub", "Mul", "Div"} {
		Register(op, ewArithKernel(op))
	}
	for _, op := range []string{"Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"} {
		Register(op, ewCompareKernel(op))
	}
	for op, f := range map[string]func(x, y bool) bool{
		"And": func(x, y bool) bool { return x && y },
		"Or":  func(x, y bool) bool { return x || y },
		"Xor": func(x, y bool) bool { return x != y },
	} {
		Register(op, ewLogicKernel(f))
	}
	for _, op := range []string{"Sum", "Mean", "Max", "Min"} {
		Register(op, ewVariadicKernel(op))
	}
	Register("Not", ewNot)
	Register("IsNaN", ewIsNaN)
	Register("IsInf", ewIsInf)
	Register("Mod", ewMod)
	Register("BitShift", ewBitShift)
	Register("Pow", ewPow)
	Register("Where", ewWhere)
	Register("Clip", ewClip)
}

// ewFloatKernel builds a kernel for a float-only unary op whose element
// function may depend on the node's attributes.
func ewFloatKernel(mk func(c *Call) func(float64) float64) Kernel {
	return func(c *Call, in []Value) ([]Value, error) {
		x, err := tensorArg(c, in, 0)
		if err != nil {
			return nil, err
		}
		y, err := ewFloatMap(c, x, mk(c))
		if err != nil {
			return nil, err
		}
		return one(y)
	}
}

// ewNumKernel builds a kernel for a unary op defined on every numeric type.
func ewNumKernel(op string) Kernel {
	return func(c *Call, in []Value) ([]Value, error) {
		x, err := tensorArg(c, in, 0)
		if err != nil {
			return nil, err
		}
		y, err := ewNumMap(c, x, ewNumMaker{op: op})
		if err != nil {
			return nil, err
		}
		return one(y)
	}
}

// ewBinaryKernel wraps a two-tensor computation as a kernel.
func ewBinaryKernel(f func(c *Call, a, b *ir.Tensor) (*ir.Tensor, error)) Kernel {
	return func(c *Call, in []Value) ([]Value, error) {
		ts, err := ewInputs(c, in, 2)
		if err != nil {
			return nil, err
		}
		y, err := f(c, ts[0], ts[1])
		if err != nil {
			return nil, err
		}
		return one(y)
	}
}

func ewArithKernel(op string) Kernel {
	return ewBinaryKernel(func(c *Call, a, b *ir.Tensor) (*ir.Tensor, error) {
		return ewBinaryArith(c, op, a, b)
	})
}

func ewCompareKernel(op string) Kernel {
	return ewBinaryKernel(func(c *Call, a, b *ir.Tensor) (*ir.Tensor, error) {
		return ewBinaryCompare(c, op, a, b)
	})
}

func ewLogicKernel(f func(x, y bool) bool) Kernel {
	return ewBinaryKernel(func(c *Call, a, b *ir.Tensor) (*ir.Tensor, error) {
		if a.DType != ir.Bool || b.DType != ir.Bool {
			return nil, c.Errorf("inputs are %s and %s, want bool", a.DType, b.DType)
		}
		return ewBinary(c, a, b, ir.Bool, f)
	})
}

func ewNot(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	if x.DType != ir.Bool {
		return nil, c.Errorf("input is %s, want bool", x.DType)
	}
	return one(ewMap(x, ir.Bool, func(v bool) bool { return !v }))
}

func ewIsNaN(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	y, err := ewFloatPred(c, x, math.IsNaN)
	if err != nil {
		return nil, err
	}
	return one(y)
}

func ewIsInf(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	pos := c.Node.AttrInt("detect_positive", 1) != 0
	neg := c.Node.AttrInt("detect_negative", 1) != 0
	y, err := ewFloatPred(c, x, func(v float64) bool {
		return (pos && math.IsInf(v, 1)) || (neg && math.IsInf(v, -1))
	})
	if err != nil {
		return nil, err
	}
	return one(y)
}

// ewMod: fmod=0 is integer modulus with the sign of the divisor (Python);
// fmod=1 is C fmod (sign of the dividend), required for float inputs.
func ewMod(c *Call, in []Value) ([]Value, error) {
	return ewBinaryKernel(func(c *Call, a, b *ir.Tensor) (*ir.Tensor, error) {
		if c.Node.AttrInt("fmod", 0) != 0 {
			return ewBinaryArith(c, "Fmod", a, b)
		}
		if a.DType.IsFloat() {
			return nil, c.Errorf("fmod must be 1 for float input (dtype %s)", a.DType)
		}
		return ewBinaryArith(c, "Mod", a, b)
	})(c, in)
}

func ewBitShift(c *Call, in []Value) ([]Value, error) {
	return ewBinaryKernel(func(c *Call, a, b *ir.Tensor) (*ir.Tensor, error) {
		if !a.DType.IsInt() || a.DType.IsSigned() {
			return nil, c.Errorf("input dtype %s: want an unsigned integer type", a.DType)
		}
		switch dir := c.Node.AttrString("direction", ""); dir {
		case "LEFT":
			return ewBinaryArith(c, "BitShiftLeft", a, b)
		case "RIGHT":
			return ewBinaryArith(c, "BitShiftRight", a, b)
		default:
			return nil, c.Errorf("direction %q: want LEFT or RIGHT", dir)
		}
	})(c, in)
}

// ewVariadicKernel builds Sum, Mean, Max and Min: a left fold of the
// binary op over all inputs with multidirectional broadcasting.
// 16-bit floats are accumulated in float32 and rounded once at the end.
func ewVariadicKernel(op string) Kernel {
	return func(c *Call, in []Value) ([]Value, error) {
		ts, err := ewInputs(c, in, -1)
		if err != nil {
			return nil, err
		}
		if err := ewSameDType(c, ts...); err != nil {
			return nil, err
		}
		d := ts[0].DType
		if !d.IsFloat() && !d.IsInt() {
			return nil, c.Errorf("%s is not defined for dtype %s", op, d)
		}
		acc := ewWiden(ts[0])
		if len(ts) == 1 {
			acc = acc.Clone()
		}
		for _, t := range ts[1:] {
			if acc, err = ewBinaryArith(c, op, acc, ewWiden(t)); err != nil {
				return nil, err
			}
		}
		if op == "Mean" {
			n := ir.NewTensor(acc.DType)
			n.SetFloat64(0, float64(len(ts)))
			if acc, err = ewBinaryArith(c, "Div", acc, n); err != nil {
				return nil, err
			}
		}
		return one(ewNarrow(acc, d))
	}
}

// ewPow: the result has the base's dtype; the exponent may be any numeric
// dtype (opset 12+). Float bases are raised in float64 and rounded once;
// integer bases with integer exponents use exact integer powers.
func ewPow(c *Call, in []Value) ([]Value, error) {
	return ewBinaryKernel(func(c *Call, a, b *ir.Tensor) (*ir.Tensor, error) {
		if b.DType == ir.Bool || b.DType == ir.String {
			return nil, c.Errorf("exponent dtype %s: want a numeric type", b.DType)
		}
		switch a.DType {
		case ir.Float32:
			return ewPowFloat[float32](c, a, b)
		case ir.Float64:
			return ewPowFloat[float64](c, a, b)
		case ir.Float16, ir.BFloat16:
			r, err := ewPowFloat[float32](c, ewWiden(a), b)
			if err != nil {
				return nil, err
			}
			return ewNarrow(r, a.DType), nil
		case ir.Int8:
			return ewPowInt[int8](c, a, b)
		case ir.Uint8:
			return ewPowInt[uint8](c, a, b)
		case ir.Int16:
			return ewPowInt[int16](c, a, b)
		case ir.Uint16:
			return ewPowInt[uint16](c, a, b)
		case ir.Int32:
			return ewPowInt[int32](c, a, b)
		case ir.Uint32:
			return ewPowInt[uint32](c, a, b)
		case ir.Int64:
			return ewPowInt[int64](c, a, b)
		case ir.Uint64:
			return ewPowInt[uint64](c, a, b)
		}
		return nil, c.Errorf("base dtype %s: want a numeric type", a.DType)
	})(c, in)
}

// ewAsF64 returns t's values as a float64 tensor of the same shape.
func ewAsF64(t *ir.Tensor) *ir.Tensor {
	if t.DType == ir.Float64 {
		return t
	}
	v := make([]float64, t.Len())
	for i := range v {
		v[i] = t.Float64At(i)
	}
	return &ir.Tensor{DType: ir.Float64, Shape: t.Shape, Data: v}
}

func ewPowFloat[T ewFloat](c *Call, a, b *ir.Tensor) (*ir.Tensor, error) {
	return ewBinary(c, a, ewAsF64(b), a.DType, func(x T, y float64) T { return T(math.Pow(float64(x), y)) })
}

func ewPowInt[T ewInt](c *Call, a, b *ir.Tensor) (*ir.Tensor, error) {
	if !b.DType.IsInt() {
		return ewBinary(c, a, ewAsF64(b), a.DType, func(x T, y float64) T {
			return ewFloatToInt[T](math.Pow(float64(x), y))
		})
	}
	e := &ir.Tensor{DType: ir.Int64, Shape: b.Shape, Data: b.Int64s()}
	return ewBinary(c, a, e, a.DType, func(x T, n int64) T {
		if n < 0 {
			return ewFloatToInt[T](math.Pow(float64(x), float64(n)))
		}
		r := T(1)
		for ; n > 0; n >>= 1 {
			if n&1 == 1 {
				r *= x
			}
			x *= x
		}
		return r
	})
}

// ewFloatToInt converts like a C cast, made deterministic: truncation
// toward zero, NaN to 0, values beyond the int64 range saturated (uint64
// keeps its full range), then wrapped to T's width.
func ewFloatToInt[T ewInt](v float64) T {
	switch {
	case v != v:
		return 0
	case v >= 1<<63:
		if _, u64 := any(T(0)).(uint64); u64 && v < 1<<64 {
			return T(uint64(v))
		}
		max := int64(math.MaxInt64)
		return T(max)
	case v < -(1 << 63):
		min := int64(math.MinInt64)
		return T(min)
	}
	return T(int64(v))
}

// ewWhere selects x where cond is true, else y, with broadcasting.
func ewWhere(c *Call, in []Value) ([]Value, error) {
	ts, err := ewInputs(c, in, 3)
	if err != nil {
		return nil, err
	}
	cond, x, y := ts[0], ts[1], ts[2]
	if cond.DType != ir.Bool {
		return nil, c.Errorf("condition is %s, want bool", cond.DType)
	}
	if err := ewSameDType(c, x, y); err != nil {
		return nil, err
	}
	p, err := ewNewPlan(cond.Shape, x.Shape, y.Shape)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	var out any
	switch x.Data.(type) {
	case []float32:
		out = ewWhereT[float32](p, cond, x, y)
	case []float64:
		out = ewWhereT[float64](p, cond, x, y)
	case []int8:
		out = ewWhereT[int8](p, cond, x, y)
	case []uint8:
		out = ewWhereT[uint8](p, cond, x, y)
	case []int16:
		out = ewWhereT[int16](p, cond, x, y)
	case []uint16:
		out = ewWhereT[uint16](p, cond, x, y)
	case []int32:
		out = ewWhereT[int32](p, cond, x, y)
	case []uint32:
		out = ewWhereT[uint32](p, cond, x, y)
	case []int64:
		out = ewWhereT[int64](p, cond, x, y)
	case []uint64:
		out = ewWhereT[uint64](p, cond, x, y)
	case []bool:
		out = ewWhereT[bool](p, cond, x, y)
	case []string:
		out = ewWhereT[string](p, cond, x, y)
	default:
		return nil, c.Errorf("unsupported dtype %s", x.DType)
	}
	return one(&ir.Tensor{DType: x.DType, Shape: p.shape, Data: out})
}

func ewWhereT[T ir.Elem](p *ewPlan, cond, x, y *ir.Tensor) []T {
	cs, xs, ys := ir.Elems[bool](cond), ir.Elems[T](x), ir.Elems[T](y)
	sc, sx, sy := p.inner(0), p.inner(1), p.inner(2)
	out := make([]T, p.n)
	p.each(func(o int, off []int, n int) {
		ic, ix, iy := off[0], off[1], off[2]
		for i := 0; i < n; i++ {
			if cs[ic+i*sc] {
				out[o+i] = xs[ix+i*sx]
			} else {
				out[o+i] = ys[iy+i*sy]
			}
		}
	})
	return out
}

// ewClip limits x to [min, max]: attributes before opset 11, optional
// scalar inputs since. An absent bound does not limit. When min > max
// every element becomes max (as numpy.clip).
func ewClip(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	mk := ewNumMaker{op: "Clip"}
	if c.Opset < 11 {
		for _, b := range []struct {
			name string
			dst  **ir.Tensor
		}{{"min", &mk.lo}, {"max", &mk.hi}} {
			if c.Node.HasAttr(b.name) {
				t := ir.NewTensor(x.DType)
				t.SetFloat64(0, float64(c.Node.AttrFloat(b.name, 0)))
				*b.dst = t
			}
		}
	} else {
		for i, dst := range []**ir.Tensor{&mk.lo, &mk.hi} {
			t, err := optTensorArg(c, in, i+1)
			if err != nil {
				return nil, err
			}
			if t == nil {
				continue
			}
			if t.DType != x.DType || t.Len() != 1 {
				return nil, c.Errorf("bound input %d is %s, want a scalar of dtype %s", i+1, t, x.DType)
			}
			*dst = t
		}
	}
	y, err := ewNumMap(c, x, mk)
	if err != nil {
		return nil, err
	}
	return one(y)
}
