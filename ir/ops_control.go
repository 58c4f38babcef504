package ir

// Control flow, sequence and optional ops. Inference descends into If
// branches and Loop/Scan bodies (filling body input types from the node's
// inputs); an If whose condition is known statically (say, computed from
// shapes) takes the types of that branch, otherwise it joins both. Their
// cost is unknown statically.

func init() {
	regOps("", inferIf, nil, opRow{"If", 1, "1:1-*", "else_branch=g then_branch=g"})
	regOps("", inferLoop, nil, opRow{"Loop", 1, "2-*:1-*", "body=g"})
	regOps("", inferScan, nil, opRow{"Scan", 8, "1-*:1-*", "body=g directions=is num_scan_inputs=i scan_input_axes=is scan_input_directions=is scan_output_axes=is scan_output_directions=is"})
	regOps("", nil, nil, opRow{"SequenceMap", 17, "1-*:1-*", "body=g"})
	regOps("", inferSeqConstruct, opZeroFlops, opRow{"SequenceConstruct", 11, "1-*:1", ""})
	regOps("", inferSeqEmpty, opZeroFlops, opRow{"SequenceEmpty", 11, "0:1", "dtype=i"})
	regOps("", inferElemOf(KindSequence), opZeroFlops, opRow{"SequenceAt", 11, "2:1", ""})
	regOps("", inferSameType, opZeroFlops,
		opRow{"SequenceErase", 11, "1-2:1", ""},
		opRow{"SequenceInsert", 11, "2-3:1", ""},
	)
	regOps("", inferScalarOf(Int64), opZeroFlops, opRow{"SequenceLength", 11, "1:1", ""})
	regOps("", inferSplitToSequence, opZeroFlops, opRow{"SplitToSequence", 11, "1-2:1", "axis=i:0 keepdims=i:1"})
	regOps("", inferConcatFromSequence, opZeroFlops, opRow{"ConcatFromSequence", 11, "1:1", "axis=i new_axis=i:0"})
	regOps("", inferOptional, opZeroFlops, opRow{"Optional", 15, "0-1:1", "type=tp"})
	regOps("", inferElemOf(KindOptional), opZeroFlops, opRow{"OptionalGetElement", 15, "1:1", ""})
	regOps("", inferScalarOf(Bool), opZeroFlops, opRow{"OptionalHasElement", 15, "1:1", ""})
}

// subgraph returns a graph attribute.
func (c *inferCtx) subgraph(name string) (*Graph, error) {
	a, ok := c.n.Attrs[name]
	if !ok || a.Kind != AttrGraph || a.Graph == nil {
		return nil, c.errf("missing graph attribute %s", name)
	}
	return a.Graph, nil
}

// bindInput merges t into a subgraph input's type. A declared type that
// disagrees is kept (a loop state may legitimately change shape).
func (c *inferCtx) bindInput(g *Graph, i int, t Type) error {
	if i >= len(g.Inputs) || g.Inputs[i] == nil {
		return nil
	}
	v := g.Inputs[i]
	if m, err := mergeType(v.Type, t); err == nil {
		v.Type = m
	}
	return nil
}

// inferLoopBody infers a Loop or Scan body whose inputs inFirst... carry
// state from one iteration to the next (body outputs outFirst...). State
// shapes may change between iterations, so the body is inferred with the
// initial state types and, while a state output differs from its input,
// again (types reset) with the join of both. After three rounds the state
// inputs get their element types only. fixed binds the other inputs.
func (c *inferCtx) inferLoopBody(body *Graph, fixed func() error, inFirst, outFirst int, init []Type) error {
	snap := map[*Value]Type{}
	snapshotTypes(body, snap)
	state := append([]Type(nil), init...)
	const rounds = 3
	for round := 0; ; round++ {
		if round > 0 {
			for v, t := range snap {
				v.Type = t
				delete(c.vals, v)
				delete(c.tensors, v)
			}
		}
		if err := fixed(); err != nil {
			return err
		}
		for i, t := range state {
			if round == rounds {
				t = Type{Kind: t.Kind, DType: t.DType}
			}
			if err := c.bindInput(body, inFirst+i, t); err != nil {
				return err
			}
		}
		if err := c.graph(body); err != nil {
			return err
		}
		if round == rounds {
			return nil
		}
		stable := true
		for i := range state {
			in, out := body.Inputs[inFirst+i], body.Outputs[outFirst+i]
			if in == nil || out == nil {
				continue
			}
			if j := joinType(in.Type, out.Type); typeText(j) != typeText(in.Type) {
				stable, state[i] = false, j
			}
		}
		if stable {
			return nil
		}
	}
}

// snapshotTypes records the types of every value of g and its subgraphs.
func snapshotTypes(g *Graph, m map[*Value]Type) {
	for _, v := range g.Inputs {
		if v != nil {
			m[v] = cloneType(v.Type)
		}
	}
	for _, n := range g.Nodes {
		if n == nil {
			continue
		}
		for _, v := range n.Outputs {
			if v != nil {
				m[v] = cloneType(v.Type)
			}
		}
		for _, sg := range n.Subgraphs() {
			snapshotTypes(sg, m)
		}
	}
}

// joinType is the most precise type that covers both a and b: dims that
// differ become unknown, ranks that differ make the tensor unranked.
func joinType(a, b Type) Type {
	switch {
	case !typeKnown(a):
		return Type{}
	case !typeKnown(b):
		return Type{}
	case a.Kind != b.Kind:
		return Type{}
	case a.Kind != KindTensor:
		if a.Elem == nil || b.Elem == nil {
			return Type{Kind: a.Kind}
		}
		e := joinType(*a.Elem, *b.Elem)
		return Type{Kind: a.Kind, Elem: &e}
	}
	out := Type{Kind: KindTensor, DType: a.DType}
	if a.DType != b.DType {
		out.DType = Undefined
	}
	if !a.Ranked || !b.Ranked || len(a.Shape) != len(b.Shape) {
		return out
	}
	out.Ranked = true
	out.Shape = make(Shape, len(a.Shape))
	for i := range a.Shape {
		out.Shape[i] = UnknownDim()
		if dimEq(a.Shape[i], b.Shape[i]) {
			out.Shape[i] = a.Shape[i]
		}
	}
	return out
}

func inferIf(c *inferCtx) error {
	th, err := c.subgraph("then_branch")
	if err != nil {
		return err
	}
	el, err := c.subgraph("else_branch")
	if err != nil {
		return err
	}
	if err := firstErr(c.graph(th), c.graph(el)); err != nil {
		return err
	}
	if len(th.Outputs) != len(el.Outputs) || len(th.Outputs) != len(c.n.Outputs) {
		return c.errf("branches have %d and %d outputs for %d node outputs", len(th.Outputs), len(el.Outputs), len(c.n.Outputs))
	}
	// A condition known statically (computed from shapes) selects a branch.
	if cond, ok := c.concreteInts(0); ok && len(cond) == 1 {
		taken := el
		if cond[0] != 0 {
			taken = th
		}
		for i, o := range taken.Outputs {
			if o != nil {
				if err := c.set(i, o.Type); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for i := range c.n.Outputs {
		if th.Outputs[i] == nil || el.Outputs[i] == nil {
			continue
		}
		a, b := th.Outputs[i].Type, el.Outputs[i].Type
		if a.Kind == KindTensor && b.Kind == KindTensor && a.DType != Undefined && b.DType != Undefined && a.DType != b.DType {
			return c.errf("branches disagree on output %d: %s and %s", i, typeText(a), typeText(b))
		}
		if err := c.set(i, joinType(a, b)); err != nil {
			return err
		}
	}
	return nil
}

func inferLoop(c *inferCtx) error {
	body, err := c.subgraph("body")
	if err != nil {
		return err
	}
	carried := len(c.n.Inputs) - 2
	if len(body.Inputs) != carried+2 {
		return c.errf("body has %d inputs for %d loop-carried values", len(body.Inputs), carried)
	}
	if len(body.Outputs) < 1+carried {
		return c.errf("body has %d outputs for %d loop-carried values", len(body.Outputs), carried)
	}
	fixed := func() error {
		return firstErr(c.bindInput(body, 0, TensorType(Int64, Shape{})), c.bindInput(body, 1, TensorType(Bool, Shape{})))
	}
	init := make([]Type, carried)
	for i := range init {
		init[i] = c.in(2 + i)
	}
	if err := c.inferLoopBody(body, fixed, 2, 1, init); err != nil {
		return err
	}
	if len(body.Outputs) < 1+carried || len(c.n.Outputs) != len(body.Outputs)-1 {
		return c.errf("body has %d outputs for %d loop-carried values and %d node outputs", len(body.Outputs), carried, len(c.n.Outputs))
	}
	trips := UnknownDim()
	if m, ok := c.concreteInts(0); ok && len(m) == 1 && !c.has(1) {
		trips = D(m[0])
	}
	for i := range c.n.Outputs {
		bo := body.Outputs[1+i]
		if bo == nil {
			continue
		}
		t := bo.Type
		if i < carried {
			t = joinType(c.in(2+i), t)
		} else if t.Kind == KindTensor && t.Ranked {
			t = TensorType(t.DType, append(Shape{trips}, t.Shape...))
		} else {
			t = Type{Kind: KindTensor, DType: t.DType}
		}
		if err := c.set(i, t); err != nil {
			return err
		}
	}
	return nil
}

func inferScan(c *inferCtx) error {
	if c.opset < 9 {
		return nil // opset-8 Scan has a batch axis and sequence_lens; left unknown
	}
	body, err := c.subgraph("body")
	if err != nil {
		return err
	}
	m := int(c.attrInt("num_scan_inputs", 0))
	n := len(c.n.Inputs) - m
	if m <= 0 || n < 0 || len(body.Inputs) != n+m {
		return c.errf("body has %d inputs for %d inputs with %d scanned", len(body.Inputs), len(c.n.Inputs), m)
	}
	inAxes := c.n.AttrInts("scan_input_axes", make([]int64, m))
	if len(inAxes) != m {
		return c.errf("scan_input_axes %v for %d scan inputs", inAxes, m)
	}
	seq := UnknownDim()
	fixed := func() error {
		for j := 0; j < m; j++ {
			t, ok := c.ranked(n + j)
			if !ok {
				continue
			}
			ax, err := normAxisRank(inAxes[j], len(t.Shape))
			if err != nil {
				return c.errf("scan input %d: %v", j, err)
			}
			seq = t.Shape[ax]
			s := append(append(Shape{}, t.Shape[:ax]...), t.Shape[ax+1:]...)
			if err := c.bindInput(body, n+j, TensorType(t.DType, s)); err != nil {
				return err
			}
		}
		return nil
	}
	if len(body.Outputs) < n {
		return c.errf("body has %d outputs for %d state values", len(body.Outputs), n)
	}
	init := make([]Type, n)
	for i := range init {
		init[i] = c.in(i)
	}
	if err := c.inferLoopBody(body, fixed, 0, 0, init); err != nil {
		return err
	}
	k := len(body.Outputs) - n
	if k < 0 || len(c.n.Outputs) != len(body.Outputs) {
		return c.errf("body has %d outputs for %d node outputs", len(body.Outputs), len(c.n.Outputs))
	}
	outAxes := c.n.AttrInts("scan_output_axes", make([]int64, k))
	if len(outAxes) != k {
		return c.errf("scan_output_axes %v for %d scan outputs", outAxes, k)
	}
	for i, bo := range body.Outputs {
		if bo == nil {
			continue
		}
		t := bo.Type
		if i >= n {
			if t.Kind == KindTensor && t.Ranked {
				ax, err := normAxisRank(outAxes[i-n], len(t.Shape)+1)
				if err != nil {
					return c.errf("scan output %d: %v", i-n, err)
				}
				s := append(append(append(Shape{}, t.Shape[:ax]...), seq), t.Shape[ax:]...)
				t = TensorType(t.DType, s)
			} else {
				t = Type{Kind: KindTensor, DType: t.DType}
			}
		}
		if err := c.set(i, t); err != nil {
			return err
		}
	}
	return nil
}

func inferSeqConstruct(c *inferCtx) error {
	e := c.in(0)
	for i := 1; i < len(c.n.Inputs); i++ {
		if d := c.dtype(i); d != Undefined && e.DType != Undefined && d != e.DType {
			return c.errf("sequence elements of dtypes %s and %s", e.DType, d)
		}
		e = joinType(e, c.in(i))
	}
	return c.set(0, Type{Kind: KindSequence, Elem: &e})
}

func inferSeqEmpty(c *inferCtx) error {
	d, err := c.opAttrDType("dtype", Float32)
	if err != nil {
		return err
	}
	return c.set(0, Type{Kind: KindSequence, Elem: &Type{Kind: KindTensor, DType: d}})
}

// inferElemOf gives output 0 the element type of a sequence or optional.
func inferElemOf(k TypeKind) opInferFn {
	return func(c *inferCtx) error {
		t := c.in(0)
		if t.Kind != k || t.Elem == nil {
			return nil
		}
		return c.set(0, *t.Elem)
	}
}

func inferScalarOf(d DType) opInferFn {
	return func(c *inferCtx) error { return c.setTensor(0, d, Shape{}) }
}

func inferSplitToSequence(c *inferCtx) error {
	return c.set(0, Type{Kind: KindSequence, Elem: &Type{Kind: KindTensor, DType: c.dtype(0)}})
}

func inferConcatFromSequence(c *inferCtx) error {
	t := c.in(0)
	if t.Kind != KindSequence || t.Elem == nil {
		return nil
	}
	return c.setDType(0, t.Elem.DType)
}

func inferOptional(c *inferCtx) error {
	if !c.has(0) {
		return nil // the element type comes from the unsupported type attribute
	}
	e := c.in(0)
	return c.set(0, Type{Kind: KindOptional, Elem: &e})
}
