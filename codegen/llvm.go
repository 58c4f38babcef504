package codegen

import (
	"fmt"
	"math"

	lir "github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/targets"
)

// This file is the thin layer over github.com/llir/llvm that the kernels
// are written in: functions with target attributes, uniquely named
// blocks, counted loops with loop-carried values (phis filled in after the
// body is built), vector loads/stores and splats, FMA. A "width" w is the
// number of float32 lanes of a value: w == 1 is a plain float.

// llModule is an LLVM module being built for one target.
type llModule struct {
	m          *lir.Module
	t          *targets.Target
	intrinsics map[string]*lir.Func
	names      map[string]int
}

func newLLModule(t *targets.Target) *llModule {
	m := lir.NewModule()
	m.TargetTriple = t.Triple
	m.DataLayout = t.DataLayout
	return &llModule{m: m, t: t, intrinsics: map[string]*lir.Func{}, names: map[string]int{}}
}

// unique returns base, or base.N if base was used before.
func (mod *llModule) unique(base string) string {
	n := mod.names[base]
	mod.names[base] = n + 1
	if n == 0 {
		return base
	}
	return fmt.Sprintf("%s.%d", base, n)
}

var (
	tF32    = types.Float
	tI64    = types.I64
	tI32    = types.I32
	tI8P    = types.NewPointer(types.I8)
	tF32P   = types.NewPointer(types.Float)
	tI8PP   = types.NewPointer(tI8P)
	taskTyp = types.NewPointer(types.NewFunc(types.Void, tI8P, tI64, tI64))
)

// vecT is the type of a width-w float value.
func vecT(w int) types.Type {
	if w == 1 {
		return tF32
	}
	return types.NewVector(uint64(w), tF32)
}

// fnb builds one function.
type fnb struct {
	mod  *llModule
	f    *lir.Func
	cur  *lir.Block
	nblk int
}

// newFunc defines a function. Internal functions get internal linkage;
// every function carries the target's CPU and features so that opt uses
// the full vector width.
func (mod *llModule) newFunc(name string, internal bool, ret types.Type, params ...*lir.Param) *fnb {
	f := mod.m.NewFunc(mod.unique(name), ret, params...)
	if internal {
		f.Linkage = enum.LinkageInternal
	}
	f.FuncAttrs = append(f.FuncAttrs, enum.FuncAttrNoUnwind, lir.AttrPair{Key: "target-cpu", Value: mod.t.CPU})
	if mod.t.Features != "" {
		f.FuncAttrs = append(f.FuncAttrs, lir.AttrPair{Key: "target-features", Value: mod.t.Features})
	}
	b := &fnb{mod: mod, f: f}
	b.cur = b.block("entry")
	return b
}

// param makes a parameter; noalias marks buffer pointers.
func param(name string, t types.Type, noalias bool) *lir.Param {
	p := lir.NewParam(name, t)
	if noalias {
		p.Attrs = append(p.Attrs, enum.ParamAttrNoAlias)
	}
	return p
}

// declare returns the declaration of an external function or intrinsic.
func (mod *llModule) declare(name string, ret types.Type, params ...types.Type) *lir.Func {
	if f, ok := mod.intrinsics[name]; ok {
		return f
	}
	ps := make([]*lir.Param, len(params))
	for i, t := range params {
		ps[i] = lir.NewParam("", t)
	}
	f := mod.m.NewFunc(name, ret, ps...)
	mod.intrinsics[name] = f
	return f
}

// block appends a new uniquely named block (it does not switch to it).
func (b *fnb) block(prefix string) *lir.Block {
	b.nblk++
	return b.f.NewBlock(fmt.Sprintf("%s%d", prefix, b.nblk))
}

func ci(n int64) *constant.Int       { return constant.NewInt(tI64, n) }
func ci32(n int64) *constant.Int     { return constant.NewInt(tI32, n) }
func cf(x float64) *constant.Float   { return constant.NewFloat(tF32, float64(float32(x))) }
func cbool(x bool) *constant.Int     { return constant.NewBool(x) }
func cnull(t types.Type) value.Value { return constant.NewNull(t.(*types.PointerType)) }

// laneMask is the constant <L x i1> mask of the lanes from+i < end of a
// vector starting at element from, and whether every lane is set.
func laneMask(L int, from, end int64) (*constant.Vector, bool) {
	bits := make([]constant.Constant, L)
	all := true
	for i := range bits {
		in := from+int64(i) < end
		bits[i] = cbool(in)
		all = all && in
	}
	return constant.NewVector(types.NewVector(uint64(L), types.I1), bits...), all
}

// constF is the constant x at width w (a splat vector for w > 1).
func constF(x float64, w int) value.Value {
	if math.IsNaN(x) {
		x = math.NaN()
	}
	if w == 1 {
		return cf(x)
	}
	elems := make([]constant.Constant, w)
	for i := range elems {
		elems[i] = cf(x)
	}
	return constant.NewVector(vecT(w).(*types.VectorType), elems...)
}

// constI32V is an i32 splat vector (or scalar) constant.
func constI32V(x int64, w int) value.Value {
	if w == 1 {
		return ci32(x)
	}
	elems := make([]constant.Constant, w)
	for i := range elems {
		elems[i] = ci32(x)
	}
	return constant.NewVector(types.NewVector(uint64(w), tI32), elems...)
}

func i32T(w int) types.Type {
	if w == 1 {
		return tI32
	}
	return types.NewVector(uint64(w), tI32)
}

// gep returns &p[i] for a float* (or i8*) pointer.
func (b *fnb) gep(elem types.Type, p value.Value, i value.Value) value.Value {
	return b.cur.NewGetElementPtr(elem, p, i)
}

// gepF is &p[i] for float* p.
func (b *fnb) gepF(p value.Value, i value.Value) value.Value { return b.gep(tF32, p, i) }

// load reads a width-w value at float* p.
func (b *fnb) load(p value.Value, w int) value.Value {
	if w > 1 {
		p = b.cur.NewBitCast(p, types.NewPointer(vecT(w)))
	}
	ld := b.cur.NewLoad(vecT(w), p)
	ld.Align = 4
	return ld
}

// store writes a width-w value at float* p.
func (b *fnb) store(v value.Value, p value.Value, w int) {
	if w > 1 {
		p = b.cur.NewBitCast(p, types.NewPointer(vecT(w)))
	}
	st := b.cur.NewStore(v, p)
	st.Align = 4
}

// splat broadcasts a float to width w.
func (b *fnb) splat(x value.Value, w int) value.Value {
	if w == 1 {
		return x
	}
	vt := vecT(w).(*types.VectorType)
	v := b.cur.NewInsertElement(constant.NewUndef(vt), x, ci32(0))
	mask := constant.NewZeroInitializer(types.NewVector(uint64(w), tI32))
	return b.cur.NewShuffleVector(v, constant.NewUndef(vt), mask)
}

// intrinsicName gives the overloaded suffix for width w (f32 / v8f32).
func intrinsicName(base string, w int) string {
	if w == 1 {
		return base + ".f32"
	}
	return fmt.Sprintf("%s.v%df32", base, w)
}

// call1 calls a unary float intrinsic (llvm.fabs, llvm.sqrt, …).
func (b *fnb) call1(base string, x value.Value, w int) value.Value {
	f := b.mod.declare(intrinsicName(base, w), vecT(w), vecT(w))
	return b.cur.NewCall(f, x)
}

// fma returns a*x+c: llvm.fma where the target has FMA, else fmul+fadd.
func (b *fnb) fma(a, x, c value.Value, w int) value.Value {
	if !b.mod.t.HasFMA {
		return b.cur.NewFAdd(b.cur.NewFMul(a, x), c)
	}
	f := b.mod.declare(intrinsicName("llvm.fma", w), vecT(w), vecT(w), vecT(w), vecT(w))
	return b.cur.NewCall(f, a, x, c)
}

// forLoop emits for i := from; i < to; i += step with loop-carried
// values; body returns the next carried values. It returns the carried
// values at exit. The current block afterwards is the exit block.
func (b *fnb) forLoop(from, to value.Value, step int64, carried []value.Value, body func(i value.Value, c []value.Value) []value.Value) []value.Value {
	pre := b.cur
	head := b.block("loop")
	pre.NewBr(head)
	b.cur = head
	iv := head.NewPhi(lir.NewIncoming(from, pre))
	phis := make([]*lir.InstPhi, len(carried))
	cur := make([]value.Value, len(carried))
	for k, c := range carried {
		phis[k] = head.NewPhi(lir.NewIncoming(c, pre))
		cur[k] = phis[k]
	}
	bodyBlk := b.block("body")
	exit := lir.NewBlock("")
	head.NewCondBr(head.NewICmp(enum.IPredSLT, iv, to), bodyBlk, exit)
	b.cur = bodyBlk
	next := body(iv, cur)
	inext := b.cur.NewAdd(iv, ci(step))
	latch := b.cur
	latch.NewBr(head)
	iv.Incs = append(iv.Incs, lir.NewIncoming(inext, latch))
	for k := range phis {
		phis[k].Incs = append(phis[k].Incs, lir.NewIncoming(next[k], latch))
	}
	b.nblk++
	exit.SetName(fmt.Sprintf("exit%d", b.nblk))
	exit.Parent = b.f
	b.f.Blocks = append(b.f.Blocks, exit)
	b.cur = exit
	return cur
}

// loop is forLoop without carried values.
func (b *fnb) loop(from, to value.Value, step int64, body func(i value.Value)) {
	b.forLoop(from, to, step, nil, func(i value.Value, _ []value.Value) []value.Value { body(i); return nil })
}

// ifThen emits if cond { then() }.
func (b *fnb) ifThen(cond value.Value, then func()) {
	thenBlk := b.block("then")
	join := lir.NewBlock("")
	b.cur.NewCondBr(cond, thenBlk, join)
	b.cur = thenBlk
	then()
	b.cur.NewBr(join)
	b.nblk++
	join.SetName(fmt.Sprintf("join%d", b.nblk))
	join.Parent = b.f
	b.f.Blocks = append(b.f.Blocks, join)
	b.cur = join
}

// ifElse emits if cond { then() } else { els() }.
func (b *fnb) ifElse(cond value.Value, then, els func()) {
	thenBlk := b.block("then")
	elseBlk := b.block("else")
	join := lir.NewBlock("")
	b.cur.NewCondBr(cond, thenBlk, elseBlk)
	b.cur = thenBlk
	then()
	b.cur.NewBr(join)
	b.cur = elseBlk
	els()
	b.cur.NewBr(join)
	b.nblk++
	join.SetName(fmt.Sprintf("join%d", b.nblk))
	join.Parent = b.f
	b.f.Blocks = append(b.f.Blocks, join)
	b.cur = join
}

// minI is min(x, y) for i64.
func (b *fnb) minI(x, y value.Value) value.Value {
	return b.cur.NewSelect(b.cur.NewICmp(enum.IPredSLT, x, y), x, y)
}

func (b *fnb) add(x, y value.Value) value.Value { return b.cur.NewAdd(x, y) }
func (b *fnb) mul(x, y value.Value) value.Value { return b.cur.NewMul(x, y) }

// unravel returns the offset sum(idx_d * strides[d]) of the flat row-major
// index i over dims.
func (b *fnb) unravel(i value.Value, dims, strides []int64) value.Value {
	off := value.Value(ci(0))
	rem := i
	for d := len(dims) - 1; d >= 0; d-- {
		idx := rem
		if d > 0 {
			idx = b.cur.NewSRem(rem, ci(dims[d]))
			rem = b.cur.NewSDiv(rem, ci(dims[d]))
		}
		if strides[d] != 0 {
			off = b.add(off, b.mul(idx, ci(strides[d])))
		}
	}
	return off
}
