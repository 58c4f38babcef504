package codegen

import (
	"fmt"

	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// dwConvKernel is a depthwise Conv (group = C = M) computed directly: one
// task per (image, channel) copies the channel's plane into its zero-padded
// phase planes in scratch (convPhases: a strided conv reads them with
// contiguous vector loads, and the inner loop has no bounds checks), then
// for every output row accumulates KH·KW vector FMAs over L output columns
// at a time, w[c][kh][kw] broadcast; the row's last, partial vector is
// stored under a constant mask. Bias and fused elementwise consumers with
// scalar operands run on the accumulator before the store.
type dwConvKernel struct {
	*convPhases
	node      string
	g         *convGeom
	scalarEpi // leaf 0 of epi: the accumulator (bias added)
	x         *ir.Value
	w         buf
	bias      *buf
	lanes     int64
}

func newDWConvKernel(l *lowering, n *ir.Node, g *convGeom) (kernel, error) {
	c := l.c
	w, err := convOperand(c, n.Inputs[1])
	if err != nil {
		return nil, err
	}
	k := &dwConvKernel{node: nodeName(n), g: g, x: n.Inputs[0], scalarEpi: newScalarEpi(n.Outputs[0]), w: w, lanes: int64(c.t.Lanes())}
	if bv := n.Input(2); bv != nil {
		bb, err := convOperand(c, bv)
		if err != nil {
			return nil, err
		}
		k.bias = &bb
	}
	// Each output row computes OW rounded up to L columns.
	k.convPhases = newConvPhases(g, convRoundUp(g.OW, k.lanes))
	return k, nil
}

func (k *dwConvKernel) inputs() []buf {
	bufs := []buf{{v: k.x}, k.w}
	if k.bias != nil {
		bufs = append(bufs, *k.bias)
	}
	return bufs
}

func (k *dwConvKernel) temps() []int64 {
	return []int64{k.g.Nb * k.g.C * k.cs * 4}
}

func (k *dwConvKernel) describe() string {
	g := k.g
	s := fmt.Sprintf("depthwise conv %dx%d s%dx%d d%dx%d %d channels batch %d (direct, %d lanes, %d phase planes) %s",
		g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.C, g.Nb, k.lanes, len(k.phases), k.node)
	return s + k.describeEpi()
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
	b.loop(begin, end, 1, func(t value.Value) {
		// t = image·C + channel.
		ch := b.cur.NewSRem(t, ci(g.C))
		dst := b.gepF(dst0, b.mul(t, ci(g.OH*g.OW)))
		pad := b.gepF(pad0, b.mul(t, ci(k.cs)))
		k.emitPhaseCopy(b, b.gepF(src0, b.mul(t, ci(g.H*g.W))), pad)
		wc := b.gepF(wts, b.mul(ch, ci(g.KH*g.KW)))
		wv := make([]value.Value, g.KH*g.KW)
		for i := range wv {
			wv[i] = b.splat(b.load(b.gepF(wc, ci(int64(i))), 1), L)
		}
		bias := constF(0, L)
		if biasP != nil {
			bias = b.splat(b.load(b.gepF(biasP, ch), 1), L)
		}
		// acc computes the L outputs of row oh from column ow on.
		acc := func(oh, ow value.Value) value.Value {
			sum := bias
			for i, tp := range k.taps {
				row := b.add(b.mul(b.add(oh, ci(tp.dr)), ci(k.wq)), ci(tp.ph*k.hq*k.wq+tp.dc))
				sum = b.fma(wv[i], b.load(b.gepF(pad, b.add(row, ow)), L), sum, L)
			}
			return b.emitExpr(k.epi, []value.Value{sum}, L)
		}
		storeDWPlane(b, dst, g.OH, g.OW, k.lanes, acc)
	})
	flops := 2 * float64(g.Nb*g.C*g.OH*g.OW*g.KH*g.KW)
	e.launch(b, g.Nb*g.C, flops)
	return nil
}

// storeDWPlane stores one channel's oh×ow output plane at dst, lanes
// columns at a time: row(h, w) is the vector of row h's outputs from
// column w; the columns after the last full vector are stored masked.
func storeDWPlane(b *fnb, dst value.Value, oh, ow, lanes int64, row func(h, w value.Value) value.Value) {
	L := int(lanes)
	owFull := ow / lanes * lanes
	// The lanes of the row's last vector that are inside the output.
	var tail value.Value
	if owFull < ow {
		tail, _ = laneMask(L, owFull, ow)
	}
	b.loop(ci(0), ci(oh), 1, func(h value.Value) {
		drow := b.gepF(dst, b.mul(h, ci(ow)))
		b.loop(ci(0), ci(owFull), lanes, func(w value.Value) {
			b.store(row(h, w), b.gepF(drow, w), L)
		})
		if tail != nil {
			convMaskedStore(b, row(h, ci(owFull)), b.gepF(drow, ci(owFull)), tail, L)
		}
	})
}
