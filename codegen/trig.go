package codegen

import (
	"math"

	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"
)

// sincos is the Cephes single-precision sine (cos false) or cosine (cos
// true), built from float and integer vector arithmetic only, so it
// vectorizes on every target (llvm.sin would be a libm call per lane):
// |x| = j·π/4 + r with the extended-precision three-part π/4 (accurate
// for |x| up to about 8192, the range of rotary-embedding angles), then
// the sine or cosine polynomial on r chosen by the octant j, with the
// sign from the octant (and from x for the sine). NaN and ±Inf give NaN.
func (b *fnb) sincos(x value.Value, w int, cos bool) value.Value {
	k := func(v float64) value.Value { return constF(v, w) }
	c := b.cur
	ax := b.call1("llvm.fabs", x, w)
	// j = trunc(|x|·4/π), rounded up to even: the octant pair whose
	// centre is nearest.
	j := value.Value(c.NewFPToSI(c.NewFMul(ax, k(1.27323954473516)), i32T(w)))
	j = c.NewAnd(c.NewAdd(j, constI32V(1, w)), constI32V(^1, w))
	y := value.Value(c.NewSIToFP(j, vecT(w)))
	r := b.fma(y, k(-0.78515625), ax, w)
	r = b.fma(y, k(-2.4187564849853515625e-4), r, w)
	r = b.fma(y, k(-3.77489497744594108e-8), r, w)
	if cos {
		j = c.NewAdd(j, constI32V(2, w)) // cos(x) = sin(|x| + π/2)
	}
	j = c.NewAnd(j, constI32V(7, w))
	z := c.NewFMul(r, r)
	// sin(r) and cos(r) on [-π/4, π/4].
	ps := b.fma(b.fma(k(-1.9515295891e-4), z, k(8.3321608736e-3), w), z, k(-1.6666654611e-1), w)
	sinR := b.fma(c.NewFMul(ps, z), r, r, w)
	pc := b.fma(b.fma(k(2.443315711809948e-5), z, k(-1.388731625493765e-3), w), z, k(4.166664568298827e-2), w)
	cosR := b.fma(c.NewFMul(pc, z), z, b.fma(z, k(-0.5), k(1), w), w)
	// Octants 2 and 6 take the cosine polynomial; 4 and 6 flip the sign.
	useCos := c.NewICmp(enum.IPredNE, c.NewAnd(j, constI32V(2, w)), constI32V(0, w))
	res := value.Value(c.NewSelect(useCos, cosR, sinR))
	neg := value.Value(c.NewICmp(enum.IPredNE, c.NewAnd(j, constI32V(4, w)), constI32V(0, w)))
	if !cos {
		neg = c.NewXor(neg, c.NewFCmp(enum.FPredOLT, x, k(0)))
	}
	res = c.NewSelect(neg, c.NewFNeg(res), res)
	// |x| = Inf or NaN: the reduction is meaningless; x - x is NaN.
	bad := c.NewFCmp(enum.FPredUGE, ax, k(math.Inf(1)))
	return c.NewSelect(bad, c.NewFSub(x, x), res)
}
