package onnx

import (
	"errors"
	"fmt"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/ir"
)

// onnxScope resolves value names of one graph, chained to the scopes of
// its enclosing graphs so that subgraph nodes share the *ir.Value of outer
// values. Names defined in a scope shadow those of enclosing scopes.
type onnxScope struct {
	parent *onnxScope
	vals   map[string]*ir.Value
	// pending holds the names node outputs of this graph will define,
	// mapped to the producing node's description; a use of a pending name
	// breaks topological order.
	pending map[string]string
}

func newOnnxScope(parent *onnxScope) *onnxScope {
	return &onnxScope{parent: parent, vals: map[string]*ir.Value{}, pending: map[string]string{}}
}

// lookup resolves a name through the scope chain.
func (s *onnxScope) lookup(name string) (*ir.Value, error) {
	for sc := s; sc != nil; sc = sc.parent {
		if v, ok := sc.vals[name]; ok {
			return v, nil
		}
		if producer, ok := sc.pending[name]; ok {
			return nil, fmt.Errorf("value %q is used before %s produces it (nodes are not in topological order)", name, producer)
		}
	}
	return nil, fmt.Errorf("value %q is never defined", name)
}

// define binds a name in this scope; a second definition is an error.
func (s *onnxScope) define(name string, v *ir.Value) error {
	if _, dup := s.vals[name]; dup {
		return fmt.Errorf("value %q is defined twice", name)
	}
	delete(s.pending, name)
	s.vals[name] = v
	return nil
}

// onnxGraphCtx is the state of one graph being imported.
type onnxGraphCtx struct {
	g     *ir.Graph
	scope *onnxScope
	types map[string]*onnxpb.TypeProto // declared types (value_info, outputs)
}

// graph imports a GraphProto. parent is the scope of the enclosing graph
// (nil for the model's main graph).
func (im *onnxImporter) graph(gp *onnxpb.GraphProto, parent *onnxScope) (*ir.Graph, error) {
	gc := &onnxGraphCtx{
		g:     &ir.Graph{Name: gp.GetName()},
		scope: newOnnxScope(parent),
		types: map[string]*onnxpb.TypeProto{},
	}
	err := im.graphBody(gc, gp, parent == nil)
	switch {
	case err == nil:
		return gc.g, nil
	case parent == nil:
		// The model's main graph needs no naming in messages.
		return nil, err
	case gp.GetName() != "":
		return nil, fmt.Errorf("graph %q: %w", gp.GetName(), err)
	}
	return nil, fmt.Errorf("graph: %w", err)
}

func (im *onnxImporter) graphBody(gc *onnxGraphCtx, gp *onnxpb.GraphProto, top bool) error {
	if len(gp.GetSparseInitializer()) > 0 {
		return fmt.Errorf("sparse initializer %q: sparse tensors are not supported", gp.GetSparseInitializer()[0].GetValues().GetName())
	}
	for _, vi := range gp.GetValueInfo() {
		gc.types[vi.GetName()] = vi.GetType()
	}
	for _, vi := range gp.GetOutput() {
		if vi.GetType() != nil {
			gc.types[vi.GetName()] = vi.GetType()
		}
	}

	// Initializers become constants.
	inits := map[string]*ir.Value{}
	var initOrder []*ir.Value
	for i, tp := range gp.GetInitializer() {
		if tp.GetName() == "" {
			return fmt.Errorf("initializer #%d has no name", i)
		}
		if _, dup := inits[tp.GetName()]; dup {
			return fmt.Errorf("initializer %q is defined twice", tp.GetName())
		}
		t, err := DecodeTensor(tp, im.dir)
		if err != nil {
			return fmt.Errorf("initializer: %w", err)
		}
		v := &ir.Value{Name: tp.GetName(), Type: onnxTensorType(t), Const: t}
		inits[v.Name] = v
		initOrder = append(initOrder, v)
	}

	// Inputs. In the main graph an input that also has an initializer is
	// a weight listed as an input by an old exporter: it stays a constant.
	// Subgraph inputs are positional and stay inputs.
	for i, vi := range gp.GetInput() {
		name := vi.GetName()
		if name == "" {
			return fmt.Errorf("input #%d has no name", i)
		}
		if _, isInit := inits[name]; isInit && top {
			continue
		}
		t, err := onnxType(vi.GetType())
		if err != nil {
			return fmt.Errorf("input %q: %w", name, err)
		}
		v := &ir.Value{Name: name, Type: t}
		if err := gc.scope.define(name, v); err != nil {
			return fmt.Errorf("input %q is listed twice", name)
		}
		gc.g.Inputs = append(gc.g.Inputs, v)
	}
	for _, v := range initOrder {
		if _, isInput := gc.scope.vals[v.Name]; isInput {
			continue // a subgraph input with a default value
		}
		gc.scope.vals[v.Name] = v
		gc.g.Consts = append(gc.g.Consts, v)
	}

	// Declare every node output first so that a use before the definition
	// is reported as broken topological order, and a second producer as a
	// duplicate.
	for i, np := range gp.GetNode() {
		for _, out := range np.GetOutput() {
			if out == "" {
				continue
			}
			desc := onnxNodeRef(np, i)
			if prev, dup := gc.scope.pending[out]; dup {
				return fmt.Errorf("value %q is produced twice: by %s and by %s", out, prev, desc)
			}
			if _, dup := gc.scope.vals[out]; dup {
				return fmt.Errorf("value %q produced by %s is also a graph input or initializer", out, desc)
			}
			gc.scope.pending[out] = desc
		}
	}
	for i, np := range gp.GetNode() {
		if err := im.node(gc, np, i); err != nil {
			return err
		}
	}

	for i, vi := range gp.GetOutput() {
		name := vi.GetName()
		if name == "" {
			return fmt.Errorf("output #%d has no name", i)
		}
		v, err := gc.scope.lookup(name)
		if err != nil {
			return fmt.Errorf("output %q: %w", name, err)
		}
		if onnxIsUnknown(v.Type) {
			t, err := onnxType(vi.GetType())
			if err != nil {
				return fmt.Errorf("output %q: %w", name, err)
			}
			v.Type = t
		}
		gc.g.Outputs = append(gc.g.Outputs, v)
	}
	return nil
}

// onnxNodeRef names a node in its graph: by its name, else by its position
// and first output.
func onnxNodeRef(np *onnxpb.NodeProto, index int) string {
	if np.GetName() != "" {
		return fmt.Sprintf("node %q", np.GetName())
	}
	for _, o := range np.GetOutput() {
		if o != "" {
			return fmt.Sprintf("node #%d producing %q", index, o)
		}
	}
	return fmt.Sprintf("node #%d", index)
}

// node imports one NodeProto: a Constant becomes a constant value, a call
// of a model-local function is inlined, anything else must be a known op.
func (im *onnxImporter) node(gc *onnxGraphCtx, np *onnxpb.NodeProto, index int) error {
	domain, op := onnxDomain(np.GetDomain()), np.GetOpType()
	if f, ok := im.funcs[onnxFuncKey(domain, op)]; ok {
		return im.inline(gc, np, index, f)
	}
	opset, imported := im.opsets[domain]
	place := fmt.Sprintf("%s (%s, opset %d)", onnxNodeRef(np, index), onnxOpName(domain, op), opset)
	if !imported {
		place = fmt.Sprintf("%s (%s)", onnxNodeRef(np, index), onnxOpName(domain, op))
	}
	err := im.nodeBody(gc, np, domain, op, opset, imported)
	if named, ok := err.(onnxNamedError); ok {
		return named.err // the message names the node already
	}
	if err != nil {
		return fmt.Errorf("%s: %w", place, err)
	}
	return nil
}

// onnxNamedError marks an error whose message already names the node.
type onnxNamedError struct{ err error }

func (e onnxNamedError) Error() string { return e.err.Error() }
func (e onnxNamedError) Unwrap() error { return e.err }

func (im *onnxImporter) nodeBody(gc *onnxGraphCtx, np *onnxpb.NodeProto, domain, op string, opset int64, imported bool) error {
	if op == "" {
		return errors.New("node has no op_type")
	}
	if domain == "" && op == "Constant" {
		return im.constantNode(gc, np)
	}
	if !imported {
		return fmt.Errorf("domain %q is not imported by the model (opset_import)", domain)
	}
	schema := ir.LookupOp(domain, op)
	if schema == nil {
		return errors.New("unsupported op")
	}
	if opset < schema.SinceVersion {
		return fmt.Errorf("unsupported op version (optc supports %s from opset %d)", op, schema.SinceVersion)
	}
	n := &ir.Node{Op: op, Domain: domain, Name: np.GetName(), Attrs: map[string]*ir.Attr{}}
	for _, in := range np.GetInput() {
		if in == "" {
			n.Inputs = append(n.Inputs, nil)
			continue
		}
		v, err := gc.scope.lookup(in)
		if err != nil {
			return fmt.Errorf("input: %w", err)
		}
		n.Inputs = append(n.Inputs, v)
	}
	var optionalType *ir.Type
	for _, ap := range np.GetAttribute() {
		name := ap.GetName()
		if name == "" {
			return errors.New("attribute without a name")
		}
		if _, dup := n.Attrs[name]; dup {
			return fmt.Errorf("attribute %q is given twice", name)
		}
		a, err := im.attr(ap, gc.scope)
		if err != nil {
			return fmt.Errorf("attribute %q: %w", name, err)
		}
		n.Attrs[name] = a
		if a.Kind == ir.AttrTypeProto && op == "Optional" && name == "type" {
			// The IR keeps no payload for type attributes; the element
			// type of Optional's output is what the attribute says.
			et, err := onnxType(ap.GetTp())
			if err != nil {
				return fmt.Errorf("attribute %q: %w", name, err)
			}
			optionalType = &ir.Type{Kind: ir.KindOptional, Elem: &et}
		}
	}
	for _, out := range np.GetOutput() {
		if out == "" {
			n.Outputs = append(n.Outputs, nil)
			continue
		}
		t, err := onnxType(gc.types[out])
		if err != nil {
			// value_info is advisory: an unusable entry means "unknown".
			t = onnxUnknownType()
		}
		if onnxIsUnknown(t) && optionalType != nil {
			t = *optionalType
		}
		v := &ir.Value{Name: out, Type: t, Def: n}
		if err := gc.scope.define(out, v); err != nil {
			return err
		}
		n.Outputs = append(n.Outputs, v)
	}
	if err := schema.CheckArity(n); err != nil {
		return onnxNamedError{err}
	}
	gc.g.Nodes = append(gc.g.Nodes, n)
	return nil
}

// constantNode turns a Constant node into a constant value of the graph.
func (im *onnxImporter) constantNode(gc *onnxGraphCtx, np *onnxpb.NodeProto) error {
	if len(np.GetInput()) != 0 || len(np.GetOutput()) != 1 || np.GetOutput()[0] == "" {
		return fmt.Errorf("Constant has %d inputs and %d outputs, want 0 and 1 named output", len(np.GetInput()), len(np.GetOutput()))
	}
	if len(np.GetAttribute()) != 1 {
		return fmt.Errorf("Constant has %d attributes, want exactly one of value, value_float(s), value_int(s), value_string(s)", len(np.GetAttribute()))
	}
	ap := np.GetAttribute()[0]
	if ap.GetName() == "sparse_value" {
		return errors.New(`attribute "sparse_value": sparse constants are not supported`)
	}
	a, err := im.attr(ap, gc.scope)
	if err != nil {
		return fmt.Errorf("attribute %q: %w", ap.GetName(), err)
	}
	want := map[string]ir.AttrKind{
		"value": ir.AttrTensor, "value_float": ir.AttrFloat, "value_floats": ir.AttrFloats,
		"value_int": ir.AttrInt, "value_ints": ir.AttrInts,
		"value_string": ir.AttrString, "value_strings": ir.AttrStrings,
	}
	if k, ok := want[ap.GetName()]; !ok || k != a.Kind {
		return fmt.Errorf("attribute %q (%s): not a Constant value attribute", ap.GetName(), onnxAttrKindName(a.Kind))
	}
	var t *ir.Tensor
	switch a.Kind {
	case ir.AttrTensor:
		t = a.Tensor
	case ir.AttrFloat:
		t = ir.ScalarF32(a.Float)
	case ir.AttrFloats:
		t = &ir.Tensor{DType: ir.Float32, Shape: []int64{int64(len(a.Floats))}, Data: a.Floats}
	case ir.AttrInt:
		t = ir.ScalarI64(a.Int)
	case ir.AttrInts:
		t = &ir.Tensor{DType: ir.Int64, Shape: []int64{int64(len(a.Ints))}, Data: a.Ints}
	case ir.AttrString:
		t = &ir.Tensor{DType: ir.String, Shape: []int64{}, Data: []string{a.String}}
	case ir.AttrStrings:
		t = &ir.Tensor{DType: ir.String, Shape: []int64{int64(len(a.Strings))}, Data: a.Strings}
	}
	name := np.GetOutput()[0]
	v := &ir.Value{Name: name, Type: onnxTensorType(t), Const: t}
	if err := gc.scope.define(name, v); err != nil {
		return err
	}
	gc.g.Consts = append(gc.g.Consts, v)
	return nil
}
