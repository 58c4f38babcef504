package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// Softmax, LogSoftmax and Hardmax. Before opset 13 the input is coerced to
// 2D at axis (default 1): [prod(shape[:axis]), prod(shape[axis:])] and the
// op works on the rows. From opset 13 it works along the single dimension
// axis (default -1). Both reduce to an (outer, n, inner) layout where the
// op runs over n elements spaced inner apart.

type actSoftmaxMode int

const (
	actSoftmax actSoftmaxMode = iota
	actLogSoftmax
	actHardmax
)

func init() {
	Register("Softmax", actSoftmaxKernel(actSoftmax))
	Register("LogSoftmax", actSoftmaxKernel(actLogSoftmax))
	Register("Hardmax", actSoftmaxKernel(actHardmax))
}

func actSoftmaxKernel(mode actSoftmaxMode) Kernel {
	return func(c *Call, in []Value) ([]Value, error) {
		x, err := tensorArg(c, in, 0)
		if err != nil {
			return nil, err
		}
		rank := x.Rank()
		def := int64(-1)
		if c.Opset < 13 {
			def = 1
		}
		if rank == 0 {
			return nil, c.Errorf("input must have rank >= 1")
		}
		axis, err := normAxis(c, c.Node.AttrInt("axis", def), rank)
		if err != nil {
			return nil, err
		}
		outer := int(ir.NumElements(x.Shape[:axis]))
		n, inner := int(x.Shape[axis]), int(ir.NumElements(x.Shape[axis+1:]))
		if c.Opset < 13 {
			n, inner = n*inner, 1
		}
		var y *ir.Tensor
		switch x.DType {
		case ir.Float32:
			y = actSoftmaxT[float32](x, outer, n, inner, mode)
		case ir.Float64:
			y = actSoftmaxT[float64](x, outer, n, inner, mode)
		case ir.Float16, ir.BFloat16:
			y = ewNarrow(actSoftmaxT[float32](ewWiden(x), outer, n, inner, mode), x.DType)
		default:
			return nil, c.Errorf("input dtype %s: want a float type", x.DType)
		}
		return one(y)
	}
}

// actSoftmaxT computes in T (max, sums, division) with exp and log
// evaluated in float64 and rounded to T, as numpy does for float32.
func actSoftmaxT[T ewFloat](x *ir.Tensor, outer, n, inner int, mode actSoftmaxMode) *ir.Tensor {
	xs := ir.Elems[T](x)
	ys := make([]T, len(xs))
	if n == 0 {
		outer = 0
	}
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			base := o*n*inner + j
			at := func(k int) int { return base + k*inner }
			// First maximum (Hardmax picks the first on ties).
			arg, m := 0, xs[base]
			for k := 1; k < n; k++ {
				if v := xs[at(k)]; v > m {
					arg, m = k, v
				}
			}
			if mode == actHardmax {
				ys[at(arg)] = 1
				continue
			}
			var sum T
			for k := 0; k < n; k++ {
				e := T(math.Exp(float64(xs[at(k)] - m)))
				ys[at(k)] = e
				sum += e
			}
			if mode == actSoftmax {
				for k := 0; k < n; k++ {
					ys[at(k)] /= sum
				}
				continue
			}
			ls := T(math.Log(float64(sum)))
			for k := 0; k < n; k++ {
				ys[at(k)] = xs[at(k)] - m - ls
			}
		}
	}
	return &ir.Tensor{DType: x.DType, Shape: append([]int64{}, x.Shape...), Data: ys}
}
