package codegen

import (
	"fmt"
	"math"

	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// expr is a fused elementwise expression: a tree of ops over leaves
// (buffers a kernel loads) and constants. Kernels evaluate it at any
// width: w lanes of float32 (w == 1 is scalar).
type expr struct {
	op   string  // an ONNX op name, "leaf" or "const"
	leaf int     // leaf index for "leaf"
	c    float64 // the value of a "const"
	args []*expr
	a, b float64 // op parameters (alpha/beta, min/max)
}

func leafExpr(i int) *expr        { return &expr{op: "leaf", leaf: i} }
func constExpr(x float64) *expr   { return &expr{op: "const", c: x} }
func (e *expr) isLeaf(i int) bool { return e.op == "leaf" && e.leaf == i }

func (e *expr) String() string {
	switch e.op {
	case "leaf":
		return fmt.Sprintf("$%d", e.leaf)
	case "const":
		return fmt.Sprint(float32(e.c))
	}
	s := e.op + "("
	for i, a := range e.args {
		if i > 0 {
			s += ","
		}
		s += a.String()
	}
	return s + ")"
}

// ewUnary and ewBinary are the elementwise ops codegen fuses. Binary ops
// broadcast their inputs (multidirectional broadcasting).
var ewUnary = map[string]bool{
	"Relu": true, "LeakyRelu": true, "Sigmoid": true, "Tanh": true, "Clip": true, "HardSigmoid": true,
	"HardSwish": true, "Exp": true, "Neg": true, "Abs": true, "Sqrt": true, "Reciprocal": true, "Elu": true,
	"Log": true, "Erf": true, "Softplus": true, "Softsign": true, "Pow": true, "Sin": true, "Cos": true,
}

var ewBinary = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true, "Max": true, "Min": true}

func isElementwise(op string) bool { return ewUnary[op] || ewBinary[op] }

// ewDataInputs are the inputs of an elementwise node that are tensors
// combined by the expression (Clip's min/max are folded as constants).
func ewDataInputs(n *ir.Node) []*ir.Value {
	if n.Op == "Clip" || n.Op == "Pow" {
		return n.Inputs[:1]
	}
	return n.Inputs
}

// powExponents are the constant exponents Pow is lowered for (exact
// forms; a general x^y through exp(y·log x) would turn negative bases
// with integer exponents into NaN).
var powExponents = map[float64]bool{-2: true, -1: true, -0.5: true, 0: true, 0.5: true, 1: true, 2: true, 3: true}

// scalarConst returns the value of a one-element float32 constant.
func scalarConst(v *ir.Value) (float64, bool) {
	t, ok := ir.ConstValue(v)
	if !ok || !t.IsDense() || t.Len() != 1 || t.DType != ir.Float32 {
		return 0, false
	}
	return float64(t.Data.([]float32)[0]), true
}

// nodeExpr is the expression of elementwise node n with its data inputs
// given as args.
func nodeExpr(n *ir.Node, args []*expr) (*expr, error) {
	e := &expr{op: n.Op, args: args}
	switch n.Op {
	case "LeakyRelu":
		e.a = float64(n.AttrFloat("alpha", 0.01))
	case "Elu":
		e.a = float64(n.AttrFloat("alpha", 1))
	case "HardSigmoid":
		e.a, e.b = float64(n.AttrFloat("alpha", 0.2)), float64(n.AttrFloat("beta", 0.5))
	case "Pow":
		t, ok := ir.ConstValue(n.Input(1))
		if !ok || !t.IsDense() || t.Len() != 1 || t.DType == ir.String || !powExponents[t.Float64At(0)] {
			return nil, fmt.Errorf("Pow exponent is not a constant in {-2, -1, -0.5, 0, 0.5, 1, 2, 3}")
		}
		e.a = t.Float64At(0)
	case "Clip":
		e.a, e.b = math.Inf(-1), math.Inf(1)
		if n.HasAttr("min") || n.HasAttr("max") {
			e.a, e.b = float64(n.AttrFloat("min", float32(math.Inf(-1)))), float64(n.AttrFloat("max", float32(math.Inf(1))))
		}
		if lo := n.Input(1); lo != nil {
			x, ok := scalarConst(lo)
			if !ok {
				return nil, fmt.Errorf("min is not a constant scalar")
			}
			e.a = x
		}
		if hi := n.Input(2); hi != nil {
			x, ok := scalarConst(hi)
			if !ok {
				return nil, fmt.Errorf("max is not a constant scalar")
			}
			e.b = x
		}
	}
	return e, nil
}

// emitExpr evaluates e at width w with the leaves' values given.
func (b *fnb) emitExpr(e *expr, leaves []value.Value, w int) value.Value {
	c := b.cur
	arg := func(i int) value.Value { return b.emitExpr(e.args[i], leaves, w) }
	k := func(x float64) value.Value { return constF(x, w) }
	switch e.op {
	case "leaf":
		return leaves[e.leaf]
	case "const":
		return k(e.c)
	case "Add":
		x, y := arg(0), arg(1)
		return b.cur.NewFAdd(x, y)
	case "Sub":
		x, y := arg(0), arg(1)
		return b.cur.NewFSub(x, y)
	case "Mul":
		x, y := arg(0), arg(1)
		return b.cur.NewFMul(x, y)
	case "Div":
		x, y := arg(0), arg(1)
		return b.cur.NewFDiv(x, y)
	case "Max":
		x, y := arg(0), arg(1)
		return b.fmax(x, y)
	case "Min":
		x, y := arg(0), arg(1)
		return b.fmin(x, y)
	case "Neg":
		return b.cur.NewFNeg(arg(0))
	case "Abs":
		return b.call1("llvm.fabs", arg(0), w)
	case "Sqrt":
		return b.call1("llvm.sqrt", arg(0), w)
	case "Reciprocal":
		x := arg(0)
		return b.cur.NewFDiv(k(1), x)
	case "Relu":
		x := arg(0)
		return b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOLT, x, k(0)), k(0), x)
	case "LeakyRelu":
		x := arg(0)
		return b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOLT, x, k(0)), b.cur.NewFMul(x, k(e.a)), x)
	case "Elu":
		x := arg(0)
		em1 := b.cur.NewFMul(b.cur.NewFSub(b.exp(x, w), k(1)), k(e.a))
		return b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOLT, x, k(0)), em1, x)
	case "Clip":
		x := arg(0)
		if !math.IsInf(e.a, -1) {
			x = b.fmax(x, k(e.a))
		}
		if !math.IsInf(e.b, 1) {
			x = b.fmin(x, k(e.b))
		}
		return x
	case "HardSigmoid":
		x := arg(0)
		return b.clamp01(b.fma(x, k(e.a), k(e.b), w), w)
	case "HardSwish":
		x := arg(0)
		return b.cur.NewFMul(x, b.clamp01(b.fma(x, k(1.0/6), k(0.5), w), w))
	case "Exp":
		return b.exp(arg(0), w)
	case "Sigmoid":
		x := arg(0)
		ex := b.exp(b.cur.NewFNeg(x), w)
		return b.cur.NewFDiv(k(1), b.cur.NewFAdd(k(1), ex))
	case "Tanh":
		return b.tanh(arg(0), w)
	case "Log":
		return b.log(arg(0), w)
	case "Erf":
		return b.erf(arg(0), w)
	case "Sin":
		return b.sincos(arg(0), w, false)
	case "Cos":
		return b.sincos(arg(0), w, true)
	case "Softplus":
		// max(x, 0) + log(1 + exp(-|x|)): no overflow for large x.
		x := arg(0)
		t := b.log(b.cur.NewFAdd(k(1), b.exp(b.cur.NewFNeg(b.call1("llvm.fabs", x, w)), w)), w)
		return b.cur.NewFAdd(b.fmax(x, k(0)), t)
	case "Softsign":
		x := arg(0)
		return b.cur.NewFDiv(x, b.cur.NewFAdd(k(1), b.call1("llvm.fabs", x, w)))
	case "Pow":
		x := arg(0)
		switch e.a {
		case 0:
			return k(1)
		case 0.5:
			return b.call1("llvm.sqrt", x, w)
		case -0.5:
			return b.cur.NewFDiv(k(1), b.call1("llvm.sqrt", x, w))
		case 1:
			return x
		case -1:
			return b.cur.NewFDiv(k(1), x)
		case 2:
			return b.cur.NewFMul(x, x)
		case -2:
			return b.cur.NewFDiv(k(1), b.cur.NewFMul(x, x))
		case 3:
			return b.cur.NewFMul(b.cur.NewFMul(x, x), x)
		}
	}
	_ = c
	panic("codegen: no emitter for elementwise op " + e.op)
}

// fmax/fmin return the larger/smaller operand; a NaN in x propagates.
func (b *fnb) fmax(x, y value.Value) value.Value {
	return b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOLT, x, y), y, x)
}

func (b *fnb) fmin(x, y value.Value) value.Value {
	return b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOGT, x, y), y, x)
}

func (b *fnb) clamp01(x value.Value, w int) value.Value {
	return b.fmin(b.fmax(x, constF(0, w)), constF(1, w))
}

// exp is the Cephes single-precision exponential (relative error about
// 1e-7) built from float arithmetic only, so it vectorizes on every target:
// x = n·ln2 + r, exp(r) by a degree-5 polynomial, 2^n by building the
// exponent bits. Overflow gives +Inf, NaN stays NaN, results below about
// 1e-38 flush to 0.
func (b *fnb) exp(x value.Value, w int) value.Value {
	k := func(v float64) value.Value { return constF(v, w) }
	c := b.cur
	xc := b.fmin(b.fmax(x, k(-88.3762626647949)), k(88.3762626647949))
	t := b.fma(xc, k(1.44269504088896341), k(0.5), w)
	// floor(t) without llvm.floor (a libm call on x86-64 baseline).
	ti := b.cur.NewFPToSI(t, i32T(w))
	tf := b.cur.NewSIToFP(ti, vecT(w))
	gt := b.cur.NewFCmp(enum.FPredOGT, tf, t)
	fx := b.cur.NewSelect(gt, b.cur.NewFSub(tf, k(1)), tf)
	r := b.fma(fx, k(-0.693359375), xc, w)
	r = b.fma(fx, k(2.12194440e-4), r, w)
	p := k(1.9875691500e-4)
	for _, coef := range []float64{1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1} {
		p = b.fma(p, r, k(coef), w)
	}
	r2 := b.cur.NewFMul(r, r)
	y := b.fma(p, r2, b.cur.NewFAdd(r, k(1)), w)
	n := b.cur.NewFPToSI(fx, i32T(w))
	bits := b.cur.NewShl(b.cur.NewAdd(n, constI32V(127, w)), constI32V(23, w))
	pow2 := b.cur.NewBitCast(bits, vecT(w))
	res := value.Value(b.cur.NewFMul(y, pow2))
	res = b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOGT, x, k(88.72283935546875)), k(math.Inf(1)), res)
	res = b.cur.NewSelect(b.cur.NewFCmp(enum.FPredUNO, x, x), x, res)
	_ = c
	return res
}

// tanh uses the Cephes odd polynomial for |x| < 0.625 and
// 1 - 2/(exp(2|x|)+1) with the sign restored above.
func (b *fnb) tanh(x value.Value, w int) value.Value {
	k := func(v float64) value.Value { return constF(v, w) }
	ax := b.call1("llvm.fabs", x, w)
	z := b.cur.NewFMul(x, x)
	p := k(-5.70498872745e-3)
	for _, coef := range []float64{2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1} {
		p = b.fma(p, z, k(coef), w)
	}
	small := b.fma(b.cur.NewFMul(p, z), x, x, w)
	e := b.exp(b.cur.NewFMul(ax, k(2)), w)
	var big value.Value = b.cur.NewFSub(k(1), b.cur.NewFDiv(k(2), b.cur.NewFAdd(e, k(1))))
	big = b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOLT, x, k(0)), b.cur.NewFNeg(big), big)
	return b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOLT, ax, k(0.625)), small, big)
}

// log is the Cephes single-precision natural logarithm: x = m·2^e with m
// in [sqrt(1/2), sqrt(2)), log(m) by a degree-9 polynomial in m-1. Zero
// gives -Inf, negative numbers NaN, +Inf and NaN themselves (subnormal
// inputs are treated as their exponent field says, i.e. too large).
func (b *fnb) log(x value.Value, w int) value.Value {
	k := func(v float64) value.Value { return constF(v, w) }
	bits := b.cur.NewBitCast(x, i32T(w))
	e := b.cur.NewSub(b.cur.NewLShr(bits, constI32V(23, w)), constI32V(127, w))
	mbits := b.cur.NewOr(b.cur.NewAnd(bits, constI32V(0x7fffff, w)), constI32V(0x3f800000, w))
	m := value.Value(b.cur.NewBitCast(mbits, vecT(w)))
	ef := value.Value(b.cur.NewSIToFP(e, vecT(w)))
	big := b.cur.NewFCmp(enum.FPredOGT, m, k(1.41421356237))
	m = b.cur.NewSelect(big, b.cur.NewFMul(m, k(0.5)), m)
	ef = b.cur.NewSelect(big, b.cur.NewFAdd(ef, k(1)), ef)
	z := b.cur.NewFSub(m, k(1))
	p := k(7.0376836292e-2)
	for _, coef := range []float64{-1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
		-1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1} {
		p = b.fma(p, z, k(coef), w)
	}
	z2 := b.cur.NewFMul(z, z)
	y := value.Value(b.cur.NewFMul(b.cur.NewFMul(z2, z), p))
	y = b.fma(ef, k(-2.12194440e-4), y, w)
	y = b.fma(z2, k(-0.5), y, w)
	res := value.Value(b.cur.NewFAdd(z, y))
	res = b.fma(ef, k(0.693359375), res, w)
	res = b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOEQ, x, k(0)), k(math.Inf(-1)), res)
	res = b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOLT, x, k(0)), k(math.NaN()), res)
	res = b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOEQ, x, k(math.Inf(1))), x, res)
	return b.cur.NewSelect(b.cur.NewFCmp(enum.FPredUNO, x, x), x, res)
}

// erf is Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7):
// sign(x)·(1 - t·P(t)·exp(-x²)), t = 1/(1 + 0.3275911|x|).
func (b *fnb) erf(x value.Value, w int) value.Value {
	k := func(v float64) value.Value { return constF(v, w) }
	ax := b.call1("llvm.fabs", x, w)
	t := b.cur.NewFDiv(k(1), b.fma(ax, k(0.3275911), k(1), w))
	p := k(1.061405429)
	for _, coef := range []float64{-1.453152027, 1.421413741, -0.284496736, 0.254829592} {
		p = b.fma(p, t, k(coef), w)
	}
	p = b.cur.NewFMul(p, t)
	ex := b.exp(b.cur.NewFNeg(b.cur.NewFMul(ax, ax)), w)
	y := value.Value(b.cur.NewFSub(k(1), b.cur.NewFMul(p, ex)))
	y = b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOLT, x, k(0)), b.cur.NewFNeg(y), y)
	return b.cur.NewSelect(b.cur.NewFCmp(enum.FPredUNO, x, x), x, y)
}

// scalarEpilogue extends a kernel's epilogue epi with the elementwise
// consumer n (epi feeds n's data input idx) when every other operand of n
// is a scalar constant; kernels whose epilogue cannot index per-channel or
// per-element operands absorb consumers through it.
// scalarEpi is the output and epilogue of a kernel that absorbs
// consumers through scalarEpilogue; kernels embed it.
type scalarEpi struct {
	out *ir.Value
	epi *expr // leaf 0: the kernel's result
}

func newScalarEpi(out *ir.Value) scalarEpi { return scalarEpi{out: out, epi: leafExpr(0)} }

func (s *scalarEpi) output() *ir.Value { return s.out }

func (s *scalarEpi) absorb(c *compiler, n *ir.Node, idx int) bool {
	e, ok := scalarEpilogue(n, idx, s.epi)
	if ok {
		s.epi, s.out = e, n.Outputs[0]
	}
	return ok
}

// describeEpi is the epilogue's part of a kernel description.
func (s *scalarEpi) describeEpi() string {
	if s.epi.isLeaf(0) {
		return ""
	}
	return " epilogue " + s.epi.String()
}

func scalarEpilogue(n *ir.Node, idx int, epi *expr) (*expr, bool) {
	data := ewDataInputs(n)
	args := make([]*expr, len(data))
	for i, v := range data {
		if i == idx {
			args[i] = epi
			continue
		}
		x, ok := scalarConst(v)
		if !ok {
			return nil, false
		}
		args[i] = constExpr(x)
	}
	e, err := nodeExpr(n, args)
	if err != nil {
		return nil, false
	}
	return e, true
}
