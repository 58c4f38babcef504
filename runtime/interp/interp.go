package interp

import (
	"context"
	"fmt"

	"github.com/optc-dev/optc/ir"
)

// Value is a run-time value: *ir.Tensor, Sequence, or nil (an absent
// optional value).
type Value any

// Sequence is an ONNX sequence of tensors.
type Sequence struct {
	ElemType ir.DType
	Tensors  []*ir.Tensor
}

// Kernel computes one node. in has one entry per node input (nil for
// omitted optional inputs); the kernel returns one entry per node output
// (it may return fewer; missing trailing outputs are treated as absent).
type Kernel func(c *Call, in []Value) ([]Value, error)

// Call is the context of one kernel invocation.
type Call struct {
	Ctx   context.Context
	Node  *ir.Node
	Opset int64 // opset version of the node's domain
	exec  *execution
	env   *env
}

// RunSubgraph runs a subgraph of the current node (If/Loop/Scan bodies)
// with the given inputs bound to its formal inputs; values of enclosing
// graphs are visible to it.
func (c *Call) RunSubgraph(g *ir.Graph, inputs []Value) ([]Value, error) {
	return c.exec.runGraph(c.Ctx, g, inputs, c.env)
}

// Errorf formats an error that names the node.
func (c *Call) Errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", c.Node.Describe(), fmt.Sprintf(format, args...))
}

var kernels = map[string]Kernel{}

func kernelKey(domain, op string) string {
	if domain == "ai.onnx" {
		domain = ""
	}
	return domain + "::" + op
}

// Register installs the kernel of an op in the default ONNX domain.
// Registering twice panics (a programming error caught at init).
func Register(op string, k Kernel) { RegisterDomain("", op, k) }

// RegisterDomain installs the kernel of an op in the given domain.
func RegisterDomain(domain, op string, k Kernel) {
	key := kernelKey(domain, op)
	if _, dup := kernels[key]; dup {
		panic("interp: kernel registered twice: " + key)
	}
	kernels[key] = k
}

// HasKernel reports whether the interpreter can run an op.
func HasKernel(domain, op string) bool { _, ok := kernels[kernelKey(domain, op)]; return ok }

// env maps values to their run-time contents; subgraph environments chain
// to their parent so nodes may read outer-scope values.
type env struct {
	vals   map[*ir.Value]Value
	parent *env
}

func (e *env) get(v *ir.Value) (Value, bool) {
	for s := e; s != nil; s = s.parent {
		if x, ok := s.vals[v]; ok {
			return x, true
		}
	}
	return nil, false
}

type execution struct {
	opsets map[string]int64
}

// Run executes g on the named inputs and returns its outputs by name.
// Every graph input without a constant must be supplied, with the declared
// dtype and a shape compatible with the declared one.
func Run(ctx context.Context, g *ir.Graph, inputs map[string]Value) (map[string]Value, error) {
	args := make([]Value, len(g.Inputs))
	for i, in := range g.Inputs {
		x, ok := inputs[in.Name]
		if !ok {
			return nil, fmt.Errorf("missing input %q (%s)", in.Name, in.Type)
		}
		if err := checkInput(in, x); err != nil {
			return nil, err
		}
		args[i] = x
	}
	for name := range inputs {
		if !hasInput(g, name) {
			return nil, fmt.Errorf("unknown input %q (the graph's inputs are %s)", name, inputNames(g))
		}
	}
	ex := &execution{opsets: g.Opsets}
	outs, err := ex.runGraph(ctx, g, args, nil)
	if err != nil {
		return nil, err
	}
	res := make(map[string]Value, len(outs))
	for i, o := range g.Outputs {
		res[o.Name] = outs[i]
	}
	return res, nil
}

func hasInput(g *ir.Graph, name string) bool {
	for _, in := range g.Inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

func inputNames(g *ir.Graph) []string {
	var ns []string
	for _, in := range g.Inputs {
		ns = append(ns, in.Name)
	}
	return ns
}

// checkInput rejects a run-time input whose dtype or rank/shape disagrees
// with the declared type.
func checkInput(v *ir.Value, x Value) error {
	t, ok := x.(*ir.Tensor)
	if v.Type.Kind != ir.KindTensor || !ok {
		return nil
	}
	if v.Type.DType != ir.Undefined && t.DType != v.Type.DType {
		return fmt.Errorf("input %q: got %s, want dtype %s", v.Name, t, v.Type.DType)
	}
	if !v.Type.Ranked {
		return nil
	}
	if len(t.Shape) != len(v.Type.Shape) {
		return fmt.Errorf("input %q: got shape %v, want %s", v.Name, t.Shape, v.Type.Shape)
	}
	for i, d := range v.Type.Shape {
		if d.Known() && d.Size != t.Shape[i] {
			return fmt.Errorf("input %q: got shape %v, want %s (dim %d)", v.Name, t.Shape, v.Type.Shape, i)
		}
	}
	return nil
}

func (ex *execution) runGraph(ctx context.Context, g *ir.Graph, args []Value, parent *env) ([]Value, error) {
	if len(args) != len(g.Inputs) {
		return nil, fmt.Errorf("graph %q: %d inputs given, want %d", g.Name, len(args), len(g.Inputs))
	}
	e := &env{vals: make(map[*ir.Value]Value, len(g.Nodes)+len(g.Consts)+len(args)), parent: parent}
	for _, c := range g.Consts {
		e.vals[c] = c.Const
	}
	for i, in := range g.Inputs {
		e.vals[in] = args[i]
	}
	for _, n := range g.Nodes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := ex.runNode(ctx, n, e); err != nil {
			return nil, err
		}
	}
	outs := make([]Value, len(g.Outputs))
	for i, o := range g.Outputs {
		x, ok := e.get(o)
		if !ok {
			return nil, fmt.Errorf("graph %q: output %q was never computed", g.Name, o.Name)
		}
		outs[i] = x
	}
	return outs, nil
}

func (ex *execution) runNode(ctx context.Context, n *ir.Node, e *env) (err error) {
	k, ok := kernels[kernelKey(n.Domain, n.Op)]
	if !ok {
		return fmt.Errorf("%s: no interpreter kernel for op %s (domain %q, opset %d)", n.Describe(), n.Op, n.Domain, ex.opsets[n.Domain])
	}
	in := make([]Value, len(n.Inputs))
	for i, v := range n.Inputs {
		if v == nil || v.Name == "" {
			continue
		}
		x, ok := e.get(v)
		if !ok {
			return fmt.Errorf("%s: input %q is not computed before use", n.Describe(), v.Name)
		}
		in[i] = x
	}
	// A kernel bug must surface as an error naming the node, never crash
	// the process.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: internal error in interpreter kernel: %v", n.Describe(), r)
		}
	}()
	c := &Call{Ctx: ctx, Node: n, Opset: ex.opsets[n.Domain], exec: ex, env: e}
	outs, err := k(c, in)
	if err != nil {
		return err
	}
	if len(outs) > len(n.Outputs) {
		return fmt.Errorf("%s: kernel returned %d outputs, node has %d", n.Describe(), len(outs), len(n.Outputs))
	}
	for i, o := range n.Outputs {
		if o == nil || o.Name == "" {
			continue
		}
		var x Value
		if i < len(outs) {
			x = outs[i]
		}
		e.vals[o] = x
	}
	return nil
}
