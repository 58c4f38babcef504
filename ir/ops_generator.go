package ir

import "math"

// Ops that create tensors: constants, ranges, random numbers and windows.

func init() {
	regOps("", inferConstant, opZeroFlops, opRow{"Constant", 1, "0:1", "sparse_value=sp value=t value_float=f value_floats=fs value_int=i value_ints=is value_string=s value_strings=ss"})
	regOps("", inferConstantOfShape, opZeroFlops, opRow{"ConstantOfShape", 9, "1:1", "value=t"})
	regOps("", inferRange, opPerOutElem(1), opRow{"Range", 11, "3:1", ""})
	regOps("", inferLike, opZeroFlops, opRow{"EyeLike", 9, "1:1", "dtype=i k=i:0"})
	regOps("", inferRandom, opPerOutElem(1),
		opRow{"RandomNormal", 1, "0:1", "dtype=i:1 mean=f:0 scale=f:1 seed=f shape=is"},
		opRow{"RandomUniform", 1, "0:1", "dtype=i:1 high=f:1 low=f:0 seed=f shape=is"},
	)
	regOps("", inferLike, opPerOutElem(1),
		opRow{"RandomNormalLike", 1, "1:1", "dtype=i mean=f:0 scale=f:1 seed=f"},
		opRow{"RandomUniformLike", 1, "1:1", "dtype=i high=f:1 low=f:0 seed=f"},
		opRow{"Bernoulli", 15, "1:1", "dtype=i seed=f"},
	)
	regOps("", nil, nil, opRow{"Multinomial", 7, "1:1", "dtype=i:6 sample_size=i:1 seed=f"})
	const window = "output_datatype=i:1 periodic=i:1"
	regOps("", inferWindow, opPerOutElem(1),
		opRow{"BlackmanWindow", 17, "1:1", window},
		opRow{"HammingWindow", 17, "1:1", window},
		opRow{"HannWindow", 17, "1:1", window},
	)
	regOps("", nil, nil, opRow{"MelWeightMatrix", 17, "5:1", "output_datatype=i:1"})
}

func inferConstant(c *inferCtx) error {
	var t *Tensor
	for _, name := range c.n.AttrNames() {
		a := c.n.Attrs[name]
		switch name {
		case "value":
			t = a.Tensor
		case "value_float":
			t = ScalarF32(a.Float)
		case "value_floats":
			t = FromSlice(Float32, []int64{int64(len(a.Floats))}, append([]float32{}, a.Floats...))
		case "value_int":
			t = ScalarI64(a.Int)
		case "value_ints":
			t = FromSlice(Int64, []int64{int64(len(a.Ints))}, append([]int64{}, a.Ints...))
		case "value_string":
			t = FromSlice(String, nil, []string{a.String})
		case "value_strings":
			t = FromSlice(String, []int64{int64(len(a.Strings))}, append([]string{}, a.Strings...))
		}
	}
	if t == nil {
		return nil
	}
	if len(c.n.Outputs) > 0 && c.n.Outputs[0] != nil {
		c.noteTensor(c.n.Outputs[0], t)
	}
	return c.setTensor(0, t.DType, ShapeOf(t.Shape...))
}

func inferConstantOfShape(c *inferCtx) error {
	d := Float32
	var fill *Tensor
	if a, ok := c.n.Attrs["value"]; ok && a.Kind == AttrTensor && a.Tensor != nil {
		d, fill = a.Tensor.DType, a.Tensor
	}
	s, ok := c.opShapeInput(0)
	if !ok {
		return c.setDType(0, d)
	}
	if dims, ok := s.Concrete(); ok && len(dims) == 1 && dims[0] <= inferMaxVals && d.IsInt() {
		v := int64(0)
		if fill != nil && fill.Enc == nil && textCheckData(fill) == nil && fill.Len() == 1 {
			v = fill.Int64At(0)
		}
		vals := make([]Dim, dims[0])
		for i := range vals {
			vals[i] = D(v)
		}
		c.setVal(0, vals)
	}
	return c.setTensor(0, d, s)
}

func inferRange(c *inferCtx) error {
	d, err := c.commonDType(0, 1, 2)
	if err != nil {
		return err
	}
	n := UnknownDim()
	if v, ok := c.opScalars(0, 1, 2); ok && v[2] != 0 {
		n = D(max(int64(math.Ceil((v[1]-v[0])/v[2])), 0))
		if d.IsInt() && n.Size <= inferMaxVals {
			vals := make([]Dim, n.Size)
			for i := range vals {
				vals[i] = D(int64(v[0]) + int64(i)*int64(v[2]))
			}
			c.setVal(0, vals)
		}
	}
	return c.setTensor(0, d, Shape{n})
}

// opScalars reads scalar inputs known statically as float64.
func (c *inferCtx) opScalars(idx ...int) ([]float64, bool) {
	out := make([]float64, len(idx))
	for k, i := range idx {
		if ds, ok := c.concreteInts(i); ok && len(ds) == 1 && c.dtype(i).IsInt() {
			out[k] = float64(ds[0])
			continue
		}
		t, ok := c.constTensor(i)
		if !ok || t.Len() != 1 || t.DType == String || textCheckData(t) != nil {
			return nil, false
		}
		out[k] = t.Float64At(0)
	}
	return out, true
}

// opAttrDType reads a dtype attribute (ONNX code), def when absent.
func (c *inferCtx) opAttrDType(name string, def DType) (DType, error) {
	a, ok := c.n.Attrs[name]
	if !ok {
		return def, nil
	}
	d, ok := DTypeFromONNX(a.Int)
	if !ok || a.Kind != AttrInt {
		return def, c.errf("unsupported %s %d", name, a.Int)
	}
	return d, nil
}

// inferLike gives output 0 input 0's shape and the dtype attribute (or
// input 0's dtype).
func inferLike(c *inferCtx) error {
	d, err := c.opAttrDType("dtype", c.dtype(0))
	if err != nil {
		return err
	}
	return c.set(0, opWithDType(c.in(0), d))
}

func inferRandom(c *inferCtx) error {
	d, err := c.opAttrDType("dtype", Float32)
	if err != nil {
		return err
	}
	s, ok := c.n.Attrs["shape"]
	if !ok || s.Kind != AttrInts {
		return c.setDType(0, d)
	}
	return c.setTensor(0, d, ShapeOf(s.Ints...))
}

func inferWindow(c *inferCtx) error {
	d, err := c.opAttrDType("output_datatype", Float32)
	if err != nil {
		return err
	}
	n := UnknownDim()
	if v, ok := c.concreteInts(0); ok && len(v) == 1 && v[0] >= 0 {
		n = D(v[0])
	}
	return c.setTensor(0, d, Shape{n})
}
