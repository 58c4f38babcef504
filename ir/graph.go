package ir

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Dim is one dimension of a shape: a known size (Param == "" and Size >= 0),
// a named symbolic size (Param != ""), or unknown (Param == "" and Size < 0).
type Dim struct {
	Size  int64
	Param string
}

// Known reports whether the dim has a concrete size.
func (d Dim) Known() bool { return d.Param == "" && d.Size >= 0 }

// D returns a concrete dim; Sym a symbolic one; Unknown an anonymous one.
func D(n int64) Dim       { return Dim{Size: n} }
func Sym(name string) Dim { return Dim{Size: -1, Param: name} }
func UnknownDim() Dim     { return Dim{Size: -1} }
func (d Dim) String() string {
	switch {
	case d.Param != "":
		return d.Param
	case d.Size < 0:
		return "?"
	}
	return strconv.FormatInt(d.Size, 10)
}

// Shape is a list of dims.
type Shape []Dim

// ShapeOf converts concrete sizes to a Shape.
func ShapeOf(sizes ...int64) Shape {
	s := make(Shape, len(sizes))
	for i, n := range sizes {
		s[i] = D(n)
	}
	return s
}

// Concrete returns the sizes if every dim is known.
func (s Shape) Concrete() ([]int64, bool) {
	out := make([]int64, len(s))
	for i, d := range s {
		if !d.Known() {
			return nil, false
		}
		out[i] = d.Size
	}
	return out, true
}

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TypeKind distinguishes tensors from ONNX sequence and optional values.
type TypeKind uint8

const (
	KindTensor TypeKind = iota
	KindSequence
	KindOptional
)

// Type is the static type of a Value. For tensors, Ranked says whether
// Shape is meaningful (an unranked tensor has no shape information). For
// sequences and optionals Elem is the element type.
type Type struct {
	Kind   TypeKind
	DType  DType
	Shape  Shape
	Ranked bool
	Elem   *Type
}

// TensorType returns a ranked tensor type.
func TensorType(d DType, shape Shape) Type {
	return Type{Kind: KindTensor, DType: d, Shape: shape, Ranked: true}
}

func (t Type) String() string {
	switch t.Kind {
	case KindSequence:
		return "seq<" + t.elemString() + ">"
	case KindOptional:
		return "opt<" + t.elemString() + ">"
	}
	if !t.Ranked {
		return t.DType.String() + "[*]"
	}
	return t.DType.String() + t.Shape.String()
}

func (t Type) elemString() string {
	if t.Elem == nil {
		return "?"
	}
	return t.Elem.String()
}

// Value is an SSA value: produced by exactly one node (Def), or a graph
// input (Def == nil, Const == nil), or a constant (Const != nil).
type Value struct {
	Name  string
	Type  Type
	Def   *Node
	Const *Tensor
}

func (v *Value) String() string { return v.Name + ": " + v.Type.String() }

// AttrKind is the type of an attribute.
type AttrKind uint8

const (
	AttrFloat AttrKind = iota + 1
	AttrInt
	AttrString
	AttrTensor
	AttrGraph
	AttrFloats
	AttrInts
	AttrStrings
	AttrTensors
	AttrGraphs
	AttrTypeProto // sparse or type attributes are not supported; kept for errors
)

// Attr is a typed node attribute. Exactly the field matching Kind is set.
type Attr struct {
	Kind    AttrKind
	Float   float32
	Int     int64
	String  string
	Tensor  *Tensor
	Graph   *Graph
	Floats  []float32
	Ints    []int64
	Strings []string
	Tensors []*Tensor
	Graphs  []*Graph
}

// Node is one operation.
type Node struct {
	Op      string
	Domain  string   // "" is the default ONNX domain
	Name    string   // the source node name, for diagnostics
	Inputs  []*Value // nil entries are omitted optional inputs
	Outputs []*Value // nil entries are omitted optional outputs
	Attrs   map[string]*Attr
}

// Describe names the node for error messages: op, domain and source name.
func (n *Node) Describe() string {
	op := n.Op
	if n.Domain != "" {
		op = n.Domain + "." + op
	}
	if n.Name == "" {
		if len(n.Outputs) > 0 && n.Outputs[0] != nil {
			return fmt.Sprintf("%s node producing %q", op, n.Outputs[0].Name)
		}
		return op + " node"
	}
	return fmt.Sprintf("%s node %q", op, n.Name)
}

// Input returns input i or nil if absent.
func (n *Node) Input(i int) *Value {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return nil
}

// AttrNames returns the node's attribute names sorted.
func (n *Node) AttrNames() []string {
	names := make([]string, 0, len(n.Attrs))
	for k := range n.Attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// AttrInt returns an int attribute or def when absent.
func (n *Node) AttrInt(name string, def int64) int64 {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrInt {
		return a.Int
	}
	return def
}

// AttrFloat returns a float attribute or def when absent.
func (n *Node) AttrFloat(name string, def float32) float32 {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrFloat {
		return a.Float
	}
	return def
}

// AttrString returns a string attribute or def when absent.
func (n *Node) AttrString(name, def string) string {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrString {
		return a.String
	}
	return def
}

// AttrInts returns an ints attribute or def when absent.
func (n *Node) AttrInts(name string, def []int64) []int64 {
	if a, ok := n.Attrs[name]; ok && (a.Kind == AttrInts || a.Kind == AttrInt) {
		if a.Kind == AttrInt {
			return []int64{a.Int}
		}
		return a.Ints
	}
	return def
}

// AttrFloats returns a floats attribute or def when absent.
func (n *Node) AttrFloats(name string, def []float32) []float32 {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrFloats {
		return a.Floats
	}
	return def
}

// AttrStrings returns a strings attribute or def when absent.
func (n *Node) AttrStrings(name string, def []string) []string {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrStrings {
		return a.Strings
	}
	return def
}

// HasAttr reports whether the attribute is present.
func (n *Node) HasAttr(name string) bool { _, ok := n.Attrs[name]; return ok }

// Graph is a function body: the top-level model graph or a subgraph of a
// control-flow node. Nodes are in topological order. Consts are the
// graph's constant values (initializers), in a stable order.
type Graph struct {
	Name    string
	Inputs  []*Value
	Outputs []*Value
	Nodes   []*Node
	Consts  []*Value
	// Opsets maps an op domain ("" for ONNX) to its opset version. Only the
	// top-level graph sets it; subgraphs inherit their parent's.
	Opsets map[string]int64
	// Meta holds model-level metadata (producer, doc string, …).
	Meta map[string]string
}

// Opset returns the opset version of domain, or 0 if not imported.
func (g *Graph) Opset(domain string) int64 {
	if domain == "ai.onnx" {
		domain = ""
	}
	return g.Opsets[domain]
}

// Subgraphs returns the graphs held in a node's attributes, sorted by
// attribute name.
func (n *Node) Subgraphs() []*Graph {
	var gs []*Graph
	for _, k := range n.AttrNames() {
		a := n.Attrs[k]
		if a.Graph != nil {
			gs = append(gs, a.Graph)
		}
		gs = append(gs, a.Graphs...)
	}
	return gs
}

// Walk calls fn for every node of g and of its subgraphs, depth first in
// program order. It stops at the first error.
func (g *Graph) Walk(fn func(g *Graph, n *Node) error) error {
	for _, n := range g.Nodes {
		if err := fn(g, n); err != nil {
			return err
		}
		for _, sg := range n.Subgraphs() {
			if err := sg.Walk(fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// ConstValue returns the constant tensor of v if v is a constant.
func ConstValue(v *Value) (*Tensor, bool) {
	if v == nil || v.Const == nil {
		return nil, false
	}
	return v.Const, true
}
