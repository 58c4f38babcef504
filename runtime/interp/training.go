package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// Optimizer ops of the ai.onnx.preview.training domain (Adagrad, Momentum,
// Adam). They are deterministic update formulas; the interpreter runs them
// so that models using them execute. Gradient (automatic differentiation)
// is not supported.

const trainingDomain = "ai.onnx.preview.training"

func init() {
	RegisterDomain(trainingDomain, "Adagrad", adagradKernel)
	RegisterDomain(trainingDomain, "Momentum", momentumKernel)
	RegisterDomain(trainingDomain, "Adam", adamKernel)
}

// trainingArgs splits the inputs R, T, then groups of n tensors each into
// the scalar learning rate, the update count and the groups.
func trainingArgs(c *Call, in []Value, groups int) (r float64, t int64, g [][]*ir.Tensor, err error) {
	rt, err := tensorArg(c, in, 0)
	if err != nil {
		return 0, 0, nil, err
	}
	tt, err := tensorArg(c, in, 1)
	if err != nil {
		return 0, 0, nil, err
	}
	if rt.Len() != 1 || tt.Len() != 1 {
		return 0, 0, nil, c.Errorf("R and T must be scalars, got %v and %v", rt.Shape, tt.Shape)
	}
	rest := len(in) - 2
	if rest <= 0 || rest%groups != 0 {
		return 0, 0, nil, c.Errorf("want 2 + %d·n inputs, got %d", groups, len(in))
	}
	n := rest / groups
	g = make([][]*ir.Tensor, groups)
	for k := range g {
		for i := 0; i < n; i++ {
			x, err := tensorArg(c, in, 2+k*n+i)
			if err != nil {
				return 0, 0, nil, err
			}
			if !x.DType.IsFloat() {
				return 0, 0, nil, c.Errorf("input %d: want a float tensor, got %s", 2+k*n+i, x)
			}
			if k > 0 && !sameShape(x.Shape, g[0][i].Shape) {
				return 0, 0, nil, c.Errorf("input %d has shape %v, its parameter %v", 2+k*n+i, x.Shape, g[0][i].Shape)
			}
			g[k] = append(g[k], x)
		}
	}
	return rt.Float64At(0), tt.Int64At(0), g, nil
}

// trainingUpdate applies step elementwise to every parameter group: step
// gets the current values of each group at one element and writes the new
// values of the output groups.
func trainingUpdate(g [][]*ir.Tensor, nOut int, step func(cur, next []float64)) []Value {
	n := len(g[0])
	outs := make([]Value, nOut*n)
	cur := make([]float64, len(g))
	next := make([]float64, nOut)
	for i := 0; i < n; i++ {
		res := make([]*ir.Tensor, nOut)
		for k := range res {
			res[k] = ir.NewTensor(g[0][i].DType, g[0][i].Shape...)
			outs[k*n+i] = res[k]
		}
		for e := 0; e < g[0][i].Len(); e++ {
			for k := range g {
				cur[k] = g[k][i].Float64At(e)
			}
			step(cur, next)
			for k := range res {
				res[k].SetFloat64(e, next[k])
			}
		}
	}
	return outs
}

func adagradKernel(c *Call, in []Value) ([]Value, error) {
	r, t, g, err := trainingArgs(c, in, 3) // X, G, H
	if err != nil {
		return nil, err
	}
	decay := float64(c.Node.AttrFloat("decay_factor", 0))
	eps := float64(c.Node.AttrFloat("epsilon", 1e-6))
	norm := float64(c.Node.AttrFloat("norm_coefficient", 0))
	rate := r / (1 + float64(t)*decay)
	return trainingUpdate(g, 2, func(cur, next []float64) {
		x, grad, h := cur[0], cur[1], cur[2]
		gr := norm*x + grad
		hNew := h + gr*gr
		next[0] = x - rate*gr/(math.Sqrt(hNew)+eps)
		next[1] = hNew
	}), nil
}

func momentumKernel(c *Call, in []Value) ([]Value, error) {
	r, t, g, err := trainingArgs(c, in, 3) // X, G, V
	if err != nil {
		return nil, err
	}
	alpha := float64(c.Node.AttrFloat("alpha", 0))
	beta := float64(c.Node.AttrFloat("beta", 0))
	norm := float64(c.Node.AttrFloat("norm_coefficient", 0))
	mode := c.Node.AttrString("mode", "standard")
	if mode != "standard" && mode != "nesterov" {
		return nil, c.Errorf("unknown mode %q (want standard or nesterov)", mode)
	}
	if t <= 0 {
		beta = 1 // the first update takes the whole gradient
	}
	return trainingUpdate(g, 2, func(cur, next []float64) {
		x, grad, v := cur[0], cur[1], cur[2]
		gr := norm*x + grad
		vNew := alpha*v + beta*gr
		if mode == "standard" {
			next[0] = x - r*vNew
		} else {
			next[0] = x - r*(gr+alpha*vNew)
		}
		next[1] = vNew
	}), nil
}

func adamKernel(c *Call, in []Value) ([]Value, error) {
	r, t, g, err := trainingArgs(c, in, 4) // X, G, V, H
	if err != nil {
		return nil, err
	}
	alpha := float64(c.Node.AttrFloat("alpha", 0.9))
	beta := float64(c.Node.AttrFloat("beta", 0.999))
	eps := float64(c.Node.AttrFloat("epsilon", 1e-6))
	norm := float64(c.Node.AttrFloat("norm_coefficient", 0))
	normPost := float64(c.Node.AttrFloat("norm_coefficient_post", 0))
	rate := r
	if t > 0 {
		rate = r * math.Sqrt(1-math.Pow(beta, float64(t))) / (1 - math.Pow(alpha, float64(t)))
	}
	return trainingUpdate(g, 3, func(cur, next []float64) {
		x, grad, v, h := cur[0], cur[1], cur[2], cur[3]
		gr := norm*x + grad
		vNew := alpha*v + (1-alpha)*gr
		hNew := beta*h + (1-beta)*gr*gr
		xNew := x - rate*vNew/(math.Sqrt(hNew)+eps)
		next[0] = (1 - normPost) * xNew
		next[1] = vNew
		next[2] = hNew
	}), nil
}
