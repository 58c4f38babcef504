package codegen

import (
	"fmt"

	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// ConvTranspose (1-D/2-D; any group, explicit pads, auto_pad,
// output_shape, output_padding) is a GEMM followed by a gather-form col2im:
//
//	col_b[(m,kh,kw)][(ih,iw)] = Σ_c W[c][m][kh][kw] · x_b[c][ih][iw]
//	y_b[m][oh][ow] = bias[m] + Σ_{kh,kw} col_b[(m,kh,kw)][(ih,iw)]
//	                 where oh = ih·sh − ph + kh·dh (likewise ow)
//
// The GEMM reads W in place as A = Wᵀ (strides 1 and M·KH·KW) and packs x
// as its run-time B; col_b lives in scratch as an internal value. The
// col2im kernel computes each output element once (no scatter, so tasks
// over (image, channel) never write the same element) and applies the
// bias and fused elementwise consumers with scalar operands.
type convTKernel struct {
	node string
	g    *convGeom // H, W: input; OH, OW: output; M: output channels
	scalarEpi
	col    *ir.Value
	bias   *buf
	ph, pw int64
}

func convTGeometry(n *ir.Node) (*convGeom, error) {
	xs, _ := concreteShape(n.Inputs[0])
	ws, _ := concreteShape(n.Input(1))
	os, _ := concreteShape(n.Outputs[0])
	if len(xs) != 3 && len(xs) != 4 || len(ws) != len(xs) || len(os) != len(xs) {
		return nil, fmt.Errorf("ConvTranspose of ranks %d/%d/%d (only 1-D and 2-D are lowered)", len(xs), len(ws), len(os))
	}
	G := n.AttrInt("group", 1)
	if G <= 0 || xs[1]%G != 0 || ws[0] != xs[1] || ws[1]*G != os[1] {
		return nil, fmt.Errorf("ConvTranspose weight %v does not fit input %v, output %v and group %d", ws, xs, os, G)
	}
	sp := len(xs) - 2
	get := func(name string, def int64, cnt int) ([]int64, error) {
		v := n.AttrInts(name, nil)
		if v == nil {
			v = make([]int64, cnt)
			for i := range v {
				v[i] = def
			}
		}
		if len(v) != cnt {
			return nil, fmt.Errorf("ConvTranspose %s has %d values", name, len(v))
		}
		return v, nil
	}
	st, err := get("strides", 1, sp)
	if err != nil {
		return nil, err
	}
	dl, err := get("dilations", 1, sp)
	if err != nil {
		return nil, err
	}
	outPad, err := get("output_padding", 0, sp)
	if err != nil {
		return nil, err
	}
	for _, s := range append(st, dl...) {
		if s <= 0 {
			return nil, fmt.Errorf("ConvTranspose strides/dilations must be positive")
		}
	}
	padB, err := convTLeadingPads(n, xs[2:], ws[2:], os[2:], st, dl, outPad)
	if err != nil {
		return nil, err
	}
	g := &convGeom{Nb: xs[0], C: xs[1], M: os[1], group: G, H: 1, OH: 1, KH: 1, sh: 1, dh: 1, rank1: sp == 1}
	last := len(xs) - 1
	g.W, g.OW, g.KW, g.sw, g.dw, g.pw = xs[last], os[last], ws[last], st[sp-1], dl[sp-1], padB[sp-1]
	if sp == 2 {
		g.H, g.OH, g.KH, g.sh, g.dh, g.ph = xs[2], os[2], ws[2], st[0], dl[0], padB[0]
	}
	return g, nil
}

// convTLeadingPads returns the leading pad of each spatial dim (the col2im
// reads only these: the output size is the static output shape, which must
// agree). The uncropped result has full = s·(in−1) + output_padding +
// (k−1)·d + 1 elements; explicit pads, auto_pad or output_shape crop it.
// With auto_pad SAME_* (total = full − in·s) or output_shape (total =
// full − output_shape) the total is split with floor division, SAME_UPPER
// putting the smaller half first, as the ONNX reference (and the
// interpreter) do.
func convTLeadingPads(n *ir.Node, in, ks, out, st, dl, outPad []int64) ([]int64, error) {
	sp := len(in)
	autoPad := n.AttrString("auto_pad", "NOTSET")
	full := make([]int64, sp)
	for i := range full {
		full[i] = st[i]*(in[i]-1) + outPad[i] + (ks[i]-1)*dl[i] + 1
	}
	padB, padE := make([]int64, sp), make([]int64, sp)
	split := func(i int, total int64) {
		half := total / 2
		if total < 0 && total%2 != 0 {
			half--
		}
		padB[i] = total - half
		if autoPad == "SAME_UPPER" {
			padB[i] = half
		}
		padE[i] = total - padB[i]
	}
	if os := n.AttrInts("output_shape", nil); os != nil {
		if len(os) == sp+2 {
			os = os[2:]
		}
		if len(os) != sp {
			return nil, fmt.Errorf("ConvTranspose output_shape %v does not fit rank %d", n.AttrInts("output_shape", nil), sp+2)
		}
		for i := range os {
			split(i, full[i]-os[i])
		}
	} else {
		switch autoPad {
		case "NOTSET", "":
			pads := n.AttrInts("pads", nil)
			if pads == nil {
				pads = make([]int64, 2*sp)
			}
			if len(pads) != 2*sp {
				return nil, fmt.Errorf("ConvTranspose pads has %d values", len(pads))
			}
			copy(padB, pads[:sp])
			copy(padE, pads[sp:])
		case "VALID":
		case "SAME_UPPER", "SAME_LOWER":
			for i := range in {
				split(i, full[i]-in[i]*st[i])
			}
		default:
			return nil, fmt.Errorf("ConvTranspose auto_pad %q is unknown", autoPad)
		}
	}
	for i := range full {
		if want := full[i] - padB[i] - padE[i]; want != out[i] {
			return nil, fmt.Errorf("ConvTranspose output dim %d is %d, the attributes give %d", i+2, out[i], want)
		}
	}
	return padB, nil
}

func newConvTKernel(l *lowering, n *ir.Node) (kernel, error) {
	c := l.c
	g, err := convTGeometry(n)
	if err != nil {
		return nil, err
	}
	wv, err := convOperand(c, n.Inputs[1])
	if err != nil {
		return nil, err
	}
	rows := g.M * g.KH * g.KW
	col := &ir.Value{Name: nodeName(n) + "_col", Type: ir.TensorType(ir.Float32, ir.ShapeOf(g.Nb, rows, g.H*g.W))}
	// Groups are a second batch dim: group j multiplies W[j·C/G…] (a
	// whole A matrix of rows/G × C/G further) with channels j·C/G… of the
	// image, and its rows/G col rows follow group j−1's, so col keeps
	// group 1's layout with m = j·M/G + m_j.
	G := g.group
	gk := &gemmKernel{
		node: nodeName(n) + "/gemm", out: col, p: c.gemmParams(),
		M: rows / G, N: g.H * g.W, K: g.C / G,
		a: wv, si: 1, sk: rows / G,
		bv: n.Inputs[0], sbk: g.H * g.W, sbn: 1,
		outShape: []int64{g.Nb * rows, g.H * g.W},
		batch:    []int64{g.Nb, G}, aBatch: []int64{0, 1}, bBatch: []int64{G, 1}, nbB: g.Nb * G,
		epi: leafExpr(0),
	}
	l.add(gk)
	delete(l.open, col) // nothing may fuse into the internal col value
	k := &convTKernel{node: nodeName(n), g: g, col: col, scalarEpi: newScalarEpi(n.Outputs[0]), ph: g.ph, pw: g.pw}
	if bv := n.Input(2); bv != nil {
		bb, err := convOperand(c, bv)
		if err != nil {
			return nil, err
		}
		k.bias = &bb
	}
	return k, nil
}

func (k *convTKernel) inputs() []buf {
	bufs := []buf{{v: k.col}}
	if k.bias != nil {
		bufs = append(bufs, *k.bias)
	}
	return bufs
}

func (k *convTKernel) temps() []int64 { return nil }

func (k *convTKernel) describe() string {
	g := k.g
	s := fmt.Sprintf("conv-transpose col2im %dx%d s%dx%d d%dx%d %d->%d channels batch %d %s",
		g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.C, g.M, g.Nb, k.node)
	return s + k.describeEpi()
}

func (k *convTKernel) emit(e *segEmitter, _ []int64) error {
	g := k.g
	b, ctx, begin, end := e.task("_col2im")
	col0 := e.ptr(b, ctx, buf{v: k.col})
	dst0 := e.outPtr(b, ctx, k.out)
	var biasP value.Value
	if k.bias != nil {
		biasP = e.ptr(b, ctx, *k.bias)
	}
	HW := g.H * g.W
	// src returns (index, ok) of input coordinate for output o and tap t:
	// o + p − t·d must be a non-negative multiple of s below n.
	src := func(o value.Value, t, p, d, s, n int64) (value.Value, value.Value) {
		v := b.cur.NewSub(b.add(o, ci(p)), ci(t*d))
		div := b.cur.NewSDiv(v, ci(s))
		ok := b.cur.NewAnd(b.cur.NewICmp(enum.IPredEQ, b.cur.NewSRem(v, ci(s)), ci(0)), b.cur.NewICmp(enum.IPredULT, div, ci(n)))
		return b.cur.NewSelect(ok, div, ci(0)), ok
	}
	b.loop(begin, end, 1, func(t value.Value) {
		// t = image·M + channel.
		bi := b.cur.NewSDiv(t, ci(g.M))
		m := b.cur.NewSRem(t, ci(g.M))
		colm := b.gepF(col0, b.mul(b.add(b.mul(bi, ci(g.M)), m), ci(g.KH*g.KW*HW)))
		dst := b.gepF(dst0, b.mul(t, ci(g.OH*g.OW)))
		init := value.Value(cf(0))
		if biasP != nil {
			init = b.load(b.gepF(biasP, m), 1)
		}
		b.loop(ci(0), ci(g.OH), 1, func(oh value.Value) {
			b.loop(ci(0), ci(g.OW), 1, func(ow value.Value) {
				acc := init
				for kh := int64(0); kh < g.KH; kh++ {
					ih, okh := src(oh, kh, k.ph, g.dh, g.sh, g.H)
					for kw := int64(0); kw < g.KW; kw++ {
						iw, okw := src(ow, kw, k.pw, g.dw, g.sw, g.W)
						idx := b.add(ci((kh*g.KW+kw)*HW), b.add(b.mul(ih, ci(g.W)), iw))
						x := b.load(b.gepF(colm, idx), 1)
						acc = b.cur.NewFAdd(acc, b.cur.NewSelect(b.cur.NewAnd(okh, okw), x, cf(0)))
					}
				}
				b.store(b.emitExpr(k.epi, []value.Value{acc}, 1), b.gepF(dst, b.add(b.mul(oh, ci(g.OW)), ow)), 1)
			})
		})
	})
	e.launch(b, g.Nb*g.M, float64(g.Nb*g.M*g.OH*g.OW*g.KH*g.KW))
	return nil
}

func init() {
	registerLowering("ConvTranspose", &opLowering{
		inputs: convInputs,
		check: func(n *ir.Node, _ int64) error {
			if err := convOperandsF32(n); err != nil {
				return err
			}
			_, err := convTGeometry(n)
			return err
		},
		lower: newConvTKernel,
	})
}
