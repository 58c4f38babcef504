package codegen

import (
	"errors"
	"fmt"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	lir "github.com/llir/llvm/ir"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
)

// Control flow. Once Compile has bound the input shapes, ctrlSimplify
// re-infers the types inside subgraphs, folds what became constant
// (Shape of a now static tensor, the comparisons on it) and replaces every
// If whose condition folded to a constant by the branch it takes. An If
// whose condition is only known at run time (say, computed from an input)
// is lowered when both branches lower completely and their outputs have
// the If's static shapes: the condition is read in the segment's entry
// function, which branches to the then or else kernels; each branch ends
// by copying its outputs into the If's output buffers. Scalar comparisons
// over integer tensors (the condition's usual producer) are lowered too.

// ctrlMaxRounds bounds the fold / inline rounds (each inlined If can make
// a nested condition constant).
const ctrlMaxRounds = 16

// ctrlSimplify folds constants and inlines constant-condition Ifs after
// shape binding. It is best-effort: a fold the interpreter refuses leaves
// the node as it is.
func ctrlSimplify(g *ir.Graph) error {
	if !ctrlHasSubgraphs(g) {
		if !ctrlFoldableShapeOps(g) {
			return nil
		}
		// Shapes became static: fold what depends only on them (Shape,
		// Range, Slice bounds of a Llama export) before partitioning.
		ctrlResetTypes(g)
		if err := ir.InferShapes(g); err != nil {
			return fmt.Errorf("shape inference after binding the input shapes: %w", err)
		}
		_ = passes.Fold{MaxElements: 1 << 16}.Run(&passes.Context{}, g)
		return passes.DCE{}.Run(&passes.Context{}, g)
	}
	for round := 0; round < ctrlMaxRounds; round++ {
		ctrlResetTypes(g)
		if err := ir.InferShapes(g); err != nil {
			return fmt.Errorf("shape inference inside subgraphs: %w", err)
		}
		_ = passes.Fold{MaxElements: 1 << 16}.Run(&passes.Context{}, g)
		if ctrlInlineIfs(g) == 0 {
			break
		}
	}
	return passes.DCE{}.Run(&passes.Context{}, g)
}

// ctrlFoldableShapeOps reports whether g has a Shape or Size node whose
// input now has a static shape (binding the inputs made it a constant)
// and no graph output would fold with it: an output that becomes a
// constant is left to the interpreter step it runs in today (its dtype
// need not be f32, which constant outputs of a bundle must be).
func ctrlFoldableShapeOps(g *ir.Graph) bool {
	static := map[*ir.Value]bool{}
	found := false
	for _, n := range g.Nodes {
		derived := false
		if (n.Op == "Shape" || n.Op == "Size") && n.Domain == "" && len(n.Inputs) > 0 && n.Inputs[0] != nil {
			_, derived = concreteShape(n.Inputs[0])
			found = found || derived
		} else if len(n.Subgraphs()) == 0 && len(n.Inputs) > 0 {
			derived = true
			for _, v := range n.Inputs {
				if v != nil && v.Const == nil && !static[v] {
					derived = false
					break
				}
			}
		}
		if derived {
			for _, o := range n.Outputs {
				if o != nil {
					static[o] = true
				}
			}
		}
	}
	for _, o := range g.Outputs {
		if static[o] {
			return false
		}
	}
	return found
}

func ctrlHasSubgraphs(g *ir.Graph) bool {
	for _, n := range g.Nodes {
		if len(n.Subgraphs()) > 0 {
			return true
		}
	}
	return false
}

// ctrlResetTypes forgets the non-static types of node outputs in g and
// its subgraphs, so that inference recomputes them from the bound inputs
// instead of merging with stale symbolic dims (or with the types of an If
// that was since replaced by its branch).
func ctrlResetTypes(g *ir.Graph) {
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == nil || o.Type.Kind != ir.KindTensor {
				continue
			}
			if _, ok := concreteShape(o); !ok {
				o.Type = ir.Type{Kind: ir.KindTensor, DType: o.Type.DType}
			}
		}
		for _, sg := range n.Subgraphs() {
			ctrlResetTypes(sg)
		}
	}
}

// ctrlInlineIfs replaces, in g and its subgraphs, each If with a constant
// condition by the nodes of the branch it takes; the If's outputs become
// Identity nodes of the branch outputs. It returns how many it inlined.
func ctrlInlineIfs(g *ir.Graph) int {
	count := 0
	var nodes []*ir.Node
	for _, n := range g.Nodes {
		cond, ok := ir.ConstValue(n.Input(0))
		if n.Op != "If" || n.Domain != "" || !ok || !cond.IsDense() || cond.Len() != 1 {
			for _, sg := range n.Subgraphs() {
				count += ctrlInlineIfs(sg)
			}
			nodes = append(nodes, n)
			continue
		}
		br := ctrlAttrGraph(n, "else_branch")
		if cond.Float64At(0) != 0 {
			br = ctrlAttrGraph(n, "then_branch")
		}
		if br == nil || len(br.Inputs) != 0 || len(br.Outputs) != len(n.Outputs) {
			nodes = append(nodes, n)
			continue
		}
		count++
		g.Consts = append(g.Consts, br.Consts...)
		nodes = append(nodes, br.Nodes...)
		for i, o := range n.Outputs {
			if o == nil {
				continue
			}
			id := &ir.Node{Op: "Identity", Name: fmt.Sprintf("%s.out%d", nodeName(n), i), Inputs: []*ir.Value{br.Outputs[i]}, Outputs: []*ir.Value{o}, Attrs: map[string]*ir.Attr{}}
			o.Def = id
			o.Type = ir.Type{Kind: ir.KindTensor, DType: o.Type.DType}
			nodes = append(nodes, id)
		}
	}
	g.Nodes = nodes
	return count
}

// ctrlCheckIf says whether an If lowers: a one-element bool condition,
// branches without inputs whose nodes all lower, and outputs that are f32
// with the If's static shapes.
func ctrlCheckIf(n *ir.Node, opset int64) error {
	if err := ctrlCheckScalarBool(n.Input(0)); err != nil {
		return err
	}
	for _, o := range n.Outputs {
		if o == nil {
			return fmt.Errorf("an omitted If output is not lowered")
		}
		if err := checkF32(o); err != nil {
			return err
		}
	}
	for _, name := range []string{"then_branch", "else_branch"} {
		br := ctrlAttrGraph(n, name)
		if br == nil {
			return fmt.Errorf("no %s", name)
		}
		if len(br.Inputs) != 0 || len(br.Outputs) != len(n.Outputs) {
			return fmt.Errorf("%s has %d inputs and %d outputs (want 0 and %d)", name, len(br.Inputs), len(br.Outputs), len(n.Outputs))
		}
		for i, bo := range br.Outputs {
			if err := checkF32(bo); err != nil {
				return fmt.Errorf("%s output %d: %w", name, i, err)
			}
			if !sameShape(bo, n.Outputs[i]) {
				return fmt.Errorf("%s output %d is %s, the If's is %s", name, i, bo.Type, n.Outputs[i].Type)
			}
		}
		var errs []error
		for _, m := range br.Nodes {
			if err := checkNode(m, opset); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", name, m.Describe(), err))
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	return nil
}

// ctrlAttrGraph is the graph attribute name of n, or nil.
func ctrlAttrGraph(n *ir.Node, name string) *ir.Graph {
	if a := n.Attrs[name]; a != nil {
		return a.Graph
	}
	return nil
}

// ctrlConstScalar is element 0 of t as an LLVM constant of type et.
func ctrlConstScalar(t *ir.Tensor, et types.Type) value.Value {
	if ft, ok := et.(*types.FloatType); ok {
		return constant.NewFloat(ft, t.Float64At(0))
	}
	return constant.NewInt(et.(*types.IntType), t.Int64At(0))
}

func ctrlCheckScalarBool(v *ir.Value) error {
	if v != nil && v.Const != nil {
		return fmt.Errorf("constant condition %q (folded before lowering)", v.Name)
	}
	if v == nil || v.Type.Kind != ir.KindTensor || v.Type.DType != ir.Bool {
		return fmt.Errorf("condition is not a bool tensor")
	}
	s, ok := concreteShape(v)
	if !ok || ir.NumElements(s) != 1 {
		return fmt.Errorf("condition %q is not a one-element tensor (%s)", v.Name, v.Type)
	}
	return nil
}

// ctrlIfBlocks are the entry-function blocks of one lowered If.
type ctrlIfBlocks struct{ then, els, join *lir.Block }

// ctrlIfMark is a point of a lowered If in the kernel list: "begin"
// (branch on the condition), "else" (end of the then kernels) or "end"
// (the join). It runs no task; its output is a one-element placeholder.
type ctrlIfMark struct {
	kind  string
	node  string
	cond  *ir.Value
	reads []*ir.Value
	blk   *ctrlIfBlocks
	out   *ir.Value
}

func (k *ctrlIfMark) inputs() []buf {
	var bs []buf
	if k.cond != nil {
		bs = append(bs, buf{v: k.cond})
	}
	for _, v := range k.reads {
		bs = append(bs, buf{v: v})
	}
	return bs
}
func (k *ctrlIfMark) output() *ir.Value { return k.out }
func (k *ctrlIfMark) temps() []int64    { return nil }
func (k *ctrlIfMark) describe() string  { return fmt.Sprintf("if %s: %s", k.kind, k.node) }

func (k *ctrlIfMark) emit(e *segEmitter, _ []int64) error {
	b := e.entry
	switch k.kind {
	case "begin":
		p := b.cur.NewBitCast(e.ptr(b, e.ctx, buf{v: k.cond}), types.NewPointer(types.I8))
		c := b.cur.NewICmp(enum.IPredNE, b.cur.NewLoad(types.I8, p), constant.NewInt(types.I8, 0))
		k.blk.then, k.blk.els, k.blk.join = b.block("if_then"), b.block("if_else"), b.block("if_join")
		b.cur.NewCondBr(c, k.blk.then, k.blk.els)
		b.cur = k.blk.then
	case "else":
		b.cur.NewBr(k.blk.join)
		b.cur = k.blk.els
	case "end":
		b.cur.NewBr(k.blk.join)
		b.cur = k.blk.join
	}
	return nil
}

// ctrlPlaceholder is the output value of a kernel that computes nothing.
func ctrlPlaceholder(name string) *ir.Value {
	return &ir.Value{Name: name, Type: ir.TensorType(ir.Float32, ir.ShapeOf(1))}
}

// ctrlCopyKernel copies src (a value or a constant) into dst.
func ctrlCopyKernel(c *compiler, src, dst *ir.Value) (kernel, error) {
	s, err := copySrc(c, src)
	if err != nil {
		return nil, err
	}
	shape := mustShape(dst)
	st := copyContig(shape)
	if len(shape) == 0 {
		shape, st = []int64{1}, []int64{1}
	}
	return &regionKernel{op: "If output", out: dst, pieces: []copyPiece{{src: s, dims: shape, srcSt: st, dstSt: st}}}, nil
}

// lowerIf lowers an If as begin mark, then kernels, else mark, else
// kernels, end mark. Fusion never crosses a branch boundary.
func lowerIf(l *lowering, n *ir.Node) ([]kernel, error) {
	name := nodeName(n)
	blk := &ctrlIfBlocks{}
	l.add(&ctrlIfMark{kind: "begin", node: name, cond: n.Inputs[0], blk: blk, out: ctrlPlaceholder(name + ".if_begin")})
	for bi, attr := range []string{"then_branch", "else_branch"} {
		br := ctrlAttrGraph(n, attr)
		if bi == 1 {
			l.add(&ctrlIfMark{kind: "else", node: name, blk: blk, out: ctrlPlaceholder(name + ".if_else")})
		}
		l.open = map[*ir.Value]fusable{}
		ctrlCountUses(l.c, br)
		for _, m := range br.Nodes {
			if err := l.node(m); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", attr, m.Describe(), err)
			}
		}
		for i, bo := range br.Outputs {
			k, err := ctrlCopyKernel(l.c, l.root(bo), n.Outputs[i])
			if err != nil {
				return nil, err
			}
			l.add(k)
		}
	}
	l.open = map[*ir.Value]fusable{}
	l.add(&ctrlIfMark{kind: "end", node: name, blk: blk, reads: n.Outputs, out: ctrlPlaceholder(name + ".if_end")})
	return nil, nil
}

// ctrlCountUses counts the reads of the values a branch defines (for
// fusion inside the branch); its outputs count as read.
func ctrlCountUses(c *compiler, br *ir.Graph) {
	defined := map[*ir.Value]bool{}
	for _, m := range br.Nodes {
		for _, o := range m.Outputs {
			defined[o] = true
		}
	}
	for _, m := range br.Nodes {
		for _, v := range nodeUses(m, true) {
			if defined[v] {
				c.uses[v]++
			}
		}
	}
	for _, v := range br.Outputs {
		if defined[v] {
			c.uses[v]++
		}
	}
}

// Comparisons over small integer (or float) tensors with a bool result.

var ctrlCmpPreds = map[string][2]enum.IPred{
	"Equal": {enum.IPredEQ, enum.IPredEQ}, "Less": {enum.IPredSLT, enum.IPredULT}, "Greater": {enum.IPredSGT, enum.IPredUGT},
	"LessOrEqual": {enum.IPredSLE, enum.IPredULE}, "GreaterOrEqual": {enum.IPredSGE, enum.IPredUGE},
}

var ctrlCmpFPreds = map[string]enum.FPred{
	"Equal": enum.FPredOEQ, "Less": enum.FPredOLT, "Greater": enum.FPredOGT,
	"LessOrEqual": enum.FPredOLE, "GreaterOrEqual": enum.FPredOGE,
}

// ctrlCmpMaxElems bounds the comparisons lowered (a scalar loop).
const ctrlCmpMaxElems = 1 << 12

func ctrlCheckCmp(n *ir.Node, _ int64) error {
	if len(n.Inputs) != 2 || n.Inputs[0] == nil || n.Inputs[1] == nil || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return fmt.Errorf("%s needs two inputs and one output", n.Op)
	}
	a, b := n.Inputs[0], n.Inputs[1]
	if a.Type.Kind != ir.KindTensor || b.Type.Kind != ir.KindTensor || a.Type.DType != b.Type.DType {
		return fmt.Errorf("operands are %s and %s", a.Type, b.Type)
	}
	if _, _, ok := ewiType(a.Type.DType); !ok {
		return fmt.Errorf("comparison of %s is not lowered", a.Type.DType)
	}
	for _, v := range []*ir.Value{a, b, n.Outputs[0]} {
		if _, ok := concreteShape(v); !ok {
			return fmt.Errorf("value %q has no static shape (%s)", v.Name, v.Type)
		}
		if v.Const != nil && (!v.Const.IsDense() || v.Const.Len() != 1) {
			return fmt.Errorf("constant operand %q is not a dense scalar", v.Name)
		}
	}
	if n.Outputs[0].Type.DType != ir.Bool {
		return fmt.Errorf("output is %s, not bool", n.Outputs[0].Type)
	}
	if ir.NumElements(mustShape(n.Outputs[0])) > ctrlCmpMaxElems {
		return fmt.Errorf("comparisons of more than %d elements are not lowered", ctrlCmpMaxElems)
	}
	return nil
}

// ctrlCmpKernel writes out[i] = a[i] op b[i] (broadcast) as bytes 0/1.
type ctrlCmpKernel struct {
	op   string
	a, b *ir.Value
	out  *ir.Value
}

func (k *ctrlCmpKernel) inputs() []buf {
	var bs []buf
	for _, v := range []*ir.Value{k.a, k.b} {
		if v.Const == nil {
			bs = append(bs, buf{v: v})
		}
	}
	return bs
}
func (k *ctrlCmpKernel) output() *ir.Value { return k.out }
func (k *ctrlCmpKernel) temps() []int64    { return nil }
func (k *ctrlCmpKernel) describe() string {
	return fmt.Sprintf("%s %s %v", k.op, k.a.Type.DType, mustShape(k.out))
}

func (k *ctrlCmpKernel) emit(e *segEmitter, _ []int64) error {
	os := mustShape(k.out)
	total := ir.NumElements(os)
	et, unsigned, _ := ewiType(k.a.Type.DType)
	b, ctx, begin, end := e.task("_cmp")
	i8p := types.NewPointer(types.I8)
	dst := b.cur.NewBitCast(e.outPtr(b, ctx, k.out), i8p)
	load := func(v *ir.Value, i value.Value) value.Value {
		if v.Const != nil {
			return ctrlConstScalar(v.Const, et)
		}
		p := b.cur.NewBitCast(e.ptr(b, ctx, buf{v: v}), types.NewPointer(et))
		off := b.unravel(i, os, bcastStrides(mustShape(v), os))
		return b.cur.NewLoad(et, b.cur.NewGetElementPtr(et, p, off))
	}
	b.loop(begin, end, 1, func(i value.Value) {
		x, y := load(k.a, i), load(k.b, i)
		var c value.Value
		if types.IsFloat(et) {
			c = b.cur.NewFCmp(ctrlCmpFPreds[k.op], x, y)
		} else {
			c = b.cur.NewICmp(ctrlCmpPreds[k.op][b2i(unsigned)], x, y)
		}
		b.cur.NewStore(b.cur.NewZExt(c, types.I8), b.cur.NewGetElementPtr(types.I8, dst, i))
	})
	e.launch(b, total, 0)
	return nil
}

func init() {
	registerLowering("If", &opLowering{
		ownTypes:   true,
		inputs:     firstInput,
		check:      ctrlCheckIf,
		lowerMulti: lowerIf,
	})
	for op := range ctrlCmpPreds {
		registerLowering(op, &opLowering{
			ownTypes: true,
			check:    ctrlCheckCmp,
			lower: func(_ *lowering, n *ir.Node) (kernel, error) {
				return &ctrlCmpKernel{op: n.Op, a: n.Inputs[0], b: n.Inputs[1], out: n.Outputs[0]}, nil
			},
		})
	}
}
