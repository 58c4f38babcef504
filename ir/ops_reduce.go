package ir

// Reductions and arg reductions. FLOPs: one per input element.

func init() {
	perIn := opPerInElem(1)
	for _, name := range splitFields("ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSumSquare") {
		regOps("", inferReduce, perIn, opRow{name, 1, "1:1", "axes=is keepdims=i:1"})
	}
	// ReduceSum took axes as an input from opset 13.
	regOps("", inferReduce, perIn, opRow{"ReduceSum", 1, "1-2:1", "axes=is keepdims=i:1 noop_with_empty_axes=i:0"})
	regOps("", inferArgReduce, perIn,
		opRow{"ArgMax", 1, "1:1", "axis=i:0 keepdims=i:1 select_last_index=i:0"},
		opRow{"ArgMin", 1, "1:1", "axis=i:0 keepdims=i:1 select_last_index=i:0"},
	)
}

func inferReduce(c *inferCtx) error {
	t, ok := c.ranked(0)
	d := c.dtype(0)
	keep := c.attrInt("keepdims", 1) != 0
	if !ok {
		return c.setDType(0, d)
	}
	r := len(t.Shape)
	var axes []int64
	if c.has(1) {
		var known bool
		if axes, known = c.concreteInts(1); !known {
			if keep {
				return c.setTensor(0, d, opUnknownShape(r))
			}
			return c.setDType(0, d)
		}
	} else {
		axes = c.n.AttrInts("axes", nil)
	}
	if len(axes) == 0 && c.attrInt("noop_with_empty_axes", 0) != 0 {
		return c.set(0, t)
	}
	reduced := make([]bool, r)
	for _, a := range axes {
		i, err := normAxisRank(a, r)
		if err != nil {
			return c.errf("%v", err)
		}
		reduced[i] = true
	}
	var s Shape
	for i, dim := range t.Shape {
		switch {
		case len(axes) > 0 && !reduced[i]:
			s = append(s, dim)
		case keep:
			s = append(s, D(1))
		}
	}
	return c.setTensor(0, d, s)
}

func inferArgReduce(c *inferCtx) error {
	t, ok := c.ranked(0)
	if !ok {
		return c.setDType(0, Int64)
	}
	axis, err := normAxisRank(c.attrInt("axis", 0), len(t.Shape))
	if err != nil {
		return c.errf("%v", err)
	}
	s := append(Shape{}, t.Shape[:axis]...)
	if c.attrInt("keepdims", 1) != 0 {
		s = append(s, D(1))
	}
	return c.setTensor(0, Int64, append(s, t.Shape[axis+1:]...))
}

// opUnknownShape is a rank-r shape of unknown dims.
func opUnknownShape(r int) Shape {
	s := make(Shape, r)
	for i := range s {
		s[i] = UnknownDim()
	}
	return s
}
