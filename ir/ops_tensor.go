package ir

import (
	"math"
	"strings"
)

// Shape manipulation, indexing, gather/scatter and resampling ops. They
// move data: FLOPs are zero except for Resize (one per output element
// for nearest, a few for linear/cubic is ignored).

func init() {
	regOps("", inferIdentity, opZeroFlops, opRow{"Identity", 1, "1:1", ""})
	regOps("", inferReshape, opZeroFlops, opRow{"Reshape", 5, "2:1", "allowzero=i:0"})
	regOps("", inferSqueeze, opZeroFlops, opRow{"Squeeze", 1, "1-2:1", "axes=is"})
	regOps("", inferUnsqueeze, opZeroFlops, opRow{"Unsqueeze", 1, "1-2:1", "axes=is"})
	regOps("", inferTranspose, opZeroFlops, opRow{"Transpose", 1, "1:1", "perm=is"})
	regOps("", inferConcat, opZeroFlops, opRow{"Concat", 4, "1-*:1", "axis=i"})
	regOps("", inferSplit, opZeroFlops, opRow{"Split", 2, "1-2:1-*", "axis=i:0 split=is"})
	regOps("", inferSlice, opZeroFlops, opRow{"Slice", 1, "1-5:1", "axes=is ends=is starts=is"})
	regOps("", inferGather, opZeroFlops, opRow{"Gather", 1, "2:1", "axis=i:0"})
	regOps("", inferExpand, opZeroFlops, opRow{"Expand", 8, "2:1", ""})
	regOps("", inferTile, opZeroFlops, opRow{"Tile", 6, "2:1", ""})
	regOps("", inferPad, opZeroFlops, opRow{"Pad", 2, "1-3:1", "mode=s:constant pads=is value=f:0"})
	regOps("", inferShape, opZeroFlops, opRow{"Shape", 1, "1:1", "end=i start=i:0"})
	regOps("", inferSize, opZeroFlops, opRow{"Size", 1, "1:1", ""})
	regOps("", inferResize, opPerOutElem(1),
		opRow{"Resize", 10, "1-4:1", "coordinate_transformation_mode=s:half_pixel cubic_coeff_a=f:-0.75 exclude_outside=i:0 extrapolation_value=f:0 mode=s:nearest nearest_mode=s:round_prefer_floor"},
		opRow{"Upsample", 1, "1-2:1", "height_scale=f mode=s:nearest scales=fs width_scale=f"},
	)
	regOps("", inferDepthToSpace, opZeroFlops,
		opRow{"DepthToSpace", 1, "1:1", "blocksize=i mode=s:DCR"},
		opRow{"SpaceToDepth", 1, "1:1", "blocksize=i"},
	)
	regOps("", inferSameType, opZeroFlops,
		opRow{"Scatter", 9, "3:1", "axis=i:0"},
		opRow{"ScatterElements", 11, "3:1", "axis=i:0 reduction=s:none"},
		opRow{"ScatterND", 11, "3:1", "reduction=s:none"},
		opRow{"ReverseSequence", 10, "2:1", "batch_axis=i:1 time_axis=i:0"},
		opRow{"Trilu", 14, "1-2:1", "upper=i:1"},
	)
	regOps("", inferGatherElements, opZeroFlops, opRow{"GatherElements", 11, "2:1", "axis=i:0"})
	regOps("", inferGridSample, opPerOutElem(1), opRow{"GridSample", 16, "2:1", "align_corners=i:0 mode=s:bilinear padding_mode=s:zeros"})
	regOps("", inferNonZero, opPerInElem(1), opRow{"NonZero", 9, "1:1", ""})
	regOps("", nil, nil,
		opRow{"Compress", 9, "2:1", "axis=i"},
		opRow{"GatherND", 11, "2:1", "batch_dims=i:0"},
		opRow{"OneHot", 9, "3:1", "axis=i:-1"},
		opRow{"Unique", 11, "1:1-4", "axis=i sorted=i:1"},
	)
}

// splitFields splits a space-separated name list.
func splitFields(s string) []string { return strings.Fields(s) }

func inferIdentity(c *inferCtx) error {
	if ds, ok := c.ints(0); ok {
		c.setVal(0, ds)
	}
	return c.set(0, c.in(0))
}

// opShapeInput reads a shape-valued input: its known elements, or only
// its length when its contents are unknown (ok false when neither).
func (c *inferCtx) opShapeInput(i int) (Shape, bool) {
	if ds, ok := c.ints(i); ok {
		return valsToShape(ds), true
	}
	if t, ok := c.ranked(i); ok && len(t.Shape) == 1 && t.Shape[0].Known() {
		return opUnknownShape(int(t.Shape[0].Size)), true
	}
	return nil, false
}

func inferReshape(c *inferCtx) error {
	d := c.dtype(0)
	target, ok := c.ints(1)
	if !ok {
		if s, ok := c.opShapeInput(1); ok {
			return c.setTensor(0, d, s)
		}
		return c.setDType(0, d)
	}
	in, inOK := c.ranked(0)
	allowZero := c.attrInt("allowzero", 0) != 0
	out := make(Shape, len(target))
	infer := -1
	for i, t := range target {
		switch {
		case valKnown(t) && t.Size == 0 && !allowZero:
			out[i] = UnknownDim()
			if inOK && i < len(in.Shape) {
				out[i] = in.Shape[i]
			}
		case valKnown(t) && t.Size == -1:
			if infer >= 0 {
				return c.errf("shape %v has two -1 dims", valsToShape(target))
			}
			infer = i
		case valKnown(t) && t.Size < -1:
			return c.errf("invalid shape element %d", t.Size)
		default:
			out[i] = valToDim(t)
		}
	}
	if infer >= 0 {
		out[infer] = UnknownDim()
		if inOK {
			rest := append(append(Shape{}, out[:infer]...), out[infer+1:]...)
			out[infer] = dimQuotient(in.Shape, rest)
		}
	}
	if inOK {
		if a, ok := Shape(out).Concrete(); ok {
			if b, ok := in.Shape.Concrete(); ok && NumElements(a) != NumElements(b) {
				return c.errf("cannot reshape %s to %v", typeText(in), a)
			}
		}
	}
	if ds, ok := c.ints(0); ok && len(out) <= 1 {
		c.setVal(0, ds)
	}
	return c.setTensor(0, d, out)
}

// dimQuotient computes prod(num)/prod(den) when it is statically known:
// concrete sizes divide, symbolic factors cancel.
func dimQuotient(num, den Shape) Dim {
	type factors struct {
		n    int64
		syms map[string]int
	}
	split := func(s Shape) (factors, bool) {
		f := factors{n: 1, syms: map[string]int{}}
		for _, d := range s {
			switch {
			case d.Known():
				f.n *= d.Size
			case d.Param != "":
				f.syms[d.Param]++
			default:
				return f, false
			}
		}
		return f, true
	}
	a, ok1 := split(num)
	b, ok2 := split(den)
	if !ok1 || !ok2 || b.n == 0 || a.n%b.n != 0 {
		return UnknownDim()
	}
	for s, k := range b.syms {
		if a.syms[s] < k {
			return UnknownDim()
		}
		a.syms[s] -= k
	}
	var left []string
	for s, k := range a.syms {
		for ; k > 0; k-- {
			left = append(left, s)
		}
	}
	q := a.n / b.n
	switch {
	case len(left) == 0:
		return D(q)
	case len(left) == 1 && q == 1:
		return Sym(left[0])
	}
	return UnknownDim()
}

// opAxes reads axes from an attribute (before opset 13) or input 1.
func (c *inferCtx) opAxes() ([]int64, bool) {
	if c.has(1) {
		return c.concreteInts(1)
	}
	return c.n.AttrInts("axes", nil), true
}

func inferSqueeze(c *inferCtx) error {
	t, ok := c.ranked(0)
	axes, known := c.opAxes()
	if !ok || !known {
		return c.setDType(0, c.dtype(0))
	}
	drop := make([]bool, len(t.Shape))
	if len(axes) == 0 {
		for i, d := range t.Shape {
			if !d.Known() {
				return c.setDType(0, t.DType)
			}
			drop[i] = d.Size == 1
		}
	}
	for _, a := range axes {
		i, err := normAxisRank(a, len(t.Shape))
		if err != nil {
			return c.errf("%v", err)
		}
		if d := t.Shape[i]; d.Known() && d.Size != 1 {
			return c.errf("cannot squeeze dim %d of size %d", i, d.Size)
		}
		drop[i] = true
	}
	var s Shape
	for i, d := range t.Shape {
		if !drop[i] {
			s = append(s, d)
		}
	}
	if ds, ok := c.ints(0); ok {
		c.setVal(0, ds)
	}
	return c.setTensor(0, t.DType, s)
}

func inferUnsqueeze(c *inferCtx) error {
	t, ok := c.ranked(0)
	axes, known := c.opAxes()
	if !ok || !known {
		return c.setDType(0, c.dtype(0))
	}
	r := len(t.Shape) + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		i, err := normAxisRank(a, r)
		if err != nil {
			return c.errf("%v", err)
		}
		if ins[i] {
			return c.errf("axis %d repeated", a)
		}
		ins[i] = true
	}
	s := make(Shape, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			s = append(s, D(1))
		} else {
			s = append(s, t.Shape[j])
			j++
		}
	}
	if ds, ok := c.ints(0); ok {
		c.setVal(0, ds)
	}
	return c.setTensor(0, t.DType, s)
}

func inferTranspose(c *inferCtx) error {
	t, ok := c.ranked(0)
	if !ok {
		return c.setDType(0, c.dtype(0))
	}
	r := len(t.Shape)
	perm := c.n.AttrInts("perm", nil)
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != r {
		return c.errf("perm %v for rank %d", perm, r)
	}
	seen := make([]bool, r)
	s := make(Shape, r)
	for i, p := range perm {
		if p < 0 || p >= int64(r) || seen[p] {
			return c.errf("perm %v is not a permutation", perm)
		}
		seen[p] = true
		s[i] = t.Shape[p]
	}
	return c.setTensor(0, t.DType, s)
}

func inferConcat(c *inferCtx) error {
	idx := make([]int, len(c.n.Inputs))
	for i := range idx {
		idx[i] = i
	}
	d, err := c.commonDType(idx...)
	if err != nil {
		return err
	}
	var out Shape
	allRanked := true
	for i := range c.n.Inputs {
		t, ok := c.ranked(i)
		if !ok {
			allRanked = false
			continue
		}
		if out == nil {
			out = append(Shape{}, t.Shape...)
			continue
		}
		if len(t.Shape) != len(out) {
			return c.errf("inputs of rank %d and %d", len(out), len(t.Shape))
		}
	}
	if out == nil {
		return c.setDType(0, d)
	}
	axis, err := normAxisRank(c.attrInt("axis", 0), len(out))
	if err != nil {
		return c.errf("%v", err)
	}
	sum := D(0)
	for i := range c.n.Inputs {
		t, ok := c.ranked(i)
		if !ok {
			continue
		}
		for j, dim := range t.Shape {
			if j == axis {
				sum = dimAdd(sum, dim)
				continue
			}
			o := out[j]
			switch {
			case o.Known() && dim.Known() && o.Size != dim.Size:
				return c.errf("inputs differ in dim %d: %d and %d", j, o.Size, dim.Size)
			case !o.Known() && dim.Known():
				out[j] = dim
			}
		}
	}
	if !allRanked {
		sum = UnknownDim()
	}
	out[axis] = sum
	// Propagate concatenated shape vectors.
	var vals []Dim
	for i := range c.n.Inputs {
		ds, ok := c.ints(i)
		if !ok {
			vals = nil
			break
		}
		vals = append(vals, ds...)
		if i == len(c.n.Inputs)-1 && len(out) == 1 {
			c.setVal(0, vals)
		}
	}
	return c.setTensor(0, d, out)
}

func inferSplit(c *inferCtx) error {
	t, ok := c.ranked(0)
	nout := len(c.n.Outputs)
	if nout == 0 {
		return nil
	}
	if !ok {
		for i := 0; i < nout; i++ {
			if err := c.setDType(i, c.dtype(0)); err != nil {
				return err
			}
		}
		return nil
	}
	axis, err := normAxisRank(c.attrInt("axis", 0), len(t.Shape))
	if err != nil {
		return c.errf("%v", err)
	}
	sizes := make([]Dim, nout)
	var split []int64
	known := true
	if c.has(1) {
		split, known = c.concreteInts(1)
	} else {
		split = c.n.AttrInts("split", nil)
	}
	dim := t.Shape[axis]
	switch {
	case !known:
		for i := range sizes {
			sizes[i] = UnknownDim()
		}
	case len(split) > 0:
		if len(split) != nout {
			return c.errf("split %v for %d outputs", split, nout)
		}
		var total int64
		for i, s := range split {
			sizes[i] = D(s)
			total += s
		}
		if dim.Known() && total != dim.Size {
			return c.errf("split %v does not add up to dim %d", split, dim.Size)
		}
	default:
		for i := range sizes {
			sizes[i] = UnknownDim()
			if dim.Known() && dim.Size%int64(nout) == 0 {
				sizes[i] = D(dim.Size / int64(nout))
			}
		}
	}
	for i := range sizes {
		s := append(Shape{}, t.Shape...)
		s[axis] = sizes[i]
		if err := c.setTensor(i, t.DType, s); err != nil {
			return err
		}
	}
	return nil
}

func inferSlice(c *inferCtx) error {
	t, ok := c.ranked(0)
	if !ok {
		return c.setDType(0, c.dtype(0))
	}
	r := len(t.Shape)
	var starts, ends, axes, steps []int64
	known := true
	if c.opset < 10 {
		starts, ends, axes = c.n.AttrInts("starts", nil), c.n.AttrInts("ends", nil), c.n.AttrInts("axes", nil)
	} else {
		var ok1, ok2, ok3, ok4 bool
		starts, ok1 = c.concreteInts(1)
		ends, ok2 = c.concreteInts(2)
		axes, ok3 = nil, true
		if c.has(3) {
			axes, ok3 = c.concreteInts(3)
		}
		steps, ok4 = nil, true
		if c.has(4) {
			steps, ok4 = c.concreteInts(4)
		}
		if !ok3 {
			return c.setTensor(0, t.DType, opUnknownShape(r))
		}
		known = ok1 && ok2 && ok4
	}
	if axes == nil {
		n := len(starts)
		if !known {
			if st, ok := c.ranked(1); ok && len(st.Shape) == 1 && st.Shape[0].Known() {
				n = int(st.Shape[0].Size)
			} else {
				return c.setTensor(0, t.DType, opUnknownShape(r))
			}
		}
		for i := 0; i < n; i++ {
			axes = append(axes, int64(i))
		}
	}
	out := append(Shape{}, t.Shape...)
	if known && (len(starts) != len(axes) || len(ends) != len(axes) || (steps != nil && len(steps) != len(axes))) {
		return c.errf("starts %v, ends %v, axes %v, steps %v differ in length", starts, ends, axes, steps)
	}
	vals, hasVals := c.ints(0)
	for k, a := range axes {
		ax, err := normAxisRank(a, r)
		if err != nil {
			return c.errf("%v", err)
		}
		if !known {
			out[ax] = UnknownDim()
			hasVals = false
			continue
		}
		step := int64(1)
		if steps != nil {
			step = steps[k]
		}
		if step == 0 {
			return c.errf("slice step 0")
		}
		d := t.Shape[ax]
		if !d.Known() {
			if !(starts[k] == 0 && ends[k] >= math.MaxInt32 && step == 1) {
				out[ax] = UnknownDim()
				hasVals = false
			}
			continue
		}
		lo, n := sliceRange(d.Size, starts[k], ends[k], step)
		out[ax] = D(n)
		if hasVals && r == 1 {
			sel := make([]Dim, 0, min(n, inferMaxVals))
			for i := int64(0); i < n && hasVals; i++ {
				if k := lo + i*step; k >= 0 && k < int64(len(vals)) {
					sel = append(sel, vals[k])
				} else {
					hasVals = false
				}
			}
			vals = sel
		}
	}
	if hasVals && r == 1 {
		c.setVal(0, vals)
	}
	return c.setTensor(0, t.DType, out)
}

// sliceRange returns the first index and element count of a slice of a
// dim of size n (ONNX Slice clamping rules).
func sliceRange(n, start, end, step int64) (first, count int64) {
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if step > 0 {
		start = min(max(start, 0), n)
		end = min(max(end, 0), n)
		if end <= start {
			return start, 0
		}
		return start, (end - start + step - 1) / step
	}
	start = min(max(start, -1), n-1)
	end = min(max(end, -1), n-1)
	if start <= end {
		return start, 0
	}
	return start, (start - end - step - 1) / -step
}

func inferGather(c *inferCtx) error {
	t, ok := c.ranked(0)
	it, iok := c.ranked(1)
	if !ok || !iok {
		return c.setDType(0, c.dtype(0))
	}
	axis, err := normAxisRank(c.attrInt("axis", 0), len(t.Shape))
	if err != nil {
		return c.errf("%v", err)
	}
	s := append(append(append(Shape{}, t.Shape[:axis]...), it.Shape...), t.Shape[axis+1:]...)
	if vals, ok := c.ints(0); ok && len(t.Shape) == 1 && len(it.Shape) <= 1 {
		if idx, ok := c.concreteInts(1); ok {
			sel := make([]Dim, len(idx))
			for i, k := range idx {
				if k < 0 {
					k += int64(len(vals))
				}
				if k < 0 || k >= int64(len(vals)) {
					return c.errf("index %d out of range for %d elements", idx[i], len(vals))
				}
				sel[i] = vals[k]
			}
			c.setVal(0, sel)
		}
	}
	return c.setTensor(0, t.DType, s)
}

func inferExpand(c *inferCtx) error {
	t, ok := c.ranked(0)
	target, tok := c.opShapeInput(1)
	if !ok || !tok {
		return c.setDType(0, c.dtype(0))
	}
	s, err := broadcastShapes(t.Shape, target)
	if err != nil {
		return c.errf("%v", err)
	}
	return c.setTensor(0, t.DType, s)
}

func inferTile(c *inferCtx) error {
	t, ok := c.ranked(0)
	if !ok {
		return c.setDType(0, c.dtype(0))
	}
	reps, rok := c.opShapeInput(1)
	if !rok {
		return c.setTensor(0, t.DType, opUnknownShape(len(t.Shape)))
	}
	if len(reps) != len(t.Shape) {
		return c.errf("%d repeats for rank %d", len(reps), len(t.Shape))
	}
	s := make(Shape, len(reps))
	for i := range s {
		s[i] = dimMul(t.Shape[i], reps[i])
	}
	return c.setTensor(0, t.DType, s)
}

func inferPad(c *inferCtx) error {
	t, ok := c.ranked(0)
	if !ok {
		return c.setDType(0, c.dtype(0))
	}
	r := len(t.Shape)
	var pads []Dim
	if c.opset < 11 {
		for _, p := range c.n.AttrInts("pads", nil) {
			pads = append(pads, D(p))
		}
	} else if ds, ok := c.concreteInts(1); ok {
		for _, p := range ds {
			pads = append(pads, D(p))
		}
	} else {
		return c.setTensor(0, t.DType, opUnknownShape(r))
	}
	if len(pads) != 2*r {
		return c.errf("%d pads for rank %d", len(pads), r)
	}
	s := make(Shape, r)
	for i := range s {
		s[i] = UnknownDim()
		switch d := t.Shape[i]; {
		case d.Known():
			if s[i] = D(d.Size + pads[i].Size + pads[i+r].Size); s[i].Size < 0 {
				return c.errf("pads %v make dim %d negative", Shape(pads), i)
			}
		case pads[i].Size == 0 && pads[i+r].Size == 0:
			s[i] = d
		}
	}
	return c.setTensor(0, t.DType, s)
}

func inferShape(c *inferCtx) error {
	t, ok := c.ranked(0)
	if !ok {
		return c.setTensor(0, Int64, Shape{UnknownDim()})
	}
	r := int64(len(t.Shape))
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end := clamp(c.attrInt("start", 0)), clamp(c.attrInt("end", r))
	if end < start {
		end = start
	}
	dims := make([]Dim, 0, end-start)
	for _, d := range t.Shape[start:end] {
		dims = append(dims, dimToVal(d))
	}
	c.setVal(0, dims)
	return c.setTensor(0, Int64, Shape{D(end - start)})
}

func inferSize(c *inferCtx) error {
	if t, ok := c.ranked(0); ok {
		c.setVal(0, []Dim{dimToVal(dimProduct(t.Shape))})
	}
	return c.setTensor(0, Int64, Shape{})
}

func inferResize(c *inferCtx) error {
	t, ok := c.ranked(0)
	if !ok {
		return c.setDType(0, c.dtype(0))
	}
	r := len(t.Shape)
	scalesIn, sizesIn := 1, -1
	if c.n.Op == "Resize" && c.opset >= 11 {
		scalesIn, sizesIn = 2, 3
	}
	if sizesIn >= 0 && c.has(sizesIn) {
		if sz, ok := c.ints(sizesIn); ok && len(sz) == r {
			return c.setTensor(0, t.DType, valsToShape(sz))
		}
		return c.setTensor(0, t.DType, opUnknownShape(r))
	}
	var scales []float32
	if c.n.Op == "Upsample" && c.opset < 9 {
		scales = c.n.AttrFloats("scales", nil)
	} else if st, ok := c.constTensor(scalesIn); ok && st.DType.IsFloat() {
		scales = st.Float32s()
	}
	if len(scales) != r {
		return c.setTensor(0, t.DType, opUnknownShape(r))
	}
	s := make(Shape, r)
	for i, d := range t.Shape {
		switch {
		case scales[i] == 1:
			s[i] = d
		case d.Known():
			s[i] = D(int64(math.Floor(float64(float32(d.Size) * scales[i]))))
		default:
			s[i] = UnknownDim()
		}
	}
	return c.setTensor(0, t.DType, s)
}

func inferDepthToSpace(c *inferCtx) error {
	t, ok := c.ranked(0)
	if !ok {
		return c.setDType(0, c.dtype(0))
	}
	if len(t.Shape) != 4 {
		return c.errf("input %s is not 4-D", typeText(t))
	}
	b := c.attrInt("blocksize", 0)
	if b <= 0 {
		return c.errf("blocksize %d", b)
	}
	div := func(d Dim, k int64) Dim {
		if d.Known() && d.Size%k == 0 {
			return D(d.Size / k)
		}
		return UnknownDim()
	}
	n, ch, h, w := t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
	if c.n.Op == "DepthToSpace" {
		return c.setTensor(0, t.DType, Shape{n, div(ch, b*b), dimMul(h, D(b)), dimMul(w, D(b))})
	}
	return c.setTensor(0, t.DType, Shape{n, dimMul(ch, D(b*b)), div(h, b), div(w, b)})
}

func inferGatherElements(c *inferCtx) error {
	it := c.in(1)
	return c.set(0, opWithDType(it, c.dtype(0)))
}

func inferGridSample(c *inferCtx) error {
	t, ok := c.ranked(0)
	g, gok := c.ranked(1)
	if !ok || !gok || len(t.Shape) != 4 || len(g.Shape) != 4 {
		return c.setDType(0, c.dtype(0))
	}
	return c.setTensor(0, t.DType, Shape{t.Shape[0], t.Shape[1], g.Shape[1], g.Shape[2]})
}

func inferNonZero(c *inferCtx) error {
	if t, ok := c.ranked(0); ok {
		return c.setTensor(0, Int64, Shape{D(int64(len(t.Shape))), UnknownDim()})
	}
	return c.setTensor(0, Int64, Shape{UnknownDim(), UnknownDim()})
}
