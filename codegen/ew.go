package codegen

import (
	"fmt"

	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// ewKernel is a fused chain of elementwise ops: one loop over the output
// that loads each leaf (broadcast by strides), evaluates the expression in
// vector registers and stores once.
type ewKernel struct {
	out        *ir.Value
	shape      []int64
	e          *expr
	leaves     []buf
	leafShapes [][]int64
}

func newEWKernel(l *lowering, n *ir.Node) (*ewKernel, error) {
	shape, _ := concreteShape(n.Outputs[0])
	k := &ewKernel{out: n.Outputs[0], shape: shape}
	data := ewDataInputs(n)
	args := make([]*expr, len(data))
	for i, v := range data {
		a, err := k.arg(l.c, v)
		if err != nil {
			return nil, err
		}
		args[i] = a
	}
	e, err := nodeExpr(n, args)
	if err != nil {
		return nil, err
	}
	k.e = e
	return k, nil
}

// arg makes v an operand: an inline constant for one-element constants,
// else a leaf (constants are stored as dense weights).
func (k *ewKernel) arg(c *compiler, v *ir.Value) (*expr, error) {
	if x, ok := scalarConst(v); ok {
		return constExpr(x), nil
	}
	b := buf{v: v}
	if v.Const != nil {
		w, err := c.denseWeight(v)
		if err != nil {
			return nil, err
		}
		b = buf{w: w}
	}
	for i, lb := range k.leaves {
		if lb == b {
			return leafExpr(i), nil
		}
	}
	s, _ := concreteShape(v)
	k.leaves = append(k.leaves, b)
	k.leafShapes = append(k.leafShapes, s)
	return leafExpr(len(k.leaves) - 1), nil
}

func (k *ewKernel) absorb(c *compiler, n *ir.Node, idx int) bool {
	data := ewDataInputs(n)
	args := make([]*expr, len(data))
	for i, v := range data {
		if i == idx {
			args[i] = k.e
			continue
		}
		a, err := k.arg(c, v)
		if err != nil {
			return false
		}
		args[i] = a
	}
	e, err := nodeExpr(n, args)
	if err != nil {
		return false
	}
	k.e, k.out = e, n.Outputs[0]
	return true
}

func (k *ewKernel) inputs() []buf     { return k.leaves }
func (k *ewKernel) output() *ir.Value { return k.out }
func (k *ewKernel) temps() []int64    { return nil }
func (k *ewKernel) describe() string {
	return fmt.Sprintf("elementwise %v = %s", k.shape, k.e)
}

// collapseDims drops size-1 dims and merges adjacent dims along which
// every operand is contiguous (or broadcast) so the loop nest is as
// shallow as possible. strides[i] are operand i's element strides over
// shape; the results are the collapsed shape and strides.
func collapseDims(shape []int64, strides [][]int64) ([]int64, [][]int64) {
	var dims []int64
	sts := make([][]int64, len(strides))
	for d, n := range shape {
		if n == 1 {
			continue
		}
		merge := len(dims) > 0
		for i, st := range strides {
			if merge && sts[i][len(sts[i])-1] != st[d]*n {
				merge = false
			}
		}
		if merge {
			dims[len(dims)-1] *= n
			for i, st := range strides {
				sts[i][len(sts[i])-1] = st[d]
			}
			continue
		}
		dims = append(dims, n)
		for i, st := range strides {
			sts[i] = append(sts[i], st[d])
		}
	}
	if len(dims) == 0 {
		dims = []int64{1}
		for i := range sts {
			sts[i] = []int64{0}
		}
	}
	return dims, sts
}

// ewChunk bounds the elements of one task along the innermost dim.
const ewChunk = 16384

func (k *ewKernel) emit(e *segEmitter, _ []int64) error {
	L := e.c.t.Lanes()
	strides := make([][]int64, len(k.leaves)+1)
	strides[0] = bcastStrides(k.shape, k.shape)
	for i, s := range k.leafShapes {
		strides[i+1] = bcastStrides(s, k.shape)
	}
	dims, sts := collapseDims(k.shape, strides)
	inner := dims[len(dims)-1]
	outer := dims[:len(dims)-1]
	rows := ir.NumElements(outer)
	ch := inner
	if ch > ewChunk {
		ch = ewChunk
	}
	nch := (inner + ch - 1) / ch
	b, ctx, begin, end := e.task("_ew")
	outP := e.outPtr(b, ctx, k.out)
	bases := make([]value.Value, len(k.leaves))
	for i, lf := range k.leaves {
		bases[i] = e.ptr(b, ctx, lf)
	}
	b.loop(begin, end, 1, func(t value.Value) {
		row := b.cur.NewSDiv(t, ci(nch))
		c0 := b.mul(b.cur.NewSRem(t, ci(nch)), ci(ch))
		c1 := b.minI(b.add(c0, ci(ch)), ci(inner))
		// Per-leaf offset of this row: unravel row over the outer dims.
		offs := make([]value.Value, len(k.leaves))
		for i := range offs {
			offs[i] = b.unravel(row, outer, sts[i+1][:len(outer)])
		}
		ptrs := make([]value.Value, len(k.leaves))
		splat := make([]value.Value, len(k.leaves))
		scal := make([]value.Value, len(k.leaves))
		for i := range ptrs {
			ptrs[i] = b.gepF(bases[i], offs[i])
			if sts[i+1][len(dims)-1] == 0 {
				scal[i] = b.load(ptrs[i], 1)
				splat[i] = b.splat(scal[i], L)
			}
		}
		orow := b.gepF(outP, b.mul(row, ci(inner)))
		body := func(i value.Value, w int) {
			vals := make([]value.Value, len(k.leaves))
			for li := range vals {
				switch {
				case splat[li] == nil:
					vals[li] = b.load(b.gepF(ptrs[li], i), w)
				case w == 1:
					vals[li] = scal[li]
				default:
					vals[li] = splat[li]
				}
			}
			b.store(b.emitExpr(k.e, vals, w), b.gepF(orow, i), w)
		}
		vecEnd := c0
		if L > 1 && inner >= int64(L) {
			n := b.cur.NewSub(c1, c0)
			vecEnd = b.add(c0, b.mul(b.cur.NewSDiv(n, ci(int64(L))), ci(int64(L))))
			b.loop(c0, vecEnd, int64(L), func(i value.Value) { body(i, L) })
		}
		b.loop(vecEnd, c1, 1, func(i value.Value) { body(i, 1) })
	})
	e.launch(b, rows*nch, float64(ir.NumElements(k.shape))*4)
	return nil
}

// copyKernel copies a value into an output buffer (a graph output that is
// a graph input, a constant, or the same storage as another output).
type copyKernel struct {
	src    buf
	dst    *ir.Value
	outIdx int // the segment output written
	n      int64
}

func (l *lowering) newCopyKernel(src, dst *ir.Value, outIdx int) (*copyKernel, error) {
	k := &copyKernel{src: buf{v: src}, dst: dst, outIdx: outIdx, n: valueBytes(dst)}
	if src.Const != nil {
		w, err := l.c.denseWeight(src)
		if err != nil {
			return nil, err
		}
		k.src = buf{w: w}
	}
	return k, nil
}

func (k *copyKernel) inputs() []buf     { return []buf{k.src} }
func (k *copyKernel) output() *ir.Value { return k.dst }
func (k *copyKernel) temps() []int64    { return nil }
func (k *copyKernel) describe() string  { return fmt.Sprintf("copy %d bytes to %q", k.n, k.dst.Name) }

func (k *copyKernel) emit(e *segEmitter, _ []int64) error {
	b, ctx, _, _ := e.task("_copy")
	dst := b.cur.NewBitCast(e.outputPtr(b, ctx, k.outIdx), tI8P)
	src := b.cur.NewBitCast(e.ptr(b, ctx, k.src), tI8P)
	memcpy := e.c.mod.declare("llvm.memcpy.p0i8.p0i8.i64", types.Void, tI8P, tI8P, tI64, types.I1)
	b.cur.NewCall(memcpy, dst, src, ci(k.n), cbool(false))
	e.launch(b, 1, 0)
	return nil
}

func init() {
	ew := &opLowering{
		elementwise: true,
		inputs:      ewDataInputs,
		check:       checkElementwise,
		lower:       func(l *lowering, n *ir.Node) (kernel, error) { return newEWKernel(l, n) },
	}
	for op := range ewUnary {
		registerLowering(op, ew)
	}
	for op := range ewBinary {
		registerLowering(op, ew)
	}
}

// checkElementwise accepts an elementwise node whose inputs broadcast to
// its output (and whose Clip bounds are constants).
func checkElementwise(n *ir.Node, _ int64) error {
	if _, err := nodeExpr(n, nil); err != nil {
		return err
	}
	if (n.Op == "Max" || n.Op == "Min") && len(n.Inputs) != 2 {
		return fmt.Errorf("%s with %d inputs (only 2 are lowered)", n.Op, len(n.Inputs))
	}
	if ewBinary[n.Op] && len(n.Inputs) != 2 || ewUnary[n.Op] && n.Op != "Clip" && n.Op != "Pow" && len(n.Inputs) != 1 {
		return fmt.Errorf("%s with %d inputs", n.Op, len(n.Inputs))
	}
	out, _ := concreteShape(n.Outputs[0])
	for _, v := range ewDataInputs(n) {
		s, _ := concreteShape(v)
		if len(s) > len(out) {
			return fmt.Errorf("input %q does not broadcast to the output", v.Name)
		}
	}
	return nil
}
