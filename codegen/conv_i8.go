package codegen

import (
	"fmt"

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
// run time into panels [P][K4][nr][4] (the vector operand). The reduction
// index runs over (channel group of 4, kh, kw, channel in group), so one
// 32-bit lane holds four channels of one input pixel: the input codes are
// first copied into planes of 4 interleaved channels, [C4/4][rows][cols]
// [4], padded with z_a (the code of 0.0: padding adds nothing after the
// correction; channels past C have zero weights), and the im2col step is
// then one 32-bit gather per (k4, column).

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
	if !ok || q.Bits > 8 {
		return nil, fmt.Errorf("weight is not quantized to at most 8 bits")
	}
	if bv := n.Input(2); bv != nil && (bv.Const == nil || bv.Const.DType != ir.Float32) {
		return nil, fmt.Errorf("bias is not an f32 constant")
	}
	g, err := convGeometry(n)
	if err != nil {
		return nil, err
	}
	if g.group != 1 {
		return i8GroupConvScales(q, g) // conv_dw_i8.go: the direct kernel
	}
	K := g.C * g.KH * g.KW
	if K > i8MaxK {
		return nil, fmt.Errorf("K = %d could overflow the int32 accumulators", K)
	}
	var scales []float32
	var why string
	if q.Scheme == ir.QuantPowerInt { // gemm_nupes_i8.go
		if scales, why = nupesI8Scales(q, []int64{g.M, K}, g.M, true); scales != nil && !nupesI8ConvFits(K) {
			scales, why = nil, fmt.Sprintf("K = %d: a decoded block of filter rows would not fit the stack buffer", K)
		}
	} else {
		scales, why = i8WeightScales(q, []int64{g.M, K}, g.M, true)
	}
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
	i8Layer
	// nupes: the filter holds power_int codes as nibbles of its rows,
	// decoded per task (gemm_nupes_i8.go); nil for 8-bit codes.
	nupes *nupesI8
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
	if g.group != 1 {
		return newI8GroupConvKernel(l, n, act, g, scales)
	}
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
	CG := (g.C + 3) / 4
	k := &i8ConvKernel{convKernel: &convKernel{gemmKernel: gk, g: g, x: act.q}, i8Layer: i8Layer{ip: c.i8Params(), act: act, K4: CG * g.KH * g.KW}}
	ws, _ := concreteShape(wv)
	codes := wv.Const.Enc.(*ir.Quantized).UnpackCodes(int(g.M * K))
	code := func(kk, m int64) int32 { return codes[m*K+kk] }
	// W rows of 4·K4 bytes in the (group, kh, kw, channel in group) order.
	rows := make([]byte, g.M*k.K4*4)
	for m := int64(0); m < g.M; m++ {
		for ch := int64(0); ch < g.C; ch++ {
			for kh := int64(0); kh < g.KH; kh++ {
				for kw := int64(0); kw < g.KW; kw++ {
					at := (((ch/4)*g.KH+kh)*g.KW+kw)*4 + ch%4
					rows[m*k.K4*4+at] = byte(int8(code((ch*g.KH+kh)*g.KW+kw, m)))
				}
			}
		}
	}
	mp := (g.M + k.ip.mr - 1) / k.ip.mr * k.ip.mr
	corrTag := fmt.Sprintf("zp=%d,m=%d", act.zp, g.M)
	if q := wv.Const.Enc.(*ir.Quantized); q.Scheme == ir.QuantPowerInt {
		mc, _ := i8Blocks(k.M, k.N*g.Nb, k.ip.mr, k.ip.nr)
		if k.nupes = c.nupesI8ConvPlan(q, k.K4, mc); k.nupes == nil {
			return nil, false, fmt.Errorf("%s: a decoded block of %d filter rows exceeds the stack buffer", n.Describe(), mc)
		}
		k.w = c.rawWeight(wv, fmt.Sprintf("conv_w_nupes_i8(m=%d,k=%d,w=%d)", g.M, K, k.nupes.w), "U8", ws, k.nupes.packRows(rows, g.M, k.K4))
		plain := code
		code = func(kk, m int64) int32 { return k.nupes.value(plain(kk, m)) }
		corrTag += ",power_int"
	} else {
		k.w = c.rawWeight(wv, fmt.Sprintf("conv_w_i8(m=%d,k=%d)", g.M, K), "I8", ws, rows)
	}
	k.corr = c.rawWeight(wv, "i8_row_corr_i32("+corrTag+")", "I8", []int64{g.M}, i8Corrections(K, g.M, mp, k.zpK(), code))
	sc := make([]float32, mp)
	for m := int64(0); m < g.M; m++ {
		sc[m] = act.scale * scales[m]
	}
	k.scales = c.weight(wv, fmt.Sprintf("i8_row_scales(sa=%g,m=%d)", act.scale, g.M), []int64{g.M}, sc)
	return k, true, nil
}

func (k *i8ConvKernel) inputs() []buf { return k.bufs(k.leaves) }

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
	return []int64{g.Nb * (g.C + 3) / 4 * 4 * rows * cols, g.Nb * k.panelsI8() * k.K4 * k.ip.nr * 4}
}

func (k *i8ConvKernel) describe() string {
	g := k.g
	head := fmt.Sprintf("conv i8 %dx%d s%dx%d d%dx%d im2col-gemm %dx%dx%d batch %d", g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, k.M, k.N, k.K, g.Nb)
	if k.nupes != nil {
		head += " (" + k.nupes.describe() + ")"
	}
	return k.describeI8(head, k.gemmKernel)
}

// emitPadI8 copies the codes into zero-point-padded planes of four
// interleaved channels (int8 codes flipped to the unsigned domain), one
// task per (image, channel group): the plane is filled with z_a, then each
// input row is written as chunks of up to 16 pixels, the four channels'
// bytes interleaved in registers (channels past C stay z_a).
func (k *i8ConvKernel) emitPadI8(e *segEmitter, off int64) {
	g := k.g
	rows, cols := k.i8Plane()
	CG := (g.C + 3) / 4
	b, ctx, begin, end := e.task("_padi8")
	src0 := b.cur.NewBitCast(e.ptr(b, ctx, buf{v: k.act.q}), tI8P)
	dst0 := b.cur.NewBitCast(e.tempPtr(b, ctx, off), tI8P)
	zpb := int64(int8(uint8(k.zpK())))
	zp := constant.NewInt(types.I8, zpb)
	memset := b.mod.declare("llvm.memset.p0i8.i64", types.Void, tI8P, types.I8, tI64, types.I1)
	vt := func(w int64) *types.VectorType { return types.NewVector(uint64(w), types.I8) }
	mask := func(w int64, f func(i int64) int64) constant.Constant {
		m := make([]constant.Constant, w)
		for i := range m {
			m[i] = ci32(f(int64(i)))
		}
		return constant.NewVector(types.NewVector(uint64(w), tI32), m...)
	}
	b.loop(begin, end, 1, func(t value.Value) {
		bi := b.cur.NewSDiv(t, ci(CG))
		cg := b.cur.NewSRem(t, ci(CG))
		dst := b.gep(types.I8, dst0, b.mul(t, ci(rows*cols*4)))
		b.cur.NewCall(memset, dst, zp, ci(rows*cols*4), constant.False)
		b.loop(ci(0), ci(g.H), 1, func(h value.Value) {
			drow := b.gep(types.I8, dst, b.mul(b.add(h, ci(g.ph)), ci(cols*4)))
			for w0 := int64(0); w0 < g.W; w0 += 16 {
				w := min(16, g.W-w0)
				chans := make([]value.Value, 4)
				for ci_ := int64(0); ci_ < 4; ci_++ {
					c := b.add(b.mul(cg, ci(4)), ci(ci_))
					ok := b.cur.NewICmp(enum.IPredSLT, c, ci(g.C))
					cc := b.cur.NewSelect(ok, c, ci(0))
					p := b.gep(types.I8, src0, b.add(b.mul(b.add(b.mul(bi, ci(g.C)), cc), ci(g.H*g.W)), b.add(b.mul(h, ci(g.W)), ci(w0))))
					ld := b.cur.NewLoad(vt(w), b.cur.NewBitCast(p, types.NewPointer(vt(w))))
					ld.Align = 1
					x := value.Value(ld)
					if k.flip() {
						x = b.cur.NewXor(x, i8Splat(-128, w))
					}
					chans[ci_] = b.cur.NewSelect(ok, x, i8Splat(zpb, w))
				}
				cat := func(x, y value.Value) value.Value {
					return b.cur.NewShuffleVector(x, y, mask(2*w, func(i int64) int64 { return i }))
				}
				il := b.cur.NewShuffleVector(cat(chans[0], chans[1]), cat(chans[2], chans[3]), mask(4*w, func(i int64) int64 { return (i%4)*w + i/4 }))
				st := b.cur.NewStore(il, b.cur.NewBitCast(b.gep(types.I8, drow, ci((g.pw+w0)*4)), types.NewPointer(vt(4*w))))
				st.Align = 1
			}
		})
	})
	e.launch(b, g.Nb*CG, float64(g.Nb*CG*4*rows*cols))
}

// i8Splat is the constant <w x i8> splat of x.
func i8Splat(x, w int64) value.Value {
	el := make([]constant.Constant, w)
	for i := range el {
		el[i] = constant.NewInt(types.I8, x)
	}
	return constant.NewVector(types.NewVector(uint64(w), types.I8), el...)
}

// emitIm2colI8 writes the panels: word (k4, j) of panel pi of image bi is
// the plane's 32-bit word of channel group cg at pixel (oh·sh + kh·dh,
// ow·sw + kw·dw), k4 = (cg·KH + kh)·KW + kw, for column pi·nr + j = oh·OW
// + ow (columns past N repeat column N−1, whose outputs are never
// stored). One task per (image, panel); one gather per k4.
func (k *i8ConvKernel) emitIm2colI8(e *segEmitter, planeOff, off int64) {
	g, p := k.g, k.ip
	rows, cols := k.i8Plane()
	CG := (g.C + 3) / 4
	nr := int(p.nr)
	P := k.panelsI8()
	b, ctx, begin, end := e.task("_im2coli8")
	src0 := b.cur.NewBitCast(e.tempPtr(b, ctx, planeOff), types.NewPointer(tI32))
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
	b.loop(begin, end, 1, func(t value.Value) {
		bi := b.cur.NewSDiv(t, ci(P))
		pi := b.cur.NewSRem(t, ci(P))
		src := b.cur.NewPtrToInt(b.gep(tI32, src0, b.mul(bi, ci(CG*rows*cols))), tI64)
		dst := b.gep(tI32, dst0, b.mul(t, ci(k.K4*p.nr)))
		cc := value.Value(b.cur.NewAdd(splat64(b.mul(pi, ci(p.nr))), constant.NewVector(i64v, lanes...)))
		last := c64(k.N - 1)
		cc = b.cur.NewSelect(b.cur.NewICmp(enum.IPredSLT, cc, last), cc, last)
		oh := b.cur.NewSDiv(cc, c64(g.OW))
		ow := b.cur.NewSRem(cc, c64(g.OW))
		pix := b.cur.NewAdd(b.cur.NewMul(oh, c64(g.sh*cols)), b.cur.NewMul(ow, c64(g.sw)))
		base := b.cur.NewAdd(splat64(src), b.cur.NewMul(pix, c64(4)))
		b.loop(ci(0), ci(CG), 1, func(cg value.Value) {
			b.loop(ci(0), ci(g.KH), 1, func(kh value.Value) {
				rowOff := b.mul(b.add(b.mul(cg, ci(rows)), b.mul(kh, ci(g.dh))), ci(cols))
				k4row := b.mul(b.add(b.mul(cg, ci(g.KH)), kh), ci(g.KW))
				b.loop(ci(0), ci(g.KW), 1, func(kw value.Value) {
					koff := b.mul(b.add(rowOff, b.mul(kw, ci(g.dw))), ci(4))
					ptrs := b.cur.NewIntToPtr(b.cur.NewAdd(base, splat64(koff)), pv)
					word := b.cur.NewCall(gather, ptrs, ci32(4), mask, constant.NewUndef(i32v))
					st := b.cur.NewStore(word, b.cur.NewBitCast(b.gep(tI32, dst, b.mul(b.add(k4row, kw), ci(p.nr))), types.NewPointer(i32v)))
					st.Align = 4
				})
			})
		})
	})
	e.launch(b, g.Nb*P, float64(g.Nb*k.K*k.N))
}

func (k *i8ConvKernel) emit(e *segEmitter, temps []int64) error {
	g, p := k.g, k.ip
	k.emitPadI8(e, temps[0])
	k.emitIm2colI8(e, temps[0], temps[1])
	xStride := 4 * k.K4
	if k.nupes != nil {
		xStride = k.nupes.row
	}
	calls := i8Tile{p: p, gk: k.gemmKernel, mr: p.mr, K4: k.K4, xStride: xStride, perRow: true, ldc: k.N}.calls(e, k.M, k.N)
	P := k.panelsI8()
	mc, nc := i8Blocks(k.M, k.N*g.Nb, p.mr, p.nr)
	per := (k.M + mc - 1) / mc * ((k.N + nc - 1) / nc)
	b, ctx, begin, end := e.task("_gemm")
	X := b.cur.NewBitCast(e.ptr(b, ctx, buf{w: k.w}), tI8P)
	Y0 := b.cur.NewBitCast(e.tempPtr(b, ctx, temps[1]), tI8P)
	corr, scl, leaves := k.ptrsI8(e, b, ctx, k.leaves)
	C0 := e.outPtr(b, ctx, k.out)
	var rowsBuf value.Value
	if k.nupes != nil {
		rowsBuf = k.nupes.buffer(b)
	}
	b.loop(begin, end, 1, func(t value.Value) {
		bi := b.cur.NewSDiv(t, ci(per))
		Y := b.gep(types.I8, Y0, b.mul(bi, ci(P*k.K4*p.nr*4)))
		C := b.gepF(C0, b.mul(bi, ci(k.M*k.N)))
		rowBase := b.mul(bi, ci(k.M))
		i0, i1, j0, j1 := i8Block(b, b.cur.NewSRem(t, ci(per)), k.M, k.N, mc, nc)
		xrow := func(m value.Value) value.Value { return b.gep(types.I8, X, b.mul(m, ci(xStride))) }
		if k.nupes != nil {
			// Decode the task's filter rows [i0, i1) once.
			src := b.gep(types.I8, X, b.mul(i0, ci(xStride/2)))
			k.nupes.emitDecodeN(b, src, rowsBuf, b.mul(b.cur.NewSub(i1, i0), ci(xStride/2)))
			xrow = func(m value.Value) value.Value {
				return b.gep(types.I8, rowsBuf, b.mul(b.cur.NewSub(m, i0), ci(xStride)))
			}
		}
		calls(b, i0, i1, j0, j1, func(m, jp, ncol value.Value) []value.Value {
			yp := b.gep(types.I8, Y, b.mul(b.cur.NewSDiv(jp, ci(p.nr)), ci(k.K4*p.nr*4)))
			return append([]value.Value{xrow(m), yp, b.gepF(C, b.add(b.mul(m, ci(k.N)), jp)),
				ncol, b.add(rowBase, m), jp, b.gep(tI32, corr, m), b.gepF(scl, m)}, leaves...)
		})
	})
	e.launch(b, g.Nb*per, 2*float64(g.Nb*k.M*k.N*k.K)/4)
	return nil
}

func init() {
	registerPreLowering("Conv", i8TryConv)
}
