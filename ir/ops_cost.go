package ir

// GraphCost sums the static cost of g's top-level nodes whose input and
// output shapes are all known. It also returns how many nodes have an
// unknown cost: unregistered ops, nodes with unknown or symbolic shapes,
// and control-flow nodes (If, Loop, Scan, SequenceMap), whose cost depends
// on run-time trip counts and branches. A schema without a Cost counts one
// FLOP per output element.
func GraphCost(g *Graph) (Cost, int) {
	var total Cost
	unknown := 0
	for _, n := range g.Nodes {
		c, ok := NodeCost(n)
		if !ok {
			unknown++
			continue
		}
		total.FLOPs += c.FLOPs
		total.BytesRead += c.BytesRead
		total.BytesWritten += c.BytesWritten
	}
	return total, unknown
}

// NodeCost returns the static cost of one node, or false when it is not
// known (see GraphCost).
func NodeCost(n *Node) (c Cost, ok bool) {
	defer func() {
		// Cost functions are written for well-formed nodes; a malformed
		// one (say, a rank-1 Gemm operand) has an unknown cost.
		if r := recover(); r != nil {
			c, ok = Cost{}, false
		}
	}()
	if n == nil || len(n.Subgraphs()) > 0 || !opShapesKnown(n) {
		return Cost{}, false
	}
	s := LookupOp(n.Domain, n.Op)
	if s == nil {
		return Cost{}, false
	}
	if s.Cost != nil {
		return s.Cost(n), true
	}
	return opFlops(opOutElems)(n), true
}

// opShapesKnown reports whether every present input and output is a
// tensor with a concrete shape.
func opShapesKnown(n *Node) bool {
	for _, vs := range [][]*Value{n.Inputs, n.Outputs} {
		for _, v := range vs {
			if v == nil {
				continue
			}
			if v.Type.Kind != KindTensor || !v.Type.Ranked {
				return false
			}
			if _, ok := v.Type.Shape.Concrete(); !ok {
				return false
			}
		}
	}
	return true
}

// opFlops makes a cost function from a FLOP count; bytes are the sizes of
// the inputs read (constants at their stored size) and outputs written.
func opFlops(flops func(n *Node) int64) opCostFn {
	return func(n *Node) Cost {
		var c Cost
		for _, v := range n.Inputs {
			c.BytesRead += opValueBytes(v)
		}
		for _, v := range n.Outputs {
			c.BytesWritten += opValueBytes(v)
		}
		c.FLOPs = flops(n)
		return c
	}
}

// opValueBytes is the size of a value in bytes (0 when unknown).
func opValueBytes(v *Value) int64 {
	if v == nil {
		return 0
	}
	if v.Const != nil {
		return v.Const.Bytes()
	}
	return v.Type.DType.StorageBytes(opElems(v))
}

// opElems is the element count of a value with a concrete shape (0 when
// unknown).
func opElems(v *Value) int64 {
	if v == nil || v.Type.Kind != KindTensor || !v.Type.Ranked {
		return 0
	}
	s, ok := v.Type.Shape.Concrete()
	if !ok {
		return 0
	}
	return NumElements(s)
}

// opDims returns the concrete shape of input i (nil when unknown).
func opDims(n *Node, i int) []int64 {
	v := n.Input(i)
	if v == nil || v.Type.Kind != KindTensor || !v.Type.Ranked {
		return nil
	}
	s, _ := v.Type.Shape.Concrete()
	return s
}

// opOutDims is opDims for output i.
func opOutDims(n *Node, i int) []int64 {
	if i >= len(n.Outputs) || n.Outputs[i] == nil {
		return nil
	}
	s, _ := n.Outputs[i].Type.Shape.Concrete()
	return s
}

// opOut returns output i or nil.
func opOut(n *Node, i int) *Value {
	if i < len(n.Outputs) {
		return n.Outputs[i]
	}
	return nil
}

func opOutElems(n *Node) int64 {
	var e int64
	for _, v := range n.Outputs {
		e += opElems(v)
	}
	return e
}

// opPerOutElem counts k FLOPs per output element.
func opPerOutElem(k int64) opCostFn {
	return opFlops(func(n *Node) int64 { return k * opElems(opOut(n, 0)) })
}

// opPerInElem counts k FLOPs per element of input 0.
func opPerInElem(k int64) opCostFn {
	return opFlops(func(n *Node) int64 { return k * opElems(n.Input(0)) })
}

// opZeroFlops is the cost of pure data movement.
var opZeroFlops = opFlops(func(*Node) int64 { return 0 })
