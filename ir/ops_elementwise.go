package ir

// Elementwise ops: unary math and activations, broadcasting binary
// arithmetic, comparisons and logic, variadic Max/Min/Mean/Sum, Clip,
// Where and casts. FLOPs: one per output element (a few more for the
// transcendental activations would be closer, but one keeps counts
// comparable with other tools).

// opUnaryNames are the attribute-free unary ops whose output has the
// input's type.
var opUnaryNames = []struct {
	since int64
	names string
}{
	{6, "Abs Ceil Exp Floor Log Neg Reciprocal Relu Sigmoid Sqrt Tanh"},
	{7, "Acos Asin Atan Cos Sin Tan"},
	{9, "Acosh Asinh Atanh Cosh Erf Sign Sinh"},
	{1, "Softplus Softsign"},
	{11, "Round"},
	{14, "HardSwish"},
}

func init() {
	perElem := opPerOutElem(1)
	for _, g := range opUnaryNames {
		for _, name := range splitFields(g.names) {
			regOps("", inferSameType, perElem, opRow{name, g.since, "1:1", ""})
		}
	}
	regOps("", inferSameType, perElem,
		opRow{"Celu", 12, "1:1", "alpha=f:1"},
		opRow{"Elu", 6, "1:1", "alpha=f:1"},
		opRow{"HardSigmoid", 6, "1:1", "alpha=f:0.2 beta=f:0.5"},
		opRow{"LeakyRelu", 6, "1:1", "alpha=f:0.01"},
		opRow{"Selu", 6, "1:1", "alpha=f:1.6732632 gamma=f:1.050701"},
		opRow{"ThresholdedRelu", 10, "1:1", "alpha=f:1"},
		opRow{"Shrink", 9, "1:1", "bias=f:0 lambd=f:0.5"},
		opRow{"Clip", 6, "1-3:1", "max=f:3.4028235e+38 min=f:-3.4028235e+38"},
		opRow{"PRelu", 6, "2:1", ""}, // the slope broadcasts to X
	)
	// Broadcasting binary ops (opset 6 still had the legacy axis/broadcast
	// attributes).
	const legacyBroadcast = "axis=i broadcast=i:0"
	regOps("", inferArith(true), perElem,
		opRow{"Add", 6, "2:1", legacyBroadcast},
		opRow{"Sub", 6, "2:1", legacyBroadcast},
		opRow{"Mul", 6, "2:1", legacyBroadcast},
		opRow{"Div", 6, "2:1", legacyBroadcast},
		opRow{"Mod", 10, "2:1", "fmod=i:0"},
		opRow{"BitShift", 11, "2:1", "direction=s"},
	)
	regOps("", inferArith(false), perElem, opRow{"Pow", 1, "2:1", legacyBroadcast})
	regOps("", inferBroadcastBool, perElem,
		opRow{"Equal", 1, "2:1", legacyBroadcast},
		opRow{"Greater", 1, "2:1", legacyBroadcast},
		opRow{"Less", 1, "2:1", legacyBroadcast},
		opRow{"GreaterOrEqual", 12, "2:1", ""},
		opRow{"LessOrEqual", 12, "2:1", ""},
		opRow{"And", 1, "2:1", legacyBroadcast},
		opRow{"Or", 1, "2:1", legacyBroadcast},
		opRow{"Xor", 1, "2:1", legacyBroadcast},
	)
	regOps("", inferNot, perElem, opRow{"Not", 1, "1:1", ""})
	regOps("", inferSameShapeAs(Bool), perElem,
		opRow{"IsNaN", 9, "1:1", ""},
		opRow{"IsInf", 10, "1:1", "detect_negative=i:1 detect_positive=i:1"},
	)
	variadic := opFlops(func(n *Node) int64 { return int64(max(len(n.Inputs)-1, 1)) * opElems(opOut(n, 0)) })
	regOps("", inferArith(true), variadic,
		opRow{"Max", 6, "1-*:1", ""},
		opRow{"Min", 6, "1-*:1", ""},
		opRow{"Mean", 6, "1-*:1", ""},
		opRow{"Sum", 6, "1-*:1", ""},
	)
	regOps("", inferWhere, perElem, opRow{"Where", 9, "3:1", ""})
	regOps("", inferCast, opZeroFlops, opRow{"Cast", 6, "1:1", "to=i"})
	regOps("", inferCastLike, opZeroFlops, opRow{"CastLike", 15, "2:1", ""})
}

// inferSameType gives output 0 the type of input 0 (any kind).
func inferSameType(c *inferCtx) error { return c.set(0, c.in(0)) }

// inferSameShapeAs gives output 0 input 0's shape and dtype d.
func inferSameShapeAs(d DType) opInferFn {
	return func(c *inferCtx) error {
		t := c.in(0)
		return c.set(0, Type{Kind: KindTensor, DType: d, Shape: t.Shape, Ranked: t.Ranked && t.Kind == KindTensor})
	}
}

func inferNot(c *inferCtx) error {
	if ds, ok := c.ints(0); ok {
		out := make([]Dim, len(ds))
		for i, d := range ds {
			out[i] = valUnknown
			if valKnown(d) {
				out[i] = D(1)
				if d.Size != 0 {
					out[i] = D(0)
				}
			}
		}
		c.setVal(0, out)
	}
	return inferSameShapeAs(Bool)(c)
}

// commonDType checks that the given inputs agree on their dtype and
// returns it (Undefined when none is known).
func (c *inferCtx) commonDType(idx ...int) (DType, error) {
	d := Undefined
	for _, i := range idx {
		e := c.dtype(i)
		if e == Undefined || !c.has(i) {
			continue
		}
		if d != Undefined && e != d {
			return d, c.errf("input %d is %s, input %d is %s", idx[0], d, i, e)
		}
		d = e
	}
	return d, nil
}

// broadcastInputs broadcasts the shapes of the given inputs; ok is false
// when one is unranked.
func (c *inferCtx) broadcastInputs(idx ...int) (Shape, bool, error) {
	var shapes []Shape
	for _, i := range idx {
		if !c.has(i) {
			continue
		}
		t, ok := c.ranked(i)
		if !ok {
			return nil, false, nil
		}
		shapes = append(shapes, t.Shape)
	}
	s, err := broadcastShapes(shapes...)
	if err != nil {
		return nil, false, c.errf("%v", err)
	}
	return s, true, nil
}

// inferBroadcast sets output 0 to the broadcast of all inputs with dtype d.
func (c *inferCtx) inferBroadcast(d DType) error {
	if c.opset < 7 && len(c.n.Inputs) == 2 && c.n.Op != "Max" && c.n.Op != "Min" && c.n.Op != "Mean" && c.n.Op != "Sum" {
		// Legacy broadcasting aligns B with A at axis: the result has A's shape.
		t := c.in(0)
		return c.set(0, Type{Kind: KindTensor, DType: d, Shape: t.Shape, Ranked: t.Ranked})
	}
	idx := make([]int, len(c.n.Inputs))
	for i := range idx {
		idx[i] = i
	}
	s, ok, err := c.broadcastInputs(idx...)
	if err != nil {
		return err
	}
	if !ok {
		return c.setDType(0, d)
	}
	return c.setTensor(0, d, s)
}

// inferArith handles numeric broadcasting ops; sameDType requires all
// inputs to share the dtype (Pow's exponent may differ).
func inferArith(sameDType bool) opInferFn {
	return func(c *inferCtx) error {
		d := c.dtype(0)
		if sameDType {
			idx := make([]int, len(c.n.Inputs))
			for i := range idx {
				idx[i] = i
			}
			var err error
			if d, err = c.commonDType(idx...); err != nil {
				return err
			}
		}
		if err := c.inferBroadcast(d); err != nil {
			return err
		}
		c.propArith()
		return nil
	}
}

// propArith propagates known integer contents through Add, Sub, Mul, Div.
func (c *inferCtx) propArith() {
	if len(c.n.Inputs) != 2 {
		return
	}
	a, ok1 := c.ints(0)
	b, ok2 := c.ints(1)
	if !ok1 || !ok2 || (len(a) != len(b) && len(a) != 1 && len(b) != 1) {
		return
	}
	switch c.n.Op {
	case "Add", "Sub", "Mul", "Div":
	default:
		return
	}
	n := max(len(a), len(b))
	out := make([]Dim, n)
	for i := range out {
		out[i] = valArith(c.n.Op, a[min(i, len(a)-1)], b[min(i, len(b)-1)])
	}
	c.setVal(0, out)
}

// inferBroadcastBool handles comparisons and logic: inputs agree, output
// is bool.
func inferBroadcastBool(c *inferCtx) error {
	if _, err := c.commonDType(0, 1); err != nil {
		return err
	}
	if err := c.inferBroadcast(Bool); err != nil {
		return err
	}
	c.propCompare()
	return nil
}

// propCompare evaluates comparisons and logic on known integer contents,
// so that If conditions computed from shapes are known statically.
func (c *inferCtx) propCompare() {
	a, ok1 := c.ints(0)
	b, ok2 := c.ints(1)
	if !ok1 || !ok2 || (len(a) != len(b) && len(a) != 1 && len(b) != 1) {
		return
	}
	out := make([]Dim, max(len(a), len(b)))
	for i := range out {
		x, y := a[min(i, len(a)-1)], b[min(i, len(b)-1)]
		out[i] = valUnknown
		if !valKnown(x) || !valKnown(y) {
			if c.n.Op == "Equal" && x.Param != "" && x.Param == y.Param {
				out[i] = D(1)
			}
			continue
		}
		var r bool
		switch c.n.Op {
		case "Equal":
			r = x.Size == y.Size
		case "Greater":
			r = x.Size > y.Size
		case "Less":
			r = x.Size < y.Size
		case "GreaterOrEqual":
			r = x.Size >= y.Size
		case "LessOrEqual":
			r = x.Size <= y.Size
		case "And":
			r = x.Size != 0 && y.Size != 0
		case "Or":
			r = x.Size != 0 || y.Size != 0
		case "Xor":
			r = (x.Size != 0) != (y.Size != 0)
		}
		if r {
			out[i] = D(1)
		} else {
			out[i] = D(0)
		}
	}
	c.setVal(0, out)
}

func inferWhere(c *inferCtx) error {
	if d := c.dtype(0); d != Undefined && d != Bool {
		return c.errf("condition is %s, want bool", d)
	}
	d, err := c.commonDType(1, 2)
	if err != nil {
		return err
	}
	s, ok, err := c.broadcastInputs(0, 1, 2)
	if err != nil {
		return err
	}
	// Select between known integer contents (shape arithmetic in exported
	// transformers: Where(Equal(shape, -1), ones, shape)).
	cond, ok0 := c.ints(0)
	x, ok1 := c.ints(1)
	y, ok2 := c.ints(2)
	if n := max(len(cond), len(x), len(y)); ok0 && ok1 && ok2 && n > 0 {
		out := make([]Dim, n)
		for i := range out {
			k, a, b := cond[min(i, len(cond)-1)], x[min(i, len(x)-1)], y[min(i, len(y)-1)]
			switch {
			case !valKnown(k):
				out[i] = valUnknown
			case k.Size != 0:
				out[i] = a
			default:
				out[i] = b
			}
		}
		if (len(cond) == n || len(cond) == 1) && (len(x) == n || len(x) == 1) && (len(y) == n || len(y) == 1) {
			c.setVal(0, out)
		}
	}
	if !ok {
		return c.setDType(0, d)
	}
	return c.setTensor(0, d, s)
}

func inferCast(c *inferCtx) error {
	a, ok := c.n.Attrs["to"]
	if !ok || a.Kind != AttrInt {
		return c.errf("missing int attribute to")
	}
	d, ok := DTypeFromONNX(a.Int)
	if !ok {
		return c.errf("unsupported target type %d", a.Int)
	}
	if ds, ok := c.ints(0); ok && (d.IsInt() || d == Bool) {
		c.setVal(0, ds)
	}
	return c.set(0, opWithDType(c.in(0), d))
}

func inferCastLike(c *inferCtx) error {
	return c.set(0, opWithDType(c.in(0), c.dtype(1)))
}

// opWithDType returns t's shape information with element type d.
func opWithDType(t Type, d DType) Type {
	if t.Kind != KindTensor {
		return Type{Kind: KindTensor, DType: d}
	}
	return Type{Kind: KindTensor, DType: d, Shape: t.Shape, Ranked: t.Ranked}
}
