package interp

import (
	"github.com/optc-dev/optc/ir"
)

// Kernels that rearrange elements: Transpose, Concat, Split, Slice, Tile,
// Pad, ReverseSequence, Compress.

func init() {
	Register("Transpose", tensorTranspose)
	Register("Concat", tensorConcat)
	Register("Split", tensorSplit)
	Register("Slice", tensorSlice)
	Register("Tile", tensorTile)
	Register("Pad", tensorPad)
	Register("ReverseSequence", tensorReverseSequence)
	Register("Compress", tensorCompress)
}

func tensorTranspose(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	r := x.Rank()
	perm := c.Node.AttrInts("perm", nil)
	if perm == nil {
		perm = make([]int64, r)
		for i := range perm {
			perm[i] = int64(r - 1 - i)
		}
	}
	if len(perm) != r {
		return nil, c.Errorf("perm %v has %d entries for rank %d", perm, len(perm), r)
	}
	p, err := tmAxes(c, perm, r)
	if err != nil {
		return nil, err
	}
	st := strides(x.Shape)
	shape := make([]int64, r)
	pst := make([]int64, r)
	start := make([]int64, r)
	step := make([]int64, r)
	for d, a := range p {
		shape[d] = x.Shape[a]
		pst[d] = st[a]
		step[d] = 1
	}
	return one(tmTakeView(x, shape, tmStridedMap(shape, start, step, pst), nil))
}

func tensorConcat(c *Call, in []Value) ([]Value, error) {
	if len(in) == 0 {
		return nil, c.Errorf("no inputs")
	}
	ts, err := tensorArgs(c, in, len(in), len(in))
	if err != nil {
		return nil, err
	}
	if !c.Node.HasAttr("axis") && c.Opset >= 4 {
		return nil, c.Errorf("attribute axis is required")
	}
	axis, err := normAxis(c, c.Node.AttrInt("axis", 1), ts[0].Rank())
	if err != nil {
		return nil, err
	}
	out, err := tmConcat(c, ts, axis)
	if err != nil {
		return nil, err
	}
	return one(out)
}

// tensorSplitSizes returns the chunk sizes of Split/SplitToSequence-like
// ops: explicit sizes must sum to dim; otherwise n equal chunks (the last
// one smaller when dim does not divide, as opset 18 allows).
func tensorSplitSizes(c *Call, dim int64, split []int64, n int) ([]int64, error) {
	if split != nil {
		var sum int64
		for _, s := range split {
			if s < 0 {
				return nil, c.Errorf("negative split size in %v", split)
			}
			sum += s
		}
		if sum != dim {
			return nil, c.Errorf("split sizes %v sum to %d, the axis has %d", split, sum, dim)
		}
		return split, nil
	}
	if n <= 0 {
		return nil, c.Errorf("no outputs to split into")
	}
	chunk := (dim + int64(n) - 1) / int64(n)
	sizes := make([]int64, n)
	left := dim
	for i := range sizes {
		sizes[i] = min(chunk, left)
		left -= sizes[i]
	}
	return sizes, nil
}

func tensorSplit(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	axis, err := normAxis(c, c.Node.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, err
	}
	var split []int64
	if c.Opset < 13 {
		split = c.Node.AttrInts("split", nil)
		if split == nil && len(in) > 1 && in[1] != nil { // opset 1 took split as an input
			s, err := tensorArg(c, in, 1)
			if err != nil {
				return nil, err
			}
			if split, err = tmInts(c, s, "split"); err != nil {
				return nil, err
			}
		}
	} else if s, err := optTensorArg(c, in, 1); err != nil {
		return nil, err
	} else if s != nil {
		if split, err = tmInts(c, s, "split"); err != nil {
			return nil, err
		}
	}
	n := len(c.Node.Outputs)
	if n == 0 {
		return nil, c.Errorf("no outputs")
	}
	if split != nil && len(split) != n {
		return nil, c.Errorf("split %v has %d entries for %d outputs", split, len(split), n)
	}
	if split == nil && c.Opset < 18 && x.Shape[axis]%int64(n) != 0 {
		return nil, c.Errorf("axis %d of size %d does not split evenly into %d outputs", axis, x.Shape[axis], n)
	}
	sizes, err := tensorSplitSizes(c, x.Shape[axis], split, n)
	if err != nil {
		return nil, err
	}
	outs := make([]Value, n)
	var off int64
	for i, s := range sizes {
		outs[i] = tmSliceAxis(x, axis, off, off+s)
		off += s
	}
	return outs, nil
}

func tensorSlice(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	r := x.Rank()
	var starts, ends, axes, steps []int64
	if c.Opset < 10 {
		starts = c.Node.AttrInts("starts", nil)
		ends = c.Node.AttrInts("ends", nil)
		axes = c.Node.AttrInts("axes", nil)
	} else {
		read := func(i int, what string) ([]int64, error) {
			t, err := optTensorArg(c, in, i)
			if err != nil || t == nil {
				return nil, err
			}
			return tmInts(c, t, what)
		}
		if starts, err = read(1, "starts"); err != nil {
			return nil, err
		}
		if ends, err = read(2, "ends"); err != nil {
			return nil, err
		}
		if axes, err = read(3, "axes"); err != nil {
			return nil, err
		}
		if steps, err = read(4, "steps"); err != nil {
			return nil, err
		}
	}
	if len(starts) != len(ends) {
		return nil, c.Errorf("starts %v and ends %v differ in length", starts, ends)
	}
	if axes == nil {
		axes = make([]int64, len(starts))
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, c.Errorf("starts, ends, axes and steps differ in length (%d, %d, %d, %d)", len(starts), len(ends), len(axes), len(steps))
	}
	ax, err := tmAxes(c, axes, r)
	if err != nil {
		return nil, err
	}
	shape := append([]int64{}, x.Shape...)
	start := make([]int64, r)
	step := make([]int64, r)
	for i := range step {
		step[i] = 1
	}
	for i, a := range ax {
		dim := x.Shape[a]
		s, e, st := starts[i], ends[i], steps[i]
		if st == 0 {
			return nil, c.Errorf("step 0 on axis %d", a)
		}
		start[a], step[a], shape[a] = tensorSliceRange(s, e, st, dim)
	}
	return one(tmTakeView(x, shape, tmStridedMap(shape, start, step, strides(x.Shape)), nil))
}

// tensorSliceRange clamps a slice start/end against dim the way ONNX (and
// numpy) do and returns the effective start, step and element count.
func tensorSliceRange(s, e, step, dim int64) (int64, int64, int64) {
	if s < 0 {
		s += dim
	}
	if e < 0 {
		e += dim
	}
	// A step longer than the axis takes at most one element; bounding it
	// keeps the arithmetic below from overflowing.
	step = min(max(step, -dim-1), dim+1)
	var n int64
	if step > 0 {
		s = min(max(s, 0), dim)
		e = min(max(e, 0), dim)
		if e > s {
			n = (e - s + step - 1) / step
		}
	} else {
		s = min(max(s, -1), dim-1)
		e = min(max(e, -1), dim-1)
		if s > e {
			n = (s - e - step - 1) / -step
		}
	}
	return s, step, n
}

func tensorTile(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	rt, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	reps, err := tmInts(c, rt, "repeats")
	if err != nil {
		return nil, err
	}
	if len(reps) != x.Rank() {
		return nil, c.Errorf("repeats %v has %d entries for rank %d", reps, len(reps), x.Rank())
	}
	shape := make([]int64, x.Rank())
	for d := range shape {
		if reps[d] < 0 {
			return nil, c.Errorf("negative repeat %d", reps[d])
		}
		shape[d] = x.Shape[d] * reps[d]
	}
	if err := tmCheckShape(c, shape); err != nil {
		return nil, err
	}
	st := strides(x.Shape)
	m := make([][]int, len(shape))
	for d := range shape {
		m[d] = make([]int, shape[d])
		for o := range m[d] {
			m[d][o] = int(int64(o) % x.Shape[d] * st[d])
		}
	}
	return one(tmTakeView(x, shape, m, nil))
}

func tensorPad(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	r := x.Rank()
	mode := c.Node.AttrString("mode", "constant")
	var pads []int64
	var fill *ir.Tensor
	if c.Opset < 11 {
		pads = c.Node.AttrInts("pads", c.Node.AttrInts("paddings", nil))
		fill = ir.NewTensor(x.DType, 1)
		if v := c.Node.AttrFloat("value", 0); v != 0 {
			fill.SetFloat64(0, float64(v))
		}
	} else {
		pt, err := tensorArg(c, in, 1)
		if err != nil {
			return nil, err
		}
		if pads, err = tmInts(c, pt, "pads"); err != nil {
			return nil, err
		}
		if fill, err = optTensorArg(c, in, 2); err != nil {
			return nil, err
		}
		if fill != nil && (fill.DType != x.DType || fill.Len() != 1) {
			return nil, c.Errorf("constant_value must be one %s element, got %s", x.DType, fill)
		}
	}
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if a, err := optTensorArg(c, in, 3); err != nil {
		return nil, err
	} else if a != nil {
		av, err := tmInts(c, a, "axes")
		if err != nil {
			return nil, err
		}
		if axes, err = tmAxes(c, av, r); err != nil {
			return nil, err
		}
	}
	if len(pads) != 2*len(axes) {
		return nil, c.Errorf("pads %v must have %d entries", pads, 2*len(axes))
	}
	begin := make([]int64, r)
	end := make([]int64, r)
	for i, a := range axes {
		begin[a], end[a] = pads[i], pads[i+len(axes)]
	}
	shape := make([]int64, r)
	for d := range shape {
		shape[d] = x.Shape[d] + begin[d] + end[d]
		if shape[d] < 0 {
			return nil, c.Errorf("pads %v make dim %d negative (input shape %v)", pads, d, x.Shape)
		}
	}
	if err := tmCheckShape(c, shape); err != nil {
		return nil, err
	}
	st := strides(x.Shape)
	m := make([][]int, r)
	for d := range shape {
		m[d] = make([]int, shape[d])
		n := x.Shape[d]
		for o := range m[d] {
			i := int64(o) - begin[d]
			if i < 0 || i >= n {
				if n == 0 && mode != "constant" {
					return nil, c.Errorf("cannot %s-pad the empty axis %d", mode, d)
				}
				switch mode {
				case "constant":
					i = -1
				case "edge":
					i = min(max(i, 0), n-1)
				case "reflect":
					i = tensorReflect(i, n)
				case "wrap":
					i = ((i % n) + n) % n
				default:
					return nil, c.Errorf("unsupported mode %q", mode)
				}
			}
			if i < 0 {
				m[d][o] = -1
			} else {
				m[d][o] = int(i * st[d])
			}
		}
	}
	return one(tmTakeView(x, shape, m, fill))
}

// tensorReflect mirrors coordinate i into [0, n) without repeating the
// edge element (numpy's "reflect").
func tensorReflect(i, n int64) int64 {
	if n == 1 {
		return 0
	}
	p := 2 * (n - 1)
	i = ((i % p) + p) % p
	if i >= n {
		i = p - i
	}
	return i
}

func tensorReverseSequence(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	lt, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	lens, err := tmInts(c, lt, "sequence_lens")
	if err != nil {
		return nil, err
	}
	if x.Rank() < 2 {
		return nil, c.Errorf("input must have rank >= 2, got %v", x.Shape)
	}
	ba := int(c.Node.AttrInt("batch_axis", 1))
	ta := int(c.Node.AttrInt("time_axis", 0))
	if ba < 0 || ba > 1 || ta < 0 || ta > 1 || ba == ta {
		return nil, c.Errorf("batch_axis %d and time_axis %d must be 0 and 1 in some order", ba, ta)
	}
	nb, nt := x.Shape[ba], x.Shape[ta]
	if int64(len(lens)) != nb {
		return nil, c.Errorf("sequence_lens has %d entries for batch size %d", len(lens), nb)
	}
	st := strides(x.Shape)
	idx := make([]int, x.Len())
	for i := range idx {
		idx[i] = i
	}
	for b := int64(0); b < nb; b++ {
		l := lens[b]
		if l < 0 || l > nt {
			return nil, c.Errorf("sequence length %d out of range [0, %d]", l, nt)
		}
		inner := int(st[1])
		for t := int64(0); t < l; t++ {
			dst := int(b*st[ba] + t*st[ta])
			src := int(b*st[ba] + (l-1-t)*st[ta])
			for k := 0; k < inner; k++ {
				idx[dst+k] = src + k
			}
		}
	}
	return one(tmTake(x, x.Shape, idx, nil))
}

func tensorCompress(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	ct, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	if ct.Rank() != 1 || ct.DType == ir.String {
		return nil, c.Errorf("condition must be a 1-D bool tensor, got %s", ct)
	}
	if !c.Node.HasAttr("axis") {
		x = x.Reshaped([]int64{int64(x.Len())})
	}
	axis, err := normAxis(c, c.Node.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, err
	}
	dim := x.Shape[axis]
	if int64(ct.Len()) > dim {
		return nil, c.Errorf("condition has %d entries, axis %d has %d", ct.Len(), axis, dim)
	}
	var keep []int
	for i := 0; i < ct.Len(); i++ {
		if ct.Float64At(i) != 0 {
			keep = append(keep, i)
		}
	}
	shape := append([]int64{}, x.Shape...)
	shape[axis] = int64(len(keep))
	st := strides(x.Shape)
	m := make([][]int, len(shape))
	for d := range shape {
		m[d] = make([]int, shape[d])
		for o := range m[d] {
			i := o
			if d == axis {
				i = keep[o]
			}
			m[d][o] = i * int(st[d])
		}
	}
	return one(tmTakeView(x, shape, m, nil))
}
