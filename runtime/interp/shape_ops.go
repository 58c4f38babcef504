package interp

import (
	"github.com/optc-dev/optc/ir"
)

// Kernels that change only a tensor's shape (the data is shared, tensors
// are immutable by convention) or read its shape: Reshape, Flatten,
// Squeeze, Unsqueeze, Shape, Size, Identity; and Expand.

func init() {
	Register("Reshape", shapeReshape)
	Register("Flatten", shapeFlatten)
	Register("Squeeze", shapeSqueeze)
	Register("Unsqueeze", shapeUnsqueeze)
	Register("Shape", shapeShape)
	Register("Size", shapeSize)
	Register("Identity", shapeIdentity)
	Register("Expand", shapeExpand)
}

func shapeReshape(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	var spec []int64
	if c.Opset < 5 {
		spec = c.Node.AttrInts("shape", nil)
	} else {
		s, err := tensorArg(c, in, 1)
		if err != nil {
			return nil, err
		}
		if spec, err = tmInts(c, s, "shape"); err != nil {
			return nil, err
		}
	}
	allowZero := c.Node.AttrInt("allowzero", 0) != 0
	shape, err := shapeResolve(c, x.Shape, spec, allowZero)
	if err != nil {
		return nil, err
	}
	return one(x.Reshaped(shape))
}

// shapeResolve applies Reshape's rules: 0 copies the input dim (unless
// allowzero), one -1 is inferred from the element count.
func shapeResolve(c *Call, in, spec []int64, allowZero bool) ([]int64, error) {
	out := make([]int64, len(spec))
	infer := -1
	known := int64(1)
	for i, d := range spec {
		switch {
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, c.Errorf("shape %v: 0 at position %d copies a dim the input %v does not have", spec, i, in)
			}
			out[i] = in[i]
		case d == -1:
			if infer >= 0 {
				return nil, c.Errorf("shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case d < 0:
			return nil, c.Errorf("shape %v has invalid dim %d", spec, d)
		default:
			out[i] = d
		}
		known *= out[i]
	}
	total := ir.NumElements(in)
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, c.Errorf("cannot reshape %v to %v: %d elements do not divide into dims of product %d", in, spec, total, known)
		}
		out[infer] = total / known
	} else if known != total {
		return nil, c.Errorf("cannot reshape %v (%d elements) to %v (%d elements)", in, total, out, known)
	}
	return out, nil
}

func shapeFlatten(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	r := int64(x.Rank())
	axis := c.Node.AttrInt("axis", 1)
	if axis < -r || axis > r {
		return nil, c.Errorf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	return one(x.Reshaped([]int64{ir.NumElements(x.Shape[:axis]), ir.NumElements(x.Shape[axis:])}))
}

// shapeAxesArg reads the axes of Squeeze/Unsqueeze: an attribute before
// opset 13, an optional input after.
func shapeAxesArg(c *Call, in []Value) ([]int64, bool, error) {
	if c.Opset < 13 {
		if !c.Node.HasAttr("axes") {
			return nil, false, nil
		}
		return c.Node.AttrInts("axes", nil), true, nil
	}
	a, err := optTensorArg(c, in, 1)
	if err != nil || a == nil {
		return nil, false, err
	}
	axes, err := tmInts(c, a, "axes")
	return axes, true, err
}

func shapeSqueeze(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	axes, given, err := shapeAxesArg(c, in)
	if err != nil {
		return nil, err
	}
	drop := make([]bool, x.Rank())
	if given {
		ax, err := tmAxes(c, axes, x.Rank())
		if err != nil {
			return nil, err
		}
		for _, a := range ax {
			if x.Shape[a] != 1 {
				return nil, c.Errorf("cannot squeeze axis %d of shape %v: size is not 1", a, x.Shape)
			}
			drop[a] = true
		}
	} else {
		for i, d := range x.Shape {
			drop[i] = d == 1
		}
	}
	var shape []int64
	for i, d := range x.Shape {
		if !drop[i] {
			shape = append(shape, d)
		}
	}
	return one(x.Reshaped(shape))
}

func shapeUnsqueeze(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	axes, given, err := shapeAxesArg(c, in)
	if err != nil {
		return nil, err
	}
	if !given {
		return nil, c.Errorf("axes are required")
	}
	r := x.Rank() + len(axes)
	ax, err := tmAxes(c, axes, r)
	if err != nil {
		return nil, err
	}
	ins := make([]bool, r)
	for _, a := range ax {
		ins[a] = true
	}
	shape := make([]int64, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			shape = append(shape, 1)
		} else {
			shape = append(shape, x.Shape[j])
			j++
		}
	}
	return one(x.Reshaped(shape))
}

func shapeShape(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	r := int64(x.Rank())
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end := clamp(c.Node.AttrInt("start", 0)), clamp(c.Node.AttrInt("end", r))
	dims := []int64{}
	if start < end {
		dims = append(dims, x.Shape[start:end]...)
	}
	return one(ir.FromSlice(ir.Int64, []int64{int64(len(dims))}, dims))
}

func shapeSize(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	return one(ir.ScalarI64(int64(x.Len())))
}

// shapeIdentity passes any value through: a tensor, a sequence or an
// optional (nil when empty).
func shapeIdentity(c *Call, in []Value) ([]Value, error) {
	if len(in) != 1 {
		return nil, c.Errorf("want 1 input, got %d", len(in))
	}
	return []Value{in[0]}, nil
}

func shapeExpand(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	s, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	spec, err := tmInts(c, s, "shape")
	if err != nil {
		return nil, err
	}
	out, err := broadcastShapes(x.Shape, spec)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	if err := tmCheckShape(c, out); err != nil {
		return nil, err
	}
	return one(tmBroadcastTo(x, out))
}

// tmBroadcastTo materializes x broadcast to shape out (which must be a
// valid broadcast of x's shape).
func tmBroadcastTo(x *ir.Tensor, out []int64) *ir.Tensor {
	if sameShape(x.Shape, out) {
		return x
	}
	return tmTake(x, out, broadcastIndex(x.Shape, out), nil)
}
