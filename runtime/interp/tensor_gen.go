package interp

import (
	"cmp"
	"slices"

	"github.com/optc-dev/optc/ir"
)

// Kernels that create tensors: Constant, ConstantOfShape, EyeLike; and
// Unique.

func init() {
	Register("Constant", tensorConstant)
	Register("ConstantOfShape", tensorConstantOfShape)
	Register("EyeLike", tensorEyeLike)
	Register("Unique", tensorUnique)
}

func tensorConstant(c *Call, in []Value) ([]Value, error) {
	n := c.Node
	for _, name := range n.AttrNames() {
		a := n.Attrs[name]
		switch name {
		case "value":
			if a.Tensor == nil {
				return nil, c.Errorf("attribute value holds no tensor")
			}
			t, err := a.Tensor.Dense()
			if err != nil {
				return nil, c.Errorf("value: %v", err)
			}
			return one(t)
		case "value_float":
			return one(ir.ScalarF32(a.Float))
		case "value_floats":
			return one(ir.FromSlice(ir.Float32, []int64{int64(len(a.Floats))}, append([]float32{}, a.Floats...)))
		case "value_int":
			return one(ir.ScalarI64(a.Int))
		case "value_ints":
			return one(ir.FromSlice(ir.Int64, []int64{int64(len(a.Ints))}, append([]int64{}, a.Ints...)))
		case "value_string":
			return one(ir.FromSlice(ir.String, nil, []string{a.String}))
		case "value_strings":
			return one(ir.FromSlice(ir.String, []int64{int64(len(a.Strings))}, append([]string{}, a.Strings...)))
		case "sparse_value":
			return nil, c.Errorf("sparse_value is not supported")
		}
	}
	return nil, c.Errorf("no value attribute")
}

func tensorConstantOfShape(c *Call, in []Value) ([]Value, error) {
	st, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	shape, err := tmInts(c, st, "shape")
	if err != nil {
		return nil, err
	}
	if err := tmCheckShape(c, shape); err != nil {
		return nil, err
	}
	val := ir.NewTensor(ir.Float32, 1)
	if a, ok := c.Node.Attrs["value"]; ok && a.Tensor != nil {
		if val, err = a.Tensor.Dense(); err != nil {
			return nil, c.Errorf("value: %v", err)
		}
		if val.Len() != 1 {
			return nil, c.Errorf("value must hold one element, got %s", val)
		}
	}
	idx := make([]int, ir.NumElements(shape))
	return one(tmTake(val, shape, idx, nil))
}

func tensorEyeLike(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	if x.Rank() != 2 {
		return nil, c.Errorf("input must be 2-D, got shape %v", x.Shape)
	}
	dt := x.DType
	if c.Node.HasAttr("dtype") {
		if dt, err = tensorONNXDType(c, c.Node.AttrInt("dtype", 0)); err != nil {
			return nil, err
		}
	}
	if dt == ir.String {
		return nil, c.Errorf("dtype string is not allowed")
	}
	k := c.Node.AttrInt("k", 0)
	out := ir.NewTensor(dt, x.Shape...)
	rows, cols := x.Shape[0], x.Shape[1]
	for i := int64(0); i < rows; i++ {
		if j := i + k; j >= 0 && j < cols {
			out.SetFloat64(int(i*cols+j), 1)
		}
	}
	return one(out)
}

// tensorONNXDType maps an ONNX TensorProto.DataType number (a dtype
// attribute) to an ir.DType, with an error naming the node.
func tensorONNXDType(c *Call, code int64) (ir.DType, error) {
	if d, ok := ir.DTypeFromONNX(code); ok {
		return d, nil
	}
	return ir.Undefined, c.Errorf("unsupported dtype code %d", code)
}

// tensorCompareAt orders elements i and j of a dense tensor (NaNs last,
// as numpy's sort does).
func tensorCompareAt(t *ir.Tensor, i, j int) int {
	switch d := t.Data.(type) {
	case []string:
		return cmp.Compare(d[i], d[j])
	case []int64:
		return cmp.Compare(d[i], d[j])
	case []uint64:
		return cmp.Compare(d[i], d[j])
	}
	return cmp.Compare(t.Float64At(i), t.Float64At(j))
}

func tensorUnique(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	sorted := c.Node.AttrInt("sorted", 1) != 0
	axis := 0
	if c.Node.HasAttr("axis") {
		if axis, err = normAxis(c, c.Node.AttrInt("axis", 0), x.Rank()); err != nil {
			return nil, err
		}
	} else {
		x = x.Reshaped([]int64{int64(x.Len())})
	}
	// View x as [outer, n, inner]; item k is the sub-tensor x[:, k, :].
	n := int(x.Shape[axis])
	outer := int(ir.NumElements(x.Shape[:axis]))
	inner := int(ir.NumElements(x.Shape[axis+1:]))
	elem := func(k, o, q int) int { return (o*n+k)*inner + q }
	cmpItems := func(a, b int) int {
		for o := 0; o < outer; o++ {
			for q := 0; q < inner; q++ {
				if r := tensorCompareAt(x, elem(a, o, q), elem(b, o, q)); r != 0 {
					return r
				}
			}
		}
		return 0
	}
	// Group equal items: order the item indices (stably, so the first of
	// each group is its first occurrence), then walk the groups.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, cmpItems)
	var firsts []int // first occurrence of each unique item, in sorted order
	var counts []int64
	group := make([]int, n) // item -> group number in sorted order
	for p, k := range order {
		if p == 0 || cmpItems(order[p-1], k) != 0 {
			firsts = append(firsts, k)
			counts = append(counts, 0)
		}
		group[k] = len(firsts) - 1
		counts[len(counts)-1]++
	}
	// rank maps a group in sorted order to its position in the output.
	rank := make([]int, len(firsts))
	for g := range rank {
		rank[g] = g
	}
	if !sorted {
		byFirst := make([]int, len(firsts))
		for g := range byFirst {
			byFirst[g] = g
		}
		slices.SortFunc(byFirst, func(a, b int) int { return cmp.Compare(firsts[a], firsts[b]) })
		for pos, g := range byFirst {
			rank[g] = pos
		}
	}
	u := len(firsts)
	picked := make([]int, u) // output position -> item index
	idxOut := make([]int64, u)
	cntOut := make([]int64, u)
	for g, k := range firsts {
		picked[rank[g]] = k
		idxOut[rank[g]] = int64(k)
		cntOut[rank[g]] = counts[g]
	}
	inv := make([]int64, n)
	for k := range inv {
		inv[k] = int64(rank[group[k]])
	}
	shape := append([]int64{}, x.Shape...)
	shape[axis] = int64(u)
	take := make([]int, 0, outer*u*inner)
	for o := 0; o < outer; o++ {
		for _, k := range picked {
			for q := 0; q < inner; q++ {
				take = append(take, elem(k, o, q))
			}
		}
	}
	vec := func(v []int64) *ir.Tensor { return ir.FromSlice(ir.Int64, []int64{int64(len(v))}, v) }
	return []Value{tmTake(x, shape, take, nil), vec(idxOut), vec(inv), vec(cntOut)}, nil
}
