package codegen

import (
	"fmt"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// Grouped and depthwise int8 Conv (group > 1), computed directly on the
// activation codes: one task per (image, group) copies the group's Cg
// input channels into int32 planes of a − z_a (zero padded: the padding's
// code is z_a, so it adds nothing), each plane stored as sw column phases
// (column x at phase x mod sw, position x / sw), so that a strided output
// row reads every tap with contiguous vector loads. Then for every output
// channel m of the group and every output row, L columns at a time:
//
//	acc = Σ_c Σ_(kh,kw) w[m][c][kh][kw] · (a − z_a)[c][oh·sh + kh·dh][ow·sw + kw·dw]
//
// in int32 lanes (the codes widened; |acc| ≤ 255·128·Cg·KH·KW, bounded by
// i8MaxK), then y = float(acc)·(s_a·s_w[m]) + bias[m] and the fused
// scalar epilogue. When that bound is below 2^24 (Cg·KH·KW ≤ 513: every
// depthwise filter up to 22×22), the planes and the weights are held as
// float32 and the sum is accumulated with float multiply-adds instead:
// every product and partial sum is an integer below 2^24, exactly
// representable, so the accumulator is the same integer as in int32 (and
// the vector FMA has twice the throughput of a 32-bit vector multiply). Depthwise (Cg = 1) keeps acc in registers; with Cg > 1
// the channel loop runs outside the row loops, accumulating into an int32
// plane of the task's scratch, so the code size does not grow with Cg.

// i8GroupConvScales returns the per-output-channel weight scales of a
// grouped Conv the direct int8 kernel takes (8-bit signed symmetric or
// fixed-point weights, as i8WeightScales; not NUPES), else an error.
func i8GroupConvScales(q *ir.Quantized, g *convGeom) ([]float32, error) {
	K := g.C / g.group * g.KH * g.KW
	if K > i8MaxK {
		return nil, fmt.Errorf("K = %d could overflow the int32 accumulators", K)
	}
	scales, why := i8WeightScales(q, []int64{g.M, K}, g.M, true)
	if scales == nil {
		return nil, fmt.Errorf("grouped Conv: %s", why)
	}
	return scales, nil
}

// i8GroupConvKernel is a grouped/depthwise Conv on 8-bit codes.
type i8GroupConvKernel struct {
	node string
	g    *convGeom
	scalarEpi
	act            *i8Act
	w, scales      *Weight // codes [M][Cg·KH·KW] as int8; s_a·s_w[m]
	bias           *buf
	lanes          int64
	Cg, Mg         int64
	rows, cq, owr  int64 // plane: rows × sw phases × cq int32; OW rounded up to lanes
	plane, accSize int64 // int32 elements of one plane, of the accumulator plane
	// exact: planes, weights and accumulators are float32 holding the
	// integers exactly (255·128·Cg·KH·KW < 2^24).
	exact bool
}

func newI8GroupConvKernel(l *lowering, n *ir.Node, act *i8Act, g *convGeom, scales []float32) (kernel, bool, error) {
	c := l.c
	k := &i8GroupConvKernel{node: nodeName(n), g: g, scalarEpi: newScalarEpi(n.Outputs[0]), act: act, lanes: int64(c.t.Lanes()),
		Cg: g.C / g.group, Mg: g.M / g.group}
	if bv := n.Input(2); bv != nil {
		bb, err := convOperand(c, bv)
		if err != nil {
			return nil, false, err
		}
		k.bias = &bb
	}
	L := k.lanes
	k.owr = (g.OW + L - 1) / L * L
	k.rows = max((g.OH-1)*g.sh+(g.KH-1)*g.dh+1, g.H+g.ph)
	cols := max((g.OW-1)*g.sw+(g.KW-1)*g.dw+1, g.W+g.pw)
	k.cq = max((cols+g.sw-1)/g.sw, k.owr+(g.KW-1)*g.dw/g.sw)
	k.plane = k.rows * g.sw * k.cq
	k.exact = 255*128*k.Cg*g.KH*g.KW < 1<<24
	if k.Cg > 1 {
		k.accSize = g.OH * k.owr
	}
	wv := n.Inputs[1]
	K := k.Cg * g.KH * g.KW
	codes := wv.Const.Enc.(*ir.Quantized).UnpackCodes(int(g.M * K))
	raw := make([]byte, len(codes))
	for i, x := range codes {
		raw[i] = byte(int8(x))
	}
	ws, _ := concreteShape(wv)
	k.w = c.rawWeight(wv, fmt.Sprintf("conv_w_i8g(m=%d,k=%d)", g.M, K), "I8", ws, raw)
	sc := make([]float32, g.M)
	for m := range sc {
		sc[m] = act.scale * scales[m]
	}
	k.scales = c.weight(wv, fmt.Sprintf("i8_row_scales(sa=%g,m=%d)", act.scale, g.M), []int64{g.M}, sc)
	return k, true, nil
}

func (k *i8GroupConvKernel) inputs() []buf {
	bufs := []buf{{v: k.act.q}, {w: k.w}, {w: k.scales}}
	if k.bias != nil {
		bufs = append(bufs, *k.bias)
	}
	return bufs
}

func (k *i8GroupConvKernel) temps() []int64 {
	return []int64{k.g.Nb * k.g.group * (k.Cg*k.plane + k.accSize) * 4}
}

func (k *i8GroupConvKernel) describe() string {
	g := k.g
	kind := "depthwise"
	if k.Cg > 1 {
		kind = fmt.Sprintf("grouped %d×%d", g.group, k.Cg)
	}
	dom := "u8"
	if k.act.signed {
		dom = "s8"
	}
	acc := "int32 accumulators"
	if k.exact {
		acc = "integer sums exact in float32 accumulators"
	}
	return fmt.Sprintf("conv i8 %s %dx%d s%dx%d d%dx%d %d->%d channels batch %d (direct, %s activations zp %d, %s, %d lanes) %s",
		kind, g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.C, g.M, g.Nb, dom, k.act.zp, acc, k.lanes, k.node) + k.describeEpi()
}

// elem is the type of w accumulator lanes: f32 when exact, else i32.
func (k *i8GroupConvKernel) elem(w int) types.Type {
	if k.exact {
		return vecT(w)
	}
	return i32T(w)
}

// ldAcc loads w accumulator lanes at the i32* p.
func (k *i8GroupConvKernel) ldAcc(b *fnb, p value.Value, w int) value.Value {
	t := k.elem(w)
	ld := b.cur.NewLoad(t, b.cur.NewBitCast(p, types.NewPointer(t)))
	ld.Align = 4
	return ld
}

// stAcc stores the w accumulator lanes v at the i32* p.
func (k *i8GroupConvKernel) stAcc(b *fnb, v, p value.Value, w int) {
	st := b.cur.NewStore(v, b.cur.NewBitCast(p, types.NewPointer(k.elem(w))))
	st.Align = 4
}

// toAcc converts int32 lanes to the accumulator type.
func (k *i8GroupConvKernel) toAcc(b *fnb, x value.Value, w int) value.Value {
	if k.exact {
		return b.cur.NewSIToFP(x, vecT(w))
	}
	return x
}

// emitPlanes fills the Cg planes at dst (i32*) from the codes of channels
// [c0, c0+Cg) of the image at src (i8*).
func (k *i8GroupConvKernel) emitPlanes(b *fnb, src, dst value.Value) {
	g := k.g
	L := k.lanes
	memset := b.mod.declare("llvm.memset.p0i8.i64", types.Void, tI8P, types.I8, tI64, types.I1)
	b.cur.NewCall(memset, b.cur.NewBitCast(dst, tI8P), constant.NewInt(types.I8, 0), ci(k.Cg*k.plane*4), constant.False)
	zp := int64(k.act.zp)
	if k.act.signed {
		zp -= 128
	}
	// Centered codes (a − z_a) of w pixels from p.
	centered := func(p value.Value, w int) value.Value {
		ld := b.cur.NewLoad(i8VecT(w), b.cur.NewBitCast(p, types.NewPointer(i8VecT(w))))
		ld.Align = 1
		var x value.Value
		if k.act.signed {
			x = b.cur.NewSExt(ld, i32T(w))
		} else {
			x = b.cur.NewZExt(ld, i32T(w))
		}
		return k.toAcc(b, b.cur.NewSub(x, constI32V(zp, w)), w)
	}
	// Vector chunks of L pixels when every chunk splits evenly into the
	// phases (L a multiple of sw); the rest one pixel at a time.
	vecEnd := int64(0)
	if L%g.sw == 0 {
		vecEnd = g.W / L * L
	}
	b.loop(ci(0), ci(k.Cg), 1, func(c value.Value) {
		sp := b.gep(types.I8, src, b.mul(c, ci(g.H*g.W)))
		dp := b.gep(tI32, dst, b.mul(c, ci(k.plane)))
		b.loop(ci(0), ci(g.H), 1, func(h value.Value) {
			srow := b.gep(types.I8, sp, b.mul(h, ci(g.W)))
			drow := b.gep(tI32, dp, b.mul(b.add(h, ci(g.ph)), ci(g.sw*k.cq)))
			b.loop(ci(0), ci(vecEnd), L, func(w0 value.Value) {
				x := centered(b.gep(types.I8, srow, w0), int(L))
				for r := int64(0); r < g.sw; r++ {
					// Lanes j with (pw + j) mod sw = r go to phase r from
					// position (w0 + pw + j0) / sw on.
					j0 := ((r-g.pw)%g.sw + g.sw) % g.sw
					n := L / g.sw
					m := make([]constant.Constant, n)
					for i := range m {
						m[i] = ci32(j0 + int64(i)*g.sw)
					}
					part := x
					if g.sw > 1 {
						part = b.cur.NewShuffleVector(x, constant.NewUndef(k.elem(int(L))), constant.NewVector(types.NewVector(uint64(n), tI32), m...))
					}
					q := b.cur.NewSDiv(b.add(w0, ci(g.pw+j0)), ci(g.sw))
					k.stAcc(b, part, b.gep(tI32, drow, b.add(ci(r*k.cq), q)), int(n))
				}
			})
			b.loop(ci(vecEnd), ci(g.W), 1, func(w value.Value) {
				x := b.add(w, ci(g.pw))
				at := b.add(b.mul(b.cur.NewSRem(x, ci(g.sw)), ci(k.cq)), b.cur.NewSDiv(x, ci(g.sw)))
				k.stAcc(b, centered(b.gep(types.I8, srow, w), 1), b.gep(tI32, drow, at), 1)
			})
		})
	})
}

func (k *i8GroupConvKernel) emit(e *segEmitter, temps []int64) error {
	g := k.g
	L := int(k.lanes)
	b, ctx, begin, end := e.task("_convi8g")
	src0 := b.cur.NewBitCast(e.ptr(b, ctx, buf{v: k.act.q}), tI8P)
	dst0 := e.outPtr(b, ctx, k.out)
	wts := b.cur.NewBitCast(e.ptr(b, ctx, buf{w: k.w}), tI8P)
	scl := e.ptr(b, ctx, buf{w: k.scales})
	var biasP value.Value
	if k.bias != nil {
		biasP = e.ptr(b, ctx, *k.bias)
	}
	tmp0 := b.cur.NewBitCast(e.tempPtr(b, ctx, temps[0]), types.NewPointer(tI32))
	taps := g.KH * g.KW
	b.loop(begin, end, 1, func(t value.Value) {
		// t = image·group + group index.
		bi := b.cur.NewSDiv(t, ci(g.group))
		gi := b.cur.NewSRem(t, ci(g.group))
		planes := b.gep(tI32, tmp0, b.mul(t, ci(k.Cg*k.plane+k.accSize)))
		accP := b.gep(tI32, planes, ci(k.Cg*k.plane))
		c0 := b.mul(gi, ci(k.Cg))
		k.emitPlanes(b, b.gep(types.I8, src0, b.mul(b.add(b.mul(bi, ci(g.C)), c0), ci(g.H*g.W))), planes)
		b.loop(ci(0), ci(k.Mg), 1, func(mo value.Value) {
			m := b.add(b.mul(gi, ci(k.Mg)), mo)
			wm := b.gep(types.I8, wts, b.mul(m, ci(k.Cg*taps)))
			// weights are the splat taps of channel c (codes at wc),
			// loaded once outside the row loops.
			weights := func(wc value.Value) []value.Value {
				wv := make([]value.Value, taps)
				for i := range wv {
					wl := b.cur.NewLoad(types.I8, b.gep(types.I8, wc, ci(int64(i))))
					wv[i] = k.toAcc(b, b.i8SplatI32(b.cur.NewSExt(wl, tI32), L), L)
				}
				return wv
			}
			// sum adds to acc the taps wv of channel c for the L outputs
			// of row oh from column ow on.
			sum := func(c value.Value, wv []value.Value, oh, ow value.Value, acc value.Value) value.Value {
				pl := b.gep(tI32, planes, b.mul(c, ci(k.plane)))
				for kh := int64(0); kh < g.KH; kh++ {
					for kw := int64(0); kw < g.KW; kw++ {
						off := kw * g.dw
						row := b.add(b.mul(oh, ci(g.sh)), ci(kh*g.dh))
						at := b.add(b.mul(row, ci(g.sw*k.cq)), b.add(ci(off%g.sw*k.cq+off/g.sw), ow))
						x := k.ldAcc(b, b.gep(tI32, pl, at), L)
						if w := wv[kh*g.KW+kw]; k.exact {
							acc = b.fma(w, x, acc, L)
						} else {
							acc = b.cur.NewAdd(acc, b.cur.NewMul(w, x))
						}
					}
				}
				return acc
			}
			sc := b.splat(b.load(b.gepF(scl, m), 1), L)
			bias := constF(0, L)
			if biasP != nil {
				bias = b.splat(b.load(b.gepF(biasP, m), 1), L)
			}
			out := func(acc value.Value) value.Value {
				if !k.exact {
					acc = b.cur.NewSIToFP(acc, vecT(L))
				}
				y := b.cur.NewFAdd(b.cur.NewFMul(acc, sc), bias)
				return b.emitExpr(k.epi, []value.Value{y}, L)
			}
			dst := b.gepF(dst0, b.mul(b.add(b.mul(bi, ci(g.M)), m), ci(g.OH*g.OW)))
			if k.Cg > 1 {
				zero := k.toAcc(b, constI32V(0, L), L)
				b.loop(ci(0), ci(k.accSize), k.lanes, func(i value.Value) { k.stAcc(b, zero, b.gep(tI32, accP, i), L) })
				b.loop(ci(0), ci(k.Cg), 1, func(c value.Value) {
					wv := weights(b.gep(types.I8, wm, b.mul(c, ci(taps))))
					b.loop(ci(0), ci(g.OH), 1, func(oh value.Value) {
						b.loop(ci(0), ci(k.owr), k.lanes, func(ow value.Value) {
							p := b.gep(tI32, accP, b.add(b.mul(oh, ci(k.owr)), ow))
							k.stAcc(b, sum(c, wv, oh, ow, k.ldAcc(b, p, L)), p, L)
						})
					})
				})
			}
			var wv []value.Value
			if k.Cg == 1 {
				wv = weights(wm)
			}
			// row returns the finished outputs of row oh from column ow.
			row := func(oh, ow value.Value) value.Value {
				if k.Cg > 1 {
					return out(k.ldAcc(b, b.gep(tI32, accP, b.add(b.mul(oh, ci(k.owr)), ow)), L))
				}
				return out(sum(ci(0), wv, oh, ow, k.toAcc(b, constI32V(0, L), L)))
			}
			storeDWPlane(b, dst, g.OH, g.OW, k.lanes, row)
		})
	})
	e.launch(b, g.Nb*g.group, 2*float64(g.Nb*g.M*g.OH*g.OW*k.Cg*taps))
	return nil
}
