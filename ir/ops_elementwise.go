package ir

// Elementwise ops: unary math and activations, broadcasting binary
// arithmetic, comparisons and logic, variadic Max/Min/Mean/Sum, Clip,
// Where and casts.

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
	for _, g := range opUnaryNames {
		for _, name := range splitFields(g.names) {
			regOps("", nil, nil, opRow{name, g.since, "1:1", ""})
		}
	}
	regOps("", nil, nil,
		opRow{"Celu", 12, "1:1", "alpha=f:1"},
		opRow{"Elu", 6, "1:1", "alpha=f:1"},
		opRow{"HardSigmoid", 6, "1:1", "alpha=f:0.2 beta=f:0.5"},
		opRow{"LeakyRelu", 6, "1:1", "alpha=f:0.01"},
		opRow{"Selu", 6, "1:1", "alpha=f:1.6732632 gamma=f:1.050701"},
		opRow{"ThresholdedRelu", 10, "1:1", "alpha=f:1"},
		opRow{"Shrink", 9, "1:1", "bias=f:0 lambd=f:0.5"},
		opRow{"Clip", 6, "1-3:1", "max=f:3.4028235e+38 min=f:-3.4028235e+38"},
	)
	// Broadcasting binary ops (opset 6 still had the legacy axis/broadcast
	// attributes).
	const legacyBroadcast = "axis=i broadcast=i:0"
	regOps("", nil, nil,
		opRow{"Add", 6, "2:1", legacyBroadcast},
		opRow{"Sub", 6, "2:1", legacyBroadcast},
		opRow{"Mul", 6, "2:1", legacyBroadcast},
		opRow{"Div", 6, "2:1", legacyBroadcast},
		opRow{"Pow", 1, "2:1", legacyBroadcast},
		opRow{"Mod", 10, "2:1", "fmod=i:0"},
		opRow{"PRelu", 6, "2:1", ""},
		opRow{"BitShift", 11, "2:1", "direction=s"},
	)
	regOps("", nil, nil,
		opRow{"Equal", 1, "2:1", legacyBroadcast},
		opRow{"Greater", 1, "2:1", legacyBroadcast},
		opRow{"Less", 1, "2:1", legacyBroadcast},
		opRow{"GreaterOrEqual", 12, "2:1", ""},
		opRow{"LessOrEqual", 12, "2:1", ""},
		opRow{"And", 1, "2:1", legacyBroadcast},
		opRow{"Or", 1, "2:1", legacyBroadcast},
		opRow{"Xor", 1, "2:1", legacyBroadcast},
	)
	regOps("", nil, nil,
		opRow{"Not", 1, "1:1", ""},
		opRow{"IsNaN", 9, "1:1", ""},
		opRow{"IsInf", 10, "1:1", "detect_negative=i:1 detect_positive=i:1"},
	)
	regOps("", nil, nil,
		opRow{"Max", 6, "1-*:1", ""},
		opRow{"Min", 6, "1-*:1", ""},
		opRow{"Mean", 6, "1-*:1", ""},
		opRow{"Sum", 6, "1-*:1", ""},
	)
	regOps("", nil, nil, opRow{"Where", 9, "3:1", ""})
	regOps("", nil, nil, opRow{"Cast", 6, "1:1", "to=i"})
	regOps("", nil, nil, opRow{"CastLike", 15, "2:1", ""})
}
