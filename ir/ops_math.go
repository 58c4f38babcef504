package ir

// Linear algebra, softmax family, scans along an axis and signal ops.
//
// FLOPs: MatMul and Gemm count a multiply-add as two (2·M·N·K per matrix
// product, plus M·N for Gemm's bias); Softmax and LogSoftmax four per
// element (max, exp, sum, divide).

func init() {
	regOps("", inferMatMul(0, 1, Undefined), opFlops(matmulFlops), opRow{"MatMul", 1, "2:1", ""})
	regOps("", inferMatMul(0, 1, Int32), opFlops(matmulFlops), opRow{"MatMulInteger", 10, "2-4:1", ""})
	regOps("", inferMatMul(0, 3, Undefined), opFlops(func(n *Node) int64 {
		return 2 * opElems(opOut(n, 0)) * matmulK(opDims(n, 0))
	}), opRow{"QLinearMatMul", 10, "8:1", ""})
	regOps("", inferGemm, opFlops(gemmFlops), opRow{"Gemm", 6, "2-3:1", "alpha=f:1 beta=f:1 broadcast=i:0 transA=i:0 transB=i:0"})
	regOps("", nil, nil, opRow{"Einsum", 12, "1-*:1", "equation=s"})
	regOps("", inferDet, nil, opRow{"Det", 11, "1:1", ""})
	regOps("", inferTopK, opPerInElem(1), opRow{"TopK", 1, "1-2:2", "axis=i:-1 k=i largest=i:1 sorted=i:1"})
	regOps("", inferSameType, opPerOutElem(1), opRow{"CumSum", 11, "2:1", "exclusive=i:0 reverse=i:0"})
	regOps("", nil, nil,
		opRow{"DFT", 17, "1-2:1", "axis=i:1 inverse=i:0 onesided=i:0"},
		opRow{"STFT", 17, "2-4:1", "onesided=i:1"},
	)
	// Axis default: 1 before opset 13, -1 since.
	regOps("", inferSameType, opPerOutElem(4),
		opRow{"Softmax", 1, "1:1", "axis=i:-1"},
		opRow{"LogSoftmax", 1, "1:1", "axis=i:-1"},
	)
	regOps("", inferSameType, opPerOutElem(1), opRow{"Hardmax", 1, "1:1", "axis=i:-1"})
	regOps("", nil, nil,
		opRow{"NegativeLogLikelihoodLoss", 12, "2-3:1", "ignore_index=i reduction=s:mean"},
		opRow{"SoftmaxCrossEntropyLoss", 12, "2-3:1-2", "ignore_index=i reduction=s:mean"},
	)
}

// inferMatMul infers numpy matmul of inputs a and b; the output dtype is
// out, or a's dtype when out is Undefined.
func inferMatMul(a, b int, out DType) opInferFn {
	return func(c *inferCtx) error {
		d := out
		if d == Undefined {
			d = c.dtype(a)
			if out == Undefined && a == 0 && b == 1 {
				var err error
				if d, err = c.commonDType(a, b); err != nil {
					return err
				}
			}
		}
		ta, ok1 := c.ranked(a)
		tb, ok2 := c.ranked(b)
		if !ok1 || !ok2 {
			return c.setDType(0, d)
		}
		s, err := matmulShape(ta.Shape, tb.Shape)
		if err != nil {
			return c.errf("%v", err)
		}
		return c.setTensor(0, d, s)
	}
}

// matmulShape is the result shape of numpy matmul.
func matmulShape(a, b Shape) (Shape, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, errorf("matmul of a scalar")
	}
	a1, b1 := len(a) == 1, len(b) == 1
	if a1 {
		a = Shape{D(1), a[0]}
	}
	if b1 {
		b = Shape{b[0], D(1)}
	}
	ka, kb := a[len(a)-1], b[len(b)-2]
	if ka.Known() && kb.Known() && ka.Size != kb.Size {
		return nil, errorf("matmul inner dims %d and %d differ", ka.Size, kb.Size)
	}
	batch, err := broadcastShapes(a[:len(a)-2], b[:len(b)-2])
	if err != nil {
		return nil, err
	}
	out := append(Shape{}, batch...)
	if !a1 {
		out = append(out, a[len(a)-2])
	}
	if !b1 {
		out = append(out, b[len(b)-1])
	}
	return out, nil
}

func matmulK(a []int64) int64 {
	if len(a) == 0 {
		return 0
	}
	return a[len(a)-1]
}

func matmulFlops(n *Node) int64 { return 2 * opElems(opOut(n, 0)) * matmulK(opDims(n, 0)) }

func inferGemm(c *inferCtx) error {
	d, err := c.commonDType(0, 1)
	if err != nil {
		return err
	}
	ta, ok1 := c.ranked(0)
	tb, ok2 := c.ranked(1)
	if !ok1 || !ok2 {
		return c.setDType(0, d)
	}
	if len(ta.Shape) != 2 || len(tb.Shape) != 2 {
		return c.errf("Gemm wants 2-D inputs, got %s and %s", typeText(ta), typeText(tb))
	}
	m, ka := ta.Shape[0], ta.Shape[1]
	if c.attrInt("transA", 0) != 0 {
		m, ka = ka, m
	}
	kb, nn := tb.Shape[0], tb.Shape[1]
	if c.attrInt("transB", 0) != 0 {
		kb, nn = nn, kb
	}
	if ka.Known() && kb.Known() && ka.Size != kb.Size {
		return c.errf("inner dims %d and %d differ", ka.Size, kb.Size)
	}
	return c.setTensor(0, d, Shape{m, nn})
}

func gemmFlops(n *Node) int64 {
	a := opDims(n, 0)
	if len(a) != 2 {
		return 0
	}
	k := a[1]
	if n.AttrInt("transA", 0) != 0 {
		k = a[0]
	}
	out := opElems(opOut(n, 0))
	f := 2 * out * k
	if n.Input(2) != nil {
		f += out
	}
	return f
}

func inferDet(c *inferCtx) error {
	t, ok := c.ranked(0)
	if !ok {
		return c.setDType(0, c.dtype(0))
	}
	if len(t.Shape) < 2 {
		return c.errf("Det wants rank >= 2, got %s", typeText(t))
	}
	return c.setTensor(0, t.DType, t.Shape[:len(t.Shape)-2])
}

func inferTopK(c *inferCtx) error {
	t, ok := c.ranked(0)
	if !ok {
		return firstErr(c.setDType(0, c.dtype(0)), c.setDType(1, Int64))
	}
	axis, err := normAxisRank(c.attrInt("axis", -1), len(t.Shape))
	if err != nil {
		return c.errf("%v", err)
	}
	k := UnknownDim()
	if c.opset < 10 {
		if a, ok := c.n.Attrs["k"]; ok && a.Kind == AttrInt {
			k = D(a.Int)
		}
	} else if ks, ok := c.ints(1); ok && len(ks) == 1 {
		k = valToDim(ks[0])
	}
	s := append(Shape{}, t.Shape...)
	s[axis] = k
	return firstErr(c.setTensor(0, t.DType, s), c.setTensor(1, Int64, s))
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
