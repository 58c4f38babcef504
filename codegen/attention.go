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

// attnHsum adds the lanes of a width-w value.
func (b *fnb) attnHsum(v value.Value, w int) value.Value {
	if w == 1 {
		return v
	}
	s := value.Value(b.cur.NewExtractElement(v, ci32(0)))
	for i := 1; i < w; i++ {
		s = b.cur.NewFAdd(s, b.cur.NewExtractElement(v, ci32(int64(i))))
	}
	return s
}

// attnHmax is the largest lane of a width-w value.
func (b *fnb) attnHmax(v value.Value, w int) value.Value {
	if w == 1 {
		return v
	}
	s := value.Value(b.cur.NewExtractElement(v, ci32(0)))
	for i := 1; i < w; i++ {
		s = b.fmax(s, b.cur.NewExtractElement(v, ci32(int64(i))))
	}
	return s
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
						a := constF(0, w)
						a = b.forLoop(ci(0), hd, 1, []value.Value{a}, func(d value.Value, ca []value.Value) []value.Value {
							qd := b.splat(b.load(b.gepF(qr, d), 1), w)
							return []value.Value{b.fma(qd, b.load(b.gepF(kt, b.add(b.mul(d, n), j)), w), ca[0], w)}
						})[0]
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
						a := b.forLoop(from, to, int64(w), []value.Value{constF(0, w)}, func(d value.Value, ca []value.Value) []value.Value {
							return []value.Value{b.fma(b.load(b.gepF(qr, d), w), b.load(b.gepF(kr, d), w), ca[0], w)}
						})[0]
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
						a := b.forLoop(ci(0), jn, 1, []value.Value{a0}, func(j value.Value, ca []value.Value) []value.Value {
							p := b.splat(b.load(b.gepF(sc, j), 1), w)
							return []value.Value{b.fma(p, b.load(b.gepF(v, b.add(b.mul(j, dv), d)), w), ca[0], w)}
						})[0]
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
