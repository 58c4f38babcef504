package codegen

import (
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// NUPES (power scheme) decode in the quantized GEMM's k loop: a code k in
// ±Qmax (Qmax ≤ 7) stands for sign(k)·scale·T_a[|k|], T_a the per-layer
// (or per-column) table of ir.PowerTable. The lanes' |k| index the table
// and the code's sign bit is xor-ed into the float's:
//
//   - x86 with AVX-512 and one table per layer, 4-bit storage (uniform
//     4-bit codes too, through the table c ↦ float(c)): a 16-entry
//     table over the nibble's 4 bits (entry u holds the value of the
//     two's-complement code u, sign included) is one constant zmm register
//     and the decode a single vpermps on the raw nibbles — no shift, abs or
//     sign step, cheaper than the int→float conversion of uniform codes;
//   - x86 with AVX2 and one table per layer: the table is a
//     constant register and the lookup one vpermps (llvm.x86.avx2.permps,
//     llvm.x86.avx512.permvar.sf.512), 4 instructions per vector with the
//     abs and the sign;
//   - elsewhere (NEON, SSE, per-column tables): a select chain over the
//     Qmax+1 entries, the entries splat constants or, per column, rows of
//     the panel's params ([Qmax+1][nr] floats after the scales).
//
// The scale multiplies outside (the tile epilogue, or the row with
// per-group scales), as for uniform codes; so the decoded weight is
// ±(scale·T_a[|k|]) rounded once, bit for bit ir.Quantized.Decode.

// quantLookup maps <lanes x i32> codes to their table values (unscaled).
// prm is the panel's params, col the lane offset of the vector in the
// panel.
func (k *gemmKernel) quantLookup(b *fnb, g *gemmQuant, q, prm, col value.Value) value.Value {
	L := int(k.p.lanes)
	idx := b.cur.NewSelect(b.cur.NewICmp(enum.IPredSLT, q, constI32V(0, L)), b.cur.NewSub(constI32V(0, L), q), q)
	var t value.Value
	if intr := nupesPermIntrinsic(b, L); intr != "" && !g.colTab {
		tab := make([]constant.Constant, L)
		for i := range tab {
			tab[i] = cf(0)
			if i < len(g.table) {
				tab[i] = cf(float64(g.table[i]))
			}
		}
		f := b.mod.declare(intr, vecT(L), vecT(L), i32T(L))
		t = b.cur.NewCall(f, constant.NewVector(vecT(L).(*types.VectorType), tab...), idx)
	} else {
		t = constF(0, L)
		for m := int64(1); m <= int64(g.qmax); m++ {
			var ent value.Value
			if g.colTab {
				ent = b.load(b.gepF(prm, b.add(ci((g.tableOffset()+m)*k.p.nr), col)), L)
			} else {
				ent = constF(float64(g.table[m]), L)
			}
			t = b.cur.NewSelect(b.cur.NewICmp(enum.IPredEQ, idx, constI32V(m, L)), ent, t)
		}
	}
	// sign(k): xor the code's sign bit into the value's.
	sign := b.cur.NewAnd(q, constI32V(math32SignBit, L))
	bits := b.cur.NewXor(b.cur.NewBitCast(t, i32T(L)), sign)
	return b.cur.NewBitCast(bits, vecT(L))
}

// math32SignBit is the sign bit of an int32 / float32 lane (as int64 for
// constI32V, which truncates to 32 bits).
const math32SignBit = -1 << 31

// nupesPermIntrinsic is the target's variable float permute over one
// register of L lanes ("" where there is none).
func nupesPermIntrinsic(b *fnb, L int) string {
	if b.mod.t.Name != "x86_64" {
		return ""
	}
	switch L {
	case 8:
		return "llvm.x86.avx2.permps"
	case 16:
		return "llvm.x86.avx512.permvar.sf.512"
	}
	return ""
}

// nupesNibbleTable says the 16-entry nibble table applies: 4-bit storage
// on 16 lanes with a variable permute, uniform codes (the table is the
// int→float conversion) or per-layer power codes.
func nupesNibbleTable(b *fnb, g *gemmQuant, L int) bool {
	return !g.colTab && g.width == 4 && L == 16 && nupesPermIntrinsic(b, L) != ""
}

// nupesNibbleLookup decodes 16 lanes whose low 4 bits are 4-bit codes:
// entry u of the table is, for c = u − 16·(u ≥ 8), sign(c)·T_a[|c|] (0 for
// the code −8, which a power tensor never holds: |k| ≤ Qmax is checked at
// packing), or c itself for uniform codes.
func nupesNibbleLookup(b *fnb, g *gemmQuant, q value.Value, L int) value.Value {
	tab := make([]constant.Constant, 16)
	for u := range tab {
		c := int32(u)
		if u >= 8 {
			c -= 16
		}
		x := float32(0)
		switch {
		case !g.power:
			x = float32(c)
		case c >= 0 && c <= g.qmax:
			x = g.table[c]
		case c < 0 && -c <= g.qmax:
			x = -g.table[-c]
		}
		tab[u] = cf(float64(x))
	}
	f := b.mod.declare(nupesPermIntrinsic(b, L), vecT(L), vecT(L), i32T(L))
	return b.cur.NewCall(f, constant.NewVector(vecT(L).(*types.VectorType), tab...), q)
}
