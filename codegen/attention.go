package codegen

import (
	"math"

	lir "github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// The attention block kernel. optc.Attention reads the KV cache bound to
// the run's context, so it stays an interpreter step of a bundle; the
// interpreter walks the cache's blocks (decoding a compressed block into
// scratch) and hands each block to this function, which every bundle of a
// graph with an optc.Attention node exports (runtime/native binds it to
// the interpreter through interp.WithAttnBlock). Its C signature:
//
//	void optc_attn_block(const float *q, int64_t rows, int64_t s, int64_t hd, int64_t dv,
//	                     const float *k, const float *v, int64_t n, int64_t j0,
//	                     int64_t past, int64_t causal, int64_t total, const uint8_t *keep,
//	                     float scale, float *m, float *l, float *acc, float *scores);
//
// For each of the rows query rows q[r] ([rows][hd]; row r is query token
// r mod s) it scores the n keys k ([n][hd]) of the block that starts at
// key j0, hides keys at or beyond total, beyond past + r mod s when causal
// is set and where keep ([s][total] booleans, or NULL) is 0, and updates
// the row's online-softmax state: running maximum m[r], sum l[r] and
// unnormalized output acc[r] ([rows][dv]) with the values v ([n][dv]).
// scores is scratch space of n·(hd+1) floats. The loops over hd, dv and
// the block run on the target's widest vectors, then narrower ones.
//
// The scores: with enough rows the kernel first transposes the block's
// keys into scores[n:] ([hd][n]) and computes a vector of scores for
// consecutive keys at a time, hd multiply-adds and no horizontal sums;
// with few rows (decoding with wide heads) each score is a dot product
// over hd, ending in a horizontal sum. The transpose (2·hd moves a key)
// pays when rows·min(hd, lanes) ≥ 2·hd: from 2 rows for heads of 8, from
// 8 for heads of 64 on 16 lanes.

// AttnKernelName is the symbol of the attention block kernel.
const AttnKernelName = "optc_attn_block"

// attnHasAttention reports whether g has an optc.Attention node.
func attnHasAttention(g *ir.Graph) bool {
	for _, n := range g.Nodes {
		if n.Op == "Attention" && n.Domain == ir.DomainOptc {
			return true
		}
	}
	return false
}

// attnWidths are the vector widths the kernel's loops use, widest first,
// ending with 1.
func attnWidths(lanes int) []int {
	var ws []int
	for _, w := range []int{16, 8, 4} {
		if w <= lanes {
			ws = append(ws, w)
		}
	}
	return append(ws, 1)
}

// attnSpans covers [0, n) by one span per width, widest first: body gets
// each span's bounds (the span of width w > 1 has a multiple of w
// elements).
func (b *fnb) attnSpans(n value.Value, body func(from, to value.Value, w int)) {
	from := value.Value(ci(0))
	for _, w := range attnWidths(b.mod.t.Lanes()) {
		to := n
		if w > 1 {
			to = b.cur.NewAnd(n, ci(^int64(w-1)))
		}
		body(from, to, w)
		from = to
	}
}

// attnHsum adds the lanes of a width-w value, halving the width each
// step (log2 w dependent adds instead of w-1).
func (b *fnb) attnHsum(v value.Value, w int) value.Value {
	return b.attnHfold(v, w, func(x, y value.Value) value.Value { return b.cur.NewFAdd(x, y) })
}

// attnHmax is the largest lane of a width-w value.
func (b *fnb) attnHmax(v value.Value, w int) value.Value {
	return b.attnHfold(v, w, b.fmax)
}

// attnHfold combines the lanes of a width-w value (w a power of two) with
// op: the upper half onto the lower, until one lane is left.
func (b *fnb) attnHfold(v value.Value, w int, op func(x, y value.Value) value.Value) value.Value {
	for ; w > 2; w /= 2 {
		h := w / 2
		half := func(from int) value.Value {
			idx := make([]constant.Constant, h)
			for i := range idx {
				idx[i] = ci32(int64(from + i))
			}
			return b.cur.NewShuffleVector(v, constant.NewUndef(vecT(w).(*types.VectorType)), constant.NewVector(types.NewVector(uint64(h), tI32), idx...))
		}
		v = op(half(0), half(h))
	}
	if w == 2 {
		v = op(b.cur.NewExtractElement(v, ci32(0)), b.cur.NewExtractElement(v, ci32(1)))
	}
	return v
}

// attnUnroll is the number of independent accumulators of the kernel's
// reductions: one chain of dependent multiply-adds waits the FMA latency
// (4 cycles) each step, several chains keep the FMA units busy.
const attnUnroll = 4

// attnReduce is the sum over i in [from, to) (step apart) of body's
// terms: body(i, acc) returns acc plus term i (a multiply-add). It runs
// attnUnroll accumulators, the first starting at init and the others at
// zero, over the whole groups of attnUnroll steps, then the remaining
// steps on their sum.
func (b *fnb) attnReduce(from, to value.Value, step int64, w int, init value.Value, body func(i, acc value.Value) value.Value) value.Value {
	u := int64(attnUnroll)
	mainTo := b.add(from, b.mul(b.cur.NewSDiv(b.cur.NewSub(to, from), ci(u*step)), ci(u*step)))
	inits := []value.Value{init}
	for range u - 1 {
		inits = append(inits, constF(0, w))
	}
	accs := b.forLoop(from, mainTo, u*step, inits, func(i value.Value, c []value.Value) []value.Value {
		next := make([]value.Value, u)
		for k := range u {
			next[k] = body(b.add(i, ci(k*step)), c[k])
		}
		return next
	})
	for len(accs) > 1 {
		var half []value.Value
		for k := 0; k+1 < len(accs); k += 2 {
			half = append(half, b.cur.NewFAdd(accs[k], accs[k+1]))
		}
		if len(accs)%2 == 1 {
			half = append(half, accs[len(accs)-1])
		}
		accs = half
	}
	return b.forLoop(mainTo, to, step, accs, func(i value.Value, c []value.Value) []value.Value {
		return []value.Value{body(i, c[0])}
	})[0]
}

// attnEmitKernel adds optc_attn_block to the module.
func (c *compiler) attnEmitKernel() {
	ps := []*lir.Param{
		param("q", tF32P, true), param("rows", tI64, false), param("s", tI64, false), param("hd", tI64, false), param("dv", tI64, false),
		param("k", tF32P, true), param("v", tF32P, true), param("n", tI64, false), param("j0", tI64, false),
		param("past", tI64, false), param("causal", tI64, false), param("total", tI64, false), param("keep", tI8P, true),
		param("scale", tF32, false), param("m", tF32P, true), param("l", tF32P, true), param("acc", tF32P, true), param("sc", tF32P, true),
	}
	b := c.mod.newFunc(AttnKernelName, false, types.Void, ps...)
	q, rows, s, hd, dv := ps[0], ps[1], ps[2], ps[3], ps[4]
	k, v, n, j0 := ps[5], ps[6], ps[7], ps[8]
	past, causal, total, keep := ps[9], ps[10], ps[11], ps[12]
	scale, mP, lP, accP, sc := ps[13], ps[14], ps[15], ps[16], ps[17]
	neg := cf(math.Inf(-1))
	i8 := types.I8
	// keep is read through a pointer that, without a mask, stays on
	// lanes of 1s.
	L := b.mod.t.Lanes()
	onesT := types.NewArray(uint64(L), i8)
	onesA := b.cur.NewAlloca(onesT)
	ones := make([]constant.Constant, L)
	for i := range ones {
		ones[i] = constant.NewInt(i8, 1)
	}
	b.cur.NewStore(constant.NewArray(onesT, ones...), onesA)
	one := b.cur.NewBitCast(onesA, tI8P)
	mxSlot := b.cur.NewAlloca(tF32)
	// The transposed keys, for many rows.
	kt := b.gepF(sc, n)
	manyRows := b.cur.NewICmp(enum.IPredSGE, b.mul(rows, b.minI(hd, ci(int64(L)))), b.mul(hd, ci(2)))
	b.ifThen(manyRows, func() {
		b.loop(ci(0), n, 1, func(j value.Value) {
			b.loop(ci(0), hd, 1, func(d value.Value) {
				x := b.load(b.gepF(k, b.add(b.mul(j, hd), d)), 1)
				b.store(x, b.gepF(kt, b.add(b.mul(d, n), j)), 1)
			})
		})
	})
	hasKeep := b.cur.NewICmp(enum.IPredNE, keep, constant.NewNull(tI8P))
	kstep := b.cur.NewSelect(hasKeep, ci(1), ci(0))
	isCausal := b.cur.NewICmp(enum.IPredNE, causal, ci(0))
	b.loop(ci(0), rows, 1, func(r value.Value) {
		i := b.cur.NewSRem(r, s)
		limit := b.cur.NewSelect(isCausal, b.minI(total, b.add(b.add(past, i), ci(1))), total)
		jn := b.minI(n, b.cur.NewSub(limit, j0))
		b.ifThen(b.cur.NewICmp(enum.IPredSGT, jn, ci(0)), func() {
			qr := b.gepF(q, b.mul(r, hd))
			keepRow := b.cur.NewSelect(hasKeep, b.gep(i8, keep, b.add(b.mul(i, total), j0)), one)
			// Scores of the visible keys, and their maximum.
			b.ifElse(manyRows, func() {
				mx := value.Value(neg)
				b.attnSpans(jn, func(from, to value.Value, w int) {
					mv := b.forLoop(from, to, int64(w), []value.Value{constF(math.Inf(-1), w)}, func(j value.Value, cm []value.Value) []value.Value {
						a := b.attnReduce(ci(0), hd, 1, w, constF(0, w), func(d, acc value.Value) value.Value {
							qd := b.splat(b.load(b.gepF(qr, d), 1), w)
							return b.fma(qd, b.load(b.gepF(kt, b.add(b.mul(d, n), j)), w), acc, w)
						})
						sv := value.Value(b.cur.NewFMul(a, b.splat(scale, w)))
						sv = b.attnKeep(sv, keepRow, j, kstep, w)
						b.store(sv, b.gepF(sc, j), w)
						return []value.Value{b.fmax(cm[0], sv)}
					})[0]
					mx = b.fmax(mx, b.attnHmax(mv, w))
				})
				b.store(mx, mxSlot, 1)
			}, func() {
				mx := b.forLoop(ci(0), jn, 1, []value.Value{neg}, func(j value.Value, cm []value.Value) []value.Value {
					kr := b.gepF(k, b.mul(j, hd))
					dot := value.Value(cf(0))
					b.attnSpans(hd, func(from, to value.Value, w int) {
						a := b.attnReduce(from, to, int64(w), w, constF(0, w), func(d, acc value.Value) value.Value {
							return b.fma(b.load(b.gepF(qr, d), w), b.load(b.gepF(kr, d), w), acc, w)
						})
						dot = b.cur.NewFAdd(dot, b.attnHsum(a, w))
					})
					sv := b.attnKeep(b.cur.NewFMul(dot, scale), keepRow, j, kstep, 1)
					b.store(sv, b.gepF(sc, j), 1)
					return []value.Value{b.fmax(cm[0], sv)}
				})[0]
				b.store(mx, mxSlot, 1)
			})
			mx := b.load(mxSlot, 1)
			b.ifThen(b.cur.NewFCmp(enum.FPredOGT, mx, neg), func() {
				mOld := b.load(b.gepF(mP, r), 1)
				mNew := b.fmax(mOld, mx)
				corr := b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOEQ, mOld, neg), cf(0), b.exp(b.cur.NewFSub(mOld, mNew), 1))
				// p_j = exp(score_j - max), 0 for hidden keys, into sc.
				sum := value.Value(cf(0))
				b.attnSpans(jn, func(from, to value.Value, w int) {
					a := b.forLoop(from, to, int64(w), []value.Value{constF(0, w)}, func(j value.Value, ca []value.Value) []value.Value {
						x := b.load(b.gepF(sc, j), w)
						p := b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOEQ, x, constF(math.Inf(-1), w)), constF(0, w), b.exp(b.cur.NewFSub(x, b.splat(mNew, w)), w))
						b.store(p, b.gepF(sc, j), w)
						return []value.Value{b.cur.NewFAdd(ca[0], p)}
					})[0]
					sum = b.cur.NewFAdd(sum, b.attnHsum(a, w))
				})
				lp := b.gepF(lP, r)
				b.store(b.fma(b.load(lp, 1), corr, sum, 1), lp, 1)
				b.store(mNew, b.gepF(mP, r), 1)
				// acc[r] = acc[r]·corr + Σ_j p_j·v_j, a span of dv at a time.
				out := b.gepF(accP, b.mul(r, dv))
				b.attnSpans(dv, func(from, to value.Value, w int) {
					b.loop(from, to, int64(w), func(d value.Value) {
						a0 := b.cur.NewFMul(b.load(b.gepF(out, d), w), b.splat(corr, w))
						a := b.attnReduce(ci(0), jn, 1, w, a0, func(j, acc value.Value) value.Value {
							p := b.splat(b.load(b.gepF(sc, j), 1), w)
							return b.fma(p, b.load(b.gepF(v, b.add(b.mul(j, dv), d)), w), acc, w)
						})
						b.store(a, b.gepF(out, d), w)
					})
				})
			})
		})
	})
	b.cur.NewRet(nil)
}

// attnKeep hides the scores of keys j… (width w) whose keep byte is 0.
func (b *fnb) attnKeep(sv, keepRow, j, kstep value.Value, w int) value.Value {
	var kt types.Type = types.I8
	zero := value.Value(constant.NewInt(types.I8, 0))
	p := b.gep(types.I8, keepRow, b.mul(j, kstep))
	if w > 1 {
		vt := types.NewVector(uint64(w), types.I8)
		kt, p = vt, b.cur.NewBitCast(p, types.NewPointer(vt))
		zero = constant.NewZeroInitializer(vt)
	}
	ld := b.cur.NewLoad(kt, p)
	ld.Align = 1
	return b.cur.NewSelect(b.cur.NewICmp(enum.IPredEQ, ld, zero), constF(math.Inf(-1), w), sv)
}
