package codegen

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	lir "github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// int8 × int8 → int32 GEMM (weights and activations quantized).
//
// passes/quant's weight+activation mode puts QuantizeLinear →
// DequantizeLinear (per-tensor scale s_a, zero point z_a) on a layer's
// input and gives the layer a constant weight with an ir.Quantized
// encoding. Codegen lowers QuantizeLinear to a kernel that writes the
// 8-bit codes (bit for bit the interpreter's: x/s rounded half to even,
// plus z, saturated). When every reader of the DequantizeLinear is a
// MatMul/Gemm (here) or Conv (conv_i8.go) whose weight is 8-bit signed
// symmetric with one scale per output channel, the DequantizeLinear
// becomes a view of the codes and the layer computes on them:
//
//	y(i,n) = s_a·s_n · (Σ_k a(i,k)·w(k,n) − z_a·Σ_k w(k,n))  (+ epilogue)
//
// with a the unsigned codes (int8 activations are read as code+128 and
// z_a+128, which is what vpdpbusd's u8×s8 wants), w the signed weight
// codes, the sum accumulated in int32 four products at a time (AVX512-VNNI
// vpdpbusd; elsewhere the portable form: bytes widened to i32 lanes,
// multiplied and summed in groups of four, which LLVM vectorizes for any
// target), the column sums z_a·Σ_k w(k,n) precomputed at compile time and
// subtracted in int32, then one float multiply by s_a·s_n and the usual
// GEMM epilogue (bias, fused elementwise consumers). Otherwise
// DequantizeLinear is a kernel of its own and the layer runs in float.
//
// Layouts: weights in panels of nr columns, [P][K4][nr][4] int8 (K4 =
// ceil(K/4), four consecutive k of one column in one 32-bit lane, zero
// past K and N); activations as rows of Kp = 4·K4 bytes (packed with zero
// padding when K is not a multiple of 4, or the codes are signed).

// i8MaxK bounds the reduction length: |Σ_k (a−z_a)·w| ≤ 255·128·K must
// fit in int32.
const i8MaxK = (1<<31 - 1) / (255 * 128)

// i8Params is the register tile of the int8 kernels: mr rows × nv
// vectors of lanes int32 accumulators.
//
// Without VNNI, x86 uses pmaddwd: bytes widened to 16 bits, products
// summed in pairs into 32-bit lanes, two accumulators per output vector
// (the pairs of k), added together once after the k loop — exact, unlike
// pmaddubsw, whose 16-bit pair sums saturate for u8×s8 codes.
type i8Params struct {
	lanes, mr, nv, nr int64
	vnni, madd        bool
	// sdot (aarch64 with the dot product): signed × signed, so the
	// activation codes are kept in the int8 domain (code − 128).
	sdot bool
}

func (c *compiler) i8Params() i8Params {
	L := int64(c.t.Lanes())
	p := i8Params{lanes: L, mr: 4, nv: 2}
	switch {
	case c.t.Name == "x86_64" && c.t.VectorBits == 512 && strings.Contains(c.t.Features, "+avx512vnni"):
		p.vnni, p.mr = true, 12
	case c.t.Name == "aarch64" && strings.Contains(c.t.Features, "+dotprod"):
		p.sdot, p.mr, p.nv = true, 8, 3
	case c.t.Name == "x86_64":
		p.madd, p.mr = true, 2
		if c.t.VectorRegs >= 32 {
			p.mr = 6
		}
	case c.t.VectorRegs >= 32:
		p.mr = 6
	}
	p.nr = p.nv * L
	return p
}

// madd returns the pmaddwd of two <2w x i16> values: <w x i32> sums of
// adjacent products.
func (p i8Params) maddWD(b *fnb, x, y value.Value) value.Value {
	L := int(p.lanes)
	name := map[int]string{4: "llvm.x86.sse2.pmadd.wd", 8: "llvm.x86.avx2.pmadd.wd", 16: "llvm.x86.avx512.pmaddw.d.512"}[L]
	it := types.NewVector(uint64(2*L), types.I16)
	f := b.mod.declare(name, i32T(L), it, it)
	return b.cur.NewCall(f, x, y)
}

// i8Widen extends the 4·w bytes of v (<w x i32>) to 16 bits and returns
// the two halves (<2w x i16>: lanes 0…w/2−1 and w/2…w−1 of v).
func (p i8Params) widen(b *fnb, v value.Value, signed bool) [2]value.Value {
	L := int(p.lanes)
	it := types.NewVector(uint64(4*L), types.I16)
	var x value.Value
	if signed {
		x = b.cur.NewSExt(b.cur.NewBitCast(v, i8VecT(4*L)), it)
	} else {
		x = b.cur.NewZExt(b.cur.NewBitCast(v, i8VecT(4*L)), it)
	}
	var out [2]value.Value
	for h := range out {
		m := make([]constant.Constant, 2*L)
		for i := range m {
			m[i] = ci32(int64(h*2*L + i))
		}
		out[h] = b.cur.NewShuffleVector(x, constant.NewUndef(it), constant.NewVector(types.NewVector(uint64(2*L), tI32), m...))
	}
	return out
}

// i8Bcast16 broadcasts the 4 bytes of the i32 x, extended to 16 bits, to
// a <2w x i16> (the 4-element pattern repeated).
func (p i8Params) bcast16(b *fnb, x value.Value, signed bool) value.Value {
	L := int(p.lanes)
	v4 := types.NewVector(4, types.I16)
	var x4 value.Value
	if signed {
		x4 = b.cur.NewSExt(b.cur.NewBitCast(x, i8VecT(4)), v4)
	} else {
		x4 = b.cur.NewZExt(b.cur.NewBitCast(x, i8VecT(4)), v4)
	}
	m := make([]constant.Constant, 2*L)
	for i := range m {
		m[i] = ci32(int64(i % 4))
	}
	return b.cur.NewShuffleVector(x4, constant.NewUndef(v4), constant.NewVector(types.NewVector(uint64(2*L), tI32), m...))
}

// i8Act is the activation side of an int8 layer: DequantizeLinear(q,
// scale, zp) with per-tensor parameters.
type i8Act struct {
	q      *ir.Value
	scale  float32
	zp     int32 // in the unsigned domain: zp, or zp+128 for int8 codes
	signed bool
}

// i8ScalarParams reads QuantizeLinear/DequantizeLinear's scale and zero
// point: scalar constants (f32 scale; u8/i8 zero point, or none: u8 0).
func i8ScalarParams(n *ir.Node) (scale float32, zp int32, zt ir.DType, err error) {
	sv := n.Input(1)
	s, ok := scalarConst(sv)
	if sv == nil || !ok {
		return 0, 0, 0, fmt.Errorf("%s: scale is not a scalar f32 constant (per-axis is not lowered)", n.Op)
	}
	zt = ir.Uint8
	if zv := n.Input(2); zv != nil {
		t, ok := ir.ConstValue(zv)
		if !ok || t.Len() != 1 || (t.DType != ir.Uint8 && t.DType != ir.Int8) {
			return 0, 0, 0, fmt.Errorf("%s: zero point is not a scalar u8/i8 constant", n.Op)
		}
		d, err := t.Dense()
		if err != nil {
			return 0, 0, 0, err
		}
		zt, zp = d.DType, int32(d.Int64At(0))
	}
	return float32(s), zp, zt, nil
}

// i8ActOf returns v's activation parameters when v is a DequantizeLinear
// output the int8 kernels can read as codes.
func i8ActOf(v *ir.Value) (*i8Act, bool) {
	if v == nil || v.Def == nil || v.Def.Op != "DequantizeLinear" || (v.Def.Domain != "" && v.Def.Domain != "ai.onnx") {
		return nil, false
	}
	n := v.Def
	s, zp, zt, err := i8ScalarParams(n)
	if err != nil || !(s > 0) || n.Inputs[0].Type.DType != zt {
		return nil, false
	}
	a := &i8Act{q: n.Inputs[0], scale: s, zp: zp, signed: zt == ir.Int8}
	if a.signed {
		a.zp += 128
	}
	return a, true
}

// i8Accepts reports whether node n reads v (only as its data input) in a
// form the int8 kernels compute on.
func i8Accepts(n *ir.Node, v *ir.Value) bool {
	if n.Domain != "" && n.Domain != "ai.onnx" || len(n.Inputs) == 0 || n.Inputs[0] != v {
		return false
	}
	for _, x := range n.Inputs[1:] {
		if x == v {
			return false
		}
	}
	switch n.Op {
	case "MatMul", "Gemm":
		_, _, err := i8GemmForm(n)
		return err == nil
	case "Conv":
		_, err := i8ConvForm(n)
		return err == nil
	}
	return false
}

// i8GemmForm checks a MatMul/Gemm for the int8 kernel and returns the
// per-column weight scales and whether B is stored [N,K].
func i8GemmForm(n *ir.Node) ([]float32, bool, error) {
	if _, ok := i8ActOf(n.Inputs[0]); !ok {
		return nil, false, fmt.Errorf("A is not a per-tensor DequantizeLinear")
	}
	bv := n.Input(1)
	if bv == nil || bv.Const == nil {
		return nil, false, fmt.Errorf("B is not a constant")
	}
	q, ok := bv.Const.Enc.(*ir.Quantized)
	if !ok || q.Bits > 8 || bv.Const.DType != ir.Float32 {
		return nil, false, fmt.Errorf("B is not quantized to at most 8 bits")
	}
	transB := false
	if n.Op == "Gemm" {
		if n.AttrInt("transA", 0) != 0 {
			return nil, false, fmt.Errorf("transA")
		}
		transB = n.AttrInt("transB", 0) != 0
	} else if len(n.Inputs) != 2 {
		return nil, false, fmt.Errorf("MatMul with %d inputs", len(n.Inputs))
	}
	bs, ok := concreteShape(bv)
	as, ok2 := concreteShape(n.Inputs[0])
	if !ok || !ok2 || len(bs) != 2 || len(as) < 1 || (n.Op == "Gemm" && len(as) != 2) {
		return nil, false, fmt.Errorf("shapes")
	}
	N, K := bs[1], bs[0]
	if transB {
		N, K = bs[0], bs[1]
	}
	if as[len(as)-1] != K {
		return nil, false, fmt.Errorf("inner dims differ")
	}
	if K > i8MaxK {
		return nil, false, fmt.Errorf("K = %d could overflow the int32 accumulators", K)
	}
	var scales []float32
	var why string
	if q.Scheme == ir.QuantPowerInt {
		scales, why = nupesI8Scales(q, bs, N, transB) // gemm_nupes_i8.go
	} else {
		scales, why = i8WeightScales(q, bs, N, transB)
	}
	if scales == nil {
		return nil, false, fmt.Errorf("%s", why)
	}
	return scales, transB, nil
}

// i8DequantAliased reports whether DequantizeLinear node n can be a view
// of its codes: every reader of its output is in this segment and
// computes on the codes.
func (l *lowering) i8DequantAliased(n *ir.Node) bool {
	out := n.Outputs[0]
	if l.segOut[out] {
		return false
	}
	if _, ok := i8ActOf(out); !ok {
		return false
	}
	readers := 0
	for _, m := range l.seg.nodes {
		for _, v := range nodeUses(m, true) {
			if v == out {
				if !i8Accepts(m, out) {
					return false
				}
				readers++
			}
		}
	}
	return readers > 0 && readers == l.c.uses[out]
}

// i8QuantKernel is QuantizeLinear (f32 → 8-bit codes) or, when dequant is
// set, DequantizeLinear (codes → f32), per tensor or (axis set) per axis,
// elementwise.
type i8QuantKernel struct {
	node       string
	x, out     *ir.Value
	n          int64
	scale      float32
	zp         int32 // the zero point as stored (int8 or uint8 value)
	signed     bool  // the codes are int8 (else uint8)
	dequant    bool
	lanes      int64
	chunkElems int64
	// axis: per-axis parameters, scale and zero point (as f32) of each of
	// the dim channels along the axis; inner elements per channel row.
	axis *i8AxisQuant
}

// i8AxisQuant is the per-axis part of an i8QuantKernel.
type i8AxisQuant struct {
	axis, dim, inner int64
	scales, zps      []float32 // what the weights hold
	sw, zw           *Weight
}

// i8AxisParams reads a per-axis QuantizeLinear/DequantizeLinear (opset ≥
// 13): a 1-D f32 constant scale with shape[axis] elements and an optional
// u8/i8 zero point, scalar or 1-D likewise. ok is false when n is per
// tensor (i8ScalarParams reads it).
func i8AxisParams(n *ir.Node, shape []int64, opset int64) (q *i8AxisQuant, zt ir.DType, ok bool, err error) {
	sv := n.Input(1)
	if sv == nil || sv.Const == nil || sv.Const.DType != ir.Float32 || sv.Const.Len() == 1 {
		return nil, 0, false, nil
	}
	if opset != 0 && opset < 13 {
		return nil, 0, true, fmt.Errorf("%s: per-axis scale before opset 13", n.Op)
	}
	if bs := n.AttrInt("block_size", 0); bs != 0 {
		return nil, 0, true, fmt.Errorf("%s: blocked quantization (block_size %d) is not lowered", n.Op, bs)
	}
	ax := n.AttrInt("axis", 1)
	if ax < 0 {
		ax += int64(len(shape))
	}
	if ax < 0 || ax >= int64(len(shape)) {
		return nil, 0, true, fmt.Errorf("%s: axis %d of a rank-%d input", n.Op, n.AttrInt("axis", 1), len(shape))
	}
	st, err := sv.Const.Dense()
	if err != nil {
		return nil, 0, true, err
	}
	dim := shape[ax]
	if st.Rank() != 1 || int64(st.Len()) != dim {
		return nil, 0, true, fmt.Errorf("%s: scale of shape %v for dim %d (axis %d) of %v", n.Op, st.Shape, dim, ax, shape)
	}
	q = &i8AxisQuant{axis: ax, dim: dim, inner: ir.NumElements(shape[ax+1:]), scales: st.Float32s(), zps: make([]float32, dim)}
	zt = ir.Uint8
	if zv := n.Input(2); zv != nil {
		t, ok := ir.ConstValue(zv)
		if !ok || (t.DType != ir.Uint8 && t.DType != ir.Int8) || (t.Len() != 1 && (t.Rank() != 1 || int64(t.Len()) != dim)) {
			return nil, 0, true, fmt.Errorf("%s: zero point is not a u8/i8 constant, scalar or with %d elements", n.Op, dim)
		}
		d, err := t.Dense()
		if err != nil {
			return nil, 0, true, err
		}
		zt = d.DType
		for i := range q.zps {
			q.zps[i] = float32(d.Int64At(min(i, d.Len()-1)))
		}
	}
	return q, zt, true, nil
}

func i8QuantCheck(n *ir.Node, opset int64) error {
	if len(n.Inputs) < 2 || len(n.Inputs) > 3 || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return fmt.Errorf("%s with %d inputs and %d outputs", n.Op, len(n.Inputs), len(n.Outputs))
	}
	x, y := n.Inputs[0], n.Outputs[0]
	for _, v := range []*ir.Value{x, y} {
		if v.Type.Kind != ir.KindTensor {
			return fmt.Errorf("value %q is not a tensor", v.Name)
		}
		if _, ok := concreteShape(v); !ok {
			return fmt.Errorf("value %q has no static shape (%s)", v.Name, v.Type)
		}
	}
	xs, _ := concreteShape(x)
	_, zt, axis, err := i8AxisParams(n, xs, opset)
	if !axis {
		_, _, zt, err = i8ScalarParams(n)
	}
	if err != nil {
		return err
	}
	codes, fl := y, x
	if n.Op == "DequantizeLinear" {
		codes, fl = x, y
	}
	if codes.Type.DType != zt || fl.Type.DType != ir.Float32 {
		return fmt.Errorf("%s from %s to %s (lowered: f32 and the zero point's u8/i8)", n.Op, x.Type.DType, y.Type.DType)
	}
	if n.AttrInt("saturate", 1) != 1 {
		return fmt.Errorf("%s saturate=0", n.Op)
	}
	return nil
}

func newI8QuantKernel(l *lowering, n *ir.Node) (kernel, error) {
	if q, zt, ok, err := i8AxisParams(n, mustShape(n.Inputs[0]), 0); ok {
		return newI8AxisQuantKernel(l, n, q, zt, err)
	}
	s, zp, zt, err := i8ScalarParams(n)
	if err != nil {
		return nil, err
	}
	deq := n.Op == "DequantizeLinear"
	if deq && l.i8DequantAliased(n) {
		return nil, nil // a view of the codes: the int8 layers read them
	}
	return &i8QuantKernel{node: nodeName(n), x: n.Inputs[0], out: n.Outputs[0], n: ir.NumElements(mustShape(n.Inputs[0])),
		scale: s, zp: zp, signed: zt == ir.Int8, dequant: deq, lanes: int64(l.c.t.Lanes()), chunkElems: 16384}, nil
}

func (k *i8QuantKernel) inputs() []buf {
	if k.axis != nil {
		return []buf{{v: k.x}, {w: k.axis.sw}, {w: k.axis.zw}}
	}
	return []buf{{v: k.x}}
}
func (k *i8QuantKernel) output() *ir.Value { return k.out }
func (k *i8QuantKernel) temps() []int64    { return nil }
func (k *i8QuantKernel) describe() string {
	op, dt := "quantize", "u8"
	if k.dequant {
		op = "dequantize"
	}
	if k.signed {
		dt = "i8"
	}
	if k.axis != nil {
		return fmt.Sprintf("%s %s [%d] per axis %d (%d channels of %d) %s", op, dt, k.n, k.axis.axis, k.axis.dim, k.axis.inner, k.node)
	}
	return fmt.Sprintf("%s %s [%d] scale %g zero point %d %s", op, dt, k.n, k.scale, k.zp, k.node)
}

func newI8AxisQuantKernel(l *lowering, n *ir.Node, q *i8AxisQuant, zt ir.DType, err error) (kernel, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Describe(), err)
	}
	c := l.c
	of := n.Input(1)
	tag := fmt.Sprintf("(axis=%d,dim=%d)", q.axis, q.dim)
	q.sw = c.weight(of, "i8_axis_scales"+tag, []int64{q.dim}, q.scales)
	if zv := n.Input(2); zv != nil {
		q.zw = c.weight(zv, "i8_axis_zps"+tag, []int64{q.dim}, q.zps)
	} else {
		q.zw = c.weight(of, "i8_axis_zps0"+tag, []int64{q.dim}, q.zps)
	}
	return &i8QuantKernel{node: nodeName(n), x: n.Inputs[0], out: n.Outputs[0], n: ir.NumElements(mustShape(n.Inputs[0])),
		signed: zt == ir.Int8, dequant: n.Op == "DequantizeLinear", lanes: int64(c.t.Lanes()), axis: q}, nil
}

// emitAxis is the per-axis kernel: one loop iteration per row of inner
// elements (outer index × channel), the channel's scale and zero point
// splat over the row.
func (k *i8QuantKernel) emitAxis(e *segEmitter) {
	q := k.axis
	b, ctx, begin, end := e.task("_quantaxis")
	xs := e.ptr(b, ctx, buf{v: k.x})
	ys := e.outPtr(b, ctx, k.out)
	sp, zp := e.ptr(b, ctx, buf{w: q.sw}), e.ptr(b, ctx, buf{w: q.zw})
	codes, fl := ys, xs
	if k.dequant {
		codes, fl = xs, ys
	}
	codes = b.cur.NewBitCast(codes, tI8P)
	L := k.lanes
	vend := q.inner / L * L
	b.loop(begin, end, 1, func(r value.Value) {
		ch := b.cur.NewSRem(r, ci(q.dim))
		s1, z1 := b.load(b.gepF(sp, ch), 1), b.load(b.gepF(zp, ch), 1)
		base := b.mul(r, ci(q.inner))
		one := func(j value.Value, w int) {
			i := b.add(base, j)
			s, z := b.splat(s1, w), b.splat(z1, w)
			cp := b.cur.NewBitCast(b.gep(types.I8, codes, i), types.NewPointer(i8VecT(w)))
			fp := b.gepF(fl, i)
			if k.dequant {
				ld := b.cur.NewLoad(i8VecT(w), cp)
				ld.Align = 1
				b.store(k.dequantizeWith(b, ld, s, z, w), fp, w)
				return
			}
			st := b.cur.NewStore(k.quantizeWith(b, b.load(fp, w), s, z, w), cp)
			st.Align = 1
		}
		b.loop(ci(0), ci(vend), L, func(j value.Value) { one(j, int(L)) })
		b.loop(ci(vend), ci(q.inner), 1, func(j value.Value) { one(j, 1) })
	})
	e.launch(b, k.n/q.inner, float64(4*k.n))
}

func (k *i8QuantKernel) emit(e *segEmitter, _ []int64) error {
	if k.axis != nil {
		k.emitAxis(e)
		return nil
	}
	b, ctx, begin, end := e.task("_quant")
	xs := e.ptr(b, ctx, buf{v: k.x})
	ys := e.outPtr(b, ctx, k.out)
	codes, fl := ys, xs
	if k.dequant {
		codes, fl = xs, ys
	}
	codes = b.cur.NewBitCast(codes, tI8P)
	L := k.lanes
	chunks := (k.n + k.chunkElems - 1) / k.chunkElems
	b.loop(begin, end, 1, func(t value.Value) {
		lo := b.mul(t, ci(k.chunkElems))
		hi := b.minI(b.add(lo, ci(k.chunkElems)), ci(k.n))
		vend := b.add(lo, b.mul(b.cur.NewSDiv(b.cur.NewSub(hi, lo), ci(L)), ci(L)))
		one := func(i value.Value, w int) {
			cp := b.cur.NewBitCast(b.gep(types.I8, codes, i), types.NewPointer(i8VecT(w)))
			fp := b.gepF(fl, i)
			if k.dequant {
				ld := b.cur.NewLoad(i8VecT(w), cp)
				ld.Align = 1
				b.store(k.dequantize(b, ld, w), fp, w)
				return
			}
			st := b.cur.NewStore(k.quantize(b, b.load(fp, w), w), cp)
			st.Align = 1
		}
		b.loop(lo, vend, L, func(i value.Value) { one(i, int(L)) })
		b.loop(vend, hi, 1, func(i value.Value) { one(i, 1) })
	})
	e.launch(b, chunks, float64(4*k.n))
	return nil
}

// quantize is the interpreter's QuantizeLinear: clamp(roundeven(x/s) + z)
// with NaN → 0, at width w, as 8-bit codes.
func (k *i8QuantKernel) quantize(b *fnb, x value.Value, w int) value.Value {
	return k.quantizeWith(b, x, constF(float64(k.scale), w), constF(float64(k.zp), w), w)
}

// quantizeWith is quantize with the scale s and zero point z (f32) given
// as values of width w.
func (k *i8QuantKernel) quantizeWith(b *fnb, x, s, z value.Value, w int) value.Value {
	lo, hi := 0.0, 255.0
	if k.signed {
		lo, hi = -128, 127
	}
	r := b.call1("llvm.rint", b.cur.NewFDiv(x, s), w)
	r = b.cur.NewFAdd(r, z)
	r = b.cur.NewSelect(b.cur.NewFCmp(enum.FPredUNO, r, r), constF(0, w), r)
	r = b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOLT, r, constF(lo, w)), constF(lo, w), r)
	r = b.cur.NewSelect(b.cur.NewFCmp(enum.FPredOGT, r, constF(hi, w)), constF(hi, w), r)
	return b.cur.NewTrunc(b.cur.NewFPToSI(r, i32T(w)), i8VecT(w))
}

// dequantize is (code − z)·s in float32.
func (k *i8QuantKernel) dequantize(b *fnb, c value.Value, w int) value.Value {
	var x value.Value
	zp := int64(k.zp)
	if k.signed {
		x = b.cur.NewSExt(c, i32T(w))
	} else {
		x = b.cur.NewZExt(c, i32T(w))
	}
	x = b.cur.NewSub(x, constI32V(zp, w))
	return b.cur.NewFMul(b.cur.NewSIToFP(x, vecT(w)), constF(float64(k.scale), w))
}

// dequantizeWith is (code − z)·s with the zero point z and scale s (f32)
// given as values of width w (code − z is an exact integer in float32).
func (k *i8QuantKernel) dequantizeWith(b *fnb, c, s, z value.Value, w int) value.Value {
	var x value.Value
	if k.signed {
		x = b.cur.NewSExt(c, i32T(w))
	} else {
		x = b.cur.NewZExt(c, i32T(w))
	}
	return b.cur.NewFMul(b.cur.NewFSub(b.cur.NewSIToFP(x, vecT(w)), z), s)
}

// i8VecT is i8 (w = 1) or <w x i8>.
func i8VecT(w int) types.Type {
	if w == 1 {
		return types.I8
	}
	return types.NewVector(uint64(w), types.I8)
}

// i8WeightScales returns the scale of every output column of an 8-bit
// quantized B (shape [K,N], or [N,K] when transB) that the int8 kernels
// compute on: signed symmetric codes, uniform with one scale per output
// channel or per tensor, or fixed point (scale 2^−FL); else the reason.
// Fixed point may have any word length up to 8 (AdaPT): its codes fit
// int8, and with a fixed-point activation (scale 2^−FL_a) the layer's
// rescale is the exact power of two 2^−(FL_w+FL_a).
func i8WeightScales(q *ir.Quantized, shape []int64, N int64, transB bool) ([]float32, string) {
	if q.Bits > 8 || (q.Bits != 8 && q.Scheme != ir.QuantFixed) || !q.Signed || q.ZeroPoints != nil || len(shape) != 2 {
		return nil, "not 8-bit signed symmetric codes (or fixed point of at most 8 bits) of a matrix"
	}
	if err := q.Validate(shape); err != nil {
		return nil, err.Error()
	}
	scales := make([]float32, N)
	switch q.Scheme {
	case ir.QuantFixed:
		for i := range scales {
			scales[i] = float32(math.Ldexp(1, -q.FracLength))
		}
		return scales, ""
	case ir.QuantUniform:
	default:
		return nil, fmt.Sprintf("%s scheme", q.Scheme)
	}
	if _, G, _, _ := q.QuantLayout(shape); G != 1 {
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

// i8SplatI32 broadcasts an i32 to w lanes.
func (b *fnb) i8SplatI32(x value.Value, w int) value.Value {
	vt := types.NewVector(uint64(w), tI32)
	v := b.cur.NewInsertElement(constant.NewUndef(vt), x, ci32(0))
	return b.cur.NewShuffleVector(v, constant.NewUndef(vt), constant.NewZeroInitializer(vt))
}

// i8Dot returns acc + Σ_{j<4} u[4i+j]·s[4i+j] in every i32 lane i, with u
// holding four unsigned bytes per lane and s four signed ones.
func (p i8Params) dot(b *fnb, acc, u, s value.Value) value.Value {
	L := int(p.lanes)
	vt := i32T(L)
	if p.vnni {
		f := b.mod.declare(fmt.Sprintf("llvm.x86.avx512.vpdpbusd.%d", 32*L), vt, vt, vt, vt)
		return b.cur.NewCall(f, acc, u, s)
	}
	if p.sdot {
		bt := i8VecT(4 * L)
		f := b.mod.declare(fmt.Sprintf("llvm.aarch64.neon.sdot.v%di32.v%di8", L, 4*L), vt, vt, bt, bt)
		return b.cur.NewCall(f, acc, b.cur.NewBitCast(u, bt), b.cur.NewBitCast(s, bt))
	}
	bt := i8VecT(4 * L)
	x := value.Value(b.cur.NewMul(b.cur.NewZExt(b.cur.NewBitCast(u, bt), i32T(4*L)), b.cur.NewSExt(b.cur.NewBitCast(s, bt), i32T(4*L))))
	for w := 4 * L; w > L; w /= 2 {
		ev, od := make([]constant.Constant, w/2), make([]constant.Constant, w/2)
		for i := range ev {
			ev[i], od[i] = ci32(int64(2*i)), ci32(int64(2*i+1))
		}
		mt := types.NewVector(uint64(w/2), tI32)
		undef := constant.NewUndef(types.NewVector(uint64(w), tI32))
		x = b.cur.NewAdd(b.cur.NewShuffleVector(x, undef, constant.NewVector(mt, ev...)), b.cur.NewShuffleVector(x, undef, constant.NewVector(mt, od...)))
	}
	return b.cur.NewAdd(acc, x)
}

// i8Tile is one int8 micro-kernel: C[mr × nr] = epi(scale ⊙ (X·Y − corr))
// with X the broadcast operand (mr rows of 4·K4 bytes, xStride apart) and
// Y a packed panel [K4][nr][4]. xUnsigned says X holds the activations
// (GEMM: X = A, Y = weights) rather than the weights (Conv: X = W, Y =
// im2col). corr and scale are per row (Conv) or per column (GEMM).
type i8Tile struct {
	p         i8Params
	gk        *gemmKernel // epilogue (epi, leaves)
	mr, K4    int64
	xStride   int64
	xUnsigned bool
	perRow    bool
	ldc       int64
	// nupes: Y is a panel of power_int nibbles decoded in the k loop
	// (gemm_nupes_i8.go, inRegister), not int8 bytes.
	nupes *nupesI8
}

// emit writes the micro-kernel
//
//	void uk(i8 *X, i8 *Y, float *C, i64 nc, i64 row, i64 col, i32 *corr,
//	        float *scale, float *leaf...)
//
// corr and scale point at the tile's first row (per row) or column; row
// and col locate the tile in the epilogue operands' 2-D view; nc < nr
// (the last panel) goes through a stack tile and scalar stores.
func (t i8Tile) emit(e *segEmitter, name string) *lir.Func {
	p, k := t.p, t.gk
	L := int(p.lanes)
	params := []*lir.Param{
		param("x", tI8P, true), param("y", tI8P, true), param("c", tF32P, true), param("nc", tI64, false),
		param("row", tI64, false), param("col", tI64, false), param("corr", types.NewPointer(tI32), true), param("scale", tF32P, true),
	}
	for i := range k.leaves {
		params = append(params, param(fmt.Sprintf("leaf%d", i), tF32P, false))
	}
	b := e.c.mod.newFunc(name, true, types.Void, params...)
	b.f.FuncAttrs = append(b.f.FuncAttrs, enum.FuncAttrNoInline)
	ps := b.f.Params
	X, Y, C, nc, row, col, corr, scale := ps[0], ps[1], ps[2], ps[3], ps[4], ps[5], ps[6], ps[7]
	leafP := make([]value.Value, len(k.leaves))
	for i := range leafP {
		leafP[i] = ps[8+i]
	}
	mr, nv := t.mr, p.nv
	Yw := b.cur.NewBitCast(Y, types.NewPointer(tI32))
	vt := types.NewVector(uint64(L), tI32)
	U := int64(1)
	switch {
	case mr == 1:
		U = 4
	case mr == 2:
		U = 2
	}
	A := int64(1) // accumulators per output vector
	if p.madd {
		A, U = 2, min(U, 2)
	}
	U = max(1, min(U, t.K4))
	nacc := mr * nv * A
	init := make([]value.Value, U*nacc)
	for i := range init {
		init[i] = constant.NewZeroInitializer(vt)
	}
	step := func(k4 value.Value, acc []value.Value) {
		yv := make([]value.Value, nv)
		var y16 [][2]value.Value
		var nib [2]value.Value
		if t.nupes != nil { // one lookup chunk per k4: low nibbles, then high
			nib[0], nib[1] = t.nupes.decodeChunk(b, b.gep(types.I8, Y, b.mul(k4, ci(t.nupes.w))))
		}
		for v := int64(0); v < nv; v++ {
			var ld value.Value
			if t.nupes != nil {
				ld = b.cur.NewBitCast(nib[v], vt)
			} else {
				l := b.cur.NewLoad(vt, b.cur.NewBitCast(b.gep(tI32, Yw, b.add(b.mul(k4, ci(p.nr)), ci(v*p.lanes))), types.NewPointer(vt)))
				l.Align = 4
				ld = l
			}
			yv[v] = ld
			if p.madd {
				y16 = append(y16, p.widen(b, ld, t.xUnsigned))
			}
		}
		for r := int64(0); r < mr; r++ {
			ptr := b.cur.NewBitCast(b.gep(types.I8, X, b.add(ci(r*t.xStride), b.mul(k4, ci(4)))), types.NewPointer(tI32))
			ld := b.cur.NewLoad(tI32, ptr)
			ld.Align = 1
			if p.madd {
				x16 := p.bcast16(b, ld, !t.xUnsigned)
				for v := int64(0); v < nv; v++ {
					for h := int64(0); h < 2; h++ {
						i := (r*nv+v)*2 + h
						acc[i] = b.cur.NewAdd(acc[i], p.maddWD(b, y16[v][h], x16))
					}
				}
				continue
			}
			xs := b.i8SplatI32(ld, L)
			for v := int64(0); v < nv; v++ {
				if t.xUnsigned {
					acc[r*nv+v] = p.dot(b, acc[r*nv+v], xs, yv[v])
				} else {
					acc[r*nv+v] = p.dot(b, acc[r*nv+v], yv[v], xs)
				}
			}
		}
	}
	kmain := t.K4 - t.K4%U
	accs := b.forLoop(ci(0), ci(kmain), U, init, func(k4 value.Value, c []value.Value) []value.Value {
		next := append([]value.Value(nil), c...)
		for u := int64(0); u < U; u++ {
			step(b.add(k4, ci(u)), next[u*nacc:(u+1)*nacc])
		}
		return next
	})
	acc := append([]value.Value(nil), accs[:nacc]...)
	if kmain < t.K4 {
		acc = b.forLoop(ci(kmain), ci(t.K4), 1, acc, func(k4 value.Value, c []value.Value) []value.Value {
			next := append([]value.Value(nil), c...)
			step(k4, next)
			return next
		})
	}
	for u := int64(1); u < U; u++ {
		for i := range acc {
			acc[i] = b.cur.NewAdd(acc[i], accs[u*nacc+int64(i)])
		}
	}
	if p.madd {
		// Column c's two pair sums are elements 2c, 2c+1 of lo‖hi.
		ev, od := make([]constant.Constant, L), make([]constant.Constant, L)
		for i := range ev {
			ev[i], od[i] = ci32(int64(2*i)), ci32(int64(2*i+1))
		}
		red := make([]value.Value, nacc/2)
		for i := range red {
			lo, hi := acc[2*i], acc[2*i+1]
			red[i] = b.cur.NewAdd(b.cur.NewShuffleVector(lo, hi, constant.NewVector(vt, ev...)), b.cur.NewShuffleVector(lo, hi, constant.NewVector(vt, od...)))
		}
		acc = red
	}
	// Integer correction, then the float scale: y = scale·(acc − corr).
	out := make([]value.Value, nacc)
	for r := int64(0); r < mr; r++ {
		for v := int64(0); v < nv; v++ {
			var cv, sv value.Value
			if t.perRow {
				cv = b.i8SplatI32(b.cur.NewLoad(tI32, b.gep(tI32, corr, ci(r))), L)
				sv = b.splat(b.load(b.gepF(scale, ci(r)), 1), L)
			} else {
				ptr := b.cur.NewBitCast(b.gep(tI32, corr, ci(v*p.lanes)), types.NewPointer(vt))
				ld := b.cur.NewLoad(vt, ptr)
				ld.Align = 4
				cv = ld
				sv = b.load(b.gepF(scale, ci(v*p.lanes)), L)
			}
			out[r*nv+v] = b.cur.NewFMul(b.cur.NewSIToFP(b.cur.NewSub(acc[r*nv+v], cv), vecT(L)), sv)
		}
	}
	hasEpi := !k.epi.isLeaf(0)
	leafVals := func(r, c value.Value, w int) []value.Value { return k.epiLeafVals(b, leafP, r, c, w) }
	b.ifElse(b.cur.NewICmp(enum.IPredEQ, nc, ci(p.nr)), func() {
		for r := int64(0); r < mr; r++ {
			for v := int64(0); v < nv; v++ {
				x := out[r*nv+v]
				if hasEpi {
					vals := leafVals(b.add(row, ci(r)), b.add(col, ci(v*p.lanes)), L)
					vals[0] = x
					x = b.emitExpr(k.epi, vals, L)
				}
				b.store(x, b.gepF(C, ci(r*t.ldc+v*p.lanes)), L)
			}
		}
	}, func() {
		tile := b.cur.NewBitCast(b.cur.NewAlloca(types.NewArray(uint64(mr*p.nr), tF32)), tF32P)
		for r := int64(0); r < mr; r++ {
			for v := int64(0); v < nv; v++ {
				b.store(out[r*nv+v], b.gepF(tile, ci(r*p.nr+v*p.lanes)), L)
			}
			b.loop(ci(0), nc, 1, func(j value.Value) {
				x := b.load(b.gepF(tile, b.add(ci(r*p.nr), j)), 1)
				if hasEpi {
					vals := leafVals(b.add(row, ci(r)), b.add(col, j), 1)
					vals[0] = x
					x = b.emitExpr(k.epi, vals, 1)
				}
				b.store(x, b.gepF(C, b.add(ci(r*t.ldc), j)), 1)
			})
		}
	})
	b.cur.NewRet(nil)
	return b.f
}

// i8PackPanels lays out the signed codes w(k, n) (K × N, through code)
// in panels [P][K4][nr][4], zero past K and N.
func i8PackPanels(K, N, nr int64, code func(k, n int64) int32) []byte {
	K4 := (K + 3) / 4
	P := (N + nr - 1) / nr
	out := make([]byte, P*K4*nr*4)
	for p := int64(0); p < P; p++ {
		for k := int64(0); k < K; k++ {
			for j := int64(0); j < nr && p*nr+j < N; j++ {
				out[((p*K4+k/4)*nr+j)*4+k%4] = byte(int8(code(k, p*nr+j)))
			}
		}
	}
	return out
}

// i8Corrections returns zp·Σ_k w(k, n) for n < N as little-endian int32
// bytes, zero up to padTo entries.
func i8Corrections(K, N, padTo int64, zp int32, code func(k, n int64) int32) []byte {
	out := make([]byte, 4*max(N, padTo))
	for n := int64(0); n < N; n++ {
		var s int32
		for k := int64(0); k < K; k++ {
			s += code(k, n)
		}
		binary.LittleEndian.PutUint32(out[4*n:], uint32(zp*s))
	}
	return out
}

// i8GemmKernel is MatMul/Gemm on 8-bit activation codes and a packed
// 8-bit constant B. The embedded gemmKernel carries the epilogue (Gemm's
// C, fused elementwise consumers) and absorbs consumers like the float
// GEMM.
type i8GemmKernel struct {
	*gemmKernel
	i8Layer
	packA bool // A is copied into rows of 4·K4 bytes (K%4 != 0, or int8 codes)
	// nupes: B holds power_int codes as nibbles, decoded through the int8
	// table per task and panel (gemm_nupes_i8.go); nil for 8-bit codes.
	nupes *nupesI8
}

// i8Layer is what the int8 GEMM and Conv kernels share: the activation
// codes, the packed weight codes, their int32 corrections and the float
// scales.
type i8Layer struct {
	ip     i8Params
	act    *i8Act
	K4     int64
	w      *Weight
	corr   *Weight
	scales *Weight
}

// flip says whether the activation codes are xor-ed with 0x80 on their
// way into the kernel: int8 codes into the unsigned domain (vpdpbusd,
// pmaddwd, the portable path), or uint8 codes into the signed one (sdot).
func (q *i8Layer) flip() bool { return q.act.signed != q.ip.sdot }

// zpK is the activation zero point in the kernel's domain.
func (q *i8Layer) zpK() int32 {
	if q.ip.sdot {
		return q.act.zp - 128
	}
	return q.act.zp
}

// bufs are the buffers an int8 kernel reads.
func (q *i8Layer) bufs(leaves []gemmLeaf) []buf {
	bufs := []buf{{v: q.act.q}, {w: q.w}, {w: q.corr}, {w: q.scales}}
	for _, lf := range leaves {
		bufs = append(bufs, lf.b)
	}
	return bufs
}

// describeI8 is a kernel description: head, then the common part.
func (q *i8Layer) describeI8(head string, gk *gemmKernel) string {
	dom := "u8"
	if q.ip.sdot {
		dom = "s8"
	}
	s := fmt.Sprintf("%s (%s activations zp %d, int32 accumulators", head, dom, q.zpK())
	switch {
	case q.ip.sdot:
		s += ", sdot"
	case q.ip.vnni:
		s += ", vpdpbusd"
	case q.ip.madd:
		s += ", pmaddwd"
	}
	s += fmt.Sprintf(", tile %dx%d) %s", q.ip.mr, q.ip.nr, gk.node)
	if !gk.epi.isLeaf(0) {
		s += " epilogue " + gk.epi.String()
	}
	return s
}

// i8Calls emits the int8 micro-kernels (full height, and the remainder
// when rows % mr != 0) and returns a function that, inside a task, calls
// them over rows [i0, i1) × columns [j0, j1) (of N) in tiles of mr × nr;
// args gives the arguments of the tile at row i, panel column jp, with
// ncol columns.
func (t i8Tile) calls(e *segEmitter, rows, N int64) func(b *fnb, i0, i1, j0, j1 value.Value, args func(i, jp, ncol value.Value) []value.Value) {
	p := t.p
	full := t.emit(e, e.kname+"_uk")
	var rem *lir.Func
	if r := rows % p.mr; r != 0 {
		t.mr = r
		rem = t.emit(e, fmt.Sprintf("%s_uk%d", e.kname, r))
	}
	return func(b *fnb, i0, i1, j0, j1 value.Value, args func(i, jp, ncol value.Value) []value.Value) {
		fullEnd := b.add(i0, b.mul(b.cur.NewSDiv(b.cur.NewSub(i1, i0), ci(p.mr)), ci(p.mr)))
		b.loop(j0, j1, p.nr, func(jp value.Value) {
			ncol := b.minI(ci(p.nr), b.cur.NewSub(ci(N), jp))
			b.loop(i0, fullEnd, p.mr, func(i value.Value) { b.cur.NewCall(full, args(i, jp, ncol)...) })
			if rem != nil {
				b.ifThen(b.cur.NewICmp(enum.IPredSLT, fullEnd, i1), func() { b.cur.NewCall(rem, args(fullEnd, jp, ncol)...) })
			}
		})
	}
}

// i8Block returns task t's rows [i0, i1) of M and columns [j0, j1) of N
// in blocks of mc × nc (nNC column blocks).
func i8Block(b *fnb, t value.Value, M, N, mc, nc int64) (i0, i1, j0, j1 value.Value) {
	nNC := (N + nc - 1) / nc
	i0 = b.mul(b.cur.NewSDiv(t, ci(nNC)), ci(mc))
	i1 = b.minI(b.add(i0, ci(mc)), ci(M))
	j0 = b.mul(b.cur.NewSRem(t, ci(nNC)), ci(nc))
	j1 = b.minI(b.add(j0, ci(nc)), ci(N))
	return
}

// ptrsI8 loads, in a task, the pointers of the corrections, scales and
// epilogue leaves.
func (q *i8Layer) ptrsI8(e *segEmitter, b *fnb, ctx value.Value, leaves []gemmLeaf) (corr, scl value.Value, lv []value.Value) {
	corr = b.cur.NewBitCast(e.ptr(b, ctx, buf{w: q.corr}), types.NewPointer(tI32))
	scl = e.ptr(b, ctx, buf{w: q.scales})
	for _, lf := range leaves {
		lv = append(lv, e.ptr(b, ctx, lf.b))
	}
	return corr, scl, lv
}

func i8TryGemm(l *lowering, n *ir.Node) (kernel, bool, error) {
	act, ok := i8ActOf(n.Inputs[0])
	if !ok || l.alias[n.Inputs[0]] == nil {
		return nil, false, nil // the DequantizeLinear was not made a view
	}
	scales, transB, err := i8GemmForm(n)
	if err != nil {
		return nil, false, nil
	}
	c := l.c
	out := n.Outputs[0]
	os, _ := concreteShape(out)
	as, _ := concreteShape(n.Inputs[0])
	bv := n.Inputs[1]
	bs, _ := concreteShape(bv)
	q := bv.Const.Enc.(*ir.Quantized)
	gk := &gemmKernel{node: nodeName(n), out: out, outShape: os, p: c.gemmParams(), epi: leafExpr(0)}
	gk.K = as[len(as)-1]
	gk.M = ir.NumElements(as[:len(as)-1])
	gk.N = bs[1]
	if transB {
		gk.N = bs[0]
	}
	k := &i8GemmKernel{gemmKernel: gk, i8Layer: i8Layer{ip: c.i8Params(), act: act}}
	k.K4 = (gk.K + 3) / 4
	k.packA = gk.K%4 != 0 || k.flip()
	alpha, beta := float32(1), 1.0
	if n.Op == "Gemm" {
		alpha, beta = n.AttrFloat("alpha", 1), float64(n.AttrFloat("beta", 1))
	}
	K, N, nr := gk.K, gk.N, k.ip.nr
	codes := q.UnpackCodes(int(K * N))
	code := func(kk, nn int64) int32 {
		if transB {
			return codes[nn*K+kk]
		}
		return codes[kk*N+nn]
	}
	P := (N + nr - 1) / nr
	wcode := code // the int8 weight the kernel multiplies
	if q.Scheme == ir.QuantPowerInt {
		if k.nupes = c.nupesI8Plan(q, k.K4, nr); k.nupes == nil {
			return nil, false, fmt.Errorf("%s: a decoded panel of B (K = %d, nr = %d) exceeds the stack buffer", n.Describe(), K, nr)
		}
		wcode = func(kk, nn int64) int32 { return k.nupes.value(code(kk, nn)) }
		k.w = c.rawWeight(bv, fmt.Sprintf("packed_b_nupes_i8(nr=%d,k=%d,n=%d,trans=%d,w=%d)", nr, K, N, b2i(transB), k.nupes.w), "U8", bs, k.nupes.pack(K, N, nr, code))
	} else {
		k.w = c.rawWeight(bv, fmt.Sprintf("packed_b_i8(nr=%d,k=%d,n=%d,trans=%d)", nr, K, N, b2i(transB)), "I8", bs, i8PackPanels(K, N, nr, code))
	}
	corrTag := fmt.Sprintf("zp=%d,n=%d,nr=%d", act.zp, N, nr)
	if k.nupes != nil {
		corrTag += ",power_int"
	}
	k.corr = c.rawWeight(bv, "i8_col_corr_i32("+corrTag+")", "I8", []int64{N}, i8Corrections(K, N, P*nr, k.zpK(), wcode))
	sc := make([]float32, P*nr)
	for i := int64(0); i < N; i++ {
		sc[i] = act.scale * scales[i] * alpha
	}
	k.scales = c.weight(bv, fmt.Sprintf("i8_col_scales(sa=%g,alpha=%g,n=%d,nr=%d)", act.scale, alpha, N, nr), []int64{N}, sc)
	if cv := n.Input(2); cv != nil && beta != 0 {
		arg, ok, err := gk.operand(c, cv, beta)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return nil, false, fmt.Errorf("C does not broadcast to the output")
		}
		gk.epi = &expr{op: "Add", args: []*expr{gk.epi, arg}}
	}
	return k, true, nil
}

func (k *i8GemmKernel) inputs() []buf { return k.bufs(k.leaves) }

func (k *i8GemmKernel) temps() []int64 {
	if k.packA {
		return []int64{k.M*k.K4*4 + 64}
	}
	return nil
}

func (k *i8GemmKernel) describe() string {
	head := fmt.Sprintf("gemm i8 %dx%dx%d", k.M, k.N, k.K)
	if k.nupes != nil {
		d := k.nupes.describe()
		if k.nupesInReg() {
			d = strings.Replace(d, "per panel", "in the k loop", 1)
		}
		head += " (" + d + ")"
	}
	return k.describeI8(head, k.gemmKernel)
}

// i8Blocks cuts rows into blocks of 8 tiles and columns into blocks of
// whole panels, narrowed until there are at least gemmMinTasks tasks
// when the matrix allows.
func i8Blocks(M, N, mr, nr int64) (mc, nc int64) {
	mc = mr * 8
	nc = nr * 8
	nMC := (M + mc - 1) / mc
	for nMC*((N+nc-1)/nc) < gemmMinTasks && nc > nr {
		nc = (nc/2 + nr - 1) / nr * nr
	}
	return mc, nc
}

// i8PackRows copies row t of K codes (src, row stride K) into a row of
// 4·K4 bytes at dst, flipping the codes' domain (x ^ 0x80) when flip is
// set and zero-filling past K.
func i8PackRows(b *fnb, t, src, dst value.Value, K, K4 int64, flip bool) {
	s := b.gep(types.I8, src, b.mul(t, ci(K)))
	d := b.gep(types.I8, dst, b.mul(t, ci(4*K4)))
	b.loop(ci(0), ci(4*K4), 1, func(kk value.Value) {
		in := b.cur.NewICmp(enum.IPredSLT, kk, ci(K))
		x := value.Value(b.cur.NewLoad(types.I8, b.gep(types.I8, s, b.minI(kk, ci(K-1)))))
		if flip {
			x = b.cur.NewXor(x, constant.NewInt(types.I8, -128))
		}
		b.cur.NewStore(b.cur.NewSelect(in, x, constant.NewInt(types.I8, 0)), b.gep(types.I8, d, kk))
	})
}

func (k *i8GemmKernel) emit(e *segEmitter, temps []int64) error {
	p := k.ip
	A := func(b *fnb, ctx value.Value) value.Value {
		return b.cur.NewBitCast(e.ptr(b, ctx, buf{v: k.act.q}), tI8P)
	}
	xStride := k.K
	if k.packA {
		b, ctx, begin, end := e.task("_packa")
		dst := b.cur.NewBitCast(e.tempPtr(b, ctx, temps[0]), tI8P)
		src := A(b, ctx)
		b.loop(begin, end, 1, func(t value.Value) { i8PackRows(b, t, src, dst, k.K, k.K4, k.flip()) })
		e.launch(b, k.M, float64(k.M*k.K))
		xStride = 4 * k.K4
	}
	tile := i8Tile{p: p, gk: k.gemmKernel, mr: p.mr, K4: k.K4, xStride: xStride, xUnsigned: true, ldc: k.N}
	// One row tile (M ≤ mr): decode B in the micro-kernel's k loop
	// instead of through a stack panel.
	inReg := k.nupesInReg()
	if inReg {
		tile.nupes = k.nupes
	}
	calls := tile.calls(e, k.M, k.N)
	mc, nc := i8Blocks(k.M, k.N, p.mr, p.nr)
	nMC, nNC := (k.M+mc-1)/mc, (k.N+nc-1)/nc
	b, ctx, begin, end := e.task("_gemm")
	X := A(b, ctx)
	if k.packA {
		X = b.cur.NewBitCast(e.tempPtr(b, ctx, temps[0]), tI8P)
	}
	Y := b.cur.NewBitCast(e.ptr(b, ctx, buf{w: k.w}), tI8P)
	corr, scl, leaves := k.ptrsI8(e, b, ctx, k.leaves)
	C := e.outPtr(b, ctx, k.out)
	var panel value.Value
	if k.nupes != nil && !inReg {
		panel = k.nupes.buffer(b)
	}
	b.loop(begin, end, 1, func(t value.Value) {
		i0, i1, j0, j1 := i8Block(b, t, k.M, k.N, mc, nc)
		args := func(i, jp, ncol value.Value) []value.Value {
			yp := panel
			switch {
			case inReg:
				yp = b.gep(types.I8, Y, b.mul(b.cur.NewSDiv(jp, ci(p.nr)), ci(k.nupes.panel/2)))
			case yp == nil:
				yp = b.gep(types.I8, Y, b.mul(b.cur.NewSDiv(jp, ci(p.nr)), ci(k.K4*p.nr*4)))
			}
			return append([]value.Value{b.gep(types.I8, X, b.mul(i, ci(xStride))), yp, b.gepF(C, b.add(b.mul(i, ci(k.N)), jp)),
				ncol, i, jp, b.gep(tI32, corr, jp), b.gepF(scl, jp)}, leaves...)
		}
		if k.nupes == nil || inReg {
			calls(b, i0, i1, j0, j1, args)
			return
		}
		// Decode each panel once for all the task's row tiles.
		b.loop(j0, j1, p.nr, func(jp value.Value) {
			src := b.gep(types.I8, Y, b.mul(b.cur.NewSDiv(jp, ci(p.nr)), ci(k.nupes.panel/2)))
			k.nupes.emitDecode(b, src, panel)
			calls(b, i0, i1, jp, b.minI(b.add(jp, ci(p.nr)), j1), args)
		})
	})
	e.launch(b, nMC*nNC, 2*float64(k.M*k.N*k.K)/4)
	return nil
}

func init() {
	for _, op := range []string{"QuantizeLinear", "DequantizeLinear"} {
		registerLowering(op, &opLowering{inputs: firstInput, ownTypes: true, check: i8QuantCheck, lower: newI8QuantKernel})
	}
	registerPreLowering("MatMul", i8TryGemm)
	registerPreLowering("Gemm", i8TryGemm)
}
