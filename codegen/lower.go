package codegen

import (
	"fmt"
	"slices"

	"github.com/optc-dev/optc/ir"
)

// opLowering says how codegen lowers one op. Each kernel file registers
// the ops it handles in an init function (registerLowering); a new kernel
// (Conv, pooling, normalization, …) is a new file that registers its ops,
// without touching the partitioner or the memory planner.
type opLowering struct {
	// inputs are the inputs read at run time (nil: all of them). The
	// others (Reshape's shape, Clip's bounds) are used at compile time.
	inputs func(n *ir.Node) []*ir.Value
	// check returns why n cannot be lowered, or nil. It runs after the
	// generic checks: every run-time input and the single output are f32
	// tensors with static shapes.
	check func(n *ir.Node, opset int64) error
	// elementwise ops may be fused into the kernel that produces one of
	// their inputs (see fusable) instead of getting their own loop.
	elementwise bool
	// lower makes n's kernel. A nil kernel makes n's output a view of its
	// first input: same bytes, new shape, no code.
	lower func(l *lowering, n *ir.Node) (kernel, error)
	// lowerMulti, when set, lowers a node with several outputs (Split)
	// into one kernel per output; it replaces lower.
	lowerMulti func(l *lowering, n *ir.Node) ([]kernel, error)
	// ownTypes skips the generic f32/static-shape/single-output checks:
	// check validates the node's types itself (comparisons over integer
	// tensors, If with its bool condition).
	ownTypes bool
}

var lowerings = map[string]*opLowering{}

// preLowerings are specialized lowerings of an op tried, in registration
// order, before its own (the int8 GEMM and Conv of gemm_i8.go and
// conv_i8.go); ok false hands the node on.
var preLowerings = map[string][]func(l *lowering, n *ir.Node) (k kernel, ok bool, err error){}

// registerPreLowering adds a specialized lowering of op (see preLowerings).
func registerPreLowering(op string, f func(l *lowering, n *ir.Node) (kernel, bool, error)) {
	preLowerings[op] = append(preLowerings[op], f)
}

// registerLowering installs the lowering of an op of the default ONNX
// domain (registering twice is a programming error).
func registerLowering(op string, lw *opLowering) {
	if _, dup := lowerings[op]; dup {
		panic("codegen: lowering registered twice: " + op)
	}
	lowerings[op] = lw
}

// altLowerings are second lowerings of ops registered elsewhere, for the
// forms the first does not take (integer Add, Mul, … of ew_int.go next to
// ew.go's f32 kernels): the first whose match accepts a node replaces the
// op's own lowering for it.
var altLowerings = map[string][]altLowering{}

type altLowering struct {
	match func(n *ir.Node) bool
	lw    *opLowering
}

// registerAltLowering adds an alternative lowering of op (see
// altLowerings).
func registerAltLowering(op string, match func(n *ir.Node) bool, lw *opLowering) {
	altLowerings[op] = append(altLowerings[op], altLowering{match, lw})
}

// loweringOf is the lowering that handles n: an alternative that matches
// it, else its op's (nil when none).
func loweringOf(n *ir.Node) *opLowering {
	for _, a := range altLowerings[n.Op] {
		if a.match(n) {
			return a.lw
		}
	}
	return lowerings[n.Op]
}

// HasOp reports whether codegen lowers op (in some of its forms: the
// node-level conditions are checked per node), for coverage reports.
func HasOp(domain, op string) bool {
	return (domain == "" || domain == "ai.onnx") && lowerings[op] != nil
}

// nativeInputs are the inputs a lowered node reads at run time.
func nativeInputs(n *ir.Node) []*ir.Value {
	if lw := loweringOf(n); lw != nil && lw.inputs != nil {
		return lw.inputs(n)
	}
	return n.Inputs
}

// firstInput is the inputs function of ops that read only their data input.
func firstInput(n *ir.Node) []*ir.Value { return n.Inputs[:1] }

// checkNode returns nil when codegen can lower n, else why not.
func checkNode(n *ir.Node, opset int64) error {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return fmt.Errorf("domain %s is not lowered", n.Domain)
	}
	lw := loweringOf(n)
	if lw == nil {
		return fmt.Errorf("op %s is not lowered yet", n.Op)
	}
	if len(n.Inputs) == 0 {
		return fmt.Errorf("no inputs")
	}
	if lw.ownTypes {
		return lw.check(n, opset)
	}
	for _, v := range nativeInputs(n) {
		if v == nil {
			continue
		}
		if err := checkF32(v); err != nil {
			return err
		}
	}
	outs := 0
	for _, o := range n.Outputs {
		if o == nil {
			continue
		}
		outs++
		if err := checkF32(o); err != nil {
			return err
		}
	}
	if lw.lowerMulti == nil && (outs != 1 || n.Outputs[0] == nil) {
		return fmt.Errorf("only single-output nodes are lowered")
	}
	if lw.check != nil {
		return lw.check(n, opset)
	}
	return nil
}

func checkF32(v *ir.Value) error {
	if v.Type.Kind != ir.KindTensor || v.Type.DType != ir.Float32 {
		return fmt.Errorf("value %q is %s (only f32 tensors are lowered)", v.Name, v.Type)
	}
	if _, ok := concreteShape(v); !ok {
		return fmt.Errorf("value %q has no static shape (%s)", v.Name, v.Type)
	}
	return nil
}

// fusable is a kernel whose output can absorb a following elementwise
// node: the node's expression is applied to the kernel's result before it
// is stored.
type fusable interface {
	kernel
	absorb(c *compiler, n *ir.Node, idx int) bool
}

// lowering turns one native segment's nodes into kernels.
type lowering struct {
	c       *compiler
	seg     *segment
	alias   map[*ir.Value]*ir.Value
	kernels []kernel
	open    map[*ir.Value]fusable
	segOut  map[*ir.Value]bool
}

func (c *compiler) lowerSegment(s *segment) (*lowering, error) {
	l := &lowering{c: c, seg: s, alias: map[*ir.Value]*ir.Value{}, open: map[*ir.Value]fusable{}, segOut: map[*ir.Value]bool{}}
	for _, o := range s.outputs {
		l.segOut[o] = true
	}
	for _, n := range s.nodes {
		if err := l.node(n); err != nil {
			return nil, fmt.Errorf("%s: %w", n.Describe(), err)
		}
	}
	return l, nil
}

// root is the value whose storage v shares.
func (l *lowering) root(v *ir.Value) *ir.Value {
	for {
		a, ok := l.alias[v]
		if !ok {
			return v
		}
		v = a
	}
}

func (l *lowering) add(k kernel) {
	l.kernels = append(l.kernels, k)
	if f, ok := k.(fusable); ok {
		l.open[k.output()] = f
	}
}

// moveLast moves k to the end of the kernel list (a kernel that absorbed
// a node runs where that node ran).
func (l *lowering) moveLast(k kernel) {
	i := slices.Index(l.kernels, k)
	l.kernels = append(slices.Delete(l.kernels, i, i+1), k)
}

func (l *lowering) node(n *ir.Node) error {
	out := n.Outputs[0]
	lw := loweringOf(n)
	if lw.lowerMulti != nil {
		ks, err := lw.lowerMulti(l, n)
		for _, k := range ks {
			l.add(k)
		}
		return err
	}
	if lw.elementwise {
		for i, v := range ewDataInputs(n) {
			k, ok := l.open[v]
			if !ok || l.c.uses[v] != 1 || l.segOut[v] || !sameShape(v, out) {
				continue
			}
			if k.absorb(l.c, n, i) {
				delete(l.open, v)
				l.open[out] = k
				l.moveLast(k)
				return nil
			}
		}
	}
	for _, pre := range preLowerings[n.Op] {
		k, ok, err := pre(l, n)
		if err != nil {
			return err
		}
		if ok {
			l.add(k)
			return nil
		}
	}
	k, err := lw.lower(l, n)
	if err != nil {
		return err
	}
	if k == nil {
		l.alias[out] = l.root(n.Inputs[0])
		return nil
	}
	l.add(k)
	return nil
}

func sameShape(a, b *ir.Value) bool {
	sa, _ := concreteShape(a)
	sb, _ := concreteShape(b)
	return slices.Equal(sa, sb)
}

// bcastStrides returns the element strides of a row-major tensor of shape
// in (right-aligned) broadcast to out: 0 along broadcast dims.
func bcastStrides(in, out []int64) []int64 {
	st := make([]int64, len(out))
	s := int64(1)
	for i := len(in) - 1; i >= 0; i-- {
		j := len(out) - len(in) + i
		if in[i] != 1 {
			st[j] = s
		}
		s *= in[i]
	}
	return st
}

// view2D maps a tensor of shape in broadcast to out (rank >= 1) onto the
// 2-D view [rows, cols] of out (rows = all leading dims flattened): the
// element (r, c) is at r*rs + c*cs. ok is false when the tensor is not
// linear in the flattened row index.
func view2D(in, out []int64) (rs, cs int64, ok bool) {
	if len(in) > len(out) || len(out) == 0 {
		return 0, 0, false
	}
	for i := range in {
		j := len(out) - len(in) + i
		if in[i] != 1 && in[i] != out[j] {
			return 0, 0, false
		}
	}
	st := bcastStrides(in, out)
	r := len(out) - 1
	cs = st[r]
	// Row dims of size > 1 must be all broadcast or form one linear index.
	var dims []int
	for i := 0; i < r; i++ {
		if out[i] != 1 {
			dims = append(dims, i)
		}
	}
	if len(dims) == 0 {
		return 0, cs, true
	}
	last := dims[len(dims)-1]
	rs = st[last]
	span := int64(1)
	for k := len(dims) - 1; k >= 0; k-- {
		if st[dims[k]] != rs*span {
			return 0, 0, false
		}
		span *= out[dims[k]]
	}
	return rs, cs, true
}
