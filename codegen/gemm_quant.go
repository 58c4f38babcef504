package codegen

import (
	"fmt"
	"math"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// Weight-only quantized GEMM: a constant B whose encoding is an
// ir.Quantized with one scale per output column (uniform symmetric codes
// per channel or per tensor, or fixed point, which is a per-tensor scale
// 2^−FL) is stored as its integer codes in the micro-kernel's panel order
// and widened to float in registers inside the k loop. The scale of
// column n factors out of the k-sum, C(i,n) = s_n · Σ_k A(i,k)·q(k,n), so
// it is applied once per tile in the epilogue (alpha folded into it).
//
// Layouts (P = ceil(N/nr) panels, zero codes and zero scales past N):
//
//	8 bits: codes [P][K][nr] int8 (I8)
//	4 bits: codes [P][K][nr/2] bytes (U8); byte j of a row holds column j
//	        in its low nibble and column j+nr/2 in its high nibble
//	scales: [P·nr] float32 (alpha · scale of the column)
type gemmQuant struct {
	bits   int
	codes  *Weight
	scales *Weight
}

// gemmQuantScales checks that B's encoding has one scale per output
// column and returns the scale of every column (nil, reason when the
// kernel does not compute on it). N is B's column count in the GEMM's
// sense; transB says B is stored [N,K].
func gemmQuantScales(q *ir.Quantized, shape []int64, N int64, transB bool) ([]float32, string) {
	if q.Bits != 8 && q.Bits != 4 {
		return nil, fmt.Sprintf("%d-bit codes (the kernel takes 8 or 4)", q.Bits)
	}
	if !q.Signed || q.ZeroPoints != nil {
		return nil, "asymmetric codes (zero points)"
	}
	if len(shape) != 2 {
		return nil, "batched B"
	}
	if err := q.Validate(shape); err != nil {
		return nil, err.Error()
	}
	scales := make([]float32, N)
	switch q.Scheme {
	case ir.QuantFixed:
		s := float32(math.Ldexp(1, -q.FracLength))
		for i := range scales {
			scales[i] = s
		}
		return scales, ""
	case ir.QuantUniform:
	default:
		return nil, fmt.Sprintf("%s scheme (no table decode in the kernel yet)", q.Scheme)
	}
	_, G, _, _ := q.QuantLayout(shape)
	if G != 1 {
		return nil, fmt.Sprintf("per-group scales (group %d)", q.GroupSize)
	}
	nAxis := 1
	if transB {
		nAxis = 0
	}
	switch q.Axis {
	case -1:
		for i := range scales {
			scales[i] = q.Scales[0]
		}
	case nAxis:
		copy(scales, q.Scales)
	default:
		return nil, fmt.Sprintf("scales along axis %d (not the output channels)", q.Axis)
	}
	return scales, ""
}

// newGemmQuant packs a quantized constant B; ok is false (with the reason
// recorded) when B's encoding is not one the kernel computes on.
func (k *gemmKernel) newGemmQuant(c *compiler, bv *ir.Value, bs []int64, transB bool, alpha float32) bool {
	q, isQ := bv.Const.Enc.(*ir.Quantized)
	if !isQ || bv.Const.DType != ir.Float32 {
		return false
	}
	scales, why := gemmQuantScales(q, bs, k.N, transB)
	if scales == nil {
		c.noteDecoded(bv, "stored as float32: "+why)
		return false
	}
	K, N, nr := k.K, k.N, k.p.nr
	codes := q.UnpackCodes(int(K * N))
	P := k.panels()
	code := func(kk, n int64) int32 {
		if n >= N {
			return 0
		}
		if transB {
			return codes[n*K+kk]
		}
		return codes[kk*N+n]
	}
	var raw []byte
	dtype := "I8"
	if q.Bits == 8 {
		raw = make([]byte, P*K*nr)
		for p := int64(0); p < P; p++ {
			for kk := int64(0); kk < K; kk++ {
				for j := int64(0); j < nr; j++ {
					raw[(p*K+kk)*nr+j] = byte(int8(code(kk, p*nr+j)))
				}
			}
		}
	} else {
		dtype = "U8"
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
	sc := make([]float32, P*nr)
	for n := int64(0); n < N; n++ {
		sc[n] = alpha * scales[n]
	}
	enc := fmt.Sprintf("packed_b_q%d(nr=%d,k=%d,n=%d,trans=%d)", q.Bits, nr, K, N, b2i(transB))
	k.quant = &gemmQuant{
		bits:   q.Bits,
		codes:  c.rawWeight(bv, enc, dtype, bs, raw),
		scales: c.weight(bv, fmt.Sprintf("col_scales(nr=%d,n=%d,alpha=%g)", nr, N, alpha), []int64{N}, sc),
	}
	k.bw = k.quant.codes
	return true
}

// quantPanelOffset is the byte offset of element offset off (in codes)
// of the packed codes.
func (k *gemmKernel) quantPanelOffset(b *fnb, off value.Value) value.Value {
	if k.quant.bits == 4 {
		return b.cur.NewSDiv(off, ci(2))
	}
	return off
}

// vecI8 is <w x i8>.
func vecI8(w int) *types.VectorType { return types.NewVector(uint64(w), types.I8) }

// quantBVecs loads row kk of a packed quantized panel (B points at the
// panel's first code, as i8*) and widens it to nv float vectors.
func (k *gemmKernel) quantBVecs(b *fnb, B, kk value.Value) []value.Value {
	p := k.p
	L := int(p.lanes)
	out := make([]value.Value, p.nv)
	loadI8 := func(off value.Value, w int) value.Value {
		ptr := b.cur.NewBitCast(b.gep(types.I8, B, off), types.NewPointer(vecI8(w)))
		ld := b.cur.NewLoad(vecI8(w), ptr)
		ld.Align = 1
		return ld
	}
	if k.quant.bits == 8 {
		for v := int64(0); v < p.nv; v++ {
			x := loadI8(b.add(b.mul(kk, ci(p.nr)), ci(v*p.lanes)), L)
			out[v] = b.cur.NewSIToFP(x, vecT(L))
		}
		return out
	}
	// 4 bits: sign-extend the nr/2 bytes to i32 lanes, then the low
	// nibble is (x << 28) >> 28 and the high one x >> 4 (arithmetic), on
	// 32-bit lanes (x86 has no byte shifts).
	h := int(p.nr / 2)
	x := b.cur.NewSExt(loadI8(b.mul(kk, ci(p.nr/2)), h), i32T(h))
	lo := b.cur.NewAShr(b.cur.NewShl(x, constI32V(28, h)), constI32V(28, h))
	hi := b.cur.NewAShr(x, constI32V(4, h))
	for v := int64(0); v < p.nv; v++ {
		mask := make([]constant.Constant, L)
		for i := range mask {
			mask[i] = ci32(v*p.lanes + int64(i)) // lanes of [lo, hi]
		}
		sub := b.cur.NewShuffleVector(lo, hi, constant.NewVector(types.NewVector(uint64(L), tI32), mask...))
		out[v] = b.cur.NewSIToFP(sub, vecT(L))
	}
	return out
}
