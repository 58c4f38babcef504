package llm

import (
	"fmt"

	"github.com/optc-dev/optc/ir"
)

// nativeRopeOps rewrites g's optc.RotaryEmbedding nodes (the graphs
// llama.Build makes for GGUF and safetensors models) into standard ONNX
// ops that codegen lowers natively: the cos/sin rows gathered by position,
// the rotated halves (or interleaved pairs) sliced out, multiplied, added
// and concatenated back. Left as they are, each would be an interpreter
// step splitting the bundle's native segments (two per layer) and
// allocating its output on every pass. The arithmetic is the
// interpreter's: y0 = x0·cos − x1·sin, y1 = x0·sin + x1·cos. Nodes of
// another form (4-D X, no position_ids, a head size not known) stay.
func nativeRopeOps(g *ir.Graph) error {
	names := ir.NewNameSet(g)
	var out []*ir.Node
	for _, n := range g.Nodes {
		if n.Op != "RotaryEmbedding" || n.Domain != ir.DomainOptc {
			out = append(out, n)
			continue
		}
		ops, err := nativeRopeExpand(g, n, names)
		if err != nil {
			return fmt.Errorf("%s: %w", n.Describe(), err)
		}
		if ops == nil {
			out = append(out, n)
			continue
		}
		out = append(out, ops...)
	}
	g.Nodes = out
	return nil
}

// nativeRopeExpand returns the nodes replacing rotary node n (nil where
// n keeps its form); the last one defines n's output.
func nativeRopeExpand(g *ir.Graph, n *ir.Node, names ir.NameSet) ([]*ir.Node, error) {
	if len(n.Inputs) < 4 || n.Inputs[3] == nil || len(n.Outputs) != 1 {
		return nil, nil
	}
	x, cos, sin, pos := n.Inputs[0], n.Inputs[1], n.Inputs[2], n.Inputs[3]
	if cos.Const == nil || sin.Const == nil || len(cos.Const.Shape) != 2 || !x.Type.Ranked || len(x.Type.Shape) != 3 {
		return nil, nil
	}
	width := x.Type.Shape[2].Size
	heads := n.AttrInt("num_heads", 0)
	if !x.Type.Shape[2].Known() || heads <= 0 || width%heads != 0 {
		return nil, nil
	}
	d := width / heads
	rd := n.AttrInt("rotary_embedding_dim", 0)
	if rd == 0 {
		rd = d
	}
	half := rd / 2
	if rd < 0 || rd > d || rd%2 != 0 || cos.Const.Shape[1] != half {
		return nil, fmt.Errorf("rotary_embedding_dim %d, head size %d, cos_cache %v: not a rotation the interpreter would run", rd, d, cos.Const.Shape)
	}
	interleaved := n.AttrInt("interleaved", 0) != 0
	var nodes []*ir.Node
	fresh := names.Fresh
	i64 := func(vals ...int64) *ir.Value {
		v := &ir.Value{Name: fresh(n.Name + "/c"), Const: ir.FromSlice(ir.Int64, []int64{int64(len(vals))}, vals)}
		v.Type = ir.TensorType(ir.Int64, ir.ShapeOf(int64(len(vals))))
		g.Consts = append(g.Consts, v)
		return v
	}
	op := func(o string, attrs map[string]*ir.Attr, ins ...*ir.Value) *ir.Value {
		if attrs == nil {
			attrs = map[string]*ir.Attr{}
		}
		nn := &ir.Node{Op: o, Name: fresh(n.Name + "/" + o), Inputs: ins, Attrs: attrs}
		v := &ir.Value{Name: fresh(nn.Name + "_out"), Def: nn}
		nn.Outputs = []*ir.Value{v}
		nodes = append(nodes, nn)
		return v
	}
	slice := func(v *ir.Value, from, to, axis int64) *ir.Value {
		return op("Slice", nil, v, i64(from), i64(to), i64(axis))
	}
	rotate := func(x1, x2, c, s *ir.Value) (*ir.Value, *ir.Value) {
		y1 := op("Sub", nil, op("Mul", nil, x1, c), op("Mul", nil, x2, s))
		y2 := op("Add", nil, op("Mul", nil, x1, s), op("Mul", nil, x2, c))
		return y1, y2
	}
	cg, sg := op("Gather", nil, cos, pos), op("Gather", nil, sin, pos) // [1, S, half]
	x4 := op("Reshape", nil, x, i64(0, 0, heads, d))
	var y4 *ir.Value
	if !interleaved {
		c4, s4 := op("Reshape", nil, cg, i64(0, 0, 1, half)), op("Reshape", nil, sg, i64(0, 0, 1, half))
		y1, y2 := rotate(slice(x4, 0, half, 3), slice(x4, half, rd, 3), c4, s4)
		parts := []*ir.Value{y1, y2}
		if rd < d {
			parts = append(parts, slice(x4, rd, d, 3))
		}
		y4 = op("Concat", map[string]*ir.Attr{"axis": ir.IntAttr(3)}, parts...)
	} else {
		xr := x4
		if rd < d {
			xr = slice(x4, 0, rd, 3)
		}
		x5 := op("Reshape", nil, xr, i64(0, 0, heads, half, 2))
		c5, s5 := op("Reshape", nil, cg, i64(0, 0, 1, half, 1)), op("Reshape", nil, sg, i64(0, 0, 1, half, 1))
		y1, y2 := rotate(slice(x5, 0, 1, 4), slice(x5, 1, 2, 4), c5, s5)
		y4 = op("Reshape", nil, op("Concat", map[string]*ir.Attr{"axis": ir.IntAttr(4)}, y1, y2), i64(0, 0, heads, rd))
		if rd < d {
			y4 = op("Concat", map[string]*ir.Attr{"axis": ir.IntAttr(3)}, y4, slice(x4, rd, d, 3))
		}
	}
	// The last node writes n's own output value.
	op("Reshape", nil, y4, i64(0, 0, width))
	final := nodes[len(nodes)-1]
	final.Outputs[0] = n.Outputs[0]
	n.Outputs[0].Def = final
	return nodes, nil
}
