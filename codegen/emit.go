package codegen

import (
	"fmt"

	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
	"github.com/optc-dev/optc/ir"
)

// segEmitter writes one native segment: its entry function and one task
// function per kernel.
//
// The entry function stores its four buffer bases (inputs, outputs,
// weights, scratch) in a small context array and runs each kernel's task
// function over its task range, through optc_parallel_for when the kernel
// is worth spreading over threads. A task function
//
//	void task(i8 *ctx, i64 begin, i64 end)
//
// recomputes its buffer pointers from the context: memory plan offsets
// are compile-time constants.
type segEmitter struct {
	c     *compiler
	l     *lowering
	p     *memPlan
	entry *fnb
	ctx   value.Value // i8* in the entry function
	pool  value.Value
	kname string
}

// parallelMinFlops is the work below which a kernel runs on the calling
// thread: waking the pool costs a few microseconds.
const parallelMinFlops = 1 << 17

func (c *compiler) emitSegment(l *lowering, name string) (int64, error) {
	p, err := l.plan()
	if err != nil {
		return 0, err
	}
	mod := c.mod
	entry := mod.newFunc(name, false, tI32,
		param("inputs", tI8PP, true), param("outputs", tI8PP, true),
		param("weights", tI8P, true), param("scratch", tI8P, true), param("pool", tI8P, false))
	if name != EntryName {
		entry.f.Visibility = enum.VisibilityHidden
	}
	ps := entry.f.Params
	arrT := types.NewArray(4, tI8P)
	ctxA := entry.cur.NewAlloca(arrT)
	for i, v := range []value.Value{
		entry.cur.NewBitCast(ps[0], tI8P), entry.cur.NewBitCast(ps[1], tI8P), ps[2], ps[3],
	} {
		slot := entry.cur.NewGetElementPtr(arrT, ctxA, ci(0), ci(int64(i)))
		entry.cur.NewStore(v, slot)
	}
	e := &segEmitter{c: c, l: l, p: p, entry: entry, ctx: entry.cur.NewBitCast(ctxA, tI8P), pool: ps[4]}
	for ki, k := range l.kernels {
		e.kname = fmt.Sprintf("%s_k%d", name, ki)
		if err := k.emit(e, p.temps[ki]); err != nil {
			return 0, fmt.Errorf("kernel %s: %w", k.describe(), err)
		}
		c.kdesc = append(c.kdesc, fmt.Sprintf("%s: %s", name, k.describe()))
	}
	entry.cur.NewRet(ci32(0))
	return p.scratch, nil
}

// task starts a task function for the current kernel.
func (e *segEmitter) task(suffix string) (b *fnb, ctx, begin, end value.Value) {
	b = e.c.mod.newFunc(e.kname+suffix, true, types.Void, param("ctx", tI8P, false), param("begin", tI64, false), param("end", tI64, false))
	ps := b.f.Params
	return b, ps[0], ps[1], ps[2]
}

// launch runs task over [0, n) from the entry function, in parallel when
// flops says the kernel is big enough.
func (e *segEmitter) launch(task *fnb, n int64, flops float64) {
	task.cur.NewRet(nil)
	if n <= 0 {
		return
	}
	if n > 1 && flops >= parallelMinFlops {
		pf := e.c.mod.declare("optc_parallel_for", types.Void, tI8P, tI64, taskTyp, tI8P)
		e.entry.cur.NewCall(pf, e.pool, ci(n), task.f, e.ctx)
		return
	}
	e.entry.cur.NewCall(task.f, e.ctx, ci(0), ci(n))
}

// base loads slot i of the context (0 inputs, 1 outputs, 2 weights,
// 3 scratch).
func (e *segEmitter) base(b *fnb, ctx value.Value, i int64) value.Value {
	pp := b.cur.NewBitCast(ctx, tI8PP)
	return b.cur.NewLoad(tI8P, b.cur.NewGetElementPtr(tI8P, pp, ci(i)))
}

// ptr returns a float* to a buffer inside a task function.
func (e *segEmitter) ptr(b *fnb, ctx value.Value, x buf) value.Value {
	if x.w != nil {
		return e.bytePtr(b, e.base(b, ctx, 2), x.w.Offset)
	}
	lc := e.p.loc[e.l.root(x.v)]
	switch lc.kind {
	case locInput, locOutput:
		arr := b.cur.NewBitCast(e.base(b, ctx, int64(lc.kind)), tI8PP)
		p := b.cur.NewLoad(tI8P, b.cur.NewGetElementPtr(tI8P, arr, ci(int64(lc.idx))))
		return b.cur.NewBitCast(p, tF32P)
	case locWeight:
		return e.bytePtr(b, e.base(b, ctx, 2), lc.off)
	}
	return e.bytePtr(b, e.base(b, ctx, 3), lc.off)
}

// outPtr is the destination of a kernel's output value v (its storage
// root's location).
func (e *segEmitter) outPtr(b *fnb, ctx value.Value, v *ir.Value) value.Value {
	return e.ptr(b, ctx, buf{v: v})
}

// outputPtr is segment output i.
func (e *segEmitter) outputPtr(b *fnb, ctx value.Value, i int) value.Value {
	arr := b.cur.NewBitCast(e.base(b, ctx, 1), tI8PP)
	p := b.cur.NewLoad(tI8P, b.cur.NewGetElementPtr(tI8P, arr, ci(int64(i))))
	return b.cur.NewBitCast(p, tF32P)
}

// tempPtr is a float* to a kernel temporary at scratch offset off.
func (e *segEmitter) tempPtr(b *fnb, ctx value.Value, off int64) value.Value {
	return e.bytePtr(b, e.base(b, ctx, 3), off)
}

func (e *segEmitter) bytePtr(b *fnb, base value.Value, off int64) value.Value {
	p := b.cur.NewGetElementPtr(types.I8, base, ci(off))
	return b.cur.NewBitCast(p, tF32P)
}
