package ir

import (
	"errors"
	"fmt"
)

// Verify checks the structural invariants of g and its subgraphs:
//
//   - no nil nodes, values or attributes; every value has a name;
//   - SSA: every value is defined once (graph input, constant or node
//     output), its Def/Const fields agree with where it is defined, and
//     names are unique within a graph and the graphs enclosing it;
//   - every use is defined earlier in program order, or in an enclosing
//     graph before the node that holds the subgraph; graph outputs are
//     defined;
//   - every node's op is registered, its domain is imported in the
//     top-level opsets at a version the op supports, and its input and
//     output counts match the schema;
//   - attributes are known to the schema and of the schema's kind;
//     subgraph attributes hold graphs;
//   - constants hold tensors whose dtype and shape match the value's type
//     and, when dense, whose data matches both.
//
// It returns all problems found, joined; each names the node or value.
func Verify(g *Graph) error {
	if g == nil {
		return errors.New("ir.Verify: nil graph")
	}
	v := &verifier{opsets: g.Opsets, defined: map[*Value]bool{}}
	v.graph(g)
	return errors.Join(v.errs...)
}

type verifier struct {
	opsets  map[string]int64
	errs    []error
	defined map[*Value]bool // every value defined anywhere so far
	scopes  []map[string]*Value
}

// verifyMaxErrors bounds the number of reported problems.
const verifyMaxErrors = 50

func (v *verifier) errorf(format string, args ...any) {
	if len(v.errs) == verifyMaxErrors {
		v.errs = append(v.errs, errors.New("ir.Verify: too many errors"))
	}
	if len(v.errs) < verifyMaxErrors {
		v.errs = append(v.errs, fmt.Errorf(format, args...))
	}
}

func (v *verifier) lookup(name string) *Value {
	for i := len(v.scopes) - 1; i >= 0; i-- {
		if x, ok := v.scopes[i][name]; ok {
			return x
		}
	}
	return nil
}

// define records a definition of x in the innermost scope.
func (v *verifier) define(x *Value, where string) bool {
	if x == nil {
		v.errorf("%s: nil value", where)
		return false
	}
	if x.Name == "" {
		v.errorf("%s: value without a name", where)
	}
	if v.defined[x] {
		v.errorf("%s: value %q is defined more than once", where, x.Name)
		return false
	}
	if old := v.lookup(x.Name); old != nil {
		v.errorf("%s: value name %q is already used in this scope", where, x.Name)
	}
	v.defined[x] = true
	v.scopes[len(v.scopes)-1][x.Name] = x
	return true
}

// use checks that x is visible.
func (v *verifier) use(x *Value, where string) {
	if x == nil {
		return
	}
	if v.lookup(x.Name) != x {
		if v.defined[x] {
			v.errorf("%s: value %q is used out of scope", where, x.Name)
		} else {
			v.errorf("%s: value %q is used before it is defined (or never defined)", where, x.Name)
		}
	}
}

func (v *verifier) graph(g *Graph) {
	v.scopes = append(v.scopes, map[string]*Value{})
	defer func() { v.scopes = v.scopes[:len(v.scopes)-1] }()
	gname := fmt.Sprintf("graph %q", g.Name)
	for i, x := range g.Inputs {
		where := fmt.Sprintf("%s input %d", gname, i)
		if v.define(x, where) && (x.Def != nil || x.Const != nil) {
			v.errorf("%s: input %q has a defining node or constant", where, x.Name)
		}
	}
	for i, x := range g.Consts {
		where := fmt.Sprintf("%s const %d", gname, i)
		if v.define(x, where) {
			v.constant(x, where)
		}
	}
	for i, n := range g.Nodes {
		if n == nil {
			v.errorf("%s: node %d is nil", gname, i)
			continue
		}
		v.node(n)
	}
	for i, x := range g.Outputs {
		if x == nil {
			v.errorf("%s: output %d is nil", gname, i)
			continue
		}
		v.use(x, fmt.Sprintf("%s output %d", gname, i))
	}
}

func (v *verifier) constant(x *Value, where string) {
	t := x.Const
	if t == nil {
		v.errorf("%s: value %q has no tensor", where, x.Name)
		return
	}
	if x.Def != nil {
		v.errorf("%s: constant %q has a defining node", where, x.Name)
	}
	ty := x.Type
	if ty.Kind != KindTensor || ty.DType != t.DType || !ty.Ranked || len(ty.Shape) != len(t.Shape) {
		v.errorf("%s: constant %q has type %s but holds %s", where, x.Name, typeText(ty), t)
		return
	}
	for i, d := range ty.Shape {
		if !d.Known() || d.Size != t.Shape[i] {
			v.errorf("%s: constant %q has type %s but holds %s", where, x.Name, typeText(ty), t)
			return
		}
	}
	if t.Enc == nil {
		if err := textCheckData(t); err != nil {
			v.errorf("%s: constant %q: %v", where, x.Name, err)
		}
	}
}

func (v *verifier) node(n *Node) {
	desc := n.Describe()
	for i, x := range n.Inputs {
		if x != nil {
			v.use(x, fmt.Sprintf("%s input %d", desc, i))
		}
	}
	s := LookupOp(n.Domain, n.Op)
	switch {
	case s == nil:
		v.errorf("%s: op is not registered", desc)
	default:
		if err := s.CheckArity(n); err != nil {
			v.errorf("%v", err)
		}
		if v.opsets != nil {
			ver, ok := v.opsets[normDomain(n.Domain)]
			switch {
			case !ok:
				v.errorf("%s: domain %q is not imported", desc, n.Domain)
			case ver < s.SinceVersion:
				v.errorf("%s: opset %d is older than the oldest supported version %d", desc, ver, s.SinceVersion)
			}
		}
	}
	for _, name := range n.AttrNames() {
		a := n.Attrs[name]
		where := fmt.Sprintf("%s attribute %s", desc, name)
		if a == nil {
			v.errorf("%s: nil", where)
			continue
		}
		if s != nil && s.AttrKinds != nil {
			want, ok := s.AttrKinds[name]
			switch {
			case !ok:
				v.errorf("%s: not an attribute of %s", where, n.Op)
			case want != a.Kind:
				v.errorf("%s: kind %s, want %s", where, attrKindName(a.Kind), attrKindName(want))
			}
		}
		if d, ok := s.attrDefault(name); ok && d.Kind != a.Kind {
			v.errorf("%s: kind %s, default is %s", where, attrKindName(a.Kind), attrKindName(d.Kind))
		}
		switch a.Kind {
		case AttrGraph:
			if a.Graph == nil {
				v.errorf("%s: nil graph", where)
			} else {
				v.graph(a.Graph)
			}
		case AttrGraphs:
			for i, g := range a.Graphs {
				if g == nil {
					v.errorf("%s: graph %d is nil", where, i)
				} else {
					v.graph(g)
				}
			}
		case AttrTensor:
			v.attrTensor(a.Tensor, where)
		case AttrTensors:
			for _, t := range a.Tensors {
				v.attrTensor(t, where)
			}
		}
	}
	for i, x := range n.Outputs {
		if x == nil {
			continue
		}
		where := fmt.Sprintf("%s output %d", desc, i)
		if v.define(x, where) && (x.Def != n || x.Const != nil) {
			v.errorf("%s: value %q does not name this node as its definition", where, x.Name)
		}
	}
}

func (v *verifier) attrTensor(t *Tensor, where string) {
	if t == nil {
		v.errorf("%s: nil tensor", where)
		return
	}
	if t.Enc == nil {
		if err := textCheckData(t); err != nil {
			v.errorf("%s: %v", where, err)
		}
	}
}

// attrDefault returns the schema's default of an attribute.
func (s *OpSchema) attrDefault(name string) (*Attr, bool) {
	if s == nil {
		return nil, false
	}
	a, ok := s.Attrs[name]
	return a, ok && a != nil
}

var attrKindNames = map[AttrKind]string{
	AttrFloat: "float", AttrInt: "int", AttrString: "string", AttrTensor: "tensor",
	AttrGraph: "graph", AttrFloats: "floats", AttrInts: "ints", AttrStrings: "strings",
	AttrTensors: "tensors", AttrGraphs: "graphs", AttrTypeProto: "type_proto",
}

func attrKindName(k AttrKind) string {
	if s, ok := attrKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", k)
}
