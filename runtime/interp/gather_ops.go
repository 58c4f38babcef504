package interp

import (
	"github.com/optc-dev/optc/ir"
)

// Index-driven kernels: Gather, GatherElements, GatherND, Scatter,
// ScatterElements, ScatterND, OneHot, NonZero.

func init() {
	Register("Gather", gatherGather)
	Register("GatherElements", gatherElements)
	Register("GatherND", gatherND)
	Register("Scatter", gatherScatterElements)
	Register("ScatterElements", gatherScatterElements)
	Register("ScatterND", gatherScatterND)
	Register("OneHot", gatherOneHot)
	Register("NonZero", gatherNonZero)
}

// gatherIndex resolves a possibly negative index against dim.
func gatherIndex(c *Call, i, dim int64) (int64, error) {
	if i < -dim || i >= dim {
		return 0, c.Errorf("index %d out of range [%d, %d)", i, -dim, dim)
	}
	if i < 0 {
		i += dim
	}
	return i, nil
}

// gatherIndices reads an integer index tensor and resolves every entry
// against dim.
func gatherIndices(c *Call, t *ir.Tensor, dim int64) ([]int64, error) {
	if !t.DType.IsInt() {
		return nil, c.Errorf("indices must be integers, got %s", t.DType)
	}
	ind := t.Int64s()
	for k, i := range ind {
		r, err := gatherIndex(c, i, dim)
		if err != nil {
			return nil, err
		}
		ind[k] = r
	}
	return ind, nil
}

func gatherGather(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 2, 2)
	if err != nil {
		return nil, err
	}
	x, it := args[0], args[1]
	if x.Rank() == 0 {
		return nil, c.Errorf("data must have rank >= 1")
	}
	axis, err := normAxis(c, c.Node.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, err
	}
	ind, err := gatherIndices(c, it, x.Shape[axis])
	if err != nil {
		return nil, err
	}
	outer := ir.NumElements(x.Shape[:axis])
	inner := ir.NumElements(x.Shape[axis+1:])
	flat := []int64{outer, int64(len(ind)), inner}
	m := [][]int{make([]int, outer), make([]int, len(ind)), make([]int, inner)}
	for o := range m[0] {
		m[0][o] = o * int(x.Shape[axis]*inner)
	}
	for k, i := range ind {
		m[1][k] = int(i * inner)
	}
	for o := range m[2] {
		m[2][o] = o
	}
	shape := append(append(append([]int64{}, x.Shape[:axis]...), it.Shape...), x.Shape[axis+1:]...)
	return one(tmTakeView(x, flat, m, nil).Reshaped(shape))
}

// gatherCoords calls fn for every element of shape in row-major order with
// its flat index and coordinates (fn must not keep coord).
func gatherCoords(shape []int64, fn func(flat int, coord []int64) error) error {
	n := int(ir.NumElements(shape))
	coord := make([]int64, len(shape))
	for p := 0; p < n; p++ {
		if err := fn(p, coord); err != nil {
			return err
		}
		for d := len(shape) - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < shape[d] {
				break
			}
			coord[d] = 0
		}
	}
	return nil
}

// gatherElementsMap returns, for every element of indices, the flat index
// into a tensor of shape data that ONNX's GatherElements/ScatterElements
// address: the element's own coordinates with the one along axis replaced
// by the index value.
func gatherElementsMap(c *Call, data []int64, it *ir.Tensor, axis int) ([]int, error) {
	if it.Rank() != len(data) {
		return nil, c.Errorf("indices shape %v and data shape %v differ in rank", it.Shape, data)
	}
	if !it.DType.IsInt() {
		return nil, c.Errorf("indices must be integers, got %s", it.DType)
	}
	st := strides(data)
	ind := it.Int64s()
	out := make([]int, len(ind))
	err := gatherCoords(it.Shape, func(p int, coord []int64) error {
		i, err := gatherIndex(c, ind[p], data[axis])
		if err != nil {
			return err
		}
		off := int64(0)
		for d, x := range coord {
			if d == axis {
				x = i
			} else if x >= data[d] {
				return c.Errorf("indices shape %v exceeds data shape %v on axis %d", it.Shape, data, d)
			}
			off += x * st[d]
		}
		out[p] = int(off)
		return nil
	})
	return out, err
}

func gatherElements(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 2, 2)
	if err != nil {
		return nil, err
	}
	x, it := args[0], args[1]
	axis, err := normAxis(c, c.Node.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, err
	}
	idx, err := gatherElementsMap(c, x.Shape, it, axis)
	if err != nil {
		return nil, err
	}
	return one(tmTake(x, it.Shape, idx, nil))
}

// gatherNDMap resolves GatherND/ScatterND index tuples: for data shape d,
// indices of shape [..., k] and batch_dims b it returns the flat offset
// into data of every tuple and the size of the slice each one addresses.
func gatherNDMap(c *Call, d []int64, it *ir.Tensor, b int) ([]int, int, error) {
	q := it.Rank()
	if q < 1 {
		return nil, 0, c.Errorf("indices must have rank >= 1")
	}
	if !it.DType.IsInt() {
		return nil, 0, c.Errorf("indices must be integers, got %s", it.DType)
	}
	k := int(it.Shape[q-1])
	if b < 0 || b >= q || b >= len(d) || b+k > len(d) {
		return nil, 0, c.Errorf("batch_dims %d and index length %d do not fit data shape %v and indices shape %v", b, k, d, it.Shape)
	}
	for i := 0; i < b; i++ {
		if d[i] != it.Shape[i] {
			return nil, 0, c.Errorf("batch dims of data %v and indices %v differ", d, it.Shape)
		}
	}
	st := strides(d)
	slice := int(ir.NumElements(d[b+k:]))
	batchStride := ir.NumElements(d[b:])
	batches := int(ir.NumElements(it.Shape[:b]))
	tuples := int(ir.NumElements(it.Shape[b : q-1]))
	ind := it.Int64s()
	offs := make([]int, 0, batches*tuples)
	for bi := 0; bi < batches; bi++ {
		for t := 0; t < tuples; t++ {
			base := (bi*tuples + t) * k
			off := int64(bi) * batchStride
			for j := 0; j < k; j++ {
				i, err := gatherIndex(c, ind[base+j], d[b+j])
				if err != nil {
					return nil, 0, err
				}
				off += i * st[b+j]
			}
			offs = append(offs, int(off))
		}
	}
	return offs, slice, nil
}

func gatherND(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 2, 2)
	if err != nil {
		return nil, err
	}
	x, it := args[0], args[1]
	b := int(c.Node.AttrInt("batch_dims", 0))
	offs, slice, err := gatherNDMap(c, x.Shape, it, b)
	if err != nil {
		return nil, err
	}
	k := int(it.Shape[it.Rank()-1])
	shape := append(append([]int64{}, it.Shape[:it.Rank()-1]...), x.Shape[b+k:]...)
	idx := make([]int, 0, len(offs)*slice)
	for _, o := range offs {
		for j := 0; j < slice; j++ {
			idx = append(idx, o+j)
		}
	}
	return one(tmTake(x, shape, idx, nil))
}

func gatherScatterElements(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 3, 3)
	if err != nil {
		return nil, err
	}
	x, it, u := args[0], args[1], args[2]
	if u.DType != x.DType || !sameShape(u.Shape, it.Shape) {
		return nil, c.Errorf("updates %s must match data dtype %s and indices shape %v", u, x.DType, it.Shape)
	}
	axis, err := normAxis(c, c.Node.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, err
	}
	idx, err := gatherElementsMap(c, x.Shape, it, axis)
	if err != nil {
		return nil, err
	}
	red, err := gatherReducer(c, x.DType)
	if err != nil {
		return nil, err
	}
	out := x.Clone()
	for p, o := range idx {
		red(out, o, u, p)
	}
	return one(out)
}

func gatherScatterND(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 3, 3)
	if err != nil {
		return nil, err
	}
	x, it, u := args[0], args[1], args[2]
	offs, slice, err := gatherNDMap(c, x.Shape, it, 0)
	if err != nil {
		return nil, err
	}
	k := int(it.Shape[it.Rank()-1])
	want := append(append([]int64{}, it.Shape[:it.Rank()-1]...), x.Shape[k:]...)
	if u.DType != x.DType || !sameShape(u.Shape, want) {
		return nil, c.Errorf("updates %s must have dtype %s and shape %v", u, x.DType, want)
	}
	red, err := gatherReducer(c, x.DType)
	if err != nil {
		return nil, err
	}
	out := x.Clone()
	for t, o := range offs {
		for j := 0; j < slice; j++ {
			red(out, o+j, u, t*slice+j)
		}
	}
	return one(out)
}

// gatherNum is the set of Go element types scatter reductions compute on.
type gatherNum interface {
	~float32 | ~float64 | ~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64
}

func gatherReduceWith[T gatherNum](op string) func(a, b T) T {
	switch op {
	case "add":
		return func(a, b T) T { return a + b }
	case "mul":
		return func(a, b T) T { return a * b }
	case "max":
		return func(a, b T) T { return max(a, b) }
	case "min":
		return func(a, b T) T { return min(a, b) }
	}
	return nil
}

func gatherReduceTyped[T gatherNum](op string) func(dst *ir.Tensor, di int, src *ir.Tensor, si int) {
	f := gatherReduceWith[T](op)
	return func(dst *ir.Tensor, di int, src *ir.Tensor, si int) {
		d := dst.Data.([]T)
		d[di] = f(d[di], src.Data.([]T)[si])
	}
}

// gatherReducer returns the update function of the node's reduction
// attribute: dst[di] = reduce(dst[di], src[si]).
func gatherReducer(c *Call, dt ir.DType) (func(dst *ir.Tensor, di int, src *ir.Tensor, si int), error) {
	op := c.Node.AttrString("reduction", "none")
	switch op {
	case "none":
		return func(dst *ir.Tensor, di int, src *ir.Tensor, si int) { tmView(dst).set(di, src.Data, si) }, nil
	case "add", "mul", "max", "min":
	default:
		return nil, c.Errorf("unsupported reduction %q", op)
	}
	switch dt {
	case ir.Float32:
		return gatherReduceTyped[float32](op), nil
	case ir.Float64:
		return gatherReduceTyped[float64](op), nil
	case ir.Float16, ir.BFloat16:
		f := gatherReduceWith[float32](op)
		return func(dst *ir.Tensor, di int, src *ir.Tensor, si int) {
			dst.SetFloat64(di, float64(f(float32(dst.Float64At(di)), float32(src.Float64At(si)))))
		}, nil
	case ir.Int8, ir.Int4:
		return gatherReduceTyped[int8](op), nil
	case ir.Uint8, ir.Uint4:
		return gatherReduceTyped[uint8](op), nil
	case ir.Int16:
		return gatherReduceTyped[int16](op), nil
	case ir.Uint16:
		return gatherReduceTyped[uint16](op), nil
	case ir.Int32:
		return gatherReduceTyped[int32](op), nil
	case ir.Uint32:
		return gatherReduceTyped[uint32](op), nil
	case ir.Int64:
		return gatherReduceTyped[int64](op), nil
	case ir.Uint64:
		return gatherReduceTyped[uint64](op), nil
	}
	return nil, c.Errorf("reduction %q is not defined for %s", op, dt)
}

func gatherOneHot(c *Call, in []Value) ([]Value, error) {
	it, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	dt, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	vals, err := tensorArg(c, in, 2)
	if err != nil {
		return nil, err
	}
	if it.DType == ir.String {
		return nil, c.Errorf("indices must be numeric, got %s", it.DType)
	}
	if dt.Len() != 1 || dt.DType == ir.String {
		return nil, c.Errorf("depth must be one number, got %s", dt)
	}
	depth := int64(dt.Float64At(0))
	if depth <= 0 {
		return nil, c.Errorf("depth must be positive, got %d", depth)
	}
	if vals.Len() != 2 {
		return nil, c.Errorf("values must have 2 elements [off, on], got %s", vals)
	}
	r := it.Rank()
	axis := c.Node.AttrInt("axis", -1)
	if axis < -int64(r)-1 || axis > int64(r) {
		return nil, c.Errorf("axis %d out of range for output rank %d", axis, r+1)
	}
	if axis < 0 {
		axis += int64(r) + 1
	}
	shape := append(append(append([]int64{}, it.Shape[:axis]...), depth), it.Shape[axis:]...)
	if err := tmCheckShape(c, shape); err != nil {
		return nil, err
	}
	inner := int(ir.NumElements(it.Shape[axis:]))
	sel := make([]int, ir.NumElements(shape)) // 0 picks off, 1 picks on
	for p := 0; p < it.Len(); p++ {
		var i int64
		if it.DType.IsFloat() {
			i = int64(it.Float64At(p))
		} else {
			i = it.Int64At(p)
		}
		if i < 0 {
			i += depth
		}
		if i < 0 || i >= depth {
			continue
		}
		o, q := p/inner, p%inner
		sel[(o*int(depth)+int(i))*inner+q] = 1
	}
	return one(tmTake(vals, shape, sel, nil))
}

func gatherNonZero(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	var nz [][]int64
	var strs []string
	if x.DType == ir.String {
		strs = x.Data.([]string)
	}
	err = gatherCoords(x.Shape, func(p int, coord []int64) error {
		var set bool
		if strs != nil {
			set = strs[p] != ""
		} else {
			set = x.Float64At(p) != 0
		}
		if set {
			nz = append(nz, append([]int64{}, coord...))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r := x.Rank()
	out := ir.NewTensor(ir.Int64, int64(r), int64(len(nz)))
	d := out.Data.([]int64)
	for k, coord := range nz {
		for j, v := range coord {
			d[j*len(nz)+k] = v
		}
	}
	return one(out)
}
