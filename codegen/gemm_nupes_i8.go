package codegen

import (
	"fmt"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// Integer-only NUPES on the int8 GEMM (ir.QuantPowerInt weights, int8
// activations: passes/quant's nupes:B:int).
//
// A power_int weight is ±(scale/r)·T[|k|] with T the layer's int8 decode
// table (ir.PowerIntTable). The layer computes on the int8 kernels of
// gemm_i8.go with T[k] in place of the 8-bit weight codes,
//
//	y(i,n) = s_a·(scale_n/r) · (Σ_k a(i,k)·T[k(k,n)] − z_a·Σ_k T[k(k,n)])
//
// so the decode table is folded into the requantization: s_a·scale_n/r
// (exact, r a power of two) is the one per-column float multiply of the
// epilogue, and the column sums of T[k] are the int32 corrections.
//
// The weights stay 4-bit codes in the weights file (3-bit codes take a
// nibble too): the int8 panel [K4][nr][4] of gemm_i8.go, as a byte
// stream padded to 2W bytes, is stored as nibbles in chunks of W bytes
// (byte j of a chunk holds panel byte j of its 2W in its low nibble and
// byte j+W in its high nibble). Each task decodes a panel into an int8
// stack buffer once — for every row tile of the task — and runs the int8
// micro-kernel on it (with a single row tile, M ≤ mr, on x86 the
// micro-kernel decodes each k step's chunk in its k loop instead): two
// table lookups per W bytes of nibbles, one
// pshufb with the 16-entry int8 table (indexed by the nibble's raw 4
// bits, sign included) broadcast to every 128-bit lane (x86 from
// x86-64-v2: W = 16, 32 or 64 bytes for SSE, AVX2, AVX-512BW), one tbl
// on aarch64 (W = 16), a 16-way select chain elsewhere. Only per-layer
// exponents (one table) with one scale per output column or per tensor
// take this path; other power_int weights run in float on their packed
// codes (gemm_quant.go).

// nupesI8MaxPanel bounds the stack buffer of one decoded panel: K4·4
// bytes for each of at most nupesI8MaxNR columns, plus the padding.
const (
	nupesI8MaxPanel = 256 << 10
	nupesI8MaxNR    = 48
)

// nupesI8 is the decode plan of one power_int weight.
type nupesI8 struct {
	bits   int
	qmax   int32
	tab    []int8   // T[m], m = 0..Qmax
	nib    [16]int8 // by raw nibble u: T of the two's-complement code u
	w      int64    // nibble bytes per lookup step
	panel  int64    // decoded bytes of one panel (padded to 2w) or Conv row block
	row    int64    // Conv: decoded bytes of one filter row, padded to 2w
	lookup string   // pshufb, tbl or select
}

// nupesI8Scales returns the per-column scales scale_n/r of a power_int B
// (shape [K,N], or [N,K] when transB) that the int8 kernels compute on,
// or the reason they do not.
func nupesI8Scales(q *ir.Quantized, shape []int64, N int64, transB bool) ([]float32, string) {
	if q.Scheme != ir.QuantPowerInt || len(shape) != 2 {
		return nil, "not power_int codes of a matrix"
	}
	if err := q.Validate(shape); err != nil {
		return nil, err.Error()
	}
	if q.Bits > 4 {
		return nil, fmt.Sprintf("%d-bit power_int codes (the nibble table takes up to 4 bits)", q.Bits)
	}
	if len(q.Exponent) != 1 {
		return nil, "per-channel exponents (one decode table per column)"
	}
	if _, G, _, _ := q.QuantLayout(shape); G != 1 {
		return nil, fmt.Sprintf("per-group scales (group %d)", q.GroupSize)
	}
	K := shape[0]
	if transB {
		K = shape[1]
	}
	if (K+3)/4*4*nupesI8MaxNR+128 > nupesI8MaxPanel {
		return nil, fmt.Sprintf("K = %d: a decoded panel would not fit the %d-byte stack buffer", K, nupesI8MaxPanel)
	}
	qmax := q.QMax()
	n := int(ir.NumElements(shape))
	for i := 0; i < n; i++ {
		if c := q.Code(i); c < -qmax || c > qmax {
			return nil, fmt.Sprintf("power code %d at %d outside ±%d", c, i, qmax)
		}
	}
	nAxis := 1
	if transB {
		nAxis = 0
	}
	inv := 1 / float32(ir.PowerIntRatio(qmax))
	scales := make([]float32, N)
	for i := range scales {
		switch q.Axis {
		case -1:
			scales[i] = q.Scales[0] * inv
		case nAxis:
			scales[i] = q.Scales[i] * inv
		default:
			return nil, fmt.Sprintf("scales along axis %d (not the output channels)", q.Axis)
		}
	}
	return scales, ""
}

// nupesI8Plan returns the decode plan of q for panels of K4 × nr × 4
// bytes on the compiler's target, or nil when a panel is too big for the
// stack buffer (nupesI8Scales rejects such weights first).
func (c *compiler) nupesI8Plan(q *ir.Quantized, K4, nr int64) *nupesI8 {
	p := &nupesI8{bits: q.Bits, qmax: q.QMax(), w: 16, lookup: "select"}
	p.tab = ir.PowerIntTable(q.Exponent[0], p.qmax)
	for u := range p.nib {
		k := int32(u)
		if u >= 8 {
			k -= 16
		}
		switch {
		case k >= 0 && k <= p.qmax:
			p.nib[u] = p.tab[k]
		case k < 0 && -k <= p.qmax:
			p.nib[u] = -p.tab[-k]
		}
	}
	switch {
	case c.t.Name == "x86_64" && c.t.CPU != "x86-64": // SSSE3 from x86-64-v2 on
		p.lookup, p.w = "pshufb", int64(c.t.VectorBits/8)
	case c.t.Name == "aarch64":
		p.lookup = "tbl"
	}
	p.panel = (K4*nr*4 + 2*p.w - 1) / (2 * p.w) * (2 * p.w)
	if p.panel > nupesI8MaxPanel || nr > nupesI8MaxNR && K4 > 0 {
		return nil
	}
	return p
}

// value is T of a code, signed.
func (p *nupesI8) value(k int32) int32 {
	if k < 0 {
		return -int32(p.tab[-k])
	}
	return int32(p.tab[k])
}

// pack lays the codes k(k, n) (K × N) out as the nibbles of the int8
// panels (see above): P panels of panel/2 bytes.
func (p *nupesI8) pack(K, N, nr int64, code func(k, n int64) int32) []byte {
	raw := i8PackPanels(K, N, nr, code) // codes as bytes, panel order
	K4 := (K + 3) / 4
	P := (N + nr - 1) / nr
	pb := K4 * nr * 4
	out := make([]byte, P*p.panel/2)
	for pi := int64(0); pi < P; pi++ {
		p.nibbles(raw[pi*pb:(pi+1)*pb], out[pi*p.panel/2:(pi+1)*p.panel/2])
	}
	return out
}

// emitDecode decodes one panel: p.panel/2 nibble bytes at src into
// p.panel int8 values at dst.
func (p *nupesI8) emitDecode(b *fnb, src, dst value.Value) {
	p.emitDecodeN(b, src, dst, ci(p.panel/2))
}

// emitDecodeN decodes n nibble bytes (a multiple of p.w) at src into 2n
// int8 values at dst.
func (p *nupesI8) emitDecodeN(b *fnb, src, dst, n value.Value) {
	W := int(p.w)
	vt := types.NewVector(uint64(W), types.I8)
	pv := types.NewPointer(vt)
	b.loop(ci(0), n, p.w, func(i value.Value) {
		lo, hi := p.decodeChunk(b, b.gep(types.I8, src, i))
		o := b.mul(i, ci(2))
		st := b.cur.NewStore(lo, b.cur.NewBitCast(b.gep(types.I8, dst, o), pv))
		st.Align = 16
		st = b.cur.NewStore(hi, b.cur.NewBitCast(b.gep(types.I8, dst, b.add(o, ci(p.w))), pv))
		st.Align = 16
	})
}

// decodeChunk loads the W nibble bytes at src and returns their 2W int8
// values: the low nibbles' (<W x i8>) and the high nibbles'.
func (p *nupesI8) decodeChunk(b *fnb, src value.Value) (lo, hi value.Value) {
	W := int(p.w)
	vt := types.NewVector(uint64(W), types.I8)
	splat := func(x int64) value.Value {
		e := make([]constant.Constant, W)
		for i := range e {
			e[i] = constant.NewInt(types.I8, x)
		}
		return constant.NewVector(vt, e...)
	}
	tab := make([]constant.Constant, W)
	for i := range tab {
		tab[i] = constant.NewInt(types.I8, int64(p.nib[i%16]))
	}
	table := constant.NewVector(vt, tab...)
	look := func(idx value.Value) value.Value {
		switch p.lookup {
		case "pshufb":
			name := map[int]string{16: "llvm.x86.ssse3.pshuf.b.128", 32: "llvm.x86.avx2.pshuf.b", 64: "llvm.x86.avx512.pshuf.b.512"}[W]
			return b.cur.NewCall(b.mod.declare(name, vt, vt, vt), table, idx)
		case "tbl":
			return b.cur.NewCall(b.mod.declare("llvm.aarch64.neon.tbl1.v16i8", vt, vt, vt), table, idx)
		}
		var t value.Value = splat(0)
		for u := 1; u < 16; u++ {
			if p.nib[u] != 0 {
				t = b.cur.NewSelect(b.cur.NewICmp(enum.IPredEQ, idx, splat(int64(u))), splat(int64(p.nib[u])), t)
			}
		}
		return t
	}
	ld := b.cur.NewLoad(vt, b.cur.NewBitCast(src, types.NewPointer(vt)))
	ld.Align = 1
	return look(b.cur.NewAnd(ld, splat(15))), look(b.cur.NewLShr(ld, splat(4)))
}

// inRegister says the int8 micro-kernel can decode B in its k loop: one
// k4 step of a panel (nr·4 bytes, two vectors) is exactly one lookup
// chunk, its low nibbles the first vector and its high nibbles the second
// (x86: nv = 2 vectors of W bytes; not aarch64's nv = 3).
func (p *nupesI8) inRegister(ip i8Params) bool {
	return p.row == 0 && ip.nv == 2 && 4*ip.lanes == p.w
}

// describe is the kernel description's NUPES part.
func (p *nupesI8) describe() string {
	where := "per panel"
	if p.row > 0 {
		where = "per block of filter rows"
	}
	return fmt.Sprintf("%d-bit power_int codes, int8 decode table %s by %s", p.bits, where, p.lookup)
}

// buffer allocates, in the task function's entry block, the stack
// buffer of one decoded panel (GEMM) or row block (Conv).
func (p *nupesI8) buffer(b *fnb) value.Value {
	a := b.cur.NewAlloca(types.NewArray(uint64(p.panel), types.I8))
	a.Align = 64
	return b.cur.NewBitCast(a, tI8P)
}

// Conv (conv_i8.go): the weights are the micro-kernel's broadcast
// operand, rows of 4·K4 int8 values per output channel; a power_int
// filter keeps its codes as nibbles of those rows, each row padded to
// rowBytes, a multiple of 2W with W = 16 (short rows: 128-bit lookups
// waste less padding), and each task decodes its block of rows once into
// a stack buffer (xStride = rowBytes).

// nupesI8ConvFits reports whether a decoded block of nupesI8ConvRows
// rows of reduction length K fits the stack buffer on every target.
func nupesI8ConvFits(K int64) bool {
	return nupesI8ConvRows*((K+3)/4*4+128) <= nupesI8MaxPanel
}

// nupesI8ConvRows bounds the rows of a Conv task's block (i8Blocks: 8
// tiles of at most 12 rows).
const nupesI8ConvRows = 96

// convPlan returns the decode plan of a power_int filter with rows of
// 4·K4 values for row blocks of mc rows, or nil when a block does not
// fit the stack buffer.
func (c *compiler) nupesI8ConvPlan(q *ir.Quantized, K4, mc int64) *nupesI8 {
	p := c.nupesI8Plan(q, 0, 0)
	p.w = 16 // 128-bit lookups: rows padded to 32 bytes, not 2·64
	p.row = (4*K4 + 2*p.w - 1) / (2 * p.w) * (2 * p.w)
	p.panel = mc * p.row
	if p.panel > nupesI8MaxPanel {
		return nil
	}
	return p
}

// packRows lays the filter rows (M rows of 4·K4 int8 codes, row-major in
// rows) out as nibbles, each row padded to p.row decoded bytes.
func (p *nupesI8) packRows(rows []byte, M, K4 int64) []byte {
	out := make([]byte, M*p.row/2)
	for m := int64(0); m < M; m++ {
		p.nibbles(rows[m*4*K4:(m+1)*4*K4], out[m*p.row/2:(m+1)*p.row/2])
	}
	return out
}

// nibbles packs int8 codes (the low 4 bits of each byte) into dst in
// chunks of p.w bytes: byte j of chunk c holds src[2W·c + j] in its low
// nibble and src[2W·c + W + j] in its high one.
func (p *nupesI8) nibbles(src, dst []byte) {
	for i, x := range src {
		c, j := int64(i)/(2*p.w), int64(i)%(2*p.w)
		if j < p.w {
			dst[c*p.w+j] |= x & 15
		} else {
			dst[c*p.w+j-p.w] |= (x & 15) << 4
		}
	}
}

// nupesInReg says the GEMM decodes B in the micro-kernel's k loop: one
// row tile (M ≤ mr), so each panel is decoded once either way, without
// the round trip through the stack panel.
func (k *i8GemmKernel) nupesInReg() bool {
	return k.nupes != nil && k.M <= k.ip.mr && k.nupes.inRegister(k.ip)
}
