package codegen

import (
	"fmt"

	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// dwConvKernel is a depthwise Conv (group = C = M) computed directly: one
// task per (image, channel) copies the channel's plane into a zero-padded
// scratch plane (so the inner loop has no bounds checks), then for every
// output row accumulates KH·KW vector FMAs over L output columns at a
// time, w[c][kh][kw] broadcast. Bias and fused elementwise consumers with
// scalar operands run on the accumulator before the store.
type dwConvKernel struct {
	node   string
	g      *convGeom
	x, out *ir.Value
	w      buf
	bias   *buf
	epi    *expr // leaf 0: the accumulator (bias added)
	lanes  int64
	hp, wp int64 // padded plane
}

func newDWConvKernel(l *lowering, n *ir.Node, g *convGeom) (kernel, error) {
	c := l.c
	w, err := convOperand(c, n.Inputs[1])
	if err != nil {
		return nil, err
	}
	k := &dwConvKernel{node: nodeName(n), g: g, x: n.Inputs[0], out: n.Outputs[0], w: w, epi: leafExpr(0), lanes: int64(c.t.Lanes())}
	if bv := n.Input(2); bv != nil {
		bb, err := convOperand(c, bv)
		if err != nil {
			return nil, err
		}
		k.bias = &bb
	}
	// Columns read for a vector of L outputs starting at ow (< OW rounded
	// up to L): up to ((OWr-1)·sw + (KW-1)·dw + 1).
	owr := (g.OW + k.lanes - 1) / k.lanes * k.lanes
	k.hp = (g.OH-1)*g.sh + (g.KH-1)*g.dh + 1
	k.wp = (owr-1)*g.sw + (g.KW-1)*g.dw + 1
	return k, nil
}

func (k *dwConvKernel) inputs() []buf {
	bufs := []buf{{v: k.x}, k.w}
	if k.bias != nil {
		bufs = append(bufs, *k.bias)
	}
	return bufs
}

func (k *dwConvKernel) output() *ir.Value { return k.out }

func (k *dwConvKernel) temps() []int64 {
	return []int64{k.g.Nb * k.g.C * k.hp * k.wp * 4}
}

func (k *dwConvKernel) describe() string {
	g := k.g
	s := fmt.Sprintf("depthwise conv %dx%d s%dx%d d%dx%d %d channels batch %d (direct, %d lanes) %s",
		g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.C, g.Nb, k.lanes, k.node)
	if !k.epi.isLeaf(0) {
		s += " epilogue " + k.epi.String()
	}
	return s
}

// absorb takes elementwise consumers whose other operands are scalar
// constants.
func (k *dwConvKernel) absorb(c *compiler, n *ir.Node, idx int) bool {
	e, ok := scalarEpilogue(n, idx, k.epi)
	if ok {
		k.epi, k.out = e, n.Outputs[0]
	}
	return ok
}

func (k *dwConvKernel) emit(e *segEmitter, temps []int64) error {
	g := k.g
	L := int(k.lanes)
	b, ctx, begin, end := e.task("_dwconv")
	src0 := e.ptr(b, ctx, buf{v: k.x})
	dst0 := e.outPtr(b, ctx, k.out)
	wts := e.ptr(b, ctx, k.w)
	var biasP value.Value
	if k.bias != nil {
		biasP = e.ptr(b, ctx, *k.bias)
	}
	pad0 := e.tempPtr(b, ctx, temps[0])
	owFull := g.OW / k.lanes * k.lanes
	b.loop(begin, end, 1, func(t value.Value) {
		// t = image·C + channel.
		ch := b.cur.NewSRem(t, ci(g.C))
		src := b.gepF(src0, b.mul(t, ci(g.H*g.W)))
		dst := b.gepF(dst0, b.mul(t, ci(g.OH*g.OW)))
		pad := b.gepF(pad0, b.mul(t, ci(k.hp*k.wp)))
		// Padded plane: pad[r][q] = x[r-ph][q-pw] or 0.
		b.loop(ci(0), ci(k.hp), 1, func(r value.Value) {
			ih := b.cur.NewSub(r, ci(g.ph))
			rowOK := b.cur.NewICmp(enum.IPredULT, ih, ci(g.H))
			ihc := b.cur.NewSelect(rowOK, ih, ci(0))
			srow := b.gepF(src, b.mul(ihc, ci(g.W)))
			drow := b.gepF(pad, b.mul(r, ci(k.wp)))
			b.loop(ci(0), ci(k.wp), 1, func(q value.Value) {
				iw := b.cur.NewSub(q, ci(g.pw))
				ok := b.cur.NewAnd(rowOK, b.cur.NewICmp(enum.IPredULT, iw, ci(g.W)))
				x := b.load(b.gepF(srow, b.cur.NewSelect(ok, iw, ci(0))), 1)
				b.store(b.cur.NewSelect(ok, x, cf(0)), b.gepF(drow, q), 1)
			})
		})
		wc := b.gepF(wts, b.mul(ch, ci(g.KH*g.KW)))
		wv := make([]value.Value, g.KH*g.KW)
		for i := range wv {
			wv[i] = b.load(b.gepF(wc, ci(int64(i))), 1)
		}
		var bias value.Value
		if biasP != nil {
			bias = b.load(b.gepF(biasP, ch), 1)
		}
		// acc computes w outputs of row oh from column ow on.
		acc := func(oh, ow value.Value, w int) value.Value {
			sum := constF(0, w)
			if bias != nil {
				sum = b.splat(bias, w)
			}
			for kh := int64(0); kh < g.KH; kh++ {
				row := b.gepF(pad, b.mul(b.add(b.mul(oh, ci(g.sh)), ci(kh*g.dh)), ci(k.wp)))
				for kw := int64(0); kw < g.KW; kw++ {
					base := b.add(b.mul(ow, ci(g.sw)), ci(kw*g.dw))
					var xv value.Value
					if g.sw == 1 || w == 1 {
						xv = b.load(b.gepF(row, base), w)
					} else {
						// Strided columns: w scalar loads gathered into a vector.
						xv = constF(0, w)
						for j := 0; j < w; j++ {
							s := b.load(b.gepF(row, b.add(base, ci(int64(j)*g.sw))), 1)
							xv = b.cur.NewInsertElement(xv, s, ci32(int64(j)))
						}
					}
					sum = b.fma(b.splat(wv[kh*g.KW+kw], w), xv, sum, w)
				}
			}
			return b.emitExpr(k.epi, []value.Value{sum}, w)
		}
		b.loop(ci(0), ci(g.OH), 1, func(oh value.Value) {
			drow := b.gepF(dst, b.mul(oh, ci(g.OW)))
			b.loop(ci(0), ci(owFull), k.lanes, func(ow value.Value) {
				b.store(acc(oh, ow, L), b.gepF(drow, ow), L)
			})
			b.loop(ci(owFull), ci(g.OW), 1, func(ow value.Value) {
				b.store(acc(oh, ow, 1), b.gepF(drow, ow), 1)
			})
		})
	})
	flops := 2 * float64(g.Nb*g.C*g.OH*g.OW*g.KH*g.KW)
	e.launch(b, g.Nb*g.C, flops)
	return nil
}
