package codegen

import (
	"fmt"

	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// Gather. Constant indices into f32 data become region copies (copy.go's
// lowerGather); run-time indices (int32 or int64, any shape, any axis,
// negative values counting from the end), and data of the other element
// types of ew_int.go (f64, integers, bool; shape arithmetic), are read by
// gatherKernel: one task per (outer index, index position) copies the
// selected slab of `after` contiguous elements.
//
// An index outside [-D, D) (D the axis length) must not make native code
// read outside the data: the kernel reads slab 0 instead and sets a flag
// in scratch; after the kernel the segment's entry returns StatusIndexRange,
// which the runtime reports as a failed run (the output is then
// unspecified). The interpreter and ONNX Runtime fail on such an index
// too.

// Status codes a segment entry function returns when a run-time check of
// its kernels fails (0 is success).
const (
	// StatusIndexRange: a Gather index was outside the indexed axis.
	StatusIndexRange = 2
	// StatusResizeScales: run-time Resize scales do not give the
	// compiled output shape.
	StatusResizeScales = 3
)

type gatherKernel struct {
	node      string
	data, idx *ir.Value
	out       *ir.Value
	idx64     bool
	outer, m  int64 // outer: product of the data dims before the axis; m: index count
	d, after  int64 // axis length; product of the data dims after it
	dataBuf   buf
	idxBuf    buf
	elem      types.Type // the data's element type (f32 copies in vectors)
}

func (k *gatherKernel) inputs() []buf     { return []buf{k.dataBuf, k.idxBuf} }
func (k *gatherKernel) output() *ir.Value { return k.out }
func (k *gatherKernel) temps() []int64    { return []int64{planAlign} }
func (k *gatherKernel) describe() string {
	return fmt.Sprintf("gather (index tensor) %s %d x %d of %d x %d %s", k.data.Type.DType, k.outer, k.m, k.d, k.after, k.node)
}

// gatherRuntimeCheck returns why gatherKernel cannot lower the Gather n
// (run-time indices, or data of another element type than f32), or nil.
func gatherRuntimeCheck(n *ir.Node) error {
	if len(n.Inputs) != 2 || n.Inputs[0] == nil || n.Inputs[1] == nil || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return fmt.Errorf("Gather needs data and indices and one output")
	}
	for _, v := range []*ir.Value{n.Inputs[0], n.Outputs[0]} {
		if _, _, ok := ewiType(v.Type.DType); v.Type.Kind != ir.KindTensor || !ok || v.Type.DType != n.Inputs[0].Type.DType {
			return fmt.Errorf("Gather of %s is not lowered", v.Type)
		}
		if _, ok := concreteShape(v); !ok {
			return fmt.Errorf("value %q has no static shape (%s)", v.Name, v.Type)
		}
	}
	iv := n.Inputs[1]
	if iv.Type.Kind != ir.KindTensor || iv.Type.DType != ir.Int32 && iv.Type.DType != ir.Int64 {
		return fmt.Errorf("Gather indices %q are %s (int32 or int64 tensors are lowered)", iv.Name, iv.Type)
	}
	if _, ok := concreteShape(iv); !ok {
		return fmt.Errorf("value %q has no static shape (%s)", iv.Name, iv.Type)
	}
	in := mustShape(n.Inputs[0])
	if _, err := copyNormAxis(n.AttrInt("axis", 0), int64(len(in))); err != nil {
		return err
	}
	return nil
}

func newGatherKernel(l *lowering, n *ir.Node) (kernel, error) {
	in := mustShape(n.Inputs[0])
	axis, err := copyNormAxis(n.AttrInt("axis", 0), int64(len(in)))
	if err != nil {
		return nil, err
	}
	// Constants (the table of an embedding, constant indices of integer
	// data) are stored: f32 as dense weights, others as bytes.
	operand := func(v *ir.Value) (buf, error) {
		if v.Const == nil || v.Type.DType == ir.Float32 {
			return copySrc(l.c, v)
		}
		w, err := ewiConstWeight(l.c, v)
		return buf{w: w}, err
	}
	src, err := operand(n.Inputs[0])
	if err != nil {
		return nil, err
	}
	ib, err := operand(n.Inputs[1])
	if err != nil {
		return nil, err
	}
	elem, _, _ := ewiType(n.Inputs[0].Type.DType)
	k := &gatherKernel{
		node: nodeName(n), data: n.Inputs[0], idx: n.Inputs[1], out: n.Outputs[0],
		idx64: n.Inputs[1].Type.DType == ir.Int64,
		outer: ir.NumElements(in[:axis]), m: ir.NumElements(mustShape(n.Inputs[1])),
		d: in[axis], after: ir.NumElements(in[axis+1:]), dataBuf: src, idxBuf: ib, elem: elem,
	}
	if want := k.outer * k.m * k.after; want != ir.NumElements(mustShape(n.Outputs[0])) {
		return nil, fmt.Errorf("Gather output %v does not hold %d elements", mustShape(n.Outputs[0]), want)
	}
	return k, nil
}

func (k *gatherKernel) emit(e *segEmitter, temps []int64) error {
	L := int64(e.c.t.Lanes())
	flagOff := temps[0]
	gatherFlagReset(e, flagOff)
	b, ctx, begin, end := e.task("_gather")
	src := e.ptr(b, ctx, k.dataBuf)
	dst := e.outPtr(b, ctx, k.out)
	it := types.I32
	if k.idx64 {
		it = types.I64
	}
	idxP := b.cur.NewBitCast(e.ptr(b, ctx, k.idxBuf), types.NewPointer(it))
	flag := b.cur.NewBitCast(e.tempPtr(b, ctx, flagOff), types.NewPointer(types.I32))
	b.loop(begin, end, 1, func(row value.Value) {
		o := b.cur.NewSDiv(row, ci(k.m))
		j := b.cur.NewSRem(row, ci(k.m))
		var x value.Value = b.cur.NewLoad(it, b.gep(it, idxP, j))
		if !k.idx64 {
			x = b.cur.NewSExt(x, tI64)
		}
		neg := b.cur.NewICmp(enum.IPredSLT, x, ci(0))
		x = b.cur.NewSelect(neg, b.add(x, ci(k.d)), x)
		ok := b.cur.NewICmp(enum.IPredULT, x, ci(k.d))
		b.ifThen(b.cur.NewXor(ok, cbool(true)), func() { gatherFlagSet(b, flag) })
		x = b.cur.NewSelect(ok, x, ci(0))
		if k.elem != tF32 {
			ep := types.NewPointer(k.elem)
			sp := b.gep(k.elem, b.cur.NewBitCast(src, ep), b.mul(b.add(b.mul(o, ci(k.d)), x), ci(k.after)))
			dp := b.gep(k.elem, b.cur.NewBitCast(dst, ep), b.mul(row, ci(k.after)))
			b.loop(ci(0), ci(k.after), 1, func(i value.Value) {
				b.cur.NewStore(b.cur.NewLoad(k.elem, b.gep(k.elem, sp, i)), b.gep(k.elem, dp, i))
			})
			return
		}
		sp := b.gepF(src, b.mul(b.add(b.mul(o, ci(k.d)), x), ci(k.after)))
		dp := b.gepF(dst, b.mul(row, ci(k.after)))
		vecEnd := int64(0)
		if L > 1 && k.after >= L {
			vecEnd = k.after / L * L
			b.loop(ci(0), ci(vecEnd), L, func(i value.Value) {
				b.store(b.load(b.gepF(sp, i), int(L)), b.gepF(dp, i), int(L))
			})
		}
		b.loop(ci(vecEnd), ci(k.after), 1, func(i value.Value) {
			b.store(b.load(b.gepF(sp, i), 1), b.gepF(dp, i), 1)
		})
	})
	rows := k.outer * k.m
	e.launch(b, rows, float64(rows*k.after)*2)
	gatherFlagReturn(e, flagOff, StatusIndexRange)
	return nil
}

// gatherFlagReset zeroes the i32 error flag at scratch offset off from the
// entry function, before the kernel's tasks run.
func gatherFlagReset(e *segEmitter, off int64) {
	p := e.entry.cur.NewBitCast(e.tempPtr(e.entry, e.ctx, off), types.NewPointer(types.I32))
	e.entry.cur.NewStore(ci32(0), p)
}

// gatherFlagSet sets the flag from a task (an atomic store: tasks on
// several threads may set it at once).
func gatherFlagSet(b *fnb, flag value.Value) {
	st := b.cur.NewStore(ci32(1), flag)
	st.Atomic, st.Ordering, st.Align = true, enum.AtomicOrderingMonotonic, 4
}

// gatherFlagReturn makes the entry function return code when the flag at
// scratch offset off is set (after the kernel's tasks have joined).
func gatherFlagReturn(e *segEmitter, off int64, code int64) {
	b := e.entry
	p := b.cur.NewBitCast(e.tempPtr(b, e.ctx, off), types.NewPointer(types.I32))
	ld := b.cur.NewLoad(types.I32, p)
	ld.Atomic, ld.Ordering, ld.Align = true, enum.AtomicOrderingMonotonic, 4
	fail := b.block("fail")
	next := b.block("ok")
	b.cur.NewCondBr(b.cur.NewICmp(enum.IPredNE, ld, ci32(0)), fail, next)
	fail.NewRet(ci32(code))
	b.cur = next
}

func init() {
	registerLowering("Gather", &opLowering{
		// Types are checked here: run-time indices are integers.
		ownTypes: true,
		inputs: func(n *ir.Node) []*ir.Value {
			if len(n.Inputs) == 2 && n.Inputs[1] != nil && n.Inputs[1].Const == nil {
				return n.Inputs
			}
			return n.Inputs[:1]
		},
		check: func(n *ir.Node, _ int64) error {
			if len(n.Inputs) != 2 || n.Inputs[0] == nil || n.Inputs[1] == nil || len(n.Outputs) != 1 || n.Outputs[0] == nil {
				return fmt.Errorf("Gather needs data and indices and one output")
			}
			if n.Inputs[1].Const == nil || n.Inputs[0].Type.DType != ir.Float32 {
				return gatherRuntimeCheck(n)
			}
			for _, v := range []*ir.Value{n.Inputs[0], n.Outputs[0]} {
				if err := checkF32(v); err != nil {
					return err
				}
			}
			_, _, err := gatherParams(n)
			return err
		},
		lower: func(l *lowering, n *ir.Node) (kernel, error) {
			if n.Inputs[1].Const == nil || n.Inputs[0].Type.DType != ir.Float32 {
				return newGatherKernel(l, n)
			}
			return lowerGather(l, n)
		},
	})
}
