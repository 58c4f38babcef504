package ir

import "fmt"

// Builder constructs a Graph, naming values uniquely.
type Builder struct {
	g     *Graph
	names map[string]int
}

// NewBuilder starts an empty graph with the given name and the default
// ONNX opset 17.
func NewBuilder(name string) *Builder {
	return &Builder{g: &Graph{Name: name, Opsets: map[string]int64{"": 17}}, names: map[string]int{}}
}

// Graph returns the graph built so far.
func (b *Builder) Graph() *Graph { return b.g }

// Unique returns base if unused, else base_N for the smallest free N.
func (b *Builder) Unique(base string) string {
	if base == "" {
		base = "v"
	}
	if _, used := b.names[base]; !used {
		b.names[base] = 0
		return base
	}
	for {
		b.names[base]++
		n := fmt.Sprintf("%s_%d", base, b.names[base])
		if _, used := b.names[n]; !used {
			b.names[n] = 0
			return n
		}
	}
}

// Input adds a graph input.
func (b *Builder) Input(name string, t Type) *Value {
	v := &Value{Name: b.Unique(name), Type: t}
	b.g.Inputs = append(b.g.Inputs, v)
	return v
}

// Const adds a constant value.
func (b *Builder) Const(name string, t *Tensor) *Value {
	v := &Value{Name: b.Unique(name), Type: TensorType(t.DType, ShapeOf(t.Shape...)), Const: t}
	b.g.Consts = append(b.g.Consts, v)
	return v
}

// Op appends a node with nOut outputs named after the op and returns them.
// Output types are left undefined; run InferShapes to fill them.
func (b *Builder) Op(op string, inputs []*Value, attrs map[string]*Attr, nOut int) []*Value {
	n := &Node{Op: op, Inputs: inputs, Attrs: attrs}
	if n.Attrs == nil {
		n.Attrs = map[string]*Attr{}
	}
	for i := 0; i < nOut; i++ {
		v := &Value{Name: b.Unique(lowerFirst(op)), Def: n}
		n.Outputs = append(n.Outputs, v)
	}
	n.Name = b.Unique(n.Outputs[0].Name + "_node")
	b.g.Nodes = append(b.g.Nodes, n)
	return n.Outputs
}

// Op1 is Op with a single output.
func (b *Builder) Op1(op string, attrs map[string]*Attr, inputs ...*Value) *Value {
	return b.Op(op, inputs, attrs, 1)[0]
}

// Output marks values as graph outputs.
func (b *Builder) Output(vs ...*Value) { b.g.Outputs = append(b.g.Outputs, vs...) }

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	c := s[0]
	if c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	return string(c) + s[1:]
}

// Attribute constructors.
func IntAttr(v int64) *Attr         { return &Attr{Kind: AttrInt, Int: v} }
func FloatAttr(v float32) *Attr     { return &Attr{Kind: AttrFloat, Float: v} }
func StringAttr(v string) *Attr     { return &Attr{Kind: AttrString, String: v} }
func IntsAttr(v ...int64) *Attr     { return &Attr{Kind: AttrInts, Ints: v} }
func FloatsAttr(v ...float32) *Attr { return &Attr{Kind: AttrFloats, Floats: v} }
func TensorAttr(t *Tensor) *Attr    { return &Attr{Kind: AttrTensor, Tensor: t} }
func GraphAttr(g *Graph) *Attr      { return &Attr{Kind: AttrGraph, Graph: g} }
