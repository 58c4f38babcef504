package codegen

import (
	"fmt"
	"math"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// Weight-only quantized GEMM: a constant B with an ir.Quantized encoding
// is stored as its integer codes in the micro-kernel's panel order and
// decoded in registers; it is never expanded to float32 in the weights.
//
// Encodings computed on: uniform codes (symmetric or with zero points) per
// tensor, per output column or per group of K rows of a column; the power
// scheme (NUPES, ≤ 4 bits: a per-layer or per-column decode table, see
// gemm_nupes.go); fixed point (AdaPT ⟨WL, FL⟩, scale 2^−FL) of any word
// length up to 16. Codes take 4 (≤ 4 bits), 8 (≤ 8 bits) or 16 bits in
// the panels; unsigned (asymmetric) codes are stored shifted by
// 2^(width−1) into the signed range, with the zero points shifted alike,
// so every code is a sign extension away from an integer lane.
//
// Two schedules:
//
//   - In registers (M ≤ 2·mr, and one K slice: the GEMV-like case, or two
//     row tiles each decoding again): the k loop of the micro-kernel widens a row of codes to
//     float lanes (table lookup for the power scheme, minus the zero point)
//     and, with one scale per column, factors the scale out of the k-sum,
//     C(i,n) = s_n · Σ_k A(i,k)·q(k,n), applying it once per tile; with
//     per-group scales each row is multiplied by its group's scales.
//   - Decoded per slice (more rows): each task decodes a kc x nr slice of a
//     panel once, fully scaled, into a stack buffer and runs the float
//     micro-kernel over all its row tiles, so the decode is paid once per
//     task and K slice, not once per row tile.
//
// Layouts (P = ceil(N/nr) panels, zero codes and zero parameters past N):
//
//	4 bits:  codes [P][K][nr/2] bytes (U8); byte j of a row holds column j
//	         in its low nibble and column j+nr/2 in its high nibble
//	8 bits:  codes [P][K][nr] int8 (I8)
//	16 bits: codes [P][K][nr] little-endian int16, as bytes (U8)
//	params:  float32 [P][ scales [KG][nr] | zero points [KG][nr] |
//	         power tables [Qmax+1][nr] ], KG = scale groups along K (1 per
//	         column or tensor), scales times alpha; zero points only with
//	         zero points, per-column tables only for per-channel exponents
type gemmQuant struct {
	q      *ir.Quantized
	width  int64     // stored bits of a code: 4, 8 or 16
	group  int64     // K rows per scale group (K with one scale per column)
	kg     int64     // scale groups per column
	zero   bool      // zero points follow the scales in params
	power  bool      // power scheme: codes index a decode table
	table  []float32 // per-layer power table T_a (units of the scale)
	colTab bool      // per-column power tables in params
	qmax   int32
	// panelParams is the number of floats of params per panel.
	panelParams int64
	// sliced: decode kc x nr slices once per task (M > mr) instead of in
	// the micro-kernel's registers.
	sliced bool
	// aSide: the constant is the GEMM's A, decoded per task.
	aSide  bool
	codes  *Weight
	params *Weight
}

// gemmQuantPlan checks that the kernel computes on B's encoding (shape is
// B's, N and K the GEMM's, transB says B is stored [N,K]) and returns the
// plan without its weights, or the reason it does not.
func gemmQuantPlan(q *ir.Quantized, shape []int64, N, K int64, transB bool) (*gemmQuant, string) {
	if len(shape) != 2 {
		return nil, "batched B"
	}
	if err := q.Validate(shape); err != nil {
		return nil, err.Error()
	}
	g := &gemmQuant{q: q, group: K, kg: 1, qmax: q.QMax()}
	switch {
	case q.Bits <= 4:
		g.width = 4
	case q.Bits <= 8:
		g.width = 8
	default:
		g.width = 16
	}
	switch q.Scheme {
	case ir.QuantFixed:
		g.panelParams = 1
		return g, ""
	case ir.QuantPower, ir.QuantPowerInt:
		if q.Bits > 4 {
			return nil, fmt.Sprintf("%d-bit power codes (the decode table takes up to 4 bits)", q.Bits)
		}
		g.power = true
		g.colTab = len(q.Exponent) > 1
		if !g.colTab {
			g.table = q.PowerDecodeTable(q.Exponent[0])
		}
	case ir.QuantUniform:
	default:
		return nil, fmt.Sprintf("%s scheme", q.Scheme)
	}
	nAxis := 1
	if transB {
		nAxis = 0
	}
	_, G, _, _ := q.QuantLayout(shape)
	switch {
	case q.Axis == -1 && G == 1:
	case q.Axis == nAxis:
		if G > 1 {
			g.group, g.kg = int64(q.GroupSize), int64(G)
		}
	case q.Axis == -1:
		return nil, fmt.Sprintf("per-tensor groups of %d (not along K)", q.GroupSize)
	default:
		return nil, fmt.Sprintf("parameters along axis %d (not the output channels)", q.Axis)
	}
	g.zero = q.ZeroPoints != nil
	g.panelParams = g.kg
	if g.zero {
		g.panelParams += g.kg
	}
	if g.colTab {
		g.panelParams += int64(g.qmax) + 1
	}
	return g, ""
}

// param returns the scale (kind 0) or zero point (kind 1) of column n,
// group gi, with unsigned codes' zero points moved by the same shift as
// the codes (see code).
func (g *gemmQuant) param(kind int, n, gi int64) float32 {
	q := g.q
	if q.Scheme == ir.QuantFixed {
		return float32(math.Ldexp(1, -q.FracLength))
	}
	p := int64(0)
	if q.Axis >= 0 {
		p = n*g.kg + gi
	}
	if kind == 0 {
		return q.Scales[p]
	}
	return float32(q.ZeroPoints[p] - g.codeShift())
}

// codeShift is what a code loses to be stored: 2^(width−1) for unsigned
// codes (into the signed range), 0 for signed ones.
func (g *gemmQuant) codeShift() int32 {
	if g.q.Signed {
		return 0
	}
	return int32(1) << (g.width - 1)
}

// newGemmQuant packs a quantized constant B; ok is false (with the reason
// recorded) when B's encoding is not one the kernel computes on.
func (k *gemmKernel) newGemmQuant(c *compiler, bv *ir.Value, bs []int64, transB bool, alpha float32) bool {
	g := quantPack(c, bv, bs, k.K, k.N, k.p.nr, transB, alpha)
	if g == nil {
		return false
	}
	// In registers while there are at most two row tiles and one K slice
	// (the decode is then paid at most twice, and group indices start at
	// row 0); per slice beyond.
	g.sliced = k.M > 2*k.p.mr || (k.M > k.p.mr && k.K > k.p.kc)
	k.quant = g
	k.bw = g.codes
	return true
}

// quantPack packs a quantized constant v of 2-D shape (the GEMM operand
// B(k, n), stored [N,K] when trans) into nr-wide panels of its N columns
// with their params; nil (with the reason recorded) when its encoding is
// not one the kernels compute on.
func quantPack(c *compiler, v *ir.Value, shape []int64, K, N, nr int64, trans bool, alpha float32) *gemmQuant {
	q, isQ := v.Const.Enc.(*ir.Quantized)
	if !isQ || v.Const.DType != ir.Float32 {
		return nil
	}
	g, why := gemmQuantPlan(q, shape, N, K, trans)
	if g == nil {
		c.noteDecoded(v, "stored as float32: "+why)
		return nil
	}
	transB, bv, bs := trans, v, shape
	codes := q.UnpackCodes(int(K * N))
	if g.power {
		for i, x := range codes {
			if x < -g.qmax || x > g.qmax {
				c.noteDecoded(bv, fmt.Sprintf("stored as float32: power code %d at %d outside ±%d", x, i, g.qmax))
				return nil
			}
		}
	}
	P := (N + nr - 1) / nr
	code := func(kk, n int64) int32 {
		if n >= N {
			return 0
		}
		x := codes[kk*N+n]
		if transB {
			x = codes[n*K+kk]
		}
		return x - g.codeShift()
	}
	var raw []byte
	dtype := "U8"
	switch g.width {
	case 8:
		dtype = "I8"
		raw = make([]byte, P*K*nr)
		for p := int64(0); p < P; p++ {
			for kk := int64(0); kk < K; kk++ {
				for j := int64(0); j < nr; j++ {
					raw[(p*K+kk)*nr+j] = byte(int8(code(kk, p*nr+j)))
				}
			}
		}
	case 16:
		raw = make([]byte, 2*P*K*nr)
		for p := int64(0); p < P; p++ {
			for kk := int64(0); kk < K; kk++ {
				for j := int64(0); j < nr; j++ {
					x := uint16(int16(code(kk, p*nr+j)))
					o := 2 * ((p*K+kk)*nr + j)
					raw[o], raw[o+1] = byte(x), byte(x>>8)
				}
			}
		}
	default:
		h := nr / 2
		raw = make([]byte, P*K*h)
		for p := int64(0); p < P; p++ {
			for kk := int64(0); kk < K; kk++ {
				for j := int64(0); j < h; j++ {
					lo, hi := code(kk, p*nr+j), code(kk, p*nr+j+h)
					raw[(p*K+kk)*h+j] = byte(lo&15) | byte(hi&15)<<4
				}
			}
		}
	}
	prm := make([]float32, P*g.panelParams*nr)
	var tabs [][]float32
	if g.colTab {
		for _, a := range q.Exponent {
			tabs = append(tabs, q.PowerDecodeTable(a))
		}
	}
	for n := int64(0); n < N; n++ {
		base := (n/nr)*g.panelParams*nr + n%nr
		for gi := int64(0); gi < g.kg; gi++ {
			prm[base+gi*nr] = alpha * g.param(0, n, gi)
			if g.zero {
				prm[base+(g.kg+gi)*nr] = g.param(1, n, gi)
			}
		}
		if g.colTab {
			off := base + g.tableOffset()*nr
			for m, t := range tabs[n] {
				prm[off+int64(m)*nr] = t
			}
		}
	}
	tag := fmt.Sprintf("nr=%d,k=%d,n=%d,trans=%d", nr, K, N, b2i(transB))
	g.codes = c.rawWeight(bv, fmt.Sprintf("packed_b_q%d(%s,bits=%d)", g.width, tag, q.Bits), dtype, bs, raw)
	g.params = c.weight(bv, fmt.Sprintf("quant_params(%s,groups=%d,zero=%d,tables=%d,alpha=%g)", tag, g.kg, b2i(g.zero), b2i(g.colTab), alpha),
		[]int64{P * g.panelParams * nr}, prm)
	return g
}

// tableOffset is the row (in units of nr floats) of the per-column power
// tables in a panel's params.
func (g *gemmQuant) tableOffset() int64 {
	if g.zero {
		return 2 * g.kg
	}
	return g.kg
}

func (g *gemmQuant) describe() string {
	s := fmt.Sprintf("packed int%d constant B (%d-bit %s", g.width, g.q.Bits, g.q.Scheme)
	switch {
	case g.kg > 1:
		s += fmt.Sprintf(", scales per group of %d", g.group)
	case g.q.Scheme != ir.QuantFixed:
		s += ", per-column scales"
	}
	if g.zero {
		s += ", zero points"
	}
	if g.power {
		s += ", " + map[bool]string{false: "per-layer", true: "per-column"}[g.colTab] + " decode table"
	}
	switch {
	case g.aSide:
		return s + "; decoded per task)"
	case g.sliced:
		return s + "; decoded once per kc x nr slice)"
	}
	return s + "; decoded in registers)"
}

// quantInReg says the micro-kernel decodes B's codes in its k loop (it
// then takes the params pointer as its last argument).
func (k *gemmKernel) quantInReg() bool { return k.quant != nil && !k.quant.sliced }

// quantPanelOffset is the byte offset of element offset off (in codes)
// of the packed codes.
func (k *gemmKernel) quantPanelOffset(b *fnb, off value.Value) value.Value {
	switch k.quant.width {
	case 4:
		return b.cur.NewSDiv(off, ci(2))
	case 16:
		return b.mul(off, ci(2))
	}
	return off
}

// quantPanelParams is the params pointer of the panel starting at column
// col (prm points at the kernel's params).
func (k *gemmKernel) quantPanelParams(b *fnb, prm, col value.Value) value.Value {
	return b.gepF(prm, b.mul(col, ci(k.quant.panelParams)))
}

// quantSlice is the per-task state of the sliced schedule: the stack
// buffer a slice is decoded into and the params base.
type quantSlice struct {
	buf, prm value.Value
}

// quantTaskInit prepares a task function (b at its entry block) for the
// quantized B: the slice buffer of the sliced schedule.
func (k *gemmKernel) quantTaskInit(e *segEmitter, b *fnb, ctx value.Value) *quantSlice {
	if k.quant == nil || !k.quant.sliced {
		return nil
	}
	a := b.cur.NewAlloca(types.NewArray(uint64(k.kc()*k.p.nr), tF32))
	a.Align = 64
	return &quantSlice{buf: b.cur.NewBitCast(a, tF32P), prm: e.ptr(b, ctx, buf{w: k.quant.params})}
}

// quantPanelPtr is the micro-kernel's B argument for the panel at column
// jp, rows [kb, kb+kc): the codes themselves (decoded in registers), or
// the slice decoded now into the task's buffer.
func (k *gemmKernel) quantPanelPtr(b *fnb, B, jp, kb, kc value.Value, qs *quantSlice) value.Value {
	nr := k.p.nr
	codes := b.gep(types.I8, b.cur.NewBitCast(B, tI8P), k.quantPanelOffset(b, b.add(b.mul(jp, ci(k.K)), b.mul(kb, ci(nr)))))
	if qs == nil {
		return b.cur.NewBitCast(codes, tF32P)
	}
	prm := k.quantPanelParams(b, qs.prm, jp)
	L := k.p.lanes
	b.loop(ci(0), kc, 1, func(kk value.Value) {
		for v, x := range k.quantRow(b, k.quant, codes, kk, b.add(kb, kk), prm, true) {
			b.store(x, b.gepF(qs.buf, b.add(b.mul(kk, ci(nr)), ci(int64(v)*L))), int(L))
		}
	})
	return qs.buf
}

// vecI8 is <w x i8>.
func vecI8(w int) *types.VectorType { return types.NewVector(uint64(w), types.I8) }

// quantBVecs decodes row kk of a packed panel in the micro-kernel (B at
// the panel's first code, prm its params; the K slice starts at row 0).
func (k *gemmKernel) quantBVecs(b *fnb, B, kk, prm value.Value) []value.Value {
	return k.quantRow(b, k.quant, B, kk, kk, prm, k.quant.kg > 1)
}

// quantRow decodes row kk of a panel slice (codes at B, absolute row
// kabs) into nv float vectors: code − zero point, or the power table's
// value, times the scale of the row's group when scaled is set (else the
// column scale is left to quantScaleTile).
func (k *gemmKernel) quantRow(b *fnb, g *gemmQuant, B, kk, kabs, prm value.Value, scaled bool) []value.Value {
	p := k.p
	L := int(p.lanes)
	nib := nupesNibbleTable(b, g, L)
	ints := k.quantCodes(b, g, B, kk, nib)
	var grow value.Value = ci(0)
	if g.kg > 1 {
		grow = b.mul(b.cur.NewUDiv(kabs, ci(g.group)), ci(p.nr))
	}
	out := make([]value.Value, p.nv)
	for v := range out {
		col := ci(int64(v) * p.lanes)
		var x value.Value
		if nib {
			x = nupesNibbleLookup(b, g, ints[v], L)
		} else if g.power {
			x = k.quantLookup(b, g, ints[v], prm, col)
		} else {
			x = b.cur.NewSIToFP(ints[v], vecT(L))
		}
		if g.zero {
			z := b.load(b.gepF(prm, b.add(b.add(grow, ci(g.kg*p.nr)), col)), L)
			x = b.cur.NewFSub(x, z)
		}
		if scaled {
			x = b.cur.NewFMul(x, b.load(b.gepF(prm, b.add(grow, col)), L))
		}
		out[v] = x
	}
	return out
}

// quantCodes loads row kk of a panel's codes as nv <lanes x i32> vectors
// (with raw set, 4-bit codes only in their lanes' low 4 bits).
func (k *gemmKernel) quantCodes(b *fnb, g *gemmQuant, B, kk value.Value, raw bool) []value.Value {
	p := k.p
	L := int(p.lanes)
	out := make([]value.Value, p.nv)
	loadInt := func(elem types.Type, off value.Value, w int) value.Value {
		vt := types.NewVector(uint64(w), elem)
		ptr := b.cur.NewBitCast(b.gep(types.I8, B, off), types.NewPointer(vt))
		ld := b.cur.NewLoad(vt, ptr)
		ld.Align = 1
		return b.cur.NewSExt(ld, i32T(w))
	}
	switch g.width {
	case 8, 16:
		bytes := g.width / 8
		for v := int64(0); v < p.nv; v++ {
			off := b.mul(b.add(b.mul(kk, ci(p.nr)), ci(v*p.lanes)), ci(bytes))
			out[v] = loadInt(map[int64]types.Type{1: types.I8, 2: types.I16}[bytes], off, L)
		}
		return out
	}
	// 4 bits: sign-extend the nr/2 bytes to i32 lanes, then the low
	// nibble is (x << 28) >> 28 and the high one x >> 4 (arithmetic), on
	// 32-bit lanes (x86 has no byte shifts).
	h := int(p.nr / 2)
	x := loadInt(types.I8, b.mul(kk, ci(p.nr/2)), h)
	lo, hi := value.Value(x), value.Value(b.cur.NewAShr(x, constI32V(4, h)))
	if !raw {
		lo = b.cur.NewAShr(b.cur.NewShl(x, constI32V(28, h)), constI32V(28, h))
	}
	for v := int64(0); v < p.nv; v++ {
		mask := make([]constant.Constant, L)
		for i := range mask {
			mask[i] = ci32(v*p.lanes + int64(i)) // lanes of [lo, hi]
		}
		out[v] = b.cur.NewShuffleVector(lo, hi, constant.NewVector(types.NewVector(uint64(L), tI32), mask...))
	}
	return out
}

// quantScaleTile multiplies the accumulators of an mr x nr tile by the
// column scales (in-register schedule with one scale group per column).
func (k *gemmKernel) quantScaleTile(b *fnb, acc []value.Value, prm value.Value, mr int64) []value.Value {
	if k.quant.kg > 1 {
		return acc // each row was scaled in quantRow
	}
	p := k.p
	L := int(p.lanes)
	acc = append([]value.Value(nil), acc...)
	for v := int64(0); v < p.nv; v++ {
		sv := b.load(b.gepF(prm, ci(v*p.lanes)), L)
		for r := int64(0); r < mr; r++ {
			acc[r*p.nv+v] = b.cur.NewFMul(acc[r*p.nv+v], sv)
		}
	}
	return acc
}

// quantAStackMax bounds the stack buffer a task decodes a quantized A
// into (bytes); a larger A is decoded to float32 at compile time.
const quantAStackMax = 256 << 10

// newGemmQuantA stores a quantized constant A (a weight on the left: a
// MatMul W·X, or a Conv's filters as the GEMM's A) as its codes, packed
// like a B stored [N,K] (its M rows are the panels' columns, groups along
// K). Every task decodes it, fully scaled, into a stack buffer laid out
// Aᵀ [K][P·nr], which the micro-kernel reads with si = 1, sk = P·nr: a
// decode of M·K codes per task against the task's M·K·nc FMAs.
func (k *gemmKernel) newGemmQuantA(c *compiler, av *ir.Value, as []int64, transA bool) bool {
	if _, isQ := av.Const.Enc.(*ir.Quantized); !isQ {
		return false
	}
	nr := k.p.nr
	Mp := (k.M + nr - 1) / nr * nr
	switch {
	case transA || len(as) != 2:
		c.noteDecoded(av, "stored as float32: quantized A that is transposed or batched")
		return false
	case k.K*Mp*4 > quantAStackMax:
		c.noteDecoded(av, fmt.Sprintf("stored as float32: quantized A of %dx%d (decoded per task it would take %d KiB of stack)", k.M, k.K, k.K*Mp*4>>10))
		return false
	}
	g := quantPack(c, av, as, k.K, k.M, nr, true, 1)
	if g == nil {
		return false
	}
	g.aSide = true
	k.quantA = g
	k.a = buf{w: g.codes}
	k.si, k.sk = 1, Mp
	return true
}

// quantATask decodes the quantized A (codes at A) at the start of a task
// (b at its entry block) and returns the float buffer the micro-kernel
// reads; A itself when A is not quantized.
func (k *gemmKernel) quantATask(e *segEmitter, b *fnb, ctx, A value.Value) value.Value {
	g := k.quantA
	if g == nil {
		return A
	}
	nr := k.p.nr
	Mp := k.sk
	a := b.cur.NewAlloca(types.NewArray(uint64(k.K*Mp), tF32))
	a.Align = 64
	dst := b.cur.NewBitCast(a, tF32P)
	prm := e.ptr(b, ctx, buf{w: g.params})
	quantDecodePanels(b, k, g, A, prm, ci(0), ci(Mp/nr), k.K, func(p, kk value.Value) value.Value {
		return b.gepF(dst, b.add(b.mul(kk, ci(Mp)), b.mul(p, ci(nr))))
	})
	return dst
}

// quantDecodePanels decodes panels [p0, p1) of g's codes (each K rows of
// the nr columns of dec's parameters; codes and prm at panel 0) fully
// scaled, storing row kk of panel p at dst(p, kk) as dec's nv vectors.
func quantDecodePanels(b *fnb, dec *gemmKernel, g *gemmQuant, codes, prm, p0, p1 value.Value, K int64, dst func(p, kk value.Value) value.Value) {
	nr, L := dec.p.nr, dec.p.lanes
	codes = b.cur.NewBitCast(codes, tI8P)
	b.loop(p0, p1, 1, func(p value.Value) {
		cp := b.gep(types.I8, codes, b.mul(p, ci(K*nr*g.width/8)))
		pp := b.gepF(prm, b.mul(p, ci(g.panelParams*nr)))
		b.loop(ci(0), ci(K), 1, func(kk value.Value) {
			row := dst(p, kk)
			for v, x := range dec.quantRow(b, g, cp, kk, kk, pp, true) {
				b.store(x, b.gepF(row, ci(int64(v)*L)), int(L))
			}
		})
	})
}

// quantPanelDecoder is a kernel whose only use is quantRow on panels nr
// columns wide where nr is not a multiple of the vector lanes (a direct
// Conv's mr-row weight tiles): a row is decoded as one vector of nr lanes,
// the panel width passed in rather than taken from a GEMM's parameters.
func quantPanelDecoder(nr int64) *gemmKernel {
	return &gemmKernel{p: gemmParams{mr: 1, nv: 1, lanes: nr, nr: nr}}
}
