package codegen

import (
	"fmt"

	lir "github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// convDirectKernel is a group-1 Conv as an implicit GEMM: the register
// tile reads its B operand straight from the (padded) input instead of
// from an im2col matrix.
//
// A phase pass first copies every input plane, zero padded, into scratch
// as the phase planes the taps need: phase (a, b) of a plane holds
// padded[i·sh + a][j·sw + b], so that a strided or dilated conv becomes a
// stride-1 one. A tap (kh, kw) reads phase ((kh·dh) mod sh, (kw·dw) mod sw)
// at row/column offset ((kh·dh) div sh, (kw·dw) div sw). The phase planes
// are wq = OW + max column offset wide, and the output is computed on that
// wider grid, q = oh·wq + ow: for a tap, the input element of output q is
// then at a constant offset from q, so one vector load of nr consecutive
// q serves every output channel of the tile. The columns ow >= OW of the
// grid are computed and never stored (masked stores); they cost
// (wq-OW)/wq of the FMAs, which is why convDirectPlan only picks this
// kernel where that beats im2col's copying.
//
// The micro-kernel keeps an mr x nr tile (mr output channels, nr grid
// columns) in registers over the whole K = C·KH·KW (no K blocking: the
// tile is stored once, through the epilogue), with the weights packed at
// compile time as [M/mr][C][KH·KW][mr] (zero rows past M).
//
// Weight-only quantized filters (ir.Quantized) keep their integer codes
// in that same order — quantPack's panels of a [M, C·KH·KW] matrix stored
// [N,K] with nr = mr — and each task decodes its row tiles' panels, fully
// scaled, into a stack buffer before its first tile (convDirectQuant),
// unless the previous task of the same call had the same row tiles (the
// row blocks are then the outer task index, so a thread's chunk of tasks
// decodes each row block once).
type convDirectKernel struct {
	*gemmKernel // epilogue (epi, leaves, absorb) and the 2-D output view; a is the packed weight
	*convPhases
	g    *convGeom
	x    *ir.Value
	is   int64      // floats per image in scratch (with the tiles' over-read)
	tile gemmParams // the register tile (convDirectTile)
	// inPlace: an unpadded 1x1 stride-1 conv reads its input directly (no
	// phase copy); the last column tile, which would read past a plane,
	// masks its loads.
	inPlace bool
	// qw: the packed weight a holds quantized codes (nil: float32).
	qw *gemmQuant
}

// convPhases is how a conv's input is laid out in scratch: per channel,
// the phase planes its taps read (see convDirectKernel).
type convPhases struct {
	g      *convGeom
	taps   []convDirectTap
	phases [][2]int64 // (row phase, column phase) of each stored phase plane
	hq, wq int64      // phase plane size
	cs     int64      // floats per channel (all its phase planes)
}

// convDirectTap is where tap (kh, kw) reads: phase plane ph of the
// channel, offset dr rows and dc columns from the output position.
type convDirectTap struct{ ph, dr, dc int64 }

// newConvPhases lays out g's phase planes, owr + the largest column offset
// wide (owr >= OW: the columns the kernel computes per output row).
func newConvPhases(g *convGeom, owr int64) *convPhases {
	l := &convPhases{g: g}
	var maxDr, maxDc int64
	keys := map[[2]int64]int64{}
	for kh := int64(0); kh < g.KH; kh++ {
		for kw := int64(0); kw < g.KW; kw++ {
			r, q := kh*g.dh, kw*g.dw
			ph := [2]int64{r % g.sh, q % g.sw}
			idx, ok := keys[ph]
			if !ok {
				idx = int64(len(l.phases))
				keys[ph] = idx
				l.phases = append(l.phases, ph)
			}
			t := convDirectTap{ph: idx, dr: r / g.sh, dc: q / g.sw}
			maxDr, maxDc = max(maxDr, t.dr), max(maxDc, t.dc)
			l.taps = append(l.taps, t)
		}
	}
	l.hq, l.wq = g.OH+maxDr, owr+maxDc
	l.cs = int64(len(l.phases)) * l.hq * l.wq
	return l
}

// maxTapOffset is the largest tapOffset.
func (l *convPhases) maxTapOffset() int64 {
	var m int64
	for _, t := range l.taps {
		m = max(m, l.tapOffset(t))
	}
	return m
}

// convDirectPlan returns the direct kernel for n when it applies: group 1,
// constant weights, and a grid not much wider than the output.
func convDirectPlan(c *compiler, n *ir.Node, g *convGeom) (*convDirectKernel, bool) {
	if g.group != 1 || n.Inputs[1].Const == nil {
		return nil, false
	}
	k := &convDirectKernel{g: g, x: n.Inputs[0], convPhases: newConvPhases(g, g.OW)}
	p := convDirectTile(c, g.M, g.OH*k.wq)
	k.tile = p
	// Grid columns computed against im2col's columns (which pay a copy of
	// K values each): take the direct kernel unless its grid is 1.5x wider.
	if convRoundUp(g.OH*k.wq, p.nr)*2 > convRoundUp(g.OH*g.OW, p.nr)*3 {
		return nil, false
	}
	if g.KH == 1 && g.KW == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.OH == g.H && g.OW == g.W {
		// The input is its own phase plane: read it in place.
		k.inPlace, k.is = true, g.C*k.cs
		return k, true
	}
	qt := convRoundUp(g.OH*k.wq, p.nr)
	k.is = convRoundUp(max(g.C*k.cs, (g.C-1)*k.cs+k.maxTapOffset()+qt), 16)
	return k, true
}

func convRoundUp(x, m int64) int64 { return (x + m - 1) / m * m }

func b2i64(b bool) int64 { return int64(b2i(b)) }

// convDirectTile picks the register tile (mr rows x nv vectors) that
// wastes the fewest multiply-adds on padding rows (M up to mr) and columns
// (the grid's Q up to nr). With 32 vector registers there are shapes to
// choose from, all with at most 24 accumulators; the first (the GEMM's
// tile) wins ties. With 16 registers the GEMM's 6x2 tile is the only one.
func convDirectTile(c *compiler, M, Q int64) gemmParams {
	p := c.gemmParams()
	shapes := [][2]int64{{p.mr, p.nv}}
	if c.t.VectorRegs >= 32 {
		shapes = append(shapes, [2]int64{12, 2}, [2]int64{8, 3}, [2]int64{8, 2})
	}
	best, bestCost := p, int64(-1)
	for _, sh := range shapes {
		q := p
		q.mr, q.nv, q.nr = sh[0], sh[1], sh[1]*p.lanes
		cost := convRoundUp(M, q.mr) * convRoundUp(Q, q.nr)
		if bestCost < 0 || cost < bestCost {
			best, bestCost = q, cost
		}
	}
	return best
}

// tapOffset is tap t's offset in a channel's scratch block.
func (l *convPhases) tapOffset(t convDirectTap) int64 {
	return t.ph*l.hq*l.wq + t.dr*l.wq + t.dc
}

// packWeights lays W [M][C][KH][KW] out as [M/mr][C][KH·KW][mr].
func (k *convDirectKernel) packWeights(w []float32) []float32 {
	g, mr := k.g, k.p.mr
	T := g.KH * g.KW
	mt := (g.M + mr - 1) / mr
	out := make([]float32, mt*g.C*T*mr)
	for m := int64(0); m < g.M; m++ {
		blk, r := m/mr, m%mr
		for ch := int64(0); ch < g.C; ch++ {
			for t := int64(0); t < T; t++ {
				out[((blk*g.C+ch)*T+t)*mr+r] = w[(m*g.C+ch)*T+t]
			}
		}
	}
	return out
}

// convDirectSplit is how emit cuts the work into tasks: nQB column blocks
// of qPer column tiles times nMB row blocks of mPer row tiles per image,
// mPer at most maxM (> 0: a quantized filter's decoded tiles fit the
// stack).
func (k *convDirectKernel) convDirectSplit(maxM int64) (nQB, nMB, qPer, mPer int64) {
	g, p := k.g, k.p
	qt := (g.OH*k.wq + p.nr - 1) / p.nr
	mt := (g.M + p.mr - 1) / p.mr
	// Enough tasks for the threads; a task runs every row tile over one
	// column tile before the next, so the tile's input stays in L1 while
	// the weights stream from L2.
	nQB = min(qt, (gemmMinTasks+g.Nb-1)/g.Nb)
	nMB = min(mt, (gemmMinTasks+g.Nb*nQB-1)/(g.Nb*nQB))
	qPer, mPer = (qt+nQB-1)/nQB, (mt+nMB-1)/nMB
	if maxM > 0 {
		mPer = min(mPer, maxM)
	}
	return (qt + qPer - 1) / qPer, (mt + mPer - 1) / mPer, qPer, mPer
}

// convDirectQuant stores a quantized filter w as its codes (see
// convDirectKernel); false, with the reason noted, when it is to be
// decoded at compile time: an encoding quantPack does not take, an odd
// tile with 4-bit codes (two columns per byte), or one decoded row tile
// over quantAStackMax bytes of stack (tasks take fewer row tiles where
// theirs would not fit: convDirectQuantRows).
func (k *convDirectKernel) convDirectQuant(c *compiler, w *ir.Value) bool {
	if _, ok := w.Const.Enc.(*ir.Quantized); !ok {
		return false
	}
	g, mr := k.g, k.p.mr
	K := g.C * g.KH * g.KW
	switch {
	case mr%2 != 0:
		c.noteDecoded(w, fmt.Sprintf("stored as float32: conv filters for an odd tile of %d rows", mr))
		return false
	case k.convDirectQuantRows() < 1:
		c.noteDecoded(w, fmt.Sprintf("stored as float32: conv filters %dx%d (a row tile of %d decoded would take %d KiB of stack)", g.M, K, mr, K*mr*4>>10))
		return false
	}
	q := quantPack(c, w, []int64{g.M, K}, K, g.M, mr, true, 1)
	if q == nil {
		return false
	}
	q.aSide = true
	k.qw, k.a = q, buf{w: q.codes}
	return true
}

// convDirectQuantRows is the most row tiles of decoded filters a task's
// stack buffer holds.
func (k *convDirectKernel) convDirectQuantRows() int64 {
	return quantAStackMax / (k.g.C * k.g.KH * k.g.KW * k.p.mr * 4)
}

// absorb takes elementwise consumers whose other operands are constant
// along the output columns (scalars, per-row values): the grid columns are
// not the output's, so a per-column operand cannot be indexed by them.
func (k *convDirectKernel) absorb(c *compiler, n *ir.Node, idx int) bool {
	return convOperandsFit(n, idx, func(vs []int64) bool { return ir.NumElements(vs) == 1 }) &&
		k.gemmKernel.absorb(c, n, idx)
}

func (k *convDirectKernel) inputs() []buf {
	bufs := []buf{{v: k.x}, k.a}
	if k.qw != nil {
		bufs = append(bufs, buf{w: k.qw.params})
	}
	for _, lf := range k.leaves {
		bufs = append(bufs, lf.b)
	}
	return bufs
}

func (k *convDirectKernel) temps() []int64 {
	if k.inPlace {
		return nil
	}
	return []int64{k.g.Nb * k.is * 4}
}

func (k *convDirectKernel) describe() string {
	g := k.g
	src := fmt.Sprintf("%d phase planes", len(k.phases))
	if k.inPlace {
		src = "input in place"
	}
	s := fmt.Sprintf("conv %dx%d s%dx%d d%dx%d direct %dx%dx%d grid %dx%d (%s) batch %d (tile %dx%d) %s",
		g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.M, g.OH*g.OW, g.C*g.KH*g.KW, g.OH, k.wq, src, g.Nb, k.p.mr, k.p.nr, k.node)
	if !k.epi.isLeaf(0) {
		s += " epilogue " + k.epi.String()
	}
	if k.qw != nil {
		s += "; weights " + k.qw.describe()
	}
	return s
}

func (k *convDirectKernel) emit(e *segEmitter, temps []int64) error {
	g, p := k.g, k.p
	Q := g.OH * k.wq
	qt := (Q + p.nr - 1) / p.nr
	uk, ukTail := k.microKernel(e, -1), (*lir.Func)(nil)
	if k.inPlace && qt*p.nr > Q {
		ukTail = k.microKernel(e, (qt-1)*p.nr)
	}
	mt := (g.M + p.mr - 1) / p.mr
	// Tasks: images x column blocks x row blocks.
	var maxM int64
	if k.qw != nil {
		maxM = k.convDirectQuantRows()
	}
	nQB, nMB, qPer, mPer := k.convDirectSplit(maxM)
	// With a task per image, the task writes the image's phase planes
	// itself, just before reading them (they stay in cache); otherwise a
	// pass over all images runs first.
	fused := nQB*nMB == 1 && !k.inPlace
	if !fused && !k.inPlace {
		b, ctx, begin, end := e.task("_convphase")
		src, dst := e.ptr(b, ctx, buf{v: k.x}), e.tempPtr(b, ctx, temps[0])
		b.loop(begin, end, 1, func(t value.Value) {
			k.emitPhaseCopy(b, src, dst, b.cur.NewSDiv(t, ci(g.C)), b.cur.NewSRem(t, ci(g.C)))
		})
		e.launch(b, g.Nb*g.C, float64(g.Nb*g.C*k.cs))
	}
	b, ctx, begin, end := e.task("_conv")
	A := e.ptr(b, ctx, k.a)
	KT := g.C * g.KH * g.KW
	// Quantized codes: a task decodes its row tiles' panels [m0, m1) into a
	// stack buffer (once, before the loop, when every task takes them all;
	// else when they differ from the previous task's).
	var qbuf, qprm, qlast value.Value // qlast: the first row tile decoded (-1: none)
	quantDecode := func(m0, m1 value.Value) {
		quantDecodePanels(b, quantPanelDecoder(p.mr), k.qw, A, qprm, m0, m1, KT, func(pi, kk value.Value) value.Value {
			return b.gepF(qbuf, b.mul(b.add(b.mul(b.cur.NewSub(pi, m0), ci(KT)), kk), ci(p.mr)))
		})
	}
	if k.qw != nil {
		a := b.cur.NewAlloca(types.NewArray(uint64(mPer*KT*p.mr), tF32))
		a.Align = 64
		qbuf, qprm = b.cur.NewBitCast(a, tF32P), e.ptr(b, ctx, buf{w: k.qw.params})
		if nMB == 1 {
			quantDecode(ci(0), ci(mt))
		} else {
			qlast = b.cur.NewAlloca(tI64)
			b.cur.NewStore(ci(-1), qlast)
		}
	}
	var X, src value.Value
	switch {
	case k.inPlace:
		X = e.ptr(b, ctx, buf{v: k.x})
	case fused:
		X, src = e.tempPtr(b, ctx, temps[0]), e.ptr(b, ctx, buf{v: k.x})
	default:
		X = e.tempPtr(b, ctx, temps[0])
	}
	C := e.outPtr(b, ctx, k.out)
	leaves := make([]value.Value, len(k.leaves))
	for i, lf := range k.leaves {
		leaves[i] = e.ptr(b, ctx, lf.b)
	}
	OHW := g.OH * g.OW
	b.loop(begin, end, 1, func(t value.Value) {
		img := b.cur.NewSDiv(t, ci(nQB*nMB))
		r := b.cur.NewSRem(t, ci(nQB*nMB))
		q0 := b.mul(b.cur.NewSDiv(r, ci(nMB)), ci(qPer))
		m0 := b.mul(b.cur.NewSRem(r, ci(nMB)), ci(mPer))
		if k.qw != nil {
			// Row blocks outermost: consecutive tasks share their row tiles,
			// decoded once for all of them.
			q0 = b.mul(b.cur.NewSRem(r, ci(nQB)), ci(qPer))
			m0 = b.mul(b.cur.NewSDiv(r, ci(nQB)), ci(mPer))
		}
		q1 := b.minI(b.add(q0, ci(qPer)), ci(qt))
		m1 := b.minI(b.add(m0, ci(mPer)), ci(mt))
		aTile := func(mi value.Value) value.Value { return b.gepF(A, b.mul(mi, ci(KT*p.mr))) }
		if k.qw != nil {
			if nMB > 1 {
				b.ifThen(b.cur.NewICmp(enum.IPredNE, b.cur.NewLoad(tI64, qlast), m0), func() {
					quantDecode(m0, m1)
					b.cur.NewStore(m0, qlast)
				})
			}
			aTile = func(mi value.Value) value.Value { return b.gepF(qbuf, b.mul(b.cur.NewSub(mi, m0), ci(KT*p.mr))) }
		}
		if fused {
			b.loop(ci(0), ci(g.C), 1, func(ch value.Value) { k.emitPhaseCopy(b, src, X, img, ch) })
		}
		xi := b.gepF(X, b.mul(img, ci(k.is)))
		ci0 := b.gepF(C, b.mul(img, ci(g.M*OHW)))
		b.loop(q0, q1, 1, func(qi value.Value) {
			q := b.mul(qi, ci(p.nr))
			xq := b.gepF(xi, q)
			b.loop(m0, m1, 1, func(mi value.Value) {
				m := b.mul(mi, ci(p.mr))
				args := []value.Value{
					aTile(mi), xq,
					b.gepF(ci0, b.mul(m, ci(OHW))),
					b.add(b.mul(img, ci(g.M)), m), q, b.minI(ci(p.mr), b.cur.NewSub(ci(g.M), m)),
				}
				args = append(args, leaves...)
				if ukTail == nil {
					b.cur.NewCall(uk, args...)
					return
				}
				b.ifElse(b.cur.NewICmp(enum.IPredEQ, qi, ci(qt-1)),
					func() { b.cur.NewCall(ukTail, args...) }, func() { b.cur.NewCall(uk, args...) })
			})
		})
	})
	e.launch(b, g.Nb*nQB*nMB, 2*float64(g.Nb*g.M*OHW*g.C*g.KH*g.KW))
	return nil
}

// emitPhaseCopy writes the phase planes of one input plane src into dst:
// plane (a, b) at (i, j) = src[i·sh + a - ph][j·sw + b - pw], or 0 outside
// the input. The column bounds of the copied part are compile-time
// constants per phase, so the copy loop has no selects.
func (l *convPhases) emitPhaseCopy(b *fnb, src, dst value.Value) {
	g, L := l.g, b.mod.t.Lanes()
	zeros := func(row value.Value, from, to int64) {
		if from < to {
			b.loop(ci(from), ci(to), 1, func(j value.Value) { b.store(cf(0), b.gepF(row, j), 1) })
		}
	}
	for pi, ph := range l.phases {
		a, bb := ph[0], ph[1]
		// Columns j with 0 <= j·sw + bb - pw < W.
		j0 := min(max(convCeilDiv(g.pw-bb, g.sw), 0), l.wq)
		j1 := min(max(convCeilDiv(g.W+g.pw-bb, g.sw), j0), l.wq)
		plane := b.gepF(dst, ci(int64(pi)*l.hq*l.wq))
		b.loop(ci(0), ci(l.hq), 1, func(i value.Value) {
			row := b.gepF(plane, b.mul(i, ci(l.wq)))
			ih := b.add(b.mul(i, ci(g.sh)), ci(a-g.ph))
			b.ifElse(b.cur.NewICmp(enum.IPredULT, ih, ci(g.H)), func() {
				srow := b.gepF(src, b.add(b.mul(ih, ci(g.W)), ci(bb-g.pw)))
				zeros(row, 0, j0)
				l.copyRun(b, srow, row, j0, j1, g.W+g.pw-bb, L)
				zeros(row, j1, l.wq)
			}, func() { zeros(row, 0, l.wq) })
		})
	}
}

// copyRun copies row[j] = srow[j·sw] for j in [j0, j1), where srow may be
// read below hi only (the end of the input row). Strides 1 and 2 copy L
// columns at a time: sw vector loads (stride 2: de-interleaved by a
// shuffle) and one store, under constant masks where the chunk would pass
// hi or j1; other strides copy element by element.
func (l *convPhases) copyRun(b *fnb, srow, row value.Value, j0, j1, hi int64, L int) {
	sw, w := l.g.sw, int64(L)
	if j0 >= j1 {
		return
	}
	if sw > 2 || L < 4 {
		b.loop(ci(j0), ci(j1), 1, func(j value.Value) {
			b.store(b.load(b.gepF(srow, b.mul(j, ci(sw))), 1), b.gepF(row, j), 1)
		})
		return
	}
	chunk := func(j value.Value, jc int64, masked bool) {
		xs := make([]value.Value, sw)
		for v := range xs {
			p := b.gepF(srow, b.add(b.mul(j, ci(sw)), ci(int64(v)*w)))
			if m, all := laneMask(L, jc*sw+int64(v)*w, hi); masked && !all {
				xs[v] = convMaskedLoad(b, p, m, L)
			} else {
				xs[v] = b.load(p, L)
			}
		}
		x := xs[0]
		if sw == 2 {
			idx := make([]constant.Constant, L)
			for i := range idx {
				idx[i] = ci32(2 * int64(i))
			}
			x = b.cur.NewShuffleVector(xs[0], xs[1], constant.NewVector(types.NewVector(uint64(L), tI32), idx...))
		}
		var m value.Value
		if mm, all := laneMask(L, jc, j1); masked && !all {
			m = mm
		}
		convMaskedStore(b, x, b.gepF(row, j), m, L)
	}
	// Leading chunks that stay below j1 and hi need no masks.
	jf := j0
	for jf+w <= j1 && (jf+w)*sw <= hi {
		jf += w
	}
	if jf > j0 {
		b.loop(ci(j0), ci(jf), w, func(j value.Value) { chunk(j, 0, false) })
	}
	for jc := jf; jc < j1; jc += w {
		chunk(ci(jc), jc, true)
	}
}

// convMaskedLoad loads the lanes of mask (a constant <L x i1>) at float* p,
// zero elsewhere; the other lanes' memory is not touched.
func convMaskedLoad(b *fnb, p, mask value.Value, L int) value.Value {
	vt := vecT(L)
	f := b.mod.declare(fmt.Sprintf("llvm.masked.load.v%df32.p0v%df32", L, L), vt,
		types.NewPointer(vt), tI32, types.NewVector(uint64(L), types.I1), vt)
	return b.cur.NewCall(f, b.cur.NewBitCast(p, types.NewPointer(vt)), ci32(4), mask, constF(0, L))
}

// emitPhaseCopy writes channel ch of image img into the image's block of
// scratch dst0.
func (k *convDirectKernel) emitPhaseCopy(b *fnb, src0, dst0, img, ch value.Value) {
	g := k.g
	src := b.gepF(src0, b.mul(b.add(b.mul(img, ci(g.C)), ch), ci(g.H*g.W)))
	k.convPhases.emitPhaseCopy(b, src, b.gepF(dst0, b.add(b.mul(img, ci(k.is)), b.mul(ch, ci(k.cs)))))
}

// convMaskedStore stores the L-lane v at float* p under mask (<L x i1>);
// a nil mask stores every lane.
func convMaskedStore(b *fnb, v, p, mask value.Value, L int) {
	if mask == nil {
		b.store(v, p, L)
		return
	}
	vt := vecT(L)
	f := b.mod.declare(fmt.Sprintf("llvm.masked.store.v%df32.p0v%df32", L, L), types.Void,
		vt, types.NewPointer(vt), tI32, types.NewVector(uint64(L), types.I1))
	b.cur.NewCall(f, v, b.cur.NewBitCast(p, types.NewPointer(vt)), ci32(4), mask)
}

// convCeilDiv is ⌈a/b⌉ for b > 0 and any sign of a.
func convCeilDiv(a, b int64) int64 {
	if a <= 0 {
		return -((-a) / b)
	}
	return (a + b - 1) / b
}

// microKernel emits the mr x nr tile over the whole K:
//
//	void uk(float *A, float *X, float *C, i64 row, i64 q0, i64 rows, float *leaf...)
//
// A is the row tile's packed weights, X the image's scratch block at grid
// column q0, C the output at the tile's first row (channel); row is that
// row in the GEMM's 2-D view (image·M + channel) for the epilogue, rows the
// number of valid rows. With tailQ0 >= 0 the kernel serves only the
// column tile at tailQ0 and loads just the lanes below the grid's end.
func (k *convDirectKernel) microKernel(e *segEmitter, tailQ0 int64) *lir.Func {
	g, p := k.g, k.p
	L, mr, nv := int(p.lanes), p.mr, p.nv
	params := []*lir.Param{
		param("a", tF32P, true), param("x", tF32P, true), param("c", tF32P, true),
		param("row", tI64, false), param("q0", tI64, false), param("rows", tI64, false),
	}
	for i := range k.leaves {
		params = append(params, param(fmt.Sprintf("leaf%d", i), tF32P, false))
	}
	name := fmt.Sprintf("%s_uk%d", e.kname, mr)
	if tailQ0 >= 0 {
		name += "_tail"
	}
	b := e.c.mod.newFunc(name, true, types.Void, params...)
	b.f.FuncAttrs = append(b.f.FuncAttrs, enum.FuncAttrNoInline)
	ps := b.f.Params
	A, X, C, row, q0, rows := ps[0], ps[1], ps[2], ps[3], ps[4], ps[5]
	T := int64(len(k.taps))
	init := make([]value.Value, mr*nv)
	for i := range init {
		init[i] = constF(0, L)
	}
	acc := b.forLoop(ci(0), ci(g.C), 1, init, func(ch value.Value, c []value.Value) []value.Value {
		next := append([]value.Value(nil), c...)
		xc := b.gepF(X, b.mul(ch, ci(k.cs)))
		ac := b.gepF(A, b.mul(ch, ci(T*mr)))
		for ti, t := range k.taps {
			off := k.tapOffset(t)
			bv := make([]value.Value, nv)
			for v := range bv {
				ptr := b.gepF(xc, ci(off+int64(v)*p.lanes))
				if tailQ0 < 0 {
					bv[v] = b.load(ptr, L)
					continue
				}
				bits := make([]constant.Constant, L)
				n := int64(0)
				for i := range bits {
					in := tailQ0+off+int64(v)*p.lanes+int64(i) < g.OH*k.wq
					bits[i] = cbool(in)
					n += b2i64(in)
				}
				switch {
				case n == 0:
					bv[v] = constF(0, L)
				case n < p.lanes:
					bv[v] = convMaskedLoad(b, ptr, constant.NewVector(types.NewVector(uint64(L), types.I1), bits...), L)
				default:
					bv[v] = b.load(ptr, L)
				}
			}
			for r := int64(0); r < mr; r++ {
				a := b.splat(b.load(b.gepF(ac, ci(int64(ti)*mr+r)), 1), L)
				for v := int64(0); v < nv; v++ {
					next[r*nv+v] = b.fma(a, bv[v], next[r*nv+v], L)
				}
			}
		}
		return next
	})
	leafP := ps[6:]
	OHW := g.OH * g.OW
	Q := g.OH * k.wq
	vecI := types.NewVector(uint64(L), tI32)
	iotaE := make([]constant.Constant, L)
	for i := range iotaE {
		iotaE[i] = ci32(int64(i))
	}
	iota := constant.NewVector(vecI, iotaE...)
	splatI := func(x value.Value) value.Value {
		v := b.cur.NewInsertElement(constant.NewUndef(vecI), b.cur.NewTrunc(x, tI32), ci32(0))
		return b.cur.NewShuffleVector(v, constant.NewUndef(vecI), constant.NewZeroInitializer(vecI))
	}
	// storeRows writes the valid rows of vals at column offset off of each
	// output channel plane, under mask (nil: all lanes).
	storeRows := func(vals []value.Value, off value.Value, mask value.Value) {
		for r := int64(0); r < mr; r++ {
			put := func() { convMaskedStore(b, vals[r], b.gepF(C, b.add(ci(r*OHW), off)), mask, L) }
			if r == 0 {
				put()
			} else {
				b.ifThen(b.cur.NewICmp(enum.IPredSLT, ci(r), rows), put)
			}
		}
	}
	for v := int64(0); v < nv; v++ {
		vals := make([]value.Value, mr)
		for r := int64(0); r < mr; r++ {
			x := acc[r*nv+v]
			if !k.epi.isLeaf(0) {
				lv := make([]value.Value, len(k.leaves)+1)
				lv[0] = x
				for i, lf := range k.leaves {
					// Column-constant leaves only (absorb): one value per row.
					lv[i+1] = b.splat(b.load(b.gepF(leafP[i], b.mul(b.add(row, ci(r)), ci(lf.rs))), 1), L)
				}
				x = b.emitExpr(k.epi, lv, L)
			}
			vals[r] = x
		}
		qs := b.add(q0, ci(v*p.lanes))
		qv := b.cur.NewAdd(splatI(qs), iota)
		if k.wq == g.OW {
			// The grid is the output: whole vectors, a masked tail.
			b.ifElse(b.cur.NewICmp(enum.IPredSLE, b.add(qs, ci(p.lanes)), ci(Q)), func() {
				storeRows(vals, qs, nil)
			}, func() {
				storeRows(vals, qs, b.cur.NewICmp(enum.IPredSLT, qv, splatI(ci(Q))))
			})
			continue
		}
		// Lanes q of output row oh go to oh·OW + ow = q - oh·(wq - OW).
		ohv := b.cur.NewUDiv(qv, splatI(ci(k.wq)))
		owv := b.cur.NewSub(qv, b.cur.NewMul(ohv, splatI(ci(k.wq))))
		valid := b.cur.NewICmp(enum.IPredULT, owv, splatI(ci(g.OW)))
		ohA := b.cur.NewSDiv(qs, ci(k.wq))
		ohB := b.minI(b.add(b.cur.NewSDiv(b.add(qs, ci(p.lanes-1)), ci(k.wq)), ci(1)), ci(g.OH))
		b.loop(ohA, ohB, 1, func(oh value.Value) {
			mask := b.cur.NewAnd(valid, b.cur.NewICmp(enum.IPredEQ, ohv, splatI(oh)))
			storeRows(vals, b.cur.NewSub(qs, b.mul(oh, ci(k.wq-g.OW))), mask)
		})
	}
	b.cur.NewRet(nil)
	return b.f
}
