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

// int8 Conv: the im2col GEMM of conv.go on 8-bit codes (gemm_i8.go has
// the arithmetic). Per image,
//
//	out[m][p] = s_a·s_m · (Σ_k W[m][k]·col[k][p] − z_a·Σ_k W[m][k]) + bias[m]
//
// with W the signed weight codes, stored [M][4·K4] (the micro-kernel's
// broadcast operand), and col the unsigned activation codes, written at
// run time into panels [P][K4][nr][4] (the vector operand) from a copy of
// the input planes padded with z_a (the code of 0.0, so padding adds
// nothing after the correction). The im2col step gathers one 32-bit word
// per column at each (c, kh, kw) and keeps its low byte, four k per lane.

// i8ConvForm checks a Conv for the int8 kernel and returns the
// per-output-channel weight scales.
func i8ConvForm(n *ir.Node) ([]float32, error) {
	if _, ok := i8ActOf(n.Inputs[0]); !ok {
		return nil, fmt.Errorf("X is not a per-tensor DequantizeLinear")
	}
	if len(n.Inputs) < 2 || len(n.Inputs) > 3 {
		return nil, fmt.Errorf("Conv with %d inputs", len(n.Inputs))
	}
	wv := n.Inputs[1]
	if wv == nil || wv.Const == nil || wv.Const.DType != ir.Float32 {
		return nil, fmt.Errorf("weight is not a constant")
	}
	q, ok := wv.Const.Enc.(*ir.Quantized)
	if !ok || q.Bits != 8 {
		return nil, fmt.Errorf("weight is not 8-bit quantized")
	}
	if bv := n.Input(2); bv != nil && (bv.Const == nil || bv.Const.DType != ir.Float32) {
		return nil, fmt.Errorf("bias is not an f32 constant")
	}
	g, err := convGeometry(n)
	if err != nil {
		return nil, err
	}
	if g.group != 1 {
		return nil, fmt.Errorf("grouped Conv")
	}
	K := g.C * g.KH * g.KW
	scales, why := i8WeightScales(q, []int64{g.M, K}, g.M, true)
	if scales == nil {
		return nil, fmt.Errorf("%s", why)
	}
	return scales, nil
}

// i8ConvKernel is Conv on 8-bit codes. The embedded convKernel (built
// without a float weight) supplies the geometry, the epilogue and its
// absorb rule.
type i8ConvKernel struct {
	*convKernel
	ip     i8Params
	act    *i8Act
	K4     int64
	w      *Weight
	corr   *Weight
	scales *Weight
}

func i8TryConv(l *lowering, n *ir.Node) (kernel, bool, error) {
	act, ok := i8ActOf(n.Inputs[0])
	if !ok || l.alias[n.Inputs[0]] == nil {
		return nil, false, nil
	}
	scales, err := i8ConvForm(n)
	if err != nil {
		return nil, false, nil
	}
	c := l.c
	g, _ := convGeometry(n)
	wv := n.Inputs[1]
	K := g.C * g.KH * g.KW
	gk := &gemmKernel{node: nodeName(n), out: n.Outputs[0], p: c.gemmParams(), M: g.M, N: g.OH * g.OW, K: K,
		outShape: []int64{g.Nb * g.M, g.OH * g.OW}, epi: leafExpr(0)}
	if bv := n.Input(2); bv != nil {
		bias, _, err := constF32(bv)
		if err != nil {
			return nil, false, err
		}
		rep := make([]float32, 0, g.Nb*g.M)
		for b := int64(0); b < g.Nb; b++ {
			rep = append(rep, bias...)
		}
		w := c.weight(bv, fmt.Sprintf("conv_bias(batch=%d)", g.Nb), []int64{g.Nb * g.M}, rep)
		gk.leaves = append(gk.leaves, gemmLeaf{b: buf{w: w}, rs: 1, cs: 0})
		gk.epi = &expr{op: "Add", args: []*expr{gk.epi, leafExpr(1)}}
	}
	k := &i8ConvKernel{convKernel: &convKernel{gemmKernel: gk, g: g, x: act.q}, ip: c.i8Params(), act: act, K4: (K + 3) / 4}
	ws, _ := concreteShape(wv)
	codes := wv.Const.Enc.(*ir.Quantized).UnpackCodes(int(g.M * K))
	code := func(kk, m int64) int32 { return codes[m*K+kk] }
	// W rows of 4·K4 bytes: the transpose of a one-column panel layout.
	rows := make([]byte, g.M*k.K4*4)
	for m := int64(0); m < g.M; m++ {
		for kk := int64(0); kk < K; kk++ {
			rows[m*k.K4*4+kk] = byte(int8(code(kk, m)))
		}
	}
	mp := (g.M + k.ip.mr - 1) / k.ip.mr * k.ip.mr
	k.w = c.rawWeight(wv, fmt.Sprintf("conv_w_i8(m=%d,k=%d)", g.M, K), "I8", ws, rows)
	k.corr = c.rawWeight(wv, fmt.Sprintf("i8_row_corr_i32(zp=%d,m=%d)", act.zp, g.M), "I8", []int64{g.M}, i8Corrections(K, g.M, mp, act.zp, code))
	sc := make([]float32, mp)
	for m := int64(0); m < g.M; m++ {
		sc[m] = act.scale * scales[m]
	}
	k.scales = c.weight(wv, fmt.Sprintf("i8_row_scales(sa=%g,m=%d)", act.scale, g.M), []int64{g.M}, sc)
	return k, true, nil
}

func (k *i8ConvKernel) inputs() []buf {
	bufs := []buf{{v: k.act.q}, {w: k.w}, {w: k.corr}, {w: k.scales}}
	for _, lf := range k.leaves {
		bufs = append(bufs, lf.b)
	}
	return bufs
}

// i8Plane is the padded input plane's size (rows × cols, covering every
// position the output grid reads).
func (k *i8ConvKernel) i8Plane() (rows, cols int64) {
	g := k.g
	rows = max((g.OH-1)*g.sh+(g.KH-1)*g.dh+1, g.H+g.ph)
	cols = max((g.OW-1)*g.sw+(g.KW-1)*g.dw+1, g.W+g.pw)
	return rows, cols
}

func (k *i8ConvKernel) panelsI8() int64 { return (k.N + k.ip.nr - 1) / k.ip.nr }

func (k *i8ConvKernel) temps() []int64 {
	rows, cols := k.i8Plane()
	g := k.g
	// The gathers read 4 bytes at the last position: 64 bytes of slack.
	return []int64{g.Nb*g.C*rows*cols + 64, g.Nb * k.panelsI8() * k.K4 * k.ip.nr * 4}
}

func (k *i8ConvKernel) describe() string {
	g := k.g
	s := fmt.Sprintf("conv i8 %dx%d s%dx%d d%dx%d im2col-gemm %dx%dx%d batch %d (u8 activations zp %d, int32 accumulators", g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, k.M, k.N, k.K, g.Nb, k.act.zp)
	if k.ip.vnni {
		s += ", vpdpbusd"
	}
	s += fmt.Sprintf(", tile %dx%d) %s", k.ip.mr, k.ip.nr, k.node)
	if !k.epi.isLeaf(0) {
		s += " epilogue " + k.epi.String()
	}
	return s
}

// emitPadI8 copies the codes into zero-point-padded planes (int8 codes
// flipped to the unsigned domain). One task per (image, channel).
func (k *i8ConvKernel) emitPadI8(e *segEmitter, off int64) {
	g := k.g
	rows, cols := k.i8Plane()
	b, ctx, begin, end := e.task("_padi8")
	src0 := b.cur.NewBitCast(e.ptr(b, ctx, buf{v: k.act.q}), tI8P)
	dst0 := b.cur.NewBitCast(e.tempPtr(b, ctx, off), tI8P)
	zp := constant.NewInt(types.I8, int64(int8(uint8(k.act.zp))))
	b.loop(begin, end, 1, func(t value.Value) {
		src := b.gep(types.I8, src0, b.mul(t, ci(g.H*g.W)))
		dst := b.gep(types.I8, dst0, b.mul(t, ci(rows*cols)))
		b.loop(ci(0), ci(rows), 1, func(r value.Value) {
			ih := b.cur.NewSub(r, ci(g.ph))
			rowOK := b.cur.NewICmp(enum.IPredULT, ih, ci(g.H))
			srow := b.gep(types.I8, src, b.mul(b.cur.NewSelect(rowOK, ih, ci(0)), ci(g.W)))
			drow := b.gep(types.I8, dst, b.mul(r, ci(cols)))
			b.loop(ci(0), ci(cols), 1, func(q value.Value) {
				iw := b.cur.NewSub(q, ci(g.pw))
				ok := b.cur.NewAnd(rowOK, b.cur.NewICmp(enum.IPredULT, iw, ci(g.W)))
				x := value.Value(b.cur.NewLoad(types.I8, b.gep(types.I8, srow, b.cur.NewSelect(ok, iw, ci(0)))))
				if k.act.signed {
					x = b.cur.NewXor(x, constant.NewInt(types.I8, -128))
				}
				b.cur.NewStore(b.cur.NewSelect(ok, x, zp), b.gep(types.I8, drow, q))
			})
		})
	})
	e.launch(b, g.Nb*g.C, float64(g.Nb*g.C*rows*cols))
}

// emitIm2colI8 writes the panels: lane j of word (k4, j) of panel pi of
// image bi holds col[4·k4 + i][pi·nr + j] in byte i (zero past K; columns
// past N repeat column N−1, whose outputs are never stored). One task
// per (image, panel).
func (k *i8ConvKernel) emitIm2colI8(e *segEmitter, planeOff, off int64) {
	g, p := k.g, k.ip
	rows, cols := k.i8Plane()
	nr := int(p.nr)
	P := k.panelsI8()
	b, ctx, begin, end := e.task("_im2coli8")
	src0 := b.cur.NewBitCast(e.tempPtr(b, ctx, planeOff), tI8P)
	dst0 := b.cur.NewBitCast(e.tempPtr(b, ctx, off), types.NewPointer(tI32))
	i64v := types.NewVector(uint64(nr), tI64)
	i32v := types.NewVector(uint64(nr), tI32)
	pv := types.NewVector(uint64(nr), types.NewPointer(tI32))
	lanes := make([]constant.Constant, nr)
	ones := make([]constant.Constant, nr)
	for j := range lanes {
		lanes[j] = ci(int64(j))
		ones[j] = constant.True
	}
	splat64 := func(x value.Value) value.Value {
		v := b.cur.NewInsertElement(constant.NewUndef(i64v), x, ci32(0))
		return b.cur.NewShuffleVector(v, constant.NewUndef(i64v), constant.NewZeroInitializer(i32v))
	}
	c64 := func(x int64) value.Value { return splat64(ci(x)) }
	gather := b.mod.declare(fmt.Sprintf("llvm.masked.gather.v%di32.v%dp0i32", nr, nr), i32v, pv, tI32, types.NewVector(uint64(nr), types.I1), i32v)
	mask := constant.NewVector(types.NewVector(uint64(nr), types.I1), ones...)
	KK := g.KH * g.KW
	b.loop(begin, end, 1, func(t value.Value) {
		bi := b.cur.NewSDiv(t, ci(P))
		pi := b.cur.NewSRem(t, ci(P))
		src := b.cur.NewPtrToInt(b.gep(types.I8, src0, b.mul(bi, ci(g.C*rows*cols))), tI64)
		dst := b.gep(tI32, dst0, b.mul(t, ci(k.K4*p.nr)))
		cc := value.Value(b.cur.NewAdd(splat64(b.mul(pi, ci(p.nr))), constant.NewVector(i64v, lanes...)))
		last := c64(k.N - 1)
		cc = b.cur.NewSelect(b.cur.NewICmp(enum.IPredSLT, cc, last), cc, last)
		oh := b.cur.NewSDiv(cc, c64(g.OW))
		ow := b.cur.NewSRem(cc, c64(g.OW))
		base := b.cur.NewAdd(splat64(src), b.cur.NewAdd(b.cur.NewMul(oh, c64(g.sh*cols)), b.cur.NewMul(ow, c64(g.sw))))
		b.loop(ci(0), ci(k.K4), 1, func(k4 value.Value) {
			word := value.Value(constant.NewZeroInitializer(i32v))
			for i := int64(0); i < 4; i++ {
				kk := b.add(b.mul(k4, ci(4)), ci(i))
				ok := b.cur.NewICmp(enum.IPredSLT, kk, ci(k.K))
				kc := b.cur.NewSelect(ok, kk, ci(0))
				ch := b.cur.NewSDiv(kc, ci(KK))
				r := b.cur.NewSRem(kc, ci(KK))
				koff := b.add(b.add(b.mul(ch, ci(rows*cols)), b.mul(b.cur.NewSDiv(r, ci(g.KW)), ci(g.dh*cols))), b.mul(b.cur.NewSRem(r, ci(g.KW)), ci(g.dw)))
				ptrs := b.cur.NewIntToPtr(b.cur.NewAdd(base, splat64(koff)), pv)
				x := value.Value(b.cur.NewCall(gather, ptrs, ci32(1), mask, constant.NewUndef(i32v)))
				x = b.cur.NewAnd(x, constI32V(0xff, nr))
				if i > 0 {
					x = b.cur.NewShl(x, constI32V(8*i, nr))
				}
				x = b.cur.NewSelect(ok, x, constant.NewZeroInitializer(i32v))
				word = b.cur.NewOr(word, x)
			}
			st := b.cur.NewStore(word, b.cur.NewBitCast(b.gep(tI32, dst, b.mul(k4, ci(p.nr))), types.NewPointer(i32v)))
			st.Align = 4
		})
	})
	e.launch(b, g.Nb*P, float64(g.Nb*k.K*k.N))
}

func (k *i8ConvKernel) emit(e *segEmitter, temps []int64) error {
	g, p := k.g, k.ip
	k.emitPadI8(e, temps[0])
	k.emitIm2colI8(e, temps[0], temps[1])
	tile := i8Tile{p: p, gk: k.gemmKernel, mr: p.mr, K4: k.K4, xStride: 4 * k.K4, perRow: true, ldc: k.N}
	full := tile.emit(e, e.kname+"_uk")
	var rem *lir.Func
	if r := k.M % p.mr; r != 0 {
		tile.mr = r
		rem = tile.emit(e, fmt.Sprintf("%s_uk%d", e.kname, r))
	}
	P := k.panelsI8()
	mc, nc := i8Blocks(k.M, k.N*g.Nb, p.mr, p.nr)
	nMC, nNC := (k.M+mc-1)/mc, (k.N+nc-1)/nc
	per := nMC * nNC
	b, ctx, begin, end := e.task("_gemm")
	X := b.cur.NewBitCast(e.ptr(b, ctx, buf{w: k.w}), tI8P)
	Y0 := b.cur.NewBitCast(e.tempPtr(b, ctx, temps[1]), tI8P)
	corr := b.cur.NewBitCast(e.ptr(b, ctx, buf{w: k.corr}), types.NewPointer(tI32))
	scl := e.ptr(b, ctx, buf{w: k.scales})
	C0 := e.outPtr(b, ctx, k.out)
	leaves := make([]value.Value, len(k.leaves))
	for i, lf := range k.leaves {
		leaves[i] = e.ptr(b, ctx, lf.b)
	}
	b.loop(begin, end, 1, func(t value.Value) {
		bi := b.cur.NewSDiv(t, ci(per))
		t = b.cur.NewSRem(t, ci(per))
		Y := b.gep(types.I8, Y0, b.mul(bi, ci(P*k.K4*p.nr*4)))
		C := b.gepF(C0, b.mul(bi, ci(k.M*k.N)))
		rowBase := b.mul(bi, ci(k.M))
		i0 := b.mul(b.cur.NewSDiv(t, ci(nNC)), ci(mc))
		i1 := b.minI(b.add(i0, ci(mc)), ci(k.M))
		j0 := b.mul(b.cur.NewSRem(t, ci(nNC)), ci(nc))
		j1 := b.minI(b.add(j0, ci(nc)), ci(k.N))
		fullEnd := b.add(i0, b.mul(b.cur.NewSDiv(b.cur.NewSub(i1, i0), ci(p.mr)), ci(p.mr)))
		b.loop(j0, j1, p.nr, func(jp value.Value) {
			ncol := b.minI(ci(p.nr), b.cur.NewSub(ci(k.N), jp))
			yp := b.gep(types.I8, Y, b.mul(b.cur.NewSDiv(jp, ci(p.nr)), ci(k.K4*p.nr*4)))
			call := func(f *lir.Func, m value.Value) {
				args := []value.Value{b.gep(types.I8, X, b.mul(m, ci(4*k.K4))), yp, b.gepF(C, b.add(b.mul(m, ci(k.N)), jp)),
					ncol, b.add(rowBase, m), jp, b.gep(tI32, corr, m), b.gepF(scl, m)}
				b.cur.NewCall(f, append(args, leaves...)...)
			}
			b.loop(i0, fullEnd, p.mr, func(m value.Value) { call(full, m) })
			if rem != nil {
				b.ifThen(b.cur.NewICmp(enum.IPredSLT, fullEnd, i1), func() { call(rem, fullEnd) })
			}
		})
	})
	e.launch(b, g.Nb*per, 2*float64(g.Nb*k.M*k.N*k.K)/4)
	return nil
}

func init() {
	registerPreLowering("Conv", i8TryConv)
}
