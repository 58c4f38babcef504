package codegen

import (
	"fmt"

	lir "github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// gemmParams size the register tile and the cache blocks for a target.
//
// The micro-kernel keeps an mr x nr tile of C in mr*nv vector registers
// (nr = nv lanes-wide vectors), and for every k broadcasts mr values of A
// and loads nv vectors of the packed B panel: AVX2 6x16 (12 ymm
// accumulators), AVX-512 12x32, NEON 8x12, SSE 6x8. Blocking (Goto):
// a task computes an mc x nc block of C; inside it K is cut in kc slices
// so one kc x nr panel slice of B stays in L1 while the mc rows of A
// stream past it, and the mc x kc block of A stays in L2.
type gemmParams struct {
	mr, nv, lanes, nr int64
	mc, nc, kc        int64
}

func (c *compiler) gemmParams() gemmParams {
	L := int64(c.t.Lanes())
	p := gemmParams{mr: 6, nv: 2, lanes: L}
	switch {
	case c.t.Name == "aarch64":
		p.mr, p.nv = 8, 3
	case c.t.VectorRegs >= 32:
		p.mr, p.nv = 12, 2
	}
	p.nr = p.nv * L
	p.mc = p.mr * 12
	p.nc = p.nr * 16
	p.kc = 256
	return p
}

// gemmMinTasks is the number of tasks below which a GEMM's column blocks
// are narrowed (so that up to a few threads get several tasks each).
const gemmMinTasks = 16

// gemmLeaf is an operand of a GEMM epilogue: element (row, col) of the
// output's 2-D view reads base[row*rs + col*cs].
type gemmLeaf struct {
	b      buf
	rs, cs int64
}

// gemmKernel computes out[M,N] = epi(A[M,K] · B[K,N]) with a register-
// tiled micro-kernel over B packed in nr-wide column panels
// ([N/nr][K][nr], zero padded): constant B is packed at compile time,
// run-time B by a packing pass into scratch. epi (leaf 0 is the
// accumulator) holds Gemm's alpha/C and any fused elementwise consumers.
type gemmKernel struct {
	node     string
	out      *ir.Value
	outShape []int64
	M, N, K  int64
	a        buf
	si, sk   int64 // A(i,k) = a[i*si + k*sk]
	bw       *Weight
	bv       *ir.Value
	sbk, sbn int64 // run-time B(k,n) = b[k*sbk + n*sbn]
	epi      *expr
	leaves   []gemmLeaf
	p        gemmParams
	// Batched MatMul (B has batch dims): batch is the output's batch
	// shape, aBatch/bBatch the operands' broadcast strides over it in
	// whole matrices, nbB the number of B matrices.
	batch          []int64
	aBatch, bBatch []int64
	nbB            int64
	// quant, when set, is a constant B stored as integer codes
	// (gemm_quant.go); bw is then its codes.
	quant *gemmQuant
	// quantA, when set, is a constant A stored as integer codes, decoded
	// by each task into a stack buffer (gemm_quant.go); a is its codes.
	quantA *gemmQuant
	// packFn, when set, fills the packed run-time B in scratch instead of
	// emitPack (Conv's im2col packs straight into the panel layout).
	packFn func(e *segEmitter, off int64)
}

func newGemmKernel(l *lowering, n *ir.Node) (*gemmKernel, error) {
	c := l.c
	out := n.Outputs[0]
	os, _ := concreteShape(out)
	as, _ := concreteShape(n.Inputs[0])
	bs, _ := concreteShape(n.Inputs[1])
	k := &gemmKernel{node: nodeName(n), out: out, outShape: os, p: c.gemmParams(), a: buf{v: n.Inputs[0]}}
	alpha, beta := 1.0, 1.0
	transA, transB := false, false
	if n.Op == "Gemm" {
		alpha, beta = float64(n.AttrFloat("alpha", 1)), float64(n.AttrFloat("beta", 1))
		transA, transB = n.AttrInt("transA", 0) != 0, n.AttrInt("transB", 0) != 0
	}
	bMat := bs[len(bs)-2:]
	k.nbB = ir.NumElements(bs[:len(bs)-2])
	switch {
	case transA:
		k.K, k.M = as[0], as[1]
		k.si, k.sk = 1, k.M
	case k.nbB == 1:
		// B is one matrix: A's batch dims flatten into its rows.
		k.K = as[len(as)-1]
		k.M = ir.NumElements(as[:len(as)-1])
		k.si, k.sk = k.K, 1
	default:
		// Batched: one GEMM per output batch index, operands broadcast.
		k.K = as[len(as)-1]
		var aB []int64
		if len(as) >= 2 {
			k.M, aB = as[len(as)-2], as[:len(as)-2]
		} else {
			k.M = 1
		}
		k.si, k.sk = k.K, 1
		k.batch = os[:len(os)-2]
		if len(as) == 1 {
			k.batch = os[:len(os)-1] // [K] x [..., K, N] -> [..., N]
		}
		k.aBatch = bcastStrides(aB, k.batch)
		k.bBatch = bcastStrides(bs[:len(bs)-2], k.batch)
	}
	if transB {
		k.N = bMat[0]
	} else {
		k.N = bMat[1]
	}
	if bk := map[bool]int64{false: bMat[0], true: bMat[1]}[transB]; bk != k.K {
		return nil, fmt.Errorf("inner dims differ: A %v, B %v", as, bs)
	}
	if av := n.Inputs[0]; av.Const != nil && !k.newGemmQuantA(c, av, as, transA) {
		w, err := c.denseWeight(av)
		if err != nil {
			return nil, err
		}
		k.a = buf{w: w}
	}
	k.epi = leafExpr(0)
	if bv := n.Inputs[1]; bv.Const != nil && k.nbB == 1 && k.newGemmQuant(c, bv, bs, transB, float32(alpha)) {
		// B stays as its integer codes.
	} else if bv.Const != nil {
		data, _, err := constF32(bv)
		if err != nil {
			return nil, err
		}
		enc := fmt.Sprintf("packed_b(nr=%d,k=%d,n=%d,trans=%d,alpha=%g)", k.p.nr, k.K, k.N, b2i(transB), alpha)
		var packed []float32
		for m := int64(0); m < k.nbB; m++ {
			packed = append(packed, packB(data[m*k.K*k.N:(m+1)*k.K*k.N], k.K, k.N, transB, float32(alpha), k.p.nr)...)
		}
		k.bw = c.weight(bv, enc, bs, packed)
	} else {
		k.bv = bv
		k.sbk, k.sbn = k.N, 1
		if transB {
			k.sbk, k.sbn = 1, k.K
		}
		if alpha != 1 {
			k.epi = &expr{op: "Mul", args: []*expr{k.epi, constExpr(alpha)}}
		}
	}
	if cv := n.Input(2); cv != nil && beta != 0 {
		arg, ok, err := k.operand(c, cv, beta)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("C does not broadcast to the output")
		}
		k.epi = &expr{op: "Add", args: []*expr{k.epi, arg}}
	}
	return k, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// packB lays B out in nr-wide column panels: out[p][k][j] = alpha *
// B(k, p*nr+j), zero beyond N.
func packB(b []float32, K, N int64, trans bool, alpha float32, nr int64) []float32 {
	panels := (N + nr - 1) / nr
	out := make([]float32, panels*K*nr)
	for p := int64(0); p < panels; p++ {
		for kk := int64(0); kk < K; kk++ {
			row := out[(p*K+kk)*nr:]
			for j := int64(0); j < nr; j++ {
				col := p*nr + j
				if col >= N {
					break
				}
				x := b[kk*N+col]
				if trans {
					x = b[col*K+kk]
				}
				row[j] = alpha * x
			}
		}
	}
	return out
}

// operand makes v (times scale) an epilogue operand; ok is false when v
// does not map onto the output's 2-D view.
func (k *gemmKernel) operand(c *compiler, v *ir.Value, scale float64) (*expr, bool, error) {
	if x, ok := scalarConst(v); ok {
		return constExpr(x * scale), true, nil
	}
	vs, _ := concreteShape(v)
	rs, cs, ok := view2D(vs, k.outShape)
	if !ok {
		return nil, false, nil
	}
	b := buf{v: v}
	if v.Const != nil {
		data, shape, err := constF32(v)
		if err != nil {
			return nil, false, err
		}
		if scale != 1 {
			scaled := make([]float32, len(data))
			for i, x := range data {
				scaled[i] = x * float32(scale)
			}
			b = buf{w: c.weight(v, fmt.Sprintf("scaled(%g)", scale), shape, scaled)}
			scale = 1
		} else {
			w, err := c.denseWeight(v)
			if err != nil {
				return nil, false, err
			}
			b = buf{w: w}
		}
	}
	idx := -1
	for i, lf := range k.leaves {
		if lf.b == b && lf.rs == rs && lf.cs == cs {
			idx = i
		}
	}
	if idx < 0 {
		k.leaves = append(k.leaves, gemmLeaf{b: b, rs: rs, cs: cs})
		idx = len(k.leaves) - 1
	}
	e := leafExpr(idx + 1)
	if scale != 1 {
		e = &expr{op: "Mul", args: []*expr{e, constExpr(scale)}}
	}
	return e, true, nil
}

func (k *gemmKernel) absorb(c *compiler, n *ir.Node, idx int) bool {
	data := ewDataInputs(n)
	// Check every operand first so that a refusal changes nothing.
	for i, v := range data {
		if i == idx {
			continue
		}
		if _, ok := scalarConst(v); ok {
			continue
		}
		vs, _ := concreteShape(v)
		if _, _, ok := view2D(vs, k.outShape); !ok {
			return false
		}
	}
	args := make([]*expr, len(data))
	for i, v := range data {
		if i == idx {
			args[i] = k.epi
			continue
		}
		a, ok, err := k.operand(c, v, 1)
		if err != nil || !ok {
			return false
		}
		args[i] = a
	}
	e, err := nodeExpr(n, args)
	if err != nil {
		return false
	}
	k.epi, k.out = e, n.Outputs[0]
	return true
}

func (k *gemmKernel) inputs() []buf {
	bufs := []buf{k.a}
	if k.bv != nil {
		bufs = append(bufs, buf{v: k.bv})
	} else {
		bufs = append(bufs, buf{w: k.bw})
	}
	if k.quant != nil {
		bufs = append(bufs, buf{w: k.quant.params})
	}
	if k.quantA != nil {
		bufs = append(bufs, buf{w: k.quantA.params})
	}
	for _, lf := range k.leaves {
		bufs = append(bufs, lf.b)
	}
	return bufs
}

func (k *gemmKernel) output() *ir.Value { return k.out }

func (k *gemmKernel) temps() []int64 {
	if k.bv == nil {
		return nil
	}
	return []int64{k.nbB * k.panels() * k.K * k.p.nr * 4}
}

func (k *gemmKernel) panels() int64 { return (k.N + k.p.nr - 1) / k.p.nr }

func (k *gemmKernel) describe() string {
	b := "packed constant B"
	if k.bv != nil {
		b = "run-time B"
	}
	if k.quant != nil {
		b = k.quant.describe()
	}
	if k.quantA != nil {
		b += "; A " + k.quantA.describe()
	}
	s := fmt.Sprintf("gemm %dx%dx%d (%s, tile %dx%d) %s", k.M, k.N, k.K, b, k.p.mr, k.p.nr, k.node)
	if k.batch != nil {
		s = fmt.Sprintf("batched %v ", k.batch) + s
	}
	if !k.epi.isLeaf(0) {
		s += " epilogue " + k.epi.String()
	}
	return s
}

func (k *gemmKernel) kc() int64 {
	if k.M <= k.p.mr || k.K <= k.p.kc {
		return k.K // one row tile (GEMV-like): no reuse of B to block for
	}
	return k.p.kc
}

func (k *gemmKernel) emit(e *segEmitter, temps []int64) error {
	p := k.p
	switch {
	case k.packFn != nil:
		k.packFn(e, temps[0])
	case k.bv != nil:
		k.emitPack(e, temps[0])
	}
	full := k.microKernel(e, p.mr)
	var rem *lir.Func
	if r := k.M % p.mr; r != 0 {
		rem = k.microKernel(e, r)
	}
	nMC := (k.M + p.mc - 1) / p.mc
	// Cut N finer while there are too few tasks to share among threads
	// (small M, GEMV): a narrower block only re-reads A from cache more.
	nc := p.nc
	for nMC*((k.N+nc-1)/nc) < gemmMinTasks && nc >= 4*p.nr {
		nc = (nc/2 + p.nr - 1) / p.nr * p.nr
	}
	nNC := (k.N + nc - 1) / nc
	KC := k.kc()
	b, ctx, begin, end := e.task("_gemm")
	A := k.quantATask(e, b, ctx, e.ptr(b, ctx, k.a))
	var B value.Value
	if k.bv != nil {
		B = e.tempPtr(b, ctx, temps[0])
	} else {
		B = e.ptr(b, ctx, buf{w: k.bw})
	}
	C := e.outPtr(b, ctx, k.out)
	leaves := make([]value.Value, len(k.leaves))
	for i, lf := range k.leaves {
		leaves[i] = e.ptr(b, ctx, lf.b)
	}
	if k.quantInReg() {
		leaves = append(leaves, e.ptr(b, ctx, buf{w: k.quant.params}))
	}
	qs := k.quantTaskInit(e, b, ctx)
	nb := ir.NumElements(k.batch)
	perBatch := nMC * nNC
	A0, B0, C0 := A, B, C
	b.loop(begin, end, 1, func(t value.Value) {
		rowBase := value.Value(ci(0))
		if k.batch != nil {
			bi := b.cur.NewSDiv(t, ci(perBatch))
			t = b.cur.NewSRem(t, ci(perBatch))
			A = b.gepF(A0, b.mul(b.unravel(bi, k.batch, k.aBatch), ci(k.M*k.K)))
			B = b.gepF(B0, b.mul(b.unravel(bi, k.batch, k.bBatch), ci(k.panels()*k.K*p.nr)))
			rowBase = b.mul(bi, ci(k.M))
			C = b.gepF(C0, b.mul(rowBase, ci(k.N)))
		}
		i0 := b.mul(b.cur.NewSDiv(t, ci(nNC)), ci(p.mc))
		i1 := b.minI(b.add(i0, ci(p.mc)), ci(k.M))
		j0 := b.mul(b.cur.NewSRem(t, ci(nNC)), ci(nc))
		j1 := b.minI(b.add(j0, ci(nc)), ci(k.N))
		fullEnd := b.add(i0, b.mul(b.cur.NewSDiv(b.cur.NewSub(i1, i0), ci(p.mr)), ci(p.mr)))
		b.loop(ci(0), ci(k.K), KC, func(kb value.Value) {
			kc := b.minI(ci(KC), b.cur.NewSub(ci(k.K), kb))
			first := b.cur.NewICmp(enum.IPredEQ, kb, ci(0))
			last := b.cur.NewICmp(enum.IPredSGE, b.add(kb, ci(KC)), ci(k.K))
			b.loop(j0, j1, p.nr, func(jp value.Value) {
				nc := b.minI(ci(p.nr), b.cur.NewSub(j1, jp))
				bp := b.gepF(B, b.add(b.mul(jp, ci(k.K)), b.mul(kb, ci(p.nr))))
				if k.quant != nil {
					bp = k.quantPanelPtr(b, B, jp, kb, kc, qs)
				}
				call := func(f *lir.Func, ir value.Value) {
					ap := b.gepF(A, b.add(b.mul(ir, ci(k.si)), b.mul(kb, ci(k.sk))))
					cp := b.gepF(C, b.add(b.mul(ir, ci(k.N)), jp))
					args := []value.Value{ap, bp, kc, cp, nc, first, last, b.add(rowBase, ir), jp}
					b.cur.NewCall(f, append(args, leaves...)...)
				}
				b.loop(i0, fullEnd, p.mr, func(ir value.Value) { call(full, ir) })
				if rem != nil {
					b.ifThen(b.cur.NewICmp(enum.IPredSLT, fullEnd, i1), func() { call(rem, fullEnd) })
				}
			})
		})
	})
	e.launch(b, nb*nMC*nNC, 2*float64(nb*k.M)*float64(k.N)*float64(k.K))
	return nil
}

// emitPack packs run-time B into panels in scratch, one task per panel.
func (k *gemmKernel) emitPack(e *segEmitter, off int64) {
	p := k.p
	b, ctx, begin, end := e.task("_packb")
	src := e.ptr(b, ctx, buf{v: k.bv})
	dst := e.tempPtr(b, ctx, off)
	P := k.panels()
	b.loop(begin, end, 1, func(t value.Value) {
		// Task t packs panel t%P of B matrix t/P.
		m := b.cur.NewSDiv(t, ci(P))
		pi := b.cur.NewSRem(t, ci(P))
		src := b.gepF(src, b.mul(m, ci(k.K*k.N)))
		dst := b.gepF(dst, b.mul(m, ci(P*k.K*p.nr)))
		b.loop(ci(0), ci(k.K), 1, func(kk value.Value) {
			row := b.gepF(dst, b.mul(b.add(b.mul(pi, ci(k.K)), kk), ci(p.nr)))
			for j := int64(0); j < p.nr; j++ {
				col := b.add(b.mul(pi, ci(p.nr)), ci(j))
				colc := b.minI(col, ci(k.N-1))
				x := b.load(b.gepF(src, b.add(b.mul(kk, ci(k.sbk)), b.mul(colc, ci(k.sbn)))), 1)
				x = b.cur.NewSelect(b.cur.NewICmp(enum.IPredSLT, col, ci(k.N)), x, cf(0))
				b.store(x, b.gepF(row, ci(j)), 1)
			}
		})
	})
	e.launch(b, k.nbB*P, float64(k.nbB*k.K*k.N))
}

// microKernel emits C[mr x nr] (+)= A[mr x kc] · Bpanel[kc x nr], then the
// epilogue on the last K slice:
//
//	void uk(float *A, float *B, i64 kc, float *C, i64 nc, i1 first,
//	        i1 last, i64 row, i64 col, float *leaf...)
//
// nc < nr (the last panel) goes through a stack tile and scalar stores.
// Small mr (GEMV-like rows) splits k over several accumulator sets to hide
// the FMA latency.
func (k *gemmKernel) microKernel(e *segEmitter, mr int64) *lir.Func {
	p := k.p
	L := int(p.lanes)
	nv := p.nv
	params := []*lir.Param{
		param("a", tF32P, true), param("b", tF32P, true), param("kc", tI64, false), param("c", tF32P, true),
		param("nc", tI64, false), param("first", types.I1, false), param("last", types.I1, false),
		param("row", tI64, false), param("col", tI64, false),
	}
	for i := range k.leaves {
		params = append(params, param(fmt.Sprintf("leaf%d", i), tF32P, false))
	}
	if k.quantInReg() {
		params = append(params, param("qparams", tF32P, false))
	}
	b := e.c.mod.newFunc(fmt.Sprintf("%s_uk%d", e.kname, mr), true, types.Void, params...)
	// Kept out of line: one call per mr x nr x kc tile costs nothing, and
	// the kernel stays recognizable in --emit=asm output.
	b.f.FuncAttrs = append(b.f.FuncAttrs, enum.FuncAttrNoInline)
	ps := b.f.Params
	A, B, kc, C, nc, first, last, row, col := ps[0], ps[1], ps[2], ps[3], ps[4], ps[5], ps[6], ps[7], ps[8]
	leafP := make([]value.Value, len(k.leaves))
	for i := range leafP {
		leafP[i] = ps[9+i]
	}
	tile := b.cur.NewAlloca(types.NewArray(uint64(mr*p.nr), tF32))
	U := int64(1)
	switch {
	case mr == 1:
		U = 4
	case mr == 2:
		U = 2
	}
	nacc := mr * nv
	zero := constF(0, L)
	init := make([]value.Value, U*nacc)
	for i := range init {
		init[i] = zero
	}
	var Bq, qprm value.Value
	if k.quantInReg() {
		Bq = b.cur.NewBitCast(B, tI8P)
		qprm = k.quantPanelParams(b, ps[len(ps)-1], col)
	}
	pf := k.prefetchB(Bq == nil)
	step := func(kk value.Value, acc []value.Value) {
		bv := make([]value.Value, nv)
		if Bq != nil {
			bv = k.quantBVecs(b, Bq, kk, qprm)
		}
		if pf {
			b.gemmPrefetch(B, b.add(b.mul(kk, ci(p.nr)), ci(gemmPrefetchAhead)), p.nr)
		}
		for v := int64(0); v < nv && Bq == nil; v++ {
			bv[v] = b.load(b.gepF(B, b.add(b.mul(kk, ci(p.nr)), ci(v*p.lanes))), L)
		}
		for r := int64(0); r < mr; r++ {
			a := b.load(b.gepF(A, b.add(ci(r*k.si), b.mul(kk, ci(k.sk)))), 1)
			as := b.splat(a, L)
			for v := int64(0); v < nv; v++ {
				acc[r*nv+v] = b.fma(as, bv[v], acc[r*nv+v], L)
			}
		}
	}
	kmain := value.Value(kc)
	if U > 1 {
		kmain = b.cur.NewSub(kc, b.cur.NewSRem(kc, ci(U)))
	}
	accs := b.forLoop(ci(0), kmain, U, init, func(kk value.Value, c []value.Value) []value.Value {
		next := append([]value.Value(nil), c...)
		for u := int64(0); u < U; u++ {
			step(b.add(kk, ci(u)), next[u*nacc:(u+1)*nacc])
		}
		return next
	})
	acc := accs[:nacc]
	if U > 1 {
		acc = b.forLoop(kmain, kc, 1, append([]value.Value(nil), acc...), func(kk value.Value, c []value.Value) []value.Value {
			next := append([]value.Value(nil), c...)
			step(kk, next)
			return next
		})
		sum := append([]value.Value(nil), acc...)
		for u := int64(1); u < U; u++ {
			for i := range sum {
				sum[i] = b.cur.NewFAdd(sum[i], accs[u*nacc+int64(i)])
			}
		}
		acc = sum
	}
	if Bq != nil {
		// C(i,n) = scale_n · Σ_k A(i,k)·code(k,n): one multiply per tile.
		acc = k.quantScaleTile(b, acc, qprm, mr)
	}
	hasEpi := !k.epi.isLeaf(0)
	leafVals := func(r, c value.Value, w int) []value.Value { return k.epiLeafVals(b, leafP, r, c, w) }
	cptr := func(r int64, j value.Value) value.Value {
		return b.gepF(C, b.add(ci(r*k.N), j))
	}
	single := k.kc() >= k.K
	b.ifElse(b.cur.NewICmp(enum.IPredEQ, nc, ci(p.nr)), func() {
		if single {
			for r := int64(0); r < mr; r++ {
				for v := int64(0); v < nv; v++ {
					x := acc[r*nv+v]
					if hasEpi {
						vals := leafVals(b.add(row, ci(r)), b.add(col, ci(v*p.lanes)), L)
						vals[0] = x
						x = b.emitExpr(k.epi, vals, L)
					}
					b.store(x, cptr(r, ci(v*p.lanes)), L)
				}
			}
			return
		}
		b.ifElse(first, func() {
			for r := int64(0); r < mr; r++ {
				for v := int64(0); v < nv; v++ {
					b.store(acc[r*nv+v], cptr(r, ci(v*p.lanes)), L)
				}
			}
		}, func() {
			for r := int64(0); r < mr; r++ {
				for v := int64(0); v < nv; v++ {
					ptr := cptr(r, ci(v*p.lanes))
					b.store(b.cur.NewFAdd(acc[r*nv+v], b.load(ptr, L)), ptr, L)
				}
			}
		})
		if hasEpi {
			b.ifThen(last, func() {
				for r := int64(0); r < mr; r++ {
					for v := int64(0); v < nv; v++ {
						ptr := cptr(r, ci(v*p.lanes))
						vals := leafVals(b.add(row, ci(r)), b.add(col, ci(v*p.lanes)), L)
						vals[0] = b.load(ptr, L)
						b.store(b.emitExpr(k.epi, vals, L), ptr, L)
					}
				}
			})
		}
	}, func() {
		tp := b.cur.NewBitCast(tile, tF32P)
		for r := int64(0); r < mr; r++ {
			for v := int64(0); v < nv; v++ {
				b.store(acc[r*nv+v], b.gepF(tp, ci(r*p.nr+v*p.lanes)), L)
			}
		}
		for r := int64(0); r < mr; r++ {
			b.loop(ci(0), nc, 1, func(j value.Value) {
				x := b.load(b.gepF(tp, b.add(ci(r*p.nr), j)), 1)
				ptr := cptr(r, j)
				if !single {
					x = b.cur.NewSelect(first, x, b.cur.NewFAdd(x, b.load(ptr, 1)))
				}
				if hasEpi {
					vals := leafVals(b.add(row, ci(r)), b.add(col, j), 1)
					vals[0] = x
					y := b.emitExpr(k.epi, vals, 1)
					if single {
						x = y
					} else {
						x = b.cur.NewSelect(last, y, x)
					}
				}
				b.store(x, ptr, 1)
			})
		}
	})
	b.cur.NewRet(nil)
	return b.f
}

func init() {
	lower := func(l *lowering, n *ir.Node) (kernel, error) { return newGemmKernel(l, n) }
	registerLowering("MatMul", &opLowering{lower: lower, check: func(n *ir.Node, _ int64) error {
		a, _ := concreteShape(n.Inputs[0])
		b, _ := concreteShape(n.Input(1))
		if len(n.Inputs) != 2 || len(a) < 1 || len(b) < 2 {
			return fmt.Errorf("MatMul of ranks %d x %d (B must have rank >= 2)", len(a), len(b))
		}
		return nil
	}})
	registerLowering("Gemm", &opLowering{lower: lower, check: func(n *ir.Node, _ int64) error {
		a, _ := concreteShape(n.Inputs[0])
		b, _ := concreteShape(n.Input(1))
		if len(a) != 2 || len(b) != 2 {
			return fmt.Errorf("Gemm operands are not 2-D")
		}
		if cv := n.Input(2); cv != nil {
			cs, _ := concreteShape(cv)
			out, _ := concreteShape(n.Outputs[0])
			if _, _, ok := view2D(cs, out); !ok {
				return fmt.Errorf("Gemm C of shape %v does not broadcast to %v", cs, out)
			}
		}
		return nil
	}})
}

// gemmPrefetchAhead is how far ahead of the current k (in floats of the
// packed B panel: 4 KB, 32 k steps of a 32-wide panel) a GEMV-shaped
// kernel prefetches B. Measured on lm-target (12 MB of f32 weights, from
// L3), cycles in the GEMM micro-kernels per pass: 1 token -21 to -26%,
// 8 tokens -45% (no prefetch: 8 tokens cost 1.6x one; with it 1.1-1.2x);
// 512 and 2048/4096 floats ahead gave less or the same.
const gemmPrefetchAhead = 1024

// prefetchB reports whether the micro-kernel prefetches its B panel
// ahead: with one row tile (M up to mr: decoding and verifying a few
// tokens) every B element is read once, straight from L3 or memory, and a
// kernel of several rows issues too few loads per cycle for the hardware
// prefetcher alone to keep the stream ahead of the multiply-adds.
func (k *gemmKernel) prefetchB(dense bool) bool {
	return dense && k.M <= k.p.mr
}

// gemmPrefetch prefetches (for reading, into all cache levels) the
// 64-byte lines of floats [off, off+n) of base.
func (b *fnb) gemmPrefetch(base, off value.Value, n int64) {
	f := b.mod.declare("llvm.prefetch.p0i8", types.Void, tI8P, tI32, tI32, tI32)
	for j := int64(0); j < n; j += 16 {
		p := b.cur.NewBitCast(b.gepF(base, b.add(off, ci(j))), tI8P)
		b.cur.NewCall(f, p, ci32(0), ci32(3), ci32(1))
	}
}

// epiLeafVals loads the epilogue's leaf operands (bias, residual, …) at
// row r and column c, w lanes wide, into vals[1:]; vals[0] is left for
// the accumulator.
func (k *gemmKernel) epiLeafVals(b *fnb, leafP []value.Value, r, c value.Value, w int) []value.Value {
	vals := make([]value.Value, len(k.leaves)+1)
	for i, lf := range k.leaves {
		ptr := b.gepF(leafP[i], b.add(b.mul(r, ci(lf.rs)), b.mul(c, ci(lf.cs))))
		if lf.cs == 0 {
			vals[i+1] = b.splat(b.load(ptr, 1), w)
		} else {
			vals[i+1] = b.load(ptr, w)
		}
	}
	return vals
}
