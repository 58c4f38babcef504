package interp

import (
	"fmt"
	"slices"

	"github.com/optc-dev/optc/ir"
)

// Shared helpers for kernels: argument access, shapes and broadcasting.

// tensorArg returns input i as a dense tensor, or an error naming the node
// if it is missing or not a tensor.
func tensorArg(c *Call, in []Value, i int) (*ir.Tensor, error) {
	if i >= len(in) || in[i] == nil {
		return nil, c.Errorf("input %d is required", i)
	}
	t, ok := in[i].(*ir.Tensor)
	if !ok {
		return nil, c.Errorf("input %d: want a tensor, got %T", i, in[i])
	}
	return t.Dense()
}

// optTensorArg returns input i as a dense tensor, or nil if it is absent.
func optTensorArg(c *Call, in []Value, i int) (*ir.Tensor, error) {
	if i >= len(in) || in[i] == nil {
		return nil, nil
	}
	return tensorArg(c, in, i)
}

// tensorArgs returns inputs 0..n-1 as dense tensors, in order: the first
// req are required (tensorArg), the rest optional (optTensorArg: nil when
// absent).
func tensorArgs(c *Call, in []Value, req, n int) ([]*ir.Tensor, error) {
	ts := make([]*ir.Tensor, n)
	for i := range ts {
		var err error
		if i < req {
			ts[i], err = tensorArg(c, in, i)
		} else {
			ts[i], err = optTensorArg(c, in, i)
		}
		if err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// one wraps a single output.
func one(t *ir.Tensor) ([]Value, error) { return []Value{t}, nil }

// strides returns row-major strides of shape.
func strides(shape []int64) []int64 {
	s := make([]int64, len(shape))
	acc := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// broadcastShapes returns the numpy-style broadcast of the given shapes.
func broadcastShapes(shapes ...[]int64) ([]int64, error) {
	rank := 0
	for _, s := range shapes {
		if len(s) > rank {
			rank = len(s)
		}
	}
	out := make([]int64, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := out[off+i]
			switch {
			case d == o || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				return nil, fmt.Errorf("shapes %v are not broadcastable (dim %d: %d vs %d)", shapes, off+i, o, d)
			}
		}
	}
	return out, nil
}

// broadcastIndex maps every element index of the output shape to the flat
// index of an input of shape in (which broadcasts to out). The returned
// slice has NumElements(out) entries.
func broadcastIndex(in, out []int64) []int {
	n := int(ir.NumElements(out))
	idx := make([]int, n)
	if sameShape(in, out) {
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	rank := len(out)
	// Effective strides of the input aligned to out (0 where broadcast).
	st := make([]int64, rank)
	ins := strides(in)
	off := rank - len(in)
	for i := range in {
		if in[i] != 1 {
			st[off+i] = ins[i]
		}
	}
	counter := make([]int64, rank)
	cur := int64(0)
	for i := 0; i < n; i++ {
		idx[i] = int(cur)
		for d := rank - 1; d >= 0; d-- {
			counter[d]++
			cur += st[d]
			if counter[d] < out[d] {
				break
			}
			cur -= st[d] * counter[d]
			counter[d] = 0
		}
	}
	return idx
}

func sameShape(a, b []int64) bool { return slices.Equal(a, b) }

// normAxis resolves a possibly negative axis against rank, with an error
// naming the node when out of range.
func normAxis(c *Call, axis int64, rank int) (int, error) {
	if axis < -int64(rank) || axis >= int64(rank) {
		return 0, c.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis), nil
}
