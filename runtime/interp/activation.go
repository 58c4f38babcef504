package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// Activation family: pointwise activations of the default ONNX domain.
// Float-only activations are float64 element functions built from the
// node's attributes (see ewFloatMap for how float32 and 16-bit floats are
// computed); Relu and Shrink are defined on every numeric type.

// actFloatOps maps an op to the constructor of its element function.
var actFloatOps = map[string]func(c *Call) func(float64) float64{
	"LeakyRelu": func(c *Call) func(float64) float64 {
		alpha := actAttr(c, "alpha", 0.01)
		return func(x float64) float64 {
			if x < 0 {
				return alpha * x
			}
			return x
		}
	},
	"Elu": func(c *Call) func(float64) float64 {
		alpha := actAttr(c, "alpha", 1)
		return func(x float64) float64 {
			if x < 0 {
				return alpha * math.Expm1(x)
			}
			return x
		}
	},
	"Selu": func(c *Call) func(float64) float64 {
		alpha := actAttr(c, "alpha", 1.67326319217681884765625)
		gamma := actAttr(c, "gamma", 1.05070102214813232421875)
		return func(x float64) float64 {
			if x <= 0 {
				return gamma * alpha * math.Expm1(x)
			}
			return gamma * x
		}
	},
	"Celu": func(c *Call) func(float64) float64 {
		alpha := actAttr(c, "alpha", 1)
		return func(x float64) float64 {
			return math.Max(0, x) + math.Min(0, alpha*math.Expm1(x/alpha))
		}
	},
	"HardSigmoid": func(c *Call) func(float64) float64 {
		alpha, beta := actAttr(c, "alpha", 0.2), actAttr(c, "beta", 0.5)
		return func(x float64) float64 { return actHardSigmoid(x, alpha, beta) }
	},
	"HardSwish": func(*Call) func(float64) float64 {
		return func(x float64) float64 { return x * actHardSigmoid(x, 1.0/6, 0.5) }
	},
	"Softplus": func(*Call) func(float64) float64 { return actSoftplus },
	"Softsign": func(*Call) func(float64) float64 {
		return func(x float64) float64 { return x / (1 + math.Abs(x)) }
	},
	"ThresholdedRelu": func(c *Call) func(float64) float64 {
		alpha := actAttr(c, "alpha", 1)
		return func(x float64) float64 {
			if x > alpha {
				return x
			}
			return 0
		}
	},
	"Mish": func(*Call) func(float64) float64 {
		return func(x float64) float64 { return x * math.Tanh(actSoftplus(x)) }
	},
}

func init() {
	for op, mk := range actFloatOps {
		Register(op, ewFloatKernel(mk))
	}
	Register("Relu", ewNumKernel("Relu"))
	Register("Shrink", actShrink)
	Register("PRelu", actPRelu)
}

// actAttr reads a float attribute as float64.
func actAttr(c *Call, name string, def float32) float64 {
	return float64(c.Node.AttrFloat(name, def))
}

func actHardSigmoid(x, alpha, beta float64) float64 {
	return math.Max(0, math.Min(1, alpha*x+beta))
}

// actSoftplus is log(1+exp(x)), computed without overflow for large x.
func actSoftplus(x float64) float64 {
	return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}

// actShrink: x+bias below -lambd, x-bias above lambd, 0 between.
func actShrink(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	mk := ewNumMaker{op: "Shrink", shrink: [2]float64{actAttr(c, "bias", 0), actAttr(c, "lambd", 0.5)}}
	y, err := ewNumMap(c, x, mk)
	if err != nil {
		return nil, err
	}
	return one(y)
}

// actPRelu: x where x >= 0, slope*x elsewhere; slope broadcasts to x
// (unidirectionally: the output has x's shape). Before opset 7 the slope
// is one value or one per channel (dim 1), as PyTorch exported it.
func actPRelu(c *Call, in []Value) ([]Value, error) {
	return ewBinaryKernel(func(c *Call, x, slope *ir.Tensor) (*ir.Tensor, error) {
		if c.Opset < 7 {
			switch {
			case slope.Len() == 1:
				slope = slope.Reshaped(nil)
			case slope.Rank() == 1 && x.Rank() >= 2 && slope.Shape[0] == x.Shape[1]:
				s := make([]int64, x.Rank()-1)
				for i := range s {
					s[i] = 1
				}
				s[0] = slope.Shape[0]
				slope = slope.Reshaped(s)
			}
		}
		y, err := ewBinaryArith(c, "PRelu", x, slope)
		if err != nil {
			return nil, err
		}
		if !sameShape(y.Shape, x.Shape) {
			return nil, c.Errorf("slope %v does not broadcast to input %v", slope.Shape, x.Shape)
		}
		return y, nil
	})(c, in)
}
