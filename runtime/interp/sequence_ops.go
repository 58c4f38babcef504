package interp

import (
	"github.com/optc-dev/optc/ir"
)

// Sequence and optional kernels. A sequence is a Sequence value (its
// Tensors slice is never modified in place: kernels build new slices). An
// optional value is its element (a tensor or a Sequence) when present and
// nil when empty; an optional holding an empty sequence is a Sequence with
// no tensors, which is distinct from nil.

func init() {
	Register("SequenceEmpty", seqEmpty)
	Register("SequenceConstruct", seqConstruct)
	Register("SequenceInsert", seqInsert)
	Register("SequenceAt", seqAt)
	Register("SequenceErase", seqErase)
	Register("SequenceLength", seqLength)
	Register("SplitToSequence", seqSplitToSequence)
	Register("ConcatFromSequence", seqConcatFromSequence)
	Register("SequenceMap", seqMap)
	Register("Optional", seqOptional)
	Register("OptionalHasElement", seqOptionalHasElement)
	Register("OptionalGetElement", seqOptionalGetElement)
}

// seqArg returns input i as a sequence.
func seqArg(c *Call, in []Value, i int) (Sequence, error) {
	if i >= len(in) || in[i] == nil {
		return Sequence{}, c.Errorf("input %d is required", i)
	}
	switch s := in[i].(type) {
	case Sequence:
		return s, nil
	case *Sequence:
		return *s, nil
	}
	return Sequence{}, c.Errorf("input %d: want a sequence, got %T", i, in[i])
}

// seqPosition reads an optional position input and resolves it against
// [-n, hi] (hi = n for insertion, n-1 for access); def is used when absent.
func seqPosition(c *Call, in []Value, i int, n, hi, def int) (int, error) {
	t, err := optTensorArg(c, in, i)
	if err != nil {
		return 0, err
	}
	if t == nil {
		return def, nil
	}
	p, err := tmScalarInt(c, t, "position")
	if err != nil {
		return 0, err
	}
	if p < -int64(n) || p > int64(hi) {
		return 0, c.Errorf("position %d out of range [%d, %d] for a sequence of length %d", p, -n, hi, n)
	}
	if p < 0 {
		p += int64(n)
	}
	return int(p), nil
}

func seqEmpty(c *Call, in []Value) ([]Value, error) {
	dt := ir.Float32
	if c.Node.HasAttr("dtype") {
		var err error
		if dt, err = tensorONNXDType(c, c.Node.AttrInt("dtype", 1)); err != nil {
			return nil, err
		}
	}
	return []Value{Sequence{ElemType: dt, Tensors: []*ir.Tensor{}}}, nil
}

func seqConstruct(c *Call, in []Value) ([]Value, error) {
	if len(in) == 0 {
		return nil, c.Errorf("needs at least one input")
	}
	ts := make([]*ir.Tensor, len(in))
	for i := range in {
		t, err := tensorArg(c, in, i)
		if err != nil {
			return nil, err
		}
		if i > 0 && t.DType != ts[0].DType {
			return nil, c.Errorf("input %d has dtype %s, input 0 has %s", i, t.DType, ts[0].DType)
		}
		ts[i] = t
	}
	return []Value{Sequence{ElemType: ts[0].DType, Tensors: ts}}, nil
}

func seqInsert(c *Call, in []Value) ([]Value, error) {
	s, err := seqArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	t, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	// An empty sequence takes the dtype of its first element (SequenceEmpty
	// defaults to float32 even where a model goes on to insert integers).
	if len(s.Tensors) > 0 && t.DType != s.ElemType {
		return nil, c.Errorf("cannot insert a %s tensor into a sequence of %s", t.DType, s.ElemType)
	}
	n := len(s.Tensors)
	p, err := seqPosition(c, in, 2, n, n, n)
	if err != nil {
		return nil, err
	}
	ts := make([]*ir.Tensor, 0, n+1)
	ts = append(ts, s.Tensors[:p]...)
	ts = append(ts, t)
	ts = append(ts, s.Tensors[p:]...)
	return []Value{Sequence{ElemType: t.DType, Tensors: ts}}, nil
}

func seqAt(c *Call, in []Value) ([]Value, error) {
	s, err := seqArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	if len(in) < 2 || in[1] == nil {
		return nil, c.Errorf("position is required")
	}
	n := len(s.Tensors)
	p, err := seqPosition(c, in, 1, n, n-1, 0)
	if err != nil {
		return nil, err
	}
	return one(s.Tensors[p])
}

func seqErase(c *Call, in []Value) ([]Value, error) {
	s, err := seqArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	n := len(s.Tensors)
	if n == 0 {
		return nil, c.Errorf("cannot erase from an empty sequence")
	}
	p, err := seqPosition(c, in, 1, n, n-1, n-1)
	if err != nil {
		return nil, err
	}
	ts := make([]*ir.Tensor, 0, n-1)
	ts = append(ts, s.Tensors[:p]...)
	ts = append(ts, s.Tensors[p+1:]...)
	return []Value{Sequence{ElemType: s.ElemType, Tensors: ts}}, nil
}

func seqLength(c *Call, in []Value) ([]Value, error) {
	s, err := seqArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	return one(ir.ScalarI64(int64(len(s.Tensors))))
}

func seqSplitToSequence(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	axis, err := normAxis(c, c.Node.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, err
	}
	dim := x.Shape[axis]
	st, err := optTensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	var sizes []int64
	squeeze := false
	switch {
	case st == nil:
		sizes = make([]int64, dim)
		for i := range sizes {
			sizes[i] = 1
		}
		squeeze = c.Node.AttrInt("keepdims", 1) == 0
	case st.Rank() == 0:
		chunk, err := tmScalarInt(c, st, "split")
		if err != nil {
			return nil, err
		}
		if chunk <= 0 {
			return nil, c.Errorf("split size must be positive, got %d", chunk)
		}
		for left := dim; left > 0; left -= chunk {
			sizes = append(sizes, min(chunk, left))
		}
	default:
		split, err := tmInts(c, st, "split")
		if err != nil {
			return nil, err
		}
		if sizes, err = tensorSplitSizes(c, dim, split, len(split)); err != nil {
			return nil, err
		}
	}
	ts := make([]*ir.Tensor, len(sizes))
	var off int64
	for i, s := range sizes {
		t := tmSliceAxis(x, axis, off, off+s)
		if squeeze {
			t = t.Reshaped(append(append([]int64{}, x.Shape[:axis]...), x.Shape[axis+1:]...))
		}
		ts[i] = t
		off += s
	}
	return []Value{Sequence{ElemType: x.DType, Tensors: ts}}, nil
}

func seqConcatFromSequence(c *Call, in []Value) ([]Value, error) {
	s, err := seqArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	if !c.Node.HasAttr("axis") {
		return nil, c.Errorf("attribute axis is required")
	}
	if len(s.Tensors) == 0 {
		return nil, c.Errorf("cannot concatenate an empty sequence")
	}
	newAxis := c.Node.AttrInt("new_axis", 0) != 0
	r := s.Tensors[0].Rank()
	if newAxis {
		r++
	}
	axis, err := normAxis(c, c.Node.AttrInt("axis", 0), r)
	if err != nil {
		return nil, err
	}
	var out *ir.Tensor
	if newAxis {
		out, err = tmStack(c, s.Tensors, axis)
	} else {
		out, err = tmConcat(c, s.Tensors, axis)
	}
	if err != nil {
		return nil, err
	}
	return one(out)
}

func seqMap(c *Call, in []Value) ([]Value, error) {
	body := cfGraphAttr(c, "body")
	if body == nil {
		return nil, c.Errorf("attribute body is required")
	}
	s, err := seqArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	n := len(s.Tensors)
	if len(body.Inputs) != len(in) || len(body.Outputs) != len(c.Node.Outputs) {
		return nil, c.Errorf("body has %d inputs and %d outputs, node has %d and %d", len(body.Inputs), len(body.Outputs), len(in), len(c.Node.Outputs))
	}
	outs := make([]Sequence, len(body.Outputs))
	for j, o := range body.Outputs {
		outs[j] = Sequence{ElemType: cfElemDType(o.Type), Tensors: make([]*ir.Tensor, 0, n)}
	}
	args := make([]Value, len(in))
	for i := 0; i < n; i++ {
		args[0] = s.Tensors[i]
		for k := 1; k < len(in); k++ {
			switch v := in[k].(type) {
			case Sequence:
				if len(v.Tensors) != n {
					return nil, c.Errorf("input %d is a sequence of length %d, input 0 has %d", k, len(v.Tensors), n)
				}
				args[k] = v.Tensors[i]
			default:
				args[k] = v
			}
		}
		res, err := c.RunSubgraph(body, args)
		if err != nil {
			return nil, err
		}
		for j, r := range res {
			t, ok := r.(*ir.Tensor)
			if !ok {
				return nil, c.Errorf("body output %d is %T, want a tensor", j, r)
			}
			outs[j].Tensors = append(outs[j].Tensors, t)
			outs[j].ElemType = t.DType
		}
	}
	vals := make([]Value, len(outs))
	for j := range outs {
		vals[j] = outs[j]
	}
	return vals, nil
}

func seqOptional(c *Call, in []Value) ([]Value, error) {
	if len(in) == 0 {
		return []Value{nil}, nil
	}
	return []Value{in[0]}, nil
}

func seqOptionalHasElement(c *Call, in []Value) ([]Value, error) {
	has := len(in) > 0 && in[0] != nil
	return one(ir.FromSlice(ir.Bool, nil, []bool{has}))
}

func seqOptionalGetElement(c *Call, in []Value) ([]Value, error) {
	if len(in) == 0 || in[0] == nil {
		return nil, c.Errorf("the optional input is empty")
	}
	return []Value{in[0]}, nil
}
