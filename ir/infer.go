package ir

import (
	"fmt"
	"math"
)

// InferShapes fills the output types of g's nodes that are unknown (an
// unranked tensor or an undefined dtype, or unknown dims of a ranked
// tensor) from their inputs' types, walking nodes in program order and
// descending into subgraphs (If branches, Loop and Scan bodies). Declared
// types are never contradicted: an inferred dtype, rank or concrete dim that
// disagrees with a declared one is an error naming the node, and so are
// inputs the op cannot accept (mismatched dtypes, shapes that do not
// broadcast).
//
// Small integer tensors (shapes, axes, sizes) whose contents are known
// statically — constants, Constant nodes, and Shape/Gather/Concat/Slice/
// Unsqueeze/Squeeze/Cast/arithmetic chains on them — are tracked, with
// symbolic dims, so that Reshape, Expand, ConstantOfShape, Tile, Slice,
// Pad, Resize and friends get their output shapes.
//
// Every registered op has inference except Compress, DFT, Einsum,
// GatherND, MaxRoiPool, MaxUnpool, MelWeightMatrix, Multinomial,
// NegativeLogLikelihoodLoss, NonMaxSuppression, OneHot, RoiAlign, STFT,
// SequenceMap, SoftmaxCrossEntropyLoss, StringNormalizer, TfIdfVectorizer,
// Unique and the ai.onnx.preview.training ops: their outputs keep the types
// they were declared with, possibly unknown; that is allowed. Unregistered
// ops are skipped the same way. Opset-8 Scan is not inferred.
func InferShapes(g *Graph) error {
	st := &inferState{opsets: g.Opsets, vals: map[*Value][]Dim{}, tensors: map[*Value]*Tensor{}}
	return st.graph(g)
}

// inferState is shared by a whole InferShapes walk.
type inferState struct {
	opsets map[string]int64
	// vals holds the statically known contents of small 0-D/1-D integer
	// tensors, one Dim per element (concrete, symbolic or unknown).
	vals map[*Value][]Dim
	// tensors holds the values of Constant node outputs.
	tensors map[*Value]*Tensor
}

// inferMaxVals bounds the length of tracked integer tensors.
const inferMaxVals = 64

// Known integer contents are Dims too, with one difference: any int64
// (negative ones included) is a concrete element, and valUnknown marks an
// element whose value is not known. dimToVal and valToDim convert between
// shape dims and elements.
var valUnknown = Dim{Size: math.MinInt64}

func valKnown(d Dim) bool { return d.Param == "" && d.Size != math.MinInt64 }

func dimToVal(d Dim) Dim {
	if d.Param == "" && d.Size < 0 {
		return valUnknown
	}
	return d
}

func valToDim(d Dim) Dim {
	if d.Param != "" || d.Size >= 0 {
		return d
	}
	return UnknownDim()
}

func valsToShape(ds []Dim) Shape {
	s := make(Shape, len(ds))
	for i, d := range ds {
		s[i] = valToDim(d)
	}
	return s
}

// valArith applies a binary integer op to known elements; symbolic
// elements survive an identity operand.
func valArith(op string, a, b Dim) Dim {
	if valKnown(a) && valKnown(b) {
		x, y := a.Size, b.Size
		switch op {
		case "Add":
			return D(x + y)
		case "Sub":
			return D(x - y)
		case "Mul":
			return D(x * y)
		case "Div":
			if y != 0 {
				return D(x / y)
			}
		}
		return valUnknown
	}
	ident := func(d Dim, unit int64) bool { return valKnown(d) && d.Size == unit }
	switch {
	case op == "Add" && ident(a, 0):
		return b
	case (op == "Add" || op == "Sub") && ident(b, 0):
		return a
	case op == "Mul" && ident(a, 1):
		return b
	case (op == "Mul" || op == "Div") && ident(b, 1):
		return a
	}
	return valUnknown
}

// inferCtx is the view one op's inference function gets.
type inferCtx struct {
	*inferState
	n     *Node
	opset int64
}

// opInferFns holds the context-aware inference function of each schema;
// the schema's public Infer wraps it with a fresh state.
var opInferFns = map[*OpSchema]func(c *inferCtx) error{}

func (st *inferState) graph(g *Graph) error {
	for _, v := range g.Consts {
		if v != nil && v.Const != nil {
			st.noteConst(v)
		}
	}
	for _, n := range g.Nodes {
		if n == nil {
			return fmt.Errorf("ir: graph %q holds a nil node", g.Name)
		}
		if err := st.node(n); err != nil {
			return err
		}
	}
	return nil
}

func (st *inferState) noteConst(v *Value) { st.noteTensor(v, v.Const) }

// noteTensor records the statically known tensor of v.
func (st *inferState) noteTensor(v *Value, t *Tensor) {
	if t == nil || t.Enc != nil || textCheckData(t) != nil {
		return
	}
	if v.Const == nil {
		st.tensors[v] = t
	}
	if t.Rank() > 1 || t.Len() > inferMaxVals || !(t.DType.IsInt() || t.DType == Bool) {
		return
	}
	ds := make([]Dim, t.Len())
	for i := range ds {
		ds[i] = D(t.Int64At(i))
	}
	st.vals[v] = ds
}

func (st *inferState) node(n *Node) (err error) {
	defer func() {
		// Inference is written not to panic on any graph; should a bug
		// slip through, report it against the node instead of crashing.
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: internal error in shape inference: %v", n.Describe(), r)
		}
	}()
	s := LookupOp(n.Domain, n.Op)
	if s == nil {
		return nil
	}
	c := &inferCtx{inferState: st, n: n, opset: st.opsets[normDomain(n.Domain)]}
	if fn := opInferFns[s]; fn != nil {
		return fn(c)
	}
	if s.Infer != nil {
		return s.Infer(n, c.opset)
	}
	return nil
}

func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// errf returns an error naming the node.
func (c *inferCtx) errf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", c.n.Describe(), fmt.Sprintf(format, args...))
}

// in returns the type of input i (the zero Type when absent).
func (c *inferCtx) in(i int) Type {
	if v := c.n.Input(i); v != nil {
		return v.Type
	}
	return Type{}
}

// has reports whether input i is present.
func (c *inferCtx) has(i int) bool { return c.n.Input(i) != nil }

// ranked returns input i's type if it is a ranked tensor.
func (c *inferCtx) ranked(i int) (Type, bool) {
	t := c.in(i)
	return t, t.Kind == KindTensor && t.Ranked
}

// dtype returns input i's element type (Undefined when unknown).
func (c *inferCtx) dtype(i int) DType {
	if t := c.in(i); t.Kind == KindTensor {
		return t.DType
	}
	return Undefined
}

// ints returns the statically known contents of integer input i.
func (c *inferCtx) ints(i int) ([]Dim, bool) {
	v := c.n.Input(i)
	if v == nil {
		return nil, false
	}
	ds, ok := c.vals[v]
	return ds, ok
}

// concreteInts returns input i's contents when every element is known.
func (c *inferCtx) concreteInts(i int) ([]int64, bool) {
	ds, ok := c.ints(i)
	if !ok {
		return nil, false
	}
	out := make([]int64, len(ds))
	for i, d := range ds {
		if !valKnown(d) {
			return nil, false
		}
		out[i] = d.Size
	}
	return out, true
}

// constTensor returns input i's constant tensor (dense) if it has one: a
// graph constant or the output of a Constant node.
func (c *inferCtx) constTensor(i int) (*Tensor, bool) {
	v := c.n.Input(i)
	t, ok := ConstValue(v)
	if !ok && v != nil {
		t, ok = c.tensors[v]
	}
	if !ok || t.Enc != nil || textCheckData(t) != nil {
		return nil, false
	}
	return t, true
}

// attrInt and friends read an attribute with the schema default.
func (c *inferCtx) attrInt(name string, def int64) int64 { return c.n.AttrInt(name, def) }

// setVal records the known contents of output i.
func (c *inferCtx) setVal(i int, ds []Dim) {
	if i < len(c.n.Outputs) && c.n.Outputs[i] != nil && len(ds) <= inferMaxVals {
		c.vals[c.n.Outputs[i]] = ds
	}
}

// set merges an inferred type into output i (absent outputs are skipped).
func (c *inferCtx) set(i int, t Type) error {
	if i >= len(c.n.Outputs) || c.n.Outputs[i] == nil {
		return nil
	}
	v := c.n.Outputs[i]
	m, err := mergeType(v.Type, t)
	if err != nil {
		return c.errf("output %d (%s): %v", i, v.Name, err)
	}
	v.Type = m
	return nil
}

// setTensor is set for a ranked tensor.
func (c *inferCtx) setTensor(i int, d DType, s Shape) error {
	return c.set(i, TensorType(d, s))
}

// setDType sets only the element type of output i (shape unknown).
func (c *inferCtx) setDType(i int, d DType) error {
	return c.set(i, Type{Kind: KindTensor, DType: d})
}

// typeKnown reports whether a type carries any information.
func typeKnown(t Type) bool {
	return t.Kind != KindTensor || t.Ranked || t.DType != Undefined
}

// mergeType combines a declared type with an inferred one: unknown parts
// of the declared type are filled, known parts must agree.
func mergeType(decl, inf Type) (Type, error) {
	if !typeKnown(inf) {
		return decl, nil
	}
	if !typeKnown(decl) {
		return cloneType(inf), nil
	}
	if decl.Kind != inf.Kind {
		return decl, fmt.Errorf("declared %s, inferred %s", typeText(decl), typeText(inf))
	}
	if decl.Kind != KindTensor {
		if inf.Elem == nil {
			return decl, nil
		}
		if decl.Elem == nil {
			decl.Elem = cloneTypePtr(inf.Elem)
			return decl, nil
		}
		e, err := mergeType(*decl.Elem, *inf.Elem)
		if err != nil {
			return decl, fmt.Errorf("declared %s, inferred %s", typeText(decl), typeText(inf))
		}
		decl.Elem = &e
		return decl, nil
	}
	out := decl
	switch {
	case decl.DType == Undefined:
		out.DType = inf.DType
	case inf.DType != Undefined && inf.DType != decl.DType:
		return decl, fmt.Errorf("declared %s, inferred %s", typeText(decl), typeText(inf))
	}
	if !inf.Ranked {
		return out, nil
	}
	if !decl.Ranked {
		out.Ranked, out.Shape = true, append(Shape{}, inf.Shape...)
		return out, nil
	}
	if len(decl.Shape) != len(inf.Shape) {
		return decl, fmt.Errorf("declared %s, inferred %s", typeText(decl), typeText(inf))
	}
	out.Shape = append(Shape{}, decl.Shape...)
	for i, d := range decl.Shape {
		e := inf.Shape[i]
		switch {
		case d.Known() && e.Known() && d.Size != e.Size:
			return decl, fmt.Errorf("declared %s, inferred %s (dim %d)", typeText(decl), typeText(inf), i)
		case d.Param == "" && d.Size < 0:
			out.Shape[i] = e
		}
	}
	return out, nil
}

func cloneType(t Type) Type {
	t.Shape = append(Shape(nil), t.Shape...)
	t.Elem = cloneTypePtr(t.Elem)
	return t
}

func cloneTypePtr(t *Type) *Type {
	if t == nil {
		return nil
	}
	c := cloneType(*t)
	return &c
}

// Dim algebra used by inference.

// dimEq reports whether two dims are statically equal.
func dimEq(a, b Dim) bool {
	if a.Known() && b.Known() {
		return a.Size == b.Size
	}
	return a.Param != "" && a.Param == b.Param
}

func dimIs(d Dim, n int64) bool { return d.Known() && d.Size == n }

// dimMul multiplies dims; symbolic factors multiplied by 1 survive.
func dimMul(a, b Dim) Dim {
	switch {
	case a.Known() && b.Known():
		return D(a.Size * b.Size)
	case dimIs(a, 1):
		return b
	case dimIs(b, 1):
		return a
	case dimIs(a, 0) || dimIs(b, 0):
		return D(0)
	}
	return UnknownDim()
}

func dimAdd(a, b Dim) Dim {
	switch {
	case a.Known() && b.Known():
		return D(a.Size + b.Size)
	case dimIs(a, 0):
		return b
	case dimIs(b, 0):
		return a
	}
	return UnknownDim()
}

func dimProduct(ds []Dim) Dim {
	p := D(1)
	for _, d := range ds {
		p = dimMul(p, d)
	}
	return p
}

// broadcastDims combines two dims under numpy broadcasting.
func broadcastDims(a, b Dim) (Dim, error) {
	switch {
	case dimIs(a, 1):
		return b, nil
	case dimIs(b, 1):
		return a, nil
	case dimEq(a, b):
		return a, nil
	case a.Known() && b.Known():
		return a, fmt.Errorf("dims %d and %d do not broadcast", a.Size, b.Size)
	case a.Known():
		return a, nil // b must be a or 1; 1 would give a as well
	case b.Known():
		return b, nil
	}
	return UnknownDim(), nil
}

// broadcastShapes applies numpy broadcasting to several shapes.
func broadcastShapes(shapes ...Shape) (Shape, error) {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	out := make(Shape, r)
	for i := range out {
		out[i] = D(1)
	}
	for _, s := range shapes {
		off := r - len(s)
		for i, d := range s {
			m, err := broadcastDims(out[off+i], d)
			if err != nil {
				return nil, fmt.Errorf("shapes %v do not broadcast: %v", shapes, err)
			}
			out[off+i] = m
		}
	}
	return out, nil
}

// normAxisRank normalizes a possibly negative axis against a rank.
func normAxisRank(axis int64, rank int) (int, error) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(axis), nil
}

// DTypeFromONNX maps an ONNX TensorProto.DataType code to a DType.
func DTypeFromONNX(code int64) (DType, bool) {
	switch code {
	case 1:
		return Float32, true
	case 2:
		return Uint8, true
	case 3:
		return Int8, true
	case 4:
		return Uint16, true
	case 5:
		return Int16, true
	case 6:
		return Int32, true
	case 7:
		return Int64, true
	case 8:
		return String, true
	case 9:
		return Bool, true
	case 10:
		return Float16, true
	case 11:
		return Float64, true
	case 12:
		return Uint32, true
	case 13:
		return Uint64, true
	case 16:
		return BFloat16, true
	case 21:
		return Uint4, true
	case 22:
		return Int4, true
	}
	return Undefined, false
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
