package codegen

import (
	"fmt"

	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// convGeom is the geometry of a 1-D or 2-D Conv, 1-D as 2-D with H = 1.
type convGeom struct {
	Nb, C, H, W    int64 // input
	M, OH, OW      int64 // output channels and size
	KH, KW         int64
	sh, sw, dh, dw int64
	ph, pw         int64 // leading pads
	group          int64
	rank1          bool
}

// convGeometry reads n's attributes and static shapes. Only the leading
// pads matter: the output size is the output value's static shape.
func convGeometry(n *ir.Node) (*convGeom, error) {
	xs, _ := concreteShape(n.Inputs[0])
	ws, _ := concreteShape(n.Input(1))
	os, _ := concreteShape(n.Outputs[0])
	if len(xs) != 3 && len(xs) != 4 {
		return nil, fmt.Errorf("Conv of rank %d (only 1-D and 2-D are lowered)", len(xs))
	}
	if len(ws) != len(xs) || len(os) != len(xs) {
		return nil, fmt.Errorf("Conv weight/output ranks %d/%d differ from the input's %d", len(ws), len(os), len(xs))
	}
	sp := len(xs) - 2
	ints := func(name string, def int64) ([]int64, error) {
		v := n.AttrInts(name, nil)
		if v == nil {
			v = make([]int64, sp)
			for i := range v {
				v[i] = def
			}
		}
		if len(v) != sp {
			return nil, fmt.Errorf("Conv %s has %d values for %d spatial dims", name, len(v), sp)
		}
		return v, nil
	}
	strides, err := ints("strides", 1)
	if err != nil {
		return nil, err
	}
	dil, err := ints("dilations", 1)
	if err != nil {
		return nil, err
	}
	if ks := n.AttrInts("kernel_shape", nil); ks != nil && (len(ks) != sp || ks[0] != ws[2] || ks[sp-1] != ws[len(ws)-1]) {
		return nil, fmt.Errorf("Conv kernel_shape %v does not match the weight %v", ks, ws)
	}
	pads := n.AttrInts("pads", nil)
	begin := make([]int64, sp)
	switch ap := n.AttrString("auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
		if pads != nil {
			if len(pads) != 2*sp {
				return nil, fmt.Errorf("Conv pads has %d values for %d spatial dims", len(pads), sp)
			}
			copy(begin, pads[:sp])
		}
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		for i := 0; i < sp; i++ {
			in, k := xs[2+i], ws[2+i]
			total := (os[2+i]-1)*strides[i] + (k-1)*dil[i] + 1 - in
			if total < 0 {
				total = 0
			}
			begin[i] = total / 2
			if ap == "SAME_LOWER" {
				begin[i] = total - total/2
			}
		}
	default:
		return nil, fmt.Errorf("Conv auto_pad %q", ap)
	}
	g := &convGeom{Nb: xs[0], C: xs[1], M: os[1], group: n.AttrInt("group", 1), rank1: sp == 1,
		H: 1, OH: 1, KH: 1, sh: 1, dh: 1}
	if g.group <= 0 || g.C%g.group != 0 || g.M%g.group != 0 || ws[1]*g.group != g.C || ws[0] != g.M {
		return nil, fmt.Errorf("Conv group %d does not fit input %v and weight %v", g.group, xs, ws)
	}
	last := len(xs) - 1
	g.W, g.OW, g.KW, g.sw, g.dw, g.pw = xs[last], os[last], ws[last], strides[sp-1], dil[sp-1], begin[sp-1]
	if sp == 2 {
		g.H, g.OH, g.KH, g.sh, g.dh, g.ph = xs[2], os[2], ws[2], strides[0], dil[0], begin[0]
	}
	for _, s := range append(strides, dil...) {
		if s <= 0 {
			return nil, fmt.Errorf("Conv strides/dilations must be positive")
		}
	}
	if g.OH <= 0 || g.OW <= 0 {
		return nil, fmt.Errorf("Conv output %v is empty", os)
	}
	return g, nil
}

// convKernel is a Conv as a GEMM per image (and per group):
//
//	out[b][m][p] = Σ_k W[m][k] · col_b[k][p],   k = (c, kh, kw), p = (oh, ow)
//
// W (constant, [M, C·KH·KW] row-major) is the A operand; col_b, the
// im2col matrix of image b, is the run-time B operand, written by an
// im2col task straight into the micro-kernel's nr-wide panel layout (no
// separate packing pass). The bias (replicated per image, since the GEMM
// rows of the batched view are b·M + m) and following elementwise ops
// (Relu, Clip, HardSwish, …) run in the GEMM epilogue.
type convKernel struct {
	*gemmKernel
	g      *convGeom
	x      *ir.Value
	padOff int64 // scratch offset of the padded planes
}

func newConvKernel(l *lowering, n *ir.Node) (kernel, error) {
	c := l.c
	g, err := convGeometry(n)
	if err != nil {
		return nil, err
	}
	if g.group != 1 && g.group == g.C && g.M == g.C {
		if wc := n.Inputs[1]; wc.Const != nil {
			c.noteDecoded(wc, "stored as float32: depthwise conv filters (decoded at compile time)")
		}
		return newDWConvKernel(l, n, g)
	}
	G := g.group
	x := n.Inputs[0]
	out := n.Outputs[0]
	gk := &gemmKernel{
		node: nodeName(n), out: out, p: c.gemmParams(),
		M: g.M / G, N: g.OH * g.OW, K: g.C / G * g.KH * g.KW,
		bv: x,
		// The GEMM's 2-D view of the output: rows b·M + m, columns oh·OW + ow.
		outShape: []int64{g.Nb * g.M, g.OH * g.OW},
		// Groups are a second batch dim: group j uses rows j·M/G… of W
		// and its own im2col matrix.
		batch: []int64{g.Nb, G}, aBatch: []int64{0, 1}, bBatch: []int64{G, 1}, nbB: g.Nb * G,
		epi: leafExpr(0),
	}
	gk.si, gk.sk = gk.K, 1
	if err := convBiasLeaf(c, n, g, gk); err != nil {
		return nil, err
	}
	if dk, ok := convDirectPlan(c, n, g); ok {
		dk.gemmKernel = gk
		gk.bv, gk.p = nil, dk.tile
		if dk.convDirectQuant(c, n.Inputs[1]) {
			return dk, nil
		}
		w, _, err := constF32(n.Inputs[1])
		if err != nil {
			return nil, err
		}
		packed := dk.packWeights(w)
		gk.a = buf{w: c.weight(n.Inputs[1], fmt.Sprintf("conv_direct(mr=%d)", gk.p.mr), []int64{int64(len(packed))}, packed)}
		return dk, nil
	}
	// A quantized group-1 filter is the GEMM's quantized A, decoded per
	// task; grouped ones are decoded at compile time.
	if wc := n.Inputs[1]; wc.Const != nil && G > 1 {
		c.noteDecoded(wc, fmt.Sprintf("stored as float32: grouped conv filters (group %d)", G))
	}
	if wc := n.Inputs[1]; wc.Const == nil || G > 1 || !gk.newGemmQuantA(c, wc, []int64{gk.M, gk.K}, false) {
		wv, err := convOperand(c, n.Inputs[1])
		if err != nil {
			return nil, err
		}
		gk.a = wv
	}
	k := &convKernel{gemmKernel: gk, g: g, x: x}
	gk.packFn = k.emitIm2col
	return k, nil
}

// convBiasLeaf adds a Conv's bias to gk's epilogue as leaf 1, a value per
// row of the batched view (a constant bias is replicated per image).
func convBiasLeaf(c *compiler, n *ir.Node, g *convGeom, gk *gemmKernel) error {
	if bv := n.Input(2); bv != nil && bv.Const == nil {
		// Run-time bias (checked: one image, so GEMM row = channel).
		gk.leaves = append(gk.leaves, gemmLeaf{b: buf{v: bv}, rs: 1, cs: 0})
		gk.epi = &expr{op: "Add", args: []*expr{gk.epi, leafExpr(1)}}
	} else if bv != nil {
		bias, _, err := constF32(bv)
		if err != nil {
			return err
		}
		rep := make([]float32, 0, g.Nb*g.M)
		for b := int64(0); b < g.Nb; b++ {
			rep = append(rep, bias...)
		}
		w := c.weight(bv, fmt.Sprintf("conv_bias(batch=%d)", g.Nb), []int64{g.Nb * g.M}, rep)
		gk.leaves = append(gk.leaves, gemmLeaf{b: buf{w: w}, rs: 1, cs: 0})
		gk.epi = &expr{op: "Add", args: []*expr{gk.epi, leafExpr(1)}}
	}
	return nil
}

// absorb takes elementwise consumers whose other operands are scalars or
// 1-D (broadcast along the output's last axis, which maps onto the GEMM
// columns only for 1-D convolutions or when it is of size 1): a rank-2
// operand could line up with the batched row view by accident.
func (k *convKernel) absorb(c *compiler, n *ir.Node, idx int) bool {
	return convOperandsFit(n, idx, func(vs []int64) bool {
		return !(len(vs) > 1 || (len(vs) == 1 && vs[0] != 1 && !k.g.rank1))
	}) && k.gemmKernel.absorb(c, n, idx)
}

// convOperandsFit reports whether every operand of elementwise consumer n
// other than input idx (the conv's output) is a scalar constant or has a
// shape that fits.
func convOperandsFit(n *ir.Node, idx int, fits func(shape []int64) bool) bool {
	for i, v := range ewDataInputs(n) {
		if i == idx {
			continue
		}
		if _, ok := scalarConst(v); ok {
			continue
		}
		if vs, _ := concreteShape(v); !fits(vs) {
			return false
		}
	}
	return true
}

func (k *convKernel) describe() string {
	g := k.g
	s := fmt.Sprintf("conv %dx%d s%dx%d d%dx%d group %d im2col-gemm %dx%dx%d batch %d (tile %dx%d) %s",
		g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.group, k.M, k.N, k.K, g.Nb, k.p.mr, k.p.nr, k.node)
	if !k.epi.isLeaf(0) {
		s += " epilogue " + k.epi.String()
	}
	if k.quantA != nil {
		s += "; weights " + k.quantA.describe()
	}
	return s
}

// convPlane is the source the im2col step reads: the input itself, or a
// zero-padded copy in scratch when the conv pads. Either way every
// (oh·sh + kh·dh, ow·sw + kw·dw) of the output grid is inside it, so the
// im2col copy has no bounds checks.
func (k *convKernel) plane() (rows, cols int64, padded bool) {
	g := k.g
	rows = (g.OH-1)*g.sh + (g.KH-1)*g.dh + 1
	cols = (g.OW-1)*g.sw + (g.KW-1)*g.dw + 1
	if g.ph == 0 && g.pw == 0 && rows <= g.H && cols <= g.W {
		return g.H, g.W, false
	}
	return rows, cols, true
}

func (k *convKernel) temps() []int64 {
	t := k.gemmKernel.temps()
	if r, c, padded := k.plane(); padded {
		t = append(t, k.g.Nb*k.g.C*r*c*4)
	}
	return t
}

// emitPad copies every input plane into a zero-padded plane of rows x
// cols: pad[r][q] = x[r-ph][q-pw] or 0. One task per (image, channel).
func (k *convKernel) emitPad(e *segEmitter, off int64, rows, cols int64) {
	g := k.g
	b, ctx, begin, end := e.task("_convpad")
	src0 := e.ptr(b, ctx, buf{v: k.x})
	dst0 := e.tempPtr(b, ctx, off)
	b.loop(begin, end, 1, func(t value.Value) {
		src := b.gepF(src0, b.mul(t, ci(g.H*g.W)))
		dst := b.gepF(dst0, b.mul(t, ci(rows*cols)))
		b.loop(ci(0), ci(rows), 1, func(r value.Value) {
			ih := b.cur.NewSub(r, ci(g.ph))
			rowOK := b.cur.NewICmp(enum.IPredULT, ih, ci(g.H))
			srow := b.gepF(src, b.mul(b.cur.NewSelect(rowOK, ih, ci(0)), ci(g.W)))
			drow := b.gepF(dst, b.mul(r, ci(cols)))
			b.loop(ci(0), ci(cols), 1, func(q value.Value) {
				iw := b.cur.NewSub(q, ci(g.pw))
				ok := b.cur.NewAnd(rowOK, b.cur.NewICmp(enum.IPredULT, iw, ci(g.W)))
				x := b.load(b.gepF(srow, b.cur.NewSelect(ok, iw, ci(0))), 1)
				b.store(b.cur.NewSelect(ok, x, cf(0)), b.gepF(drow, q), 1)
			})
		})
	})
	e.launch(b, g.Nb*g.C, float64(g.Nb*g.C*rows*cols))
}

// emitIm2col writes col_b in panels: dst[b][panel][k][j] = plane[b][c]
// [oh·sh + kh·dh][ow·sw + kw·dw] for column p = panel·nr + j. One task per
// (image·group, panel); the nr columns' offsets in the plane are computed
// once per task, so the copy is one load and one store per element.
// Columns beyond N repeat column N-1: they only feed output columns the
// micro-kernel never stores.
func (k *convKernel) emitIm2col(e *segEmitter, off int64) {
	g, p := k.g, k.p
	rows, cols, padded := k.plane()
	b, ctx, begin, end := e.task("_im2col")
	src0 := e.ptr(b, ctx, buf{v: k.x})
	if padded {
		src0 = e.tempPtr(b, ctx, k.padOff)
	}
	dst0 := e.tempPtr(b, ctx, off)
	P := k.panels()
	Cg := g.C / g.group
	b.loop(begin, end, 1, func(t value.Value) {
		bi := b.cur.NewSDiv(t, ci(P))
		pi := b.cur.NewSRem(t, ci(P))
		src := b.gepF(src0, b.mul(bi, ci(Cg*rows*cols)))
		dst := b.gepF(dst0, b.mul(t, ci(k.K*p.nr)))
		offs := make([]value.Value, p.nr)
		for j := int64(0); j < p.nr; j++ {
			cc := b.minI(b.add(b.mul(pi, ci(p.nr)), ci(j)), ci(k.N-1))
			oh := b.cur.NewSDiv(cc, ci(g.OW))
			ow := b.cur.NewSRem(cc, ci(g.OW))
			offs[j] = b.add(b.mul(b.mul(oh, ci(g.sh)), ci(cols)), b.mul(ow, ci(g.sw)))
		}
		b.loop(ci(0), ci(Cg), 1, func(ch value.Value) {
			pl := b.gepF(src, b.mul(ch, ci(rows*cols)))
			b.loop(ci(0), ci(g.KH), 1, func(kh value.Value) {
				rowp := b.gepF(pl, b.mul(kh, ci(g.dh*cols)))
				kbase := b.mul(b.add(b.mul(ch, ci(g.KH)), kh), ci(g.KW))
				b.loop(ci(0), ci(g.KW), 1, func(kw value.Value) {
					in := b.gepF(rowp, b.mul(kw, ci(g.dw)))
					out := b.gepF(dst, b.mul(b.add(kbase, kw), ci(p.nr)))
					for j := int64(0); j < p.nr; j++ {
						b.store(b.load(b.gepF(in, offs[j]), 1), b.gepF(out, ci(j)), 1)
					}
				})
			})
		})
	})
	e.launch(b, k.nbB*P, float64(k.nbB*k.K*k.N))
}

func (k *convKernel) emit(e *segEmitter, temps []int64) error {
	if rows, cols, padded := k.plane(); padded {
		k.padOff = temps[1]
		k.emitPad(e, k.padOff, rows, cols)
	}
	return k.gemmKernel.emit(e, temps)
}

func convCheck(n *ir.Node, _ int64) error {
	if err := convOperandsF32(n); err != nil {
		return err
	}
	g, err := convGeometry(n)
	if err != nil {
		return err
	}
	if bv := n.Input(2); bv != nil && bv.Const == nil && g.Nb != 1 && !(g.group == g.C && g.M == g.C) {
		return fmt.Errorf("Conv with a run-time bias and batch %d is not lowered yet", g.Nb)
	}
	return nil
}

func init() {
	registerLowering("Conv", &opLowering{
		inputs: convInputs,
		check:  convCheck,
		lower:  newConvKernel,
	})
}

// convInputs are a Conv's or ConvTranspose's run-time inputs: the data and
// any weight or bias that is not a constant.
func convInputs(n *ir.Node) []*ir.Value {
	ins := n.Inputs[:1]
	for _, v := range n.Inputs[1:] {
		if v != nil && v.Const == nil {
			ins = append(ins, v)
		}
	}
	return ins
}

// convOperandsF32 checks that constant weight and bias are f32 (run-time
// ones are checked with the data input).
func convOperandsF32(n *ir.Node) error {
	if len(n.Inputs) < 2 || len(n.Inputs) > 3 || n.Inputs[1] == nil {
		return fmt.Errorf("%s with %d inputs", n.Op, len(n.Inputs))
	}
	for _, v := range n.Inputs[1:] {
		if v != nil && v.Const != nil && v.Const.DType != ir.Float32 {
			return fmt.Errorf("%s operand %q is %s (only f32 is lowered)", n.Op, v.Name, v.Const.DType)
		}
	}
	return nil
}

// convOperand is a weight or bias buffer: the stored constant or the
// run-time value.
func convOperand(c *compiler, v *ir.Value) (buf, error) {
	if v.Const == nil {
		return buf{v: v}, nil
	}
	w, err := c.denseWeight(v)
	return buf{w: w}, err
}
