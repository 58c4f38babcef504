package codegen

import (
	"fmt"
	"strings"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// LSTM (ONNX semantics, layout 0: X [T,B,I], Y [T,D,B,H], states [D,B,H];
// gates in the order i, o, f, c). The input projection of all time steps
// and directions, X·W^T + Wb + Rb, is one GEMM (the gemm kernel, W packed
// at compile time) into scratch; the recurrence is one kernel with a task
// per direction: per step and batch row, a GEMV H_{t-1}·R^T over R packed
// k-major ([H][4H], vector FMAs across the gate columns, several
// independent accumulators) added to the projection, then the cell update
// vectorized over the hidden units. Y_h and Y_c are the running states
// themselves.
//
// Lowered: forward, reverse and bidirectional; optional B, initial_h,
// initial_c and peepholes P; clip; input_forget; activations without
// parameters (Sigmoid, Tanh, Relu, Softsign, Softplus); layouts 0 and 1;
// W, R, B and P constant (packed at compile time) or run-time values (R is
// then transposed into scratch by each run). sequence_lens is read at run
// time (steps past a batch entry's length leave its state and write zero
// rows of Y; a reverse direction starts at its last step; an empty
// sequence ends with zero states, as in the interpreter and ONNX Runtime);
// a constant sequence_lens must equal T everywhere.

// lstmActs maps ONNX recurrent activation names to expr ops.
var lstmActs = map[string]string{"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softsign": "Softsign", "softplus": "Softplus"}

// lstmSpec is a checked LSTM node.
type lstmSpec struct {
	T, B, I, H, D int64
	dir           string
	acts          [3]string // f, g, h as expr ops
	clip          float64   // <= 0: none
	inputForget   bool
	batchMajor    bool // layout 1: X [B,T,I], Y [B,T,D,H], states [B,D,H]
	seqLens       bool // sequence_lens is read at run time
}

// xRow is the row of the projection [T·B or B·T, D·4H] of step t, batch b.
func (s *lstmSpec) xRow(b *fnb, t, bi value.Value) value.Value {
	if s.batchMajor {
		return b.add(b.mul(bi, ci(s.T)), t)
	}
	return b.add(b.mul(t, ci(s.B)), bi)
}

// yOff is the offset of Y's row (t, d, b).
func (s *lstmSpec) yOff(b *fnb, t, d, bi value.Value) value.Value {
	if s.batchMajor {
		return b.mul(b.add(b.mul(s.xRow(b, t, bi), ci(s.D)), d), ci(s.H))
	}
	return b.mul(b.add(b.mul(b.add(b.mul(t, ci(s.D)), d), ci(s.B)), bi), ci(s.H))
}

// stateOff is the offset of the state row (d, b).
func (s *lstmSpec) stateOff(b *fnb, d, bi value.Value) value.Value {
	if s.batchMajor {
		return b.mul(b.add(b.mul(bi, ci(s.D)), d), ci(s.H))
	}
	return b.mul(b.add(b.mul(d, ci(s.B)), bi), ci(s.H))
}

func lstmParse(n *ir.Node) (*lstmSpec, error) {
	xs, ok := concreteShape(n.Inputs[0])
	if !ok || len(xs) != 3 {
		return nil, fmt.Errorf("LSTM X is not a static rank-3 tensor")
	}
	s := &lstmSpec{T: xs[0], B: xs[1], I: xs[2], H: n.AttrInt("hidden_size", 0), dir: n.AttrString("direction", "forward"), clip: float64(n.AttrFloat("clip", 0))}
	switch n.AttrInt("layout", 0) {
	case 0:
	case 1:
		s.T, s.B, s.batchMajor = xs[1], xs[0], true
	default:
		return nil, fmt.Errorf("LSTM layout %d", n.AttrInt("layout", 0))
	}
	switch s.dir {
	case "forward", "reverse":
		s.D = 1
	case "bidirectional":
		s.D = 2
	default:
		return nil, fmt.Errorf("LSTM direction %q", s.dir)
	}
	s.inputForget = n.AttrInt("input_forget", 0) != 0
	if n.HasAttr("activation_alpha") || n.HasAttr("activation_beta") {
		return nil, fmt.Errorf("LSTM activations with alpha/beta are not lowered")
	}
	acts := n.AttrStrings("activations", nil)
	if acts == nil {
		acts = []string{"Sigmoid", "Tanh", "Tanh"}
	}
	if int64(len(acts)) != 3*s.D && len(acts) != 3 {
		return nil, fmt.Errorf("LSTM has %d activations for %d directions", len(acts), s.D)
	}
	for i, a := range acts {
		op, ok := lstmActs[strings.ToLower(a)]
		if !ok {
			return nil, fmt.Errorf("LSTM activation %s is not lowered", a)
		}
		if i >= 3 && op != s.acts[i-3] {
			return nil, fmt.Errorf("LSTM directions with different activations are not lowered")
		}
		if i < 3 {
			s.acts[i] = op
		}
	}
	wantShape := func(i int, what string, shape ...int64) error {
		v := n.Input(i)
		if v == nil {
			return nil
		}
		vs, ok := concreteShape(v)
		if !ok || fmt.Sprint(vs) != fmt.Sprint(shape) || v.Type.DType != ir.Float32 {
			return fmt.Errorf("LSTM %s is %s, want f32%v", what, v.Type, shape)
		}
		return nil
	}
	if n.Input(1) == nil || n.Input(2) == nil {
		return nil, fmt.Errorf("LSTM without W or R")
	}
	if s.H <= 0 {
		return nil, fmt.Errorf("LSTM hidden_size %d", s.H)
	}
	for _, e := range []error{
		wantShape(1, "W", s.D, 4*s.H, s.I), wantShape(2, "R", s.D, 4*s.H, s.H),
		wantShape(3, "B", s.D, 8*s.H), wantShape(7, "P", s.D, 3*s.H),
	} {
		if e != nil {
			return nil, e
		}
	}
	if sl := n.Input(4); sl != nil {
		if ss, ok := concreteShape(sl); !ok || fmt.Sprint(ss) != fmt.Sprint([]int64{s.B}) || sl.Type.DType != ir.Int32 {
			return nil, fmt.Errorf("LSTM sequence_lens is %s, want i32[%d]", sl.Type, s.B)
		}
		if sl.Const != nil {
			lens, _ := copyConstInts(sl)
			for _, x := range lens {
				if x != s.T {
					return nil, fmt.Errorf("LSTM constant sequence_lens %v shorter than the sequence (%d) are not lowered", lens, s.T)
				}
			}
		} else {
			s.seqLens = true
		}
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 7} {
		if v := n.Input(i); v != nil && v.Const == nil {
			if err := checkF32(v); err != nil {
				return nil, err
			}
		}
	}
	for _, o := range n.Outputs {
		if o != nil {
			if err := checkF32(o); err != nil {
				return nil, err
			}
		}
	}
	st := []int64{s.D, s.B, s.H}
	want := [][]int64{{s.T, s.D, s.B, s.H}, st, st}
	if s.batchMajor {
		st = []int64{s.B, s.D, s.H}
		want = [][]int64{{s.B, s.T, s.D, s.H}, st, st}
	}
	for _, i := range []int{5, 6} {
		if v := n.Input(i); v != nil {
			vs, ok := concreteShape(v)
			if !ok || fmt.Sprint(vs) != fmt.Sprint(st) {
				return nil, fmt.Errorf("LSTM initial state %q is %s, want %v", v.Name, v.Type, st)
			}
		}
	}
	for i, o := range n.Outputs {
		if o == nil {
			continue
		}
		if i > 2 {
			return nil, fmt.Errorf("LSTM has %d outputs", len(n.Outputs))
		}
		if os := mustShape(o); fmt.Sprint(os) != fmt.Sprint(want[i]) {
			return nil, fmt.Errorf("LSTM output %d is %v, want %v", i, os, want[i])
		}
	}
	return s, nil
}

// lstmRunInputs are the inputs an LSTM reads at run time (constant
// weights are packed at compile time).
func lstmRunInputs(n *ir.Node) []*ir.Value {
	var vs []*ir.Value
	for _, v := range n.Inputs {
		if v != nil && v.Const == nil {
			vs = append(vs, v)
		}
	}
	return vs
}

// lstmAllocKernel only places its output in the memory plan (the
// recurrence kernel writes it).
type lstmAllocKernel struct{ out *ir.Value }

func (k *lstmAllocKernel) inputs() []buf                       { return nil }
func (k *lstmAllocKernel) output() *ir.Value                   { return k.out }
func (k *lstmAllocKernel) temps() []int64                      { return nil }
func (k *lstmAllocKernel) describe() string                    { return "lstm state " + k.out.Name }
func (k *lstmAllocKernel) emit(_ *segEmitter, _ []int64) error { return nil }

// lstmKernel is the recurrence.
type lstmKernel struct {
	s    *lstmSpec
	node string
	xp   *ir.Value // [T·B, D·4H] projection X·W^T
	// r is R^T packed k-major ([D][H][4H]) when R is constant, else R
	// itself ([D][4H][H]), transposed into a temp by each task.
	r      buf
	rConst bool
	bias   []lstmBias // added to the projection (none without B)
	p      buf        // peepholes [D][3H] (zero buf: none)
	h0, c0 buf        // initial states (zero buf: zeros)
	lens   *ir.Value  // run-time sequence_lens (i32 [B]) or nil
	y      *ir.Value  // Y or nil
	yh, yc *ir.Value  // the states, or nil (then temps)
	out    *ir.Value
}

// lstmBias is one bias term: element j of direction d's gates is
// b[d*dStride + off + j].
type lstmBias struct {
	b            buf
	dStride, off int64
}

func (x buf) present() bool { return x.v != nil || x.w != nil }

func (k *lstmKernel) inputs() []buf {
	bs := []buf{{v: k.xp}, k.r}
	for _, t := range k.bias {
		bs = append(bs, t.b)
	}
	for _, x := range []buf{k.p, k.h0, k.c0} {
		if x.present() {
			bs = append(bs, x)
		}
	}
	for _, v := range []*ir.Value{k.lens, k.y, k.yh, k.yc} {
		if v != nil {
			bs = append(bs, buf{v: v})
		}
	}
	return bs
}
func (k *lstmKernel) output() *ir.Value { return k.out }

// temps: the gates of one batch row per direction, the states when Y_h /
// Y_c are not outputs, and R^T when R is a run-time value.
func (k *lstmKernel) temps() []int64 {
	s := k.s
	st := s.D * s.B * s.H * 4
	rt := int64(4)
	if !k.rConst {
		rt = s.D * s.H * 4 * s.H * 4
	}
	return []int64{s.D * 4 * s.H * 4, st, st, rt}
}

func (k *lstmKernel) describe() string {
	return fmt.Sprintf("lstm %s T=%d B=%d H=%d %s", k.s.dir, k.s.T, k.s.B, k.s.H, k.node)
}

// lstmView is a value of another shape over the storage of v.
// (A constant is decoded: the view is a dense constant.)
func lstmView(l *lowering, v *ir.Value, name string, shape ...int64) (*ir.Value, error) {
	if v.Const != nil {
		t, err := v.Const.Dense()
		if err != nil {
			return nil, err
		}
		c := *t
		c.Shape = shape
		return &ir.Value{Name: v.Name + name, Type: ir.TensorType(ir.Float32, ir.ShapeOf(shape...)), Const: &c}, nil
	}
	view := &ir.Value{Name: v.Name + name, Type: ir.TensorType(ir.Float32, ir.ShapeOf(shape...))}
	l.alias[view] = l.root(v)
	return view, nil
}

func lowerLSTM(l *lowering, n *ir.Node) ([]kernel, error) {
	s, err := lstmParse(n)
	if err != nil {
		return nil, err
	}
	c := l.c
	name := nodeName(n)
	G := 4 * s.H
	// The projection of every step and direction as one Gemm:
	// X [T·B, I] · W^T, W viewed as [D·4H, I].
	xs := mustShape(n.Inputs[0])
	xp := &ir.Value{Name: name + ":lstm_xproj", Type: ir.TensorType(ir.Float32, ir.ShapeOf(xs[0], xs[1], s.D*G))}
	w, err := lstmView(l, n.Inputs[1], ":lstm_w", s.D*G, s.I)
	if err != nil {
		return nil, err
	}
	gn := &ir.Node{Op: "Gemm", Name: name + ":xproj", Inputs: []*ir.Value{n.Inputs[0], w}, Outputs: []*ir.Value{xp},
		Attrs: map[string]*ir.Attr{"transB": ir.IntAttr(1)}}
	gk, err := newGemmKernel(l, gn)
	if err != nil {
		return nil, fmt.Errorf("input projection: %w", err)
	}
	k := &lstmKernel{s: s, node: name, xp: xp, out: ctrlPlaceholder(name + ":lstm")}
	if rv := n.Inputs[2]; rv.Const != nil {
		rData, _, err := constF32(rv)
		if err != nil {
			return nil, err
		}
		k.r, k.rConst = buf{w: c.weight(rv, fmt.Sprintf("lstm_rt(h=%d)", s.H), []int64{s.D, s.H, G}, lstmTransposeR(rData, s.D, s.H))}, true
	} else {
		k.r = buf{v: rv}
	}
	if bv := n.Input(3); bv != nil && bv.Const != nil {
		bData, _, err := constF32(bv)
		if err != nil {
			return nil, err
		}
		sum := make([]float32, s.D*G)
		for d := int64(0); d < s.D; d++ {
			for j := int64(0); j < G; j++ {
				sum[d*G+j] = bData[d*2*G+j] + bData[d*2*G+G+j]
			}
		}
		k.bias = []lstmBias{{b: buf{w: c.weight(bv, "lstm_bias_sum", []int64{s.D, G}, sum)}, dStride: G}}
	} else if bv != nil {
		k.bias = []lstmBias{{b: buf{v: bv}, dStride: 2 * G}, {b: buf{v: bv}, dStride: 2 * G, off: G}}
	}
	for i, dst := range []*buf{&k.p, &k.h0, &k.c0} {
		if v := n.Input([]int{7, 5, 6}[i]); v != nil {
			if *dst, err = copySrc(c, v); err != nil {
				return nil, err
			}
		}
	}
	if s.seqLens {
		k.lens = n.Inputs[4]
	}
	ks := []kernel{gk}
	outs := []**ir.Value{&k.y, &k.yh, &k.yc}
	for i, o := range n.Outputs {
		if o != nil && i < 3 {
			*outs[i] = o
			ks = append(ks, &lstmAllocKernel{out: o})
		}
	}
	return append(ks, k), nil
}

// lstmTransposeR packs R [D][4H][H] k-major: [D][H][4H].
func lstmTransposeR(r []float32, D, H int64) []float32 {
	G := 4 * H
	rt := make([]float32, D*H*G)
	for d := int64(0); d < D; d++ {
		for j := int64(0); j < G; j++ {
			for kk := int64(0); kk < H; kk++ {
				rt[d*H*G+kk*G+j] = r[d*G*H+j*H+kk]
			}
		}
	}
	return rt
}

func (k *lstmKernel) emit(e *segEmitter, temps []int64) error {
	s := k.s
	G := 4 * s.H
	L := e.c.t.Lanes()
	b, ctx, begin, end := e.task("_lstm")
	xp := e.ptr(b, ctx, buf{v: k.xp})
	rIn := e.ptr(b, ctx, k.r)
	gates := e.tempPtr(b, ctx, temps[0])
	state := func(v *ir.Value, off int64) value.Value {
		if v != nil {
			return e.ptr(b, ctx, buf{v: v})
		}
		return e.tempPtr(b, ctx, off)
	}
	hAll, cAll := state(k.yh, temps[1]), state(k.yc, temps[2])
	opt := func(x buf) value.Value {
		if x.present() {
			return e.ptr(b, ctx, x)
		}
		return nil
	}
	pp, h0, c0 := opt(k.p), opt(k.h0), opt(k.c0)
	var y, lens value.Value
	if k.y != nil {
		y = e.ptr(b, ctx, buf{v: k.y})
	}
	if k.lens != nil {
		lens = b.cur.NewBitCast(e.ptr(b, ctx, buf{v: k.lens}), types.NewPointer(types.I32))
	}
	biasPtrs := make([]value.Value, len(k.bias))
	for i, t := range k.bias {
		biasPtrs[i] = e.ptr(b, ctx, t.b)
	}
	b.loop(begin, end, 1, func(d value.Value) {
		g := b.gepF(gates, b.mul(d, ci(G)))
		var r value.Value
		if k.rConst {
			r = b.gepF(rIn, b.mul(d, ci(s.H*G)))
		} else {
			// R^T of this direction into the temp.
			r = b.gepF(e.tempPtr(b, ctx, temps[3]), b.mul(d, ci(s.H*G)))
			src := b.gepF(rIn, b.mul(d, ci(s.H*G)))
			b.loop(ci(0), ci(G), 1, func(j value.Value) {
				b.loop(ci(0), ci(s.H), 1, func(kk value.Value) {
					b.store(b.load(b.gepF(src, b.add(b.mul(j, ci(s.H)), kk)), 1), b.gepF(r, b.add(b.mul(kk, ci(G)), j)), 1)
				})
			})
		}
		bias := make([]value.Value, len(k.bias))
		for i, t := range k.bias {
			bias[i] = b.gepF(biasPtrs[i], b.add(b.mul(d, ci(t.dStride)), ci(t.off)))
		}
		// Initial states.
		b.loop(ci(0), ci(s.B), 1, func(bi value.Value) {
			off := s.stateOff(b, d, bi)
			for _, st := range []struct{ dst, src value.Value }{{hAll, h0}, {cAll, c0}} {
				b.loop(ci(0), ci(s.H), 1, func(j value.Value) {
					var x value.Value = cf(0)
					if st.src != nil {
						x = b.load(b.gepF(st.src, b.add(off, j)), 1)
					}
					b.store(x, b.gepF(st.dst, b.add(off, j)), 1)
				})
			}
		})
		var rev value.Value = cbool(s.dir == "reverse")
		if s.dir == "bidirectional" {
			rev = b.cur.NewICmp(enum.IPredEQ, d, ci(1))
		}
		var pd value.Value
		if pp != nil {
			pd = b.gepF(pp, b.mul(d, ci(3*s.H)))
		}
		if lens != nil && y != nil {
			// Rows past a sequence's end stay zero.
			b.loop(ci(0), ci(s.T), 1, func(t value.Value) {
				b.loop(ci(0), ci(s.B), 1, func(bi value.Value) {
					yr := b.gepF(y, s.yOff(b, t, d, bi))
					b.loop(ci(0), ci(s.H), 1, func(j value.Value) { b.store(cf(0), b.gepF(yr, j), 1) })
				})
			})
		}
		b.loop(ci(0), ci(s.T), 1, func(t value.Value) {
			b.loop(ci(0), ci(s.B), 1, func(bi value.Value) {
				var n value.Value = ci(s.T)
				if lens != nil {
					n = b.cur.NewSExt(b.cur.NewLoad(types.I32, b.cur.NewGetElementPtr(types.I32, lens, bi)), tI64)
				}
				b.ifThen(b.cur.NewICmp(enum.IPredSLT, t, n), func() {
					tt := b.cur.NewSelect(rev, b.cur.NewSub(b.cur.NewSub(n, ci(1)), t), t)
					k.emitStep(b, L, tt, d, bi, xp, bias, hAll, cAll, r, g, y, pd)
				})
			})
		})
		if lens != nil {
			// An empty sequence ends with zero states.
			b.loop(ci(0), ci(s.B), 1, func(bi value.Value) {
				n := b.cur.NewLoad(types.I32, b.cur.NewGetElementPtr(types.I32, lens, bi))
				b.ifThen(b.cur.NewICmp(enum.IPredEQ, n, constant.NewInt(types.I32, 0)), func() {
					off := s.stateOff(b, d, bi)
					b.loop(ci(0), ci(s.H), 1, func(j value.Value) {
						b.store(cf(0), b.gepF(hAll, b.add(off, j)), 1)
						b.store(cf(0), b.gepF(cAll, b.add(off, j)), 1)
					})
				})
			})
		}
	})
	e.launch(b, s.D, float64(s.D*s.T*s.B*G*s.H*2))
	return nil
}

// emitStep runs the cell of direction d for batch entry bi at time tt.
func (k *lstmKernel) emitStep(b *fnb, L int, tt, d, bi, xp value.Value, bias []value.Value, hAll, cAll, r, g, y, pd value.Value) {
	s := k.s
	G := 4 * s.H
	row := b.add(b.mul(s.xRow(b, tt, bi), ci(s.D*G)), b.mul(d, ci(G)))
	off := s.stateOff(b, d, bi)
	hr, cr := b.gepF(hAll, off), b.gepF(cAll, off)
	k.emitGemv(b, L, b.gepF(xp, row), bias, hr, r, g)
	var yr value.Value
	if y != nil {
		yr = b.gepF(y, s.yOff(b, tt, d, bi))
	}
	vecEnd := s.H / int64(L) * int64(L)
	if L > 1 && vecEnd > 0 {
		b.loop(ci(0), ci(vecEnd), int64(L), func(j value.Value) { k.emitCell(b, L, j, g, hr, cr, yr, pd) })
	}
	b.loop(ci(vecEnd), ci(s.H), 1, func(j value.Value) { k.emitCell(b, 1, j, g, hr, cr, yr, pd) })
}

// lstmGemvVecs is the number of independent vector accumulators of the
// recurrent GEMV.
const lstmGemvVecs = 8

// emitGemv writes g[j] = xp[j] + Σ bias[j] + Σ_k h[k]·r[k*4H + j] for
// the 4H gate columns: chunks of up to lstmGemvVecs vectors, then scalar
// columns.
func (k *lstmKernel) emitGemv(b *fnb, L int, xp value.Value, bias []value.Value, h, r, g value.Value) {
	G := 4 * k.s.H
	chunk := func(j0 int64, n int, w int) {
		acc := make([]value.Value, n)
		for i := range acc {
			acc[i] = b.load(b.gepF(xp, ci(j0+int64(i*w))), w)
			for _, bp := range bias {
				acc[i] = b.cur.NewFAdd(acc[i], b.load(b.gepF(bp, ci(j0+int64(i*w))), w))
			}
		}
		acc = b.forLoop(ci(0), ci(k.s.H), 1, acc, func(kk value.Value, c []value.Value) []value.Value {
			hk := b.splat(b.load(b.gepF(h, kk), 1), w)
			rr := b.gepF(r, b.mul(kk, ci(G)))
			next := make([]value.Value, n)
			for i := range c {
				next[i] = b.fma(hk, b.load(b.gepF(rr, ci(j0+int64(i*w))), w), c[i], w)
			}
			return next
		})
		for i := range acc {
			b.store(acc[i], b.gepF(g, ci(j0+int64(i*w))), w)
		}
	}
	j := int64(0)
	if L > 1 {
		for ; j+int64(L) <= G; j += int64(lstmGemvVecs * L) {
			n := min(lstmGemvVecs, int((G-j)/int64(L)))
			chunk(j, n, L)
			if n < lstmGemvVecs {
				j += int64(n * L)
				break
			}
		}
	}
	for ; j < G; j += lstmGemvVecs {
		chunk(j, int(min(lstmGemvVecs, G-j)), 1)
	}
}

// emitCell updates hidden units j..j+w-1 of one batch row from the gates.
func (k *lstmKernel) emitCell(b *fnb, w int, j, g, h, c, y, p value.Value) {
	s := k.s
	H := s.H
	ld := func(base value.Value, off int64) value.Value { return b.load(b.gepF(base, b.add(j, ci(off))), w) }
	act := func(op string, x value.Value) value.Value {
		if s.clip > 0 {
			x = b.fmin(b.fmax(x, constF(-s.clip, w)), constF(s.clip, w))
		}
		return b.emitExpr(&expr{op: op, args: []*expr{leafExpr(0)}}, []value.Value{x}, w)
	}
	cPrev := ld(c, 0)
	gi, gout, gf, gc := ld(g, 0), ld(g, H), ld(g, 2*H), ld(g, 3*H)
	if p != nil {
		gi = b.fma(ld(p, 0), cPrev, gi, w)
		gf = b.fma(ld(p, 2*H), cPrev, gf, w)
	}
	iv := act(s.acts[0], gi)
	var fv value.Value
	if s.inputForget {
		fv = b.cur.NewFSub(constF(1, w), iv)
	} else {
		fv = act(s.acts[0], gf)
	}
	cNew := b.fma(fv, cPrev, b.cur.NewFMul(iv, act(s.acts[1], gc)), w)
	if p != nil {
		gout = b.fma(ld(p, H), cNew, gout, w)
	}
	hNew := b.cur.NewFMul(act(s.acts[0], gout), b.emitExpr(&expr{op: s.acts[2], args: []*expr{leafExpr(0)}}, []value.Value{cNew}, w))
	b.store(cNew, b.gepF(c, j), w)
	b.store(hNew, b.gepF(h, j), w)
	if y != nil {
		b.store(hNew, b.gepF(y, j), w)
	}
}

func init() {
	registerLowering("LSTM", &opLowering{
		ownTypes: true,
		inputs:   lstmRunInputs,
		check: func(n *ir.Node, _ int64) error {
			_, err := lstmParse(n)
			return err
		},
		lowerMulti: lowerLSTM,
	})
}
