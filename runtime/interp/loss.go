package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (which is
// NLL applied to the log-softmax of its scores over the class axis).

func init() {
	Register("NegativeLogLikelihoodLoss", lossNLLKernel)
	Register("SoftmaxCrossEntropyLoss", lossSCEKernel)
}

// lossSpec is what both losses share: class-axis geometry, targets,
// optional class weights, reduction and ignore_index.
type lossSpec struct {
	n, classes, inner int
	target            []int64
	weight            *ir.Tensor // canonical float, or nil
	reduction         string
	ignore            int64
	hasIgnore         bool
	outShape          []int64 // for reduction "none"
}

// lossParse reads the scores X (input 0, returned), the target (input 1)
// and the optional class weights (input 2) and checks them.
func lossParse(c *Call, in []Value) (*ir.Tensor, *lossSpec, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := laRequire(c, "input", x.DType, laFloatTypes...); err != nil {
		return nil, nil, err
	}
	if x.Rank() < 2 {
		return nil, nil, c.Errorf("input must have shape [N, C, d1, ...], got %v", x.Shape)
	}
	t, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, nil, err
	}
	if err := laRequire(c, "target", t.DType, ir.Int32, ir.Int64); err != nil {
		return nil, nil, err
	}
	want := append([]int64{x.Shape[0]}, x.Shape[2:]...)
	if !sameShape(t.Shape, want) {
		return nil, nil, c.Errorf("target shape %v, want %v for input shape %v", t.Shape, want, x.Shape)
	}
	s := &lossSpec{
		n: int(x.Shape[0]), classes: int(x.Shape[1]), inner: int(ir.NumElements(x.Shape[2:])),
		target:    t.Int64s(),
		reduction: c.Node.AttrString("reduction", "mean"),
		outShape:  want,
	}
	if c.Node.HasAttr("ignore_index") {
		s.hasIgnore, s.ignore = true, c.Node.AttrInt("ignore_index", 0)
	}
	switch s.reduction {
	case "none", "sum", "mean":
	default:
		return nil, nil, c.Errorf("unknown reduction %q", s.reduction)
	}
	w, err := optTensorArg(c, in, 2)
	if err != nil {
		return nil, nil, err
	}
	if w != nil {
		if w.DType != x.DType || w.Rank() != 1 || int(w.Shape[0]) != s.classes {
			return nil, nil, c.Errorf("weight must be a 1-D %s tensor of %d classes, got %s", x.DType, s.classes, w)
		}
		s.weight, _ = laCanon(c, w)
	}
	return x, s, nil
}

// lossNLL computes the negative log-likelihood of log-probabilities lp
// (canonical float data of shape [N, C, inner]).
func lossNLL[T laFloat](c *Call, s *lossSpec, lp []T) ([]T, error) {
	var w []T
	if s.weight != nil {
		w = s.weight.Data.([]T)
	}
	loss := make([]T, s.n*s.inner)
	var lossSum, wSum T
	for b := 0; b < s.n; b++ {
		for i := 0; i < s.inner; i++ {
			at := b*s.inner + i
			t := s.target[at]
			if s.hasIgnore && t == s.ignore {
				continue
			}
			if t < 0 || t >= int64(s.classes) {
				return nil, c.Errorf("target %d at position %d is outside [0, %d)", t, at, s.classes)
			}
			wt := T(1)
			if w != nil {
				wt = w[t]
			}
			l := -lp[(b*s.classes+int(t))*s.inner+i] * wt
			loss[at] = l
			lossSum += l
			wSum += wt
		}
	}
	switch s.reduction {
	case "sum":
		return []T{lossSum}, nil
	case "mean":
		return []T{lossSum / wSum}, nil
	}
	return loss, nil
}

func lossOut[T laFloat](c *Call, s *lossSpec, dt ir.DType, lp []T) (*ir.Tensor, error) {
	l, err := lossNLL(c, s, lp)
	if err != nil {
		return nil, err
	}
	shape := []int64{}
	if s.reduction == "none" {
		shape = s.outShape
	}
	return ir.FromSlice(dt, shape, l), nil
}

func lossNLLKernel(c *Call, in []Value) ([]Value, error) {
	x, s, err := lossParse(c, in)
	if err != nil {
		return nil, err
	}
	cx, _ := laCanon(c, x)
	var y *ir.Tensor
	switch d := cx.Data.(type) {
	case []float32:
		y, err = lossOut(c, s, cx.DType, d)
	case []float64:
		y, err = lossOut(c, s, cx.DType, d)
	}
	if err != nil {
		return nil, err
	}
	return one(laUncanon(y, x.DType))
}

// lossLogSoftmax is log-softmax over the class axis of [N, C, inner].
func lossLogSoftmax[T laFloat](d []T, n, classes, inner int) []T {
	out := make([]T, len(d))
	for b := 0; b < n; b++ {
		for i := 0; i < inner; i++ {
			base := b*classes*inner + i
			m := laLowest[T]()
			for k := 0; k < classes; k++ {
				m = max(m, d[base+k*inner])
			}
			var sum T
			for k := 0; k < classes; k++ {
				sum += T(math.Exp(float64(d[base+k*inner] - m)))
			}
			ls := T(math.Log(float64(sum)))
			for k := 0; k < classes; k++ {
				out[base+k*inner] = d[base+k*inner] - m - ls
			}
		}
	}
	return out
}

func lossSCEKernel(c *Call, in []Value) ([]Value, error) {
	x, s, err := lossParse(c, in)
	if err != nil {
		return nil, err
	}
	cx, _ := laCanon(c, x)
	var y, lp *ir.Tensor
	switch d := cx.Data.(type) {
	case []float32:
		l := lossLogSoftmax(d, s.n, s.classes, s.inner)
		lp = ir.FromSlice(cx.DType, x.Shape, l)
		y, err = lossOut(c, s, cx.DType, l)
	case []float64:
		l := lossLogSoftmax(d, s.n, s.classes, s.inner)
		lp = ir.FromSlice(cx.DType, x.Shape, l)
		y, err = lossOut(c, s, cx.DType, l)
	}
	if err != nil {
		return nil, err
	}
	if len(c.Node.Outputs) < 2 {
		return one(laUncanon(y, x.DType))
	}
	return []Value{laUncanon(y, x.DType), laUncanon(lp, x.DType)}, nil
}
