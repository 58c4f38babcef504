package passes

import (
	"context"
	"fmt"
	"slices"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

func init() {
	Register("dce", func(a Args) (Pass, error) { return DCE{}, a.Only() })
	Register("fold", func(a Args) (Pass, error) {
		if err := a.Only("max-elements"); err != nil {
			return nil, err
		}
		n, err := a.Int("max-elements", 1<<20)
		return Fold{MaxElements: int64(n)}, err
	})
}

// DCE removes nodes whose outputs nothing uses and constants nothing
// reads, in the graph and its subgraphs. Graph outputs and values read by
// subgraphs (outer-scope references) count as uses.
type DCE struct{}

func (DCE) Name() string { return "dce" }

func (DCE) Run(ctx *Context, g *ir.Graph) error {
	uses := map[*ir.Value]int{}
	countUses(g, uses, +1)
	removed := dceGraph(g, uses)
	ctx.Logf("dce: removed %d nodes", removed)
	return nil
}

// countUses adds delta to the use count of every value read in g (its
// subgraphs included) and of its outputs.
func countUses(g *ir.Graph, uses map[*ir.Value]int, delta int) {
	for _, o := range g.Outputs {
		uses[o] += delta
	}
	for _, n := range g.Nodes {
		countNodeReads(n, uses, delta)
	}
}

// countNodeReads adds delta for every value node n reads, including the
// outer-scope values its subgraphs read.
func countNodeReads(n *ir.Node, uses map[*ir.Value]int, delta int) {
	for _, in := range n.Inputs {
		if in != nil {
			uses[in] += delta
		}
	}
	for _, sg := range n.Subgraphs() {
		countUses(sg, uses, delta)
	}
}

// dceGraph drops dead nodes back to front, releasing their reads as it
// goes so whole dead chains die in one sweep, then drops unread
// constants. It returns the number of nodes removed.
func dceGraph(g *ir.Graph, uses map[*ir.Value]int) int {
	removed := 0
	live := make([]*ir.Node, 0, len(g.Nodes))
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		alive := false
		for _, o := range n.Outputs {
			alive = alive || (o != nil && uses[o] > 0)
		}
		if !alive {
			countNodeReads(n, uses, -1)
			removed++
			continue
		}
		live = append(live, n)
		for _, sg := range n.Subgraphs() {
			removed += dceGraph(sg, uses)
		}
	}
	slices.Reverse(live)
	g.Nodes = live
	consts := g.Consts[:0]
	for _, c := range g.Consts {
		if uses[c] > 0 {
			consts = append(consts, c)
		}
	}
	g.Consts = consts
	return removed
}

// Fold evaluates nodes whose inputs are all constants with the reference
// interpreter and turns their outputs into constants. Shape, Size and
// similar nodes whose input type is fully static fold too. Random ops never
// fold; outputs larger than MaxElements stay computed at run time, so a
// ConstantOfShape does not bloat the weights.
type Fold struct{ MaxElements int64 }

func (Fold) Name() string { return "fold" }

// unfoldable are ops whose result must not be computed at compile time.
var unfoldable = map[string]bool{
	"RandomNormal": true, "RandomUniform": true, "RandomNormalLike": true,
	"RandomUniformLike": true, "Multinomial": true, "Bernoulli": true,
	"If": true, "Loop": true, "Scan": true, "SequenceMap": true,
}

func (f Fold) Run(ctx *Context, g *ir.Graph) error {
	// Types make Shape/Size foldable; a graph that cannot be fully
	// inferred still folds what it can.
	_ = ir.InferShapes(g)
	folded, err := f.foldGraph(g, g.Opsets)
	if err != nil {
		return err
	}
	ctx.Logf("fold: folded %d nodes", folded)
	if folded > 0 {
		_ = DCE{}.Run(&Context{}, g)
	}
	return nil
}

func (f Fold) foldGraph(g *ir.Graph, opsets map[string]int64) (int, error) {
	folded := 0
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		vals, ok, err := f.tryFold(n, opsets)
		if err != nil {
			return folded, err
		}
		if !ok {
			for _, sg := range n.Subgraphs() {
				k, err := f.foldGraph(sg, opsets)
				folded += k
				if err != nil {
					return folded, err
				}
			}
			kept = append(kept, n)
			continue
		}
		for i, o := range n.Outputs {
			if o == nil {
				continue
			}
			o.Def = nil
			o.Const = vals[i]
			o.Type = ir.TensorType(vals[i].DType, ir.ShapeOf(vals[i].Shape...))
			g.Consts = append(g.Consts, o)
		}
		folded++
	}
	g.Nodes = kept
	return folded, nil
}

// tryFold evaluates n if all its inputs are known at compile time.
func (f Fold) tryFold(n *ir.Node, opsets map[string]int64) ([]*ir.Tensor, bool, error) {
	if unfoldable[n.Op] || len(n.Subgraphs()) > 0 || !interp.HasKernel(n.Domain, n.Op) {
		return nil, false, nil
	}
	if v, ok := staticShapeFold(n); ok {
		return []*ir.Tensor{v}, true, nil
	}
	for _, in := range n.Inputs {
		if in != nil && in.Const == nil {
			return nil, false, nil
		}
	}
	for _, o := range n.Outputs {
		if o != nil && o.Type.Ranked {
			if s, ok := o.Type.Shape.Concrete(); ok && ir.NumElements(s) > f.MaxElements {
				return nil, false, nil
			}
		}
	}
	// Run the node alone: a one-node graph with the node's constants.
	sub := &ir.Graph{Name: "fold", Opsets: opsets}
	for _, in := range n.Inputs {
		if in != nil && !containsValue(sub.Consts, in) {
			sub.Consts = append(sub.Consts, in)
		}
	}
	sub.Nodes = []*ir.Node{n}
	for _, o := range n.Outputs {
		if o != nil {
			sub.Outputs = append(sub.Outputs, o)
		}
	}
	out, err := interp.Run(context.Background(), sub, nil)
	if err != nil {
		return nil, false, fmt.Errorf("folding %s: %w", n.Describe(), err)
	}
	res := make([]*ir.Tensor, len(n.Outputs))
	for i, o := range n.Outputs {
		if o == nil {
			continue
		}
		t, ok := out[o.Name].(*ir.Tensor)
		if !ok || ir.NumElements(t.Shape) > f.MaxElements {
			return nil, false, nil
		}
		res[i] = t
	}
	return res, true, nil
}

// staticShapeFold folds Shape and Size of a value whose shape is fully
// known at compile time.
func staticShapeFold(n *ir.Node) (*ir.Tensor, bool) {
	if (n.Op != "Shape" && n.Op != "Size") || n.Domain != "" || len(n.Inputs) != 1 || n.Inputs[0] == nil {
		return nil, false
	}
	t := n.Inputs[0].Type
	if t.Kind != ir.KindTensor || !t.Ranked {
		return nil, false
	}
	dims, ok := t.Shape.Concrete()
	if !ok {
		return nil, false
	}
	if n.Op == "Size" {
		return ir.ScalarI64(ir.NumElements(dims)), true
	}
	r := int64(len(dims))
	start, end := n.AttrInt("start", 0), n.AttrInt("end", r)
	clamp := func(x int64) int64 {
		if x < 0 {
			x += r
		}
		return min(max(x, 0), r)
	}
	start, end = clamp(start), clamp(end)
	if end < start {
		end = start
	}
	sel := append([]int64{}, dims[start:end]...)
	return ir.FromSlice(ir.Int64, []int64{int64(len(sel))}, sel), true
}

func containsValue(vs []*ir.Value, v *ir.Value) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}
