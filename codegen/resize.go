package codegen

import (
	"fmt"
	"math"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// Resize (opsets 10-19) and Upsample (7, 9). A nearest Resize that only
// replicates by integer factors is a region copy (copy.go's lowerResize);
// every other form is resizeKernel:
//
//   - modes nearest (every nearest_mode, and Resize-10/Upsample's rule),
//     linear and cubic (cubic_coeff_a, exclude_outside);
//   - coordinate_transformation_mode half_pixel, pytorch_half_pixel,
//     align_corners, asymmetric, tf_half_pixel_for_nn and
//     tf_crop_and_resize (roi, extrapolation_value);
//   - scales constant or read at run time, sizes, any rank.
//
// A first task (one thread) computes for every dim its tap table: per
// output index, the clamped input offsets of its taps (1 nearest, 2
// linear, 4 cubic) and their weights, from the scale (a run-time input is
// read there). Coordinates are float32 in ONNX Runtime's order and an
// axis of scale 1 copies its input, as the interpreter does. The second
// kernel computes each output element from its dims' tables: nearest and
// identity dims add an offset; the interpolated dims nest their weighted
// sums innermost first, the order of a separable resampling. Offsets are
// clamped, so no tap reads outside the input.
//
// The output shape is static: run-time scales (or sizes) that do not give
// it, and run-time scales of an axis of equal input and output length
// other than 1, make the segment return StatusResizeScales.

type resizeSpec struct {
	mode           int // resizeModeNearest, …
	coord, nearest string
	cubicA         float64
	exclude        bool
	extrap         float32
	scalesC        []float64 // constant scales
	scalesV        *ir.Value // run-time scales
	sizesV         *ir.Value // run-time sizes (checked against the output shape)
	fromSizes      bool
	roiC           []float64
	roiV           *ir.Value
}

const (
	resizeModeNearest = iota
	resizeModeLinear
	resizeModeCubic
)

// resizeTaps is the number of taps per output index.
func (s *resizeSpec) taps() int64 { return []int64{1, 2, 4}[s.mode] }

// resizeOptional returns v, or nil when it is absent or empty.
func resizeOptional(v *ir.Value) *ir.Value {
	if v == nil {
		return nil
	}
	if sh, ok := concreteShape(v); ok && ir.NumElements(sh) == 0 {
		return nil
	}
	return v
}

// resizeFloats reads a constant float tensor (ok false when v is not one).
func resizeFloats(v *ir.Value) ([]float64, bool) {
	t, ok := ir.ConstValue(v)
	if !ok {
		return nil, false
	}
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.Float64At(i)
	}
	return out, true
}

// resizeSpecOf reads a Resize or Upsample node and checks the types of
// its run-time inputs (the lowering checks types itself: sizes are int64).
func resizeSpecOf(n *ir.Node, opset int64) (*resizeSpec, error) {
	if len(n.Inputs) == 0 || n.Inputs[0] == nil || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return nil, fmt.Errorf("%s needs an input and one output", n.Op)
	}
	for _, v := range []*ir.Value{n.Inputs[0], n.Outputs[0]} {
		if err := checkF32(v); err != nil {
			return nil, err
		}
	}
	in, out := mustShape(n.Inputs[0]), mustShape(n.Outputs[0])
	if len(in) == 0 || len(in) != len(out) {
		return nil, fmt.Errorf("%s of %v to %v (rank 0 or a rank change)", n.Op, in, out)
	}
	for d := range in {
		if in[d] == 0 || out[d] == 0 {
			return nil, fmt.Errorf("%s of %v to %v: empty tensors are not lowered", n.Op, in, out)
		}
	}
	s := &resizeSpec{
		coord:   n.AttrString("coordinate_transformation_mode", "half_pixel"),
		nearest: n.AttrString("nearest_mode", "round_prefer_floor"),
		cubicA:  float64(n.AttrFloat("cubic_coeff_a", -0.75)),
		exclude: n.AttrInt("exclude_outside", 0) != 0,
		extrap:  n.AttrFloat("extrapolation_value", 0),
	}
	// Opset 18's antialias, axes and keep_aspect_ratio_policy are not
	// lowered (half_pixel_symmetric, 19, neither: see the switch below).
	if n.AttrInt("antialias", 0) != 0 || n.HasAttr("axes") || n.AttrString("keep_aspect_ratio_policy", "stretch") != "stretch" {
		return nil, fmt.Errorf("Resize with antialias, axes or keep_aspect_ratio_policy is not lowered")
	}
	mode := n.AttrString("mode", "nearest")
	var scalesIn, sizesIn, roiIn *ir.Value
	switch {
	case n.Op == "Upsample":
		s.coord, s.nearest = "asymmetric", "simple"
		if mode == "bilinear" {
			mode = "linear"
		}
		if mode == "cubic" {
			return nil, fmt.Errorf("Upsample mode cubic")
		}
		if fs := n.AttrFloats("scales", nil); fs != nil {
			for _, f := range fs {
				s.scalesC = append(s.scalesC, float64(f))
			}
		} else if scalesIn = resizeOptional(n.Input(1)); scalesIn == nil {
			return nil, fmt.Errorf("Upsample needs scales")
		}
	case opset < 11:
		s.coord, s.nearest = "asymmetric", "simple"
		scalesIn = resizeOptional(n.Input(1))
	default:
		roiIn, scalesIn, sizesIn = resizeOptional(n.Input(1)), resizeOptional(n.Input(2)), resizeOptional(n.Input(3))
	}
	switch mode {
	case "nearest":
		s.mode = resizeModeNearest
	case "linear":
		s.mode = resizeModeLinear
	case "cubic":
		s.mode = resizeModeCubic
	default:
		return nil, fmt.Errorf("%s mode %q", n.Op, mode)
	}
	switch s.coord {
	case "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize":
	default:
		return nil, fmt.Errorf("Resize coordinate_transformation_mode %s is not lowered", s.coord)
	}
	switch s.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple":
	default:
		return nil, fmt.Errorf("Resize nearest_mode %s is not lowered", s.nearest)
	}
	// checkRT accepts a run-time input of dtype d with a static shape of n
	// elements.
	checkRT := func(v *ir.Value, d ir.DType, what string, cnt int64) error {
		sh, ok := concreteShape(v)
		if v.Type.Kind != ir.KindTensor || v.Type.DType != d || !ok {
			return fmt.Errorf("%s %s %q is %s (a %s tensor with a static shape is lowered)", n.Op, what, v.Name, v.Type, d)
		}
		if ir.NumElements(sh) != cnt {
			return fmt.Errorf("%s %s %q has %v elements, want %d", n.Op, what, v.Name, sh, cnt)
		}
		return nil
	}
	r := int64(len(in))
	switch {
	case scalesIn != nil && sizesIn != nil:
		return nil, fmt.Errorf("Resize has both scales and sizes")
	case scalesIn != nil:
		if sc, ok := resizeFloats(scalesIn); ok {
			s.scalesC = sc
		} else if err := checkRT(scalesIn, ir.Float32, "scales", r); err != nil {
			return nil, err
		} else {
			s.scalesV = scalesIn
		}
	case sizesIn != nil:
		s.fromSizes = true
		if sz, ok := copyConstInts(sizesIn); ok {
			for d := range sz {
				if d >= len(out) || sz[d] != out[d] {
					return nil, fmt.Errorf("Resize sizes %v do not match the output shape %v", sz, out)
				}
			}
		} else if err := checkRT(sizesIn, ir.Int64, "sizes", r); err != nil {
			return nil, err
		} else {
			s.sizesV = sizesIn
		}
	case s.scalesC == nil:
		return nil, fmt.Errorf("%s has neither scales nor sizes", n.Op)
	}
	if s.scalesC != nil {
		if int64(len(s.scalesC)) != r {
			return nil, fmt.Errorf("%s has %d scales for rank %d", n.Op, len(s.scalesC), r)
		}
		for d, sc := range s.scalesC {
			if !(sc > 0) || math.IsInf(sc, 0) {
				return nil, fmt.Errorf("%s scale %g", n.Op, sc)
			}
			if int64(math.Floor(float64(in[d])*sc)) != out[d] {
				return nil, fmt.Errorf("%s scales %v do not give the output shape %v", n.Op, s.scalesC, out)
			}
		}
	}
	if s.coord == "tf_crop_and_resize" {
		if roiIn == nil {
			return nil, fmt.Errorf("Resize tf_crop_and_resize needs roi")
		}
		if rc, ok := resizeFloats(roiIn); ok {
			if int64(len(rc)) != 2*r {
				return nil, fmt.Errorf("Resize roi has %d values for rank %d", len(rc), r)
			}
			s.roiC = rc
		} else if err := checkRT(roiIn, ir.Float32, "roi", 2*r); err != nil {
			return nil, err
		} else {
			s.roiV = roiIn
		}
	}
	return s, nil
}

// runtimeInputs are the inputs resizeKernel reads at run time (x first).
func (s *resizeSpec) runtimeInputs(x *ir.Value) []*ir.Value {
	ins := []*ir.Value{x}
	for _, v := range []*ir.Value{s.scalesV, s.sizesV, s.roiV} {
		if v != nil {
			ins = append(ins, v)
		}
	}
	return ins
}

type resizeKernel struct {
	node    string
	s       *resizeSpec
	x       buf
	out     *ir.Value
	in, osh []int64
	// single[d]: dim d takes one tap (nearest, or an identity axis).
	single []bool
}

func newResizeKernel(l *lowering, n *ir.Node) (kernel, error) {
	s, err := resizeSpecOf(n, l.c.g.Opset(""))
	if err != nil {
		return nil, err
	}
	x, err := copySrc(l.c, n.Inputs[0])
	if err != nil {
		return nil, err
	}
	k := &resizeKernel{node: nodeName(n), s: s, x: x, out: n.Outputs[0], in: mustShape(n.Inputs[0]), osh: mustShape(n.Outputs[0])}
	k.single = make([]bool, len(k.in))
	for d := range k.in {
		// An axis of equal lengths is an identity unless cropped (run-time
		// scales are checked to be 1 there); constant scales or sizes tell
		// at compile time.
		k.single[d] = s.mode == resizeModeNearest || s.coord != "tf_crop_and_resize" && k.in[d] == k.osh[d] && (s.scalesC == nil || s.scalesC[d] == 1)
	}
	return k, nil
}

func (k *resizeKernel) inputs() []buf {
	bs := []buf{k.x}
	for _, v := range k.s.runtimeInputs(nil)[1:] {
		bs = append(bs, buf{v: v})
	}
	return bs
}
func (k *resizeKernel) output() *ir.Value { return k.out }

// tableLayout returns the byte offsets (within the table temp) of each
// dim's offsets (i64), weights (f32) and outside flags (i32), and the
// total size.
func (k *resizeKernel) tableLayout() (offs, wts, outs []int64, size int64) {
	T := k.s.taps()
	al := func(n int64) int64 { return (n + planAlign - 1) / planAlign * planAlign }
	for _, o := range k.osh {
		offs = append(offs, size)
		size += al(8 * o * T)
		wts = append(wts, size)
		size += al(4 * o * T)
		outs = append(outs, size)
		size += al(4 * o)
	}
	return offs, wts, outs, size
}

func (k *resizeKernel) temps() []int64 {
	_, _, _, size := k.tableLayout()
	return []int64{planAlign, size}
}

func (k *resizeKernel) describe() string {
	return fmt.Sprintf("resize %s %s %v -> %v %s", []string{"nearest", "linear", "cubic"}[k.s.mode], k.s.coord, k.in, k.osh, k.node)
}

// emit: the table task, the run-time check, then the resampling kernel.
func (k *resizeKernel) emit(e *segEmitter, temps []int64) error {
	flagOff, tabOff := temps[0], temps[1]
	if k.s.scalesV != nil || k.s.sizesV != nil {
		gatherFlagReset(e, flagOff)
	}
	k.emitTables(e, flagOff, tabOff)
	if k.s.scalesV != nil || k.s.sizesV != nil {
		gatherFlagReturn(e, flagOff, StatusResizeScales)
	}
	k.emitResample(e, tabOff)
	return nil
}

// resizeAt is a pointer to t at byte offset off from base.
func resizeAt(b *fnb, base value.Value, off int64, t types.Type) value.Value {
	p := b.gep(types.I8, b.cur.NewBitCast(base, tI8P), ci(off))
	return b.cur.NewBitCast(p, types.NewPointer(t))
}

func (k *resizeKernel) emitTables(e *segEmitter, flagOff, tabOff int64) {
	s := k.s
	T := s.taps()
	offs, wts, outs, _ := k.tableLayout()
	b, ctx, _, _ := e.task("_resize_tables")
	tab := e.tempPtr(b, ctx, tabOff)
	flag := b.cur.NewBitCast(e.tempPtr(b, ctx, flagOff), types.NewPointer(types.I32))
	var scalesP, sizesP, roiP value.Value
	if s.scalesV != nil {
		scalesP = e.ptr(b, ctx, buf{v: s.scalesV})
	}
	if s.sizesV != nil {
		sizesP = b.cur.NewBitCast(e.ptr(b, ctx, buf{v: s.sizesV}), types.NewPointer(types.I64))
	}
	if s.roiV != nil {
		roiP = e.ptr(b, ctx, buf{v: s.roiV})
	}
	tD := types.Double
	cd := func(x float64) value.Value { return constFD(x) }
	fail := func(cond value.Value) { b.ifThen(cond, func() { gatherFlagSet(b, flag) }) }
	r := len(k.in)
	stride := copyContig(k.in)
	for d := 0; d < r; d++ {
		in, out := k.in[d], k.osh[d]
		// scale (f32) and length_resized (f32).
		var scale, lenRes value.Value
		switch {
		case s.fromSizes:
			scale, lenRes = cf(float64(float32(float64(out)/float64(in)))), cf(float64(out))
			if sizesP != nil {
				sz := b.cur.NewLoad(types.I64, b.gep(types.I64, sizesP, ci(int64(d))))
				fail(b.cur.NewICmp(enum.IPredNE, sz, ci(out)))
			}
		case s.scalesC != nil:
			scale, lenRes = cf(s.scalesC[d]), cf(float64(in)*s.scalesC[d])
		default:
			scale = b.load(b.gepF(scalesP, ci(int64(d))), 1)
			prod := b.cur.NewFMul(b.cur.NewFPExt(scale, tD), cd(float64(in)))
			lenRes = b.cur.NewFPTrunc(prod, tF32)
			// floor(in·scale) must be the compiled length, and an axis of
			// equal lengths must have scale 1 (it is lowered as a copy).
			// (Compared as floats: a NaN or infinite scale fails too.)
			bad := value.Value(b.cur.NewFCmp(enum.FPredUNE, b.call1D("llvm.floor", prod), cd(float64(out))))
			if in == out && k.single[d] && s.mode != resizeModeNearest {
				bad = b.cur.NewOr(bad, b.cur.NewFCmp(enum.FPredUNE, scale, cf(1)))
			}
			fail(bad)
		}
		var roiS, roiE value.Value
		if s.coord == "tf_crop_and_resize" {
			if s.roiC != nil {
				roiS, roiE = cf(s.roiC[d]), cf(s.roiC[r+d])
			} else {
				roiS, roiE = b.load(b.gepF(roiP, ci(int64(d))), 1), b.load(b.gepF(roiP, ci(int64(r+d))), 1)
			}
		}
		offP := resizeAt(b, tab, offs[d], types.I64)
		wP := resizeAt(b, tab, wts[d], tF32)
		oP := resizeAt(b, tab, outs[d], types.I32)
		identity := value.Value(cbool(false))
		if in == out && s.coord != "tf_crop_and_resize" {
			identity = b.cur.NewFCmp(enum.FPredOEQ, scale, cf(1))
		}
		b.loop(ci(0), ci(out), 1, func(o value.Value) {
			xo := k.original(b, b.cur.NewSIToFP(o, tF32), scale, lenRes, roiS, roiE, in)
			outside := value.Value(cbool(false))
			if s.coord == "tf_crop_and_resize" {
				outside = b.cur.NewOr(b.cur.NewFCmp(enum.FPredOLT, xo, cf(0)), b.cur.NewFCmp(enum.FPredOGT, xo, cf(float64(in-1))))
			}
			// Clamped to [−8, in+8] (a NaN to −8) before the integer
			// conversions: every tap then clamps to the edge as it would
			// unclamped, and no conversion overflows.
			xc := b.fmin(cf(float64(in+8)), b.fmax(cf(-8), xo))
			fl := b.call1("llvm.floor", xc, 1)
			base := b.cur.NewFPToSI(fl, tI64)
			rr := b.cur.NewFPExt(b.cur.NewFSub(xc, fl), tD)
			idx := make([]value.Value, T)
			w := make([]value.Value, T)
			switch s.mode {
			case resizeModeNearest:
				idx[0], w[0] = k.nearestIndex(b, xc, fl, base, scale), cd(1)
			case resizeModeLinear:
				idx[0], idx[1] = base, b.add(base, ci(1))
				w[0], w[1] = b.cur.NewFSub(cd(1), rr), rr
			default:
				A := s.cubicA
				far := func(x value.Value) value.Value { // ((A·x − 5A)·x + 8A)·x − 4A
					t := value.Value(b.cur.NewFSub(b.cur.NewFMul(cd(A), x), cd(5*A)))
					t = b.cur.NewFAdd(b.cur.NewFMul(t, x), cd(8*A))
					return b.cur.NewFSub(b.cur.NewFMul(t, x), cd(4*A))
				}
				near := func(x value.Value) value.Value { // ((A+2)·x − (A+3))·x·x + 1
					t := b.cur.NewFSub(b.cur.NewFMul(cd(A+2), x), cd(A+3))
					return b.cur.NewFAdd(b.cur.NewFMul(b.cur.NewFMul(t, x), x), cd(1))
				}
				w[0], w[1] = far(b.cur.NewFAdd(rr, cd(1))), near(rr)
				w[2], w[3] = near(b.cur.NewFSub(cd(1), rr)), far(b.cur.NewFSub(cd(2), rr))
				for t := int64(0); t < 4; t++ {
					idx[t] = b.add(base, ci(t-1))
				}
			}
			if s.exclude && s.mode != resizeModeNearest {
				sum := value.Value(cd(0))
				for t := range w {
					inside := b.cur.NewICmp(enum.IPredULT, idx[t], ci(in))
					w[t] = b.cur.NewSelect(inside, w[t], cd(0))
					sum = b.cur.NewFAdd(sum, w[t])
				}
				nz := b.cur.NewFCmp(enum.FPredUNE, sum, cd(0))
				for t := range w {
					w[t] = b.cur.NewSelect(nz, b.cur.NewFDiv(w[t], sum), w[t])
				}
			}
			for t := int64(0); t < T; t++ {
				// The identity axis maps o to itself with weight 1 (the
				// other taps to o with weight 0).
				i := b.cur.NewSelect(identity, o, resizeClamp(b, idx[t], in))
				wt := value.Value(b.cur.NewFPTrunc(w[t], tF32))
				if t == 0 {
					wt = b.cur.NewSelect(identity, cf(1), wt)
				} else {
					wt = b.cur.NewSelect(identity, cf(0), wt)
				}
				slot := b.add(b.mul(o, ci(T)), ci(t))
				b.cur.NewStore(b.mul(i, ci(stride[d])), b.gep(types.I64, offP, slot))
				b.store(wt, b.gepF(wP, slot), 1)
			}
			b.cur.NewStore(b.cur.NewZExt(b.cur.NewAnd(outside, b.cur.NewXor(identity, cbool(true))), types.I32), b.gep(types.I32, oP, o))
		})
	}
	e.launch(b, 1, 0)
}

// resizeClamp clamps an input index to [0, n).
func resizeClamp(b *fnb, i value.Value, n int64) value.Value {
	i = b.cur.NewSelect(b.cur.NewICmp(enum.IPredSLT, i, ci(0)), ci(0), i)
	return b.minI(i, ci(n-1))
}

// original maps output coordinate x (f32) to the input's, in float32 in
// ONNX Runtime's order of operations.
func (k *resizeKernel) original(b *fnb, x, scale, lenRes, roiS, roiE value.Value, in int64) value.Value {
	c := b.cur
	half := cf(0.5)
	gt1 := c.NewFCmp(enum.FPredOGT, lenRes, cf(1))
	switch k.s.coord {
	case "asymmetric":
		return c.NewFDiv(x, scale)
	case "pytorch_half_pixel":
		return c.NewSelect(gt1, c.NewFSub(c.NewFDiv(c.NewFAdd(x, half), scale), half), cf(0))
	case "tf_half_pixel_for_nn":
		return c.NewFDiv(c.NewFAdd(x, half), scale)
	case "align_corners":
		eq1 := c.NewFCmp(enum.FPredOEQ, lenRes, cf(1))
		den := c.NewFSub(lenRes, cf(1))
		return c.NewSelect(eq1, cf(0), c.NewFDiv(c.NewFMul(x, cf(float64(in-1))), den))
	case "tf_crop_and_resize":
		m := cf(float64(in - 1))
		a := c.NewFMul(roiS, m)
		t := c.NewFDiv(c.NewFMul(c.NewFMul(x, c.NewFSub(roiE, roiS)), m), c.NewFSub(lenRes, cf(1)))
		// 0.5·(start+end)·(in−1) in float64, rounded once.
		mid := c.NewFMul(c.NewFMul(constFD(0.5), c.NewFPExt(c.NewFAdd(roiS, roiE), types.Double)), constFD(float64(in-1)))
		return c.NewSelect(gt1, c.NewFAdd(a, t), c.NewFPTrunc(mid, tF32))
	}
	return c.NewFSub(c.NewFDiv(c.NewFAdd(x, half), scale), half) // half_pixel
}

// nearestIndex rounds the input coordinate xo (f32; fl = floor(xo), base
// its integer) per nearest_mode.
func (k *resizeKernel) nearestIndex(b *fnb, xo, fl, base, scale value.Value) value.Value {
	c := b.cur
	frac := c.NewFSub(xo, fl)
	up := b.add(base, ci(1))
	switch k.s.nearest {
	case "simple": // Resize-10 and Upsample: ceil when downsampling, else trunc
		ceil := c.NewFPToSI(b.call1("llvm.ceil", xo, 1), tI64)
		trunc := c.NewFPToSI(xo, tI64)
		return c.NewSelect(c.NewFCmp(enum.FPredOLT, scale, cf(1)), ceil, trunc)
	case "floor":
		return base
	case "ceil":
		return c.NewFPToSI(b.call1("llvm.ceil", xo, 1), tI64)
	case "round_prefer_ceil":
		return c.NewSelect(c.NewFCmp(enum.FPredOGE, frac, cf(0.5)), up, base)
	}
	return c.NewSelect(c.NewFCmp(enum.FPredOGT, frac, cf(0.5)), up, base) // round_prefer_floor
}

// emitResample computes the output: one task per row of the output (all
// dims but the last).
func (k *resizeKernel) emitResample(e *segEmitter, tabOff int64) {
	s := k.s
	T := s.taps()
	offs, wts, outs, _ := k.tableLayout()
	r := len(k.osh)
	rows := ir.NumElements(k.osh[:r-1])
	last := k.osh[r-1]
	b, ctx, begin, end := e.task("_resize")
	src := e.ptr(b, ctx, k.x)
	dst := e.outPtr(b, ctx, k.out)
	tab := e.tempPtr(b, ctx, tabOff)
	crop := s.coord == "tf_crop_and_resize"
	b.loop(begin, end, 1, func(row value.Value) {
		// The output index of each dim but the last.
		idx := make([]value.Value, r)
		rem := row
		for d := r - 2; d >= 0; d-- {
			idx[d] = b.cur.NewSRem(rem, ci(k.osh[d]))
			rem = b.cur.NewSDiv(rem, ci(k.osh[d]))
		}
		dp := b.gepF(dst, b.mul(row, ci(last)))
		b.loop(ci(0), ci(last), 1, func(j value.Value) {
			idx[r-1] = j
			// Single dims: one offset; any cropped coordinate of a nearest
			// resize takes the extrapolation value.
			base := value.Value(ci(0))
			anyOut := value.Value(cbool(false))
			var active []int
			for d := 0; d < r; d++ {
				if !k.single[d] {
					active = append(active, d)
					continue
				}
				slot := b.mul(idx[d], ci(T))
				base = b.add(base, b.cur.NewLoad(types.I64, b.gep(types.I64, resizeAt(b, tab, offs[d], types.I64), slot)))
				if crop {
					o := b.cur.NewLoad(types.I32, b.gep(types.I32, resizeAt(b, tab, outs[d], types.I32), idx[d]))
					anyOut = b.cur.NewOr(anyOut, b.cur.NewICmp(enum.IPredNE, o, ci32(0)))
				}
			}
			// Interpolated dims: Σ_t w_t · (inner value), the outermost
			// dim's sum outermost; a cropped coordinate of a dim gives the
			// extrapolation value at its level.
			var nest func(a int, off value.Value) value.Value
			nest = func(a int, off value.Value) value.Value {
				if a == len(active) {
					return b.load(b.gepF(src, off), 1)
				}
				d := active[a]
				acc := value.Value(cf(0))
				for t := int64(0); t < T; t++ {
					slot := b.add(b.mul(idx[d], ci(T)), ci(t))
					o := b.cur.NewLoad(types.I64, b.gep(types.I64, resizeAt(b, tab, offs[d], types.I64), slot))
					w := b.load(b.gepF(resizeAt(b, tab, wts[d], tF32), slot), 1)
					acc = b.cur.NewFAdd(acc, b.cur.NewFMul(w, nest(a+1, b.add(off, o))))
				}
				if crop {
					o := b.cur.NewLoad(types.I32, b.gep(types.I32, resizeAt(b, tab, outs[d], types.I32), idx[d]))
					acc = b.cur.NewSelect(b.cur.NewICmp(enum.IPredNE, o, ci32(0)), cf(float64(s.extrap)), acc)
				}
				return acc
			}
			v := nest(0, base)
			if crop {
				v = b.cur.NewSelect(anyOut, cf(float64(s.extrap)), v)
			}
			b.store(v, b.gepF(dp, j), 1)
		})
	})
	nActive := 0
	for _, one := range k.single {
		if !one {
			nActive++
		}
	}
	e.launch(b, rows, float64(rows*last)*math.Pow(float64(T), float64(nActive)))
}

// constFD is a double constant.
func constFD(x float64) value.Value { return constant.NewFloat(types.Double, x) }

// call1D calls a unary double intrinsic (llvm.floor.f64, …).
func (b *fnb) call1D(base string, x value.Value) value.Value {
	f := b.mod.declare(base+".f64", types.Double, types.Double)
	return b.cur.NewCall(f, x)
}

// resizeGeneral reports whether n is lowered by resizeKernel (not a pure
// replication, which copy.go's lowerResize copies).
func resizeGeneral(n *ir.Node, opset int64) bool {
	if n.Op != "Resize" {
		return true
	}
	_, err := resizeFactors(n, opset)
	return err != nil
}

func init() {
	for _, op := range []string{"Resize", "Upsample"} {
		registerLowering(op, &opLowering{
			ownTypes: true,
			inputs: func(n *ir.Node) []*ir.Value {
				// The graph's opset is not known here; the forms differ in
				// run-time inputs only where scales, sizes or roi are not
				// constants, which both readings agree on.
				s, err := resizeSpecOf(n, 13)
				if n.Op == "Resize" && len(n.Inputs) == 2 {
					s, err = resizeSpecOf(n, 10)
				}
				if err != nil {
					return n.Inputs[:1]
				}
				return s.runtimeInputs(n.Inputs[0])
			},
			// resizeSpecOf checks what both forms need (f32 data with
			// static shapes, the types of run-time scales, sizes, roi).
			check: func(n *ir.Node, opset int64) error {
				_, err := resizeSpecOf(n, opset)
				return err
			},
			lower: func(l *lowering, n *ir.Node) (kernel, error) {
				if !resizeGeneral(n, l.c.g.Opset("")) {
					return lowerResize(l, n)
				}
				return newResizeKernel(l, n)
			},
		})
	}
}
