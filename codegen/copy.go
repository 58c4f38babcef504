package codegen

import (
	"fmt"

	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// Data-movement ops (Transpose, Slice, Expand, Concat, Gather with
// constant indices, Pad, nearest Resize by integer factors) are lowered to
// one kernel, regionKernel: an optional constant fill of the output, then
// strided copies of input regions into output regions. Each copy is a loop
// nest over dims where element idx reads src[srcOff + Σ idx_d·srcSt_d] and
// writes out[dstOff + Σ idx_d·dstSt_d]; adjacent dims that are linear in
// both are merged (collapseDims), and an inner dim contiguous on both
// sides is copied in vectors.

// copyPiece is one strided copy of a regionKernel.
type copyPiece struct {
	src            buf
	dims           []int64
	srcSt, dstSt   []int64
	srcOff, dstOff int64
}

type regionKernel struct {
	op     string
	out    *ir.Value
	fill   *float32
	pieces []copyPiece
}

func (k *regionKernel) inputs() []buf {
	var bs []buf
	for _, p := range k.pieces {
		bs = append(bs, p.src)
	}
	return bs
}
func (k *regionKernel) output() *ir.Value { return k.out }
func (k *regionKernel) temps() []int64    { return nil }
func (k *regionKernel) describe() string {
	s, _ := concreteShape(k.out)
	return fmt.Sprintf("%s %v (%d copies)", k.op, s, len(k.pieces))
}

// copyContig are the row-major element strides of shape.
func copyContig(shape []int64) []int64 {
	st := make([]int64, len(shape))
	s := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// copySrc is the buffer of a kernel operand: a stored weight for constants.
func copySrc(c *compiler, v *ir.Value) (buf, error) {
	if v.Const == nil {
		return buf{v: v}, nil
	}
	w, err := c.denseWeight(v)
	if err != nil {
		return buf{}, err
	}
	return buf{w: w}, nil
}

func (k *regionKernel) emit(e *segEmitter, _ []int64) error {
	L := int64(e.c.t.Lanes())
	if k.fill != nil {
		total := ir.NumElements(mustShape(k.out))
		nch := (total + ewChunk - 1) / ewChunk
		b, ctx, begin, end := e.task("_fill")
		out := e.outPtr(b, ctx, k.out)
		v := float64(*k.fill)
		b.loop(begin, end, 1, func(t value.Value) {
			c0 := b.mul(t, ci(ewChunk))
			c1 := b.minI(b.add(c0, ci(ewChunk)), ci(total))
			n := b.cur.NewSub(c1, c0)
			vecEnd := b.add(c0, b.mul(b.cur.NewSDiv(n, ci(L)), ci(L)))
			if L > 1 {
				b.loop(c0, vecEnd, L, func(i value.Value) { b.store(constF(v, int(L)), b.gepF(out, i), int(L)) })
			}
			b.loop(vecEnd, c1, 1, func(i value.Value) { b.store(cf(v), b.gepF(out, i), 1) })
		})
		e.launch(b, nch, float64(total))
	}
	for _, p := range k.pieces {
		dims, sts := collapseDims(p.dims, [][]int64{p.srcSt, p.dstSt})
		if ir.NumElements(p.dims) == 0 {
			continue
		}
		nd := len(dims)
		inner := dims[nd-1]
		outer := dims[:nd-1]
		rows := ir.NumElements(outer)
		sIn, dIn := sts[0][nd-1], sts[1][nd-1]
		if c := copyTileDim(dims, sts); c >= 0 {
			k.emitTiled(e, p, dims, sts, c)
			continue
		}
		b, ctx, begin, end := e.task("_copy")
		src := e.ptr(b, ctx, p.src)
		dst := e.outPtr(b, ctx, k.out)
		b.loop(begin, end, 1, func(row value.Value) {
			so := b.add(b.unravel(row, outer, sts[0][:nd-1]), ci(p.srcOff))
			do := b.add(b.unravel(row, outer, sts[1][:nd-1]), ci(p.dstOff))
			sp, dp := b.gepF(src, so), b.gepF(dst, do)
			vecEnd := int64(0)
			if sIn == 1 && dIn == 1 && L > 1 && inner >= L {
				vecEnd = inner / L * L
				b.loop(ci(0), ci(vecEnd), L, func(i value.Value) {
					b.store(b.load(b.gepF(sp, i), int(L)), b.gepF(dp, i), int(L))
				})
			}
			b.loop(ci(vecEnd), ci(inner), 1, func(i value.Value) {
				b.store(b.load(b.gepF(sp, b.mul(i, ci(sIn))), 1), b.gepF(dp, b.mul(i, ci(dIn))), 1)
			})
		})
		e.launch(b, rows, float64(rows*inner)*2)
	}
	return nil
}

// copyTile is the tile edge of transposing copies.
const copyTile = 16

// copyTileDim returns the dim (other than the innermost) along which the
// source is contiguous when the innermost dim reads strided and writes
// contiguously (a transpose), or -1.
func copyTileDim(dims []int64, sts [][]int64) int {
	nd := len(dims)
	if nd < 2 || sts[0][nd-1] == 1 || sts[1][nd-1] != 1 || dims[nd-1] < 4 {
		return -1
	}
	for d := 0; d < nd-1; d++ {
		if sts[0][d] == 1 && dims[d] >= 4 {
			return d
		}
	}
	return -1
}

// emitTiled copies a transposing piece in tiles of copyTile×copyTile over
// dims c and the innermost, so both the strided reads and the contiguous
// writes stay in L1: a task per (other dims, block of c).
func (k *regionKernel) emitTiled(e *segEmitter, p copyPiece, dims []int64, sts [][]int64, c int) {
	nd := len(dims)
	var oDims, oS, oD []int64
	for d := 0; d < nd-1; d++ {
		if d != c {
			oDims, oS, oD = append(oDims, dims[d]), append(oS, sts[0][d]), append(oD, sts[1][d])
		}
	}
	inner, dc := dims[nd-1], dims[c]
	sIn, dC := sts[0][nd-1], sts[1][c]
	nb := (dc + copyTile - 1) / copyTile
	rows := ir.NumElements(oDims)
	b, ctx, begin, end := e.task("_transpose")
	src := e.ptr(b, ctx, p.src)
	dst := e.outPtr(b, ctx, k.out)
	b.loop(begin, end, 1, func(t value.Value) {
		r := b.cur.NewSDiv(t, ci(nb))
		cb := b.mul(b.cur.NewSRem(t, ci(nb)), ci(copyTile))
		ce := b.minI(b.add(cb, ci(copyTile)), ci(dc))
		sp := b.gepF(src, b.add(b.unravel(r, oDims, oS), ci(p.srcOff)))
		dp := b.gepF(dst, b.add(b.unravel(r, oDims, oD), ci(p.dstOff)))
		b.loop(ci(0), ci(inner), copyTile, func(jb value.Value) {
			je := b.minI(b.add(jb, ci(copyTile)), ci(inner))
			b.loop(cb, ce, 1, func(cc value.Value) {
				s := b.gepF(sp, cc)
				d := b.gepF(dp, b.mul(cc, ci(dC)))
				b.loop(jb, je, 1, func(j value.Value) {
					b.store(b.load(b.gepF(s, b.mul(j, ci(sIn))), 1), b.gepF(d, j), 1)
				})
			})
		})
	})
	e.launch(b, rows*nb, float64(rows*dc*inner)*2)
}

func mustShape(v *ir.Value) []int64 { s, _ := concreteShape(v); return s }

// copyConstInts reads an integer constant input (nil when absent).
func copyConstInts(v *ir.Value) ([]int64, bool) {
	if v == nil {
		return nil, true
	}
	t, ok := ir.ConstValue(v)
	if !ok {
		return nil, false
	}
	out := make([]int64, t.Len())
	for i := range out {
		out[i] = t.Int64At(i)
	}
	return out, true
}

func copyNormAxis(a, r int64) (int64, error) {
	if a < -r || a >= r {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, r)
	}
	if a < 0 {
		a += r
	}
	return a, nil
}

// lowerTranspose permutes the input's strides.
func lowerTranspose(l *lowering, n *ir.Node) (*regionKernel, error) {
	in := mustShape(n.Inputs[0])
	r := len(in)
	perm := n.AttrInts("perm", nil)
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != r {
		return nil, fmt.Errorf("perm %v for rank %d", perm, r)
	}
	ist := copyContig(in)
	dims := make([]int64, r)
	sst := make([]int64, r)
	seen := make([]bool, r)
	for d, p := range perm {
		if p < 0 || p >= int64(r) || seen[p] {
			return nil, fmt.Errorf("invalid perm %v", perm)
		}
		seen[p] = true
		dims[d], sst[d] = in[p], ist[p]
	}
	src, err := copySrc(l.c, n.Inputs[0])
	if err != nil {
		return nil, err
	}
	return &regionKernel{op: "transpose", out: n.Outputs[0], pieces: []copyPiece{{src: src, dims: dims, srcSt: sst, dstSt: copyContig(dims)}}}, nil
}

// sliceParams returns the per-dim start and step of a Slice (opset 1-9
// attributes, 10+ constant inputs) and the output dims.
func sliceParams(n *ir.Node, opset int64) (starts, steps, dims []int64, err error) {
	in := mustShape(n.Inputs[0])
	r := int64(len(in))
	var st, en, ax, sp []int64
	if opset < 10 {
		st, en, ax = n.AttrInts("starts", nil), n.AttrInts("ends", nil), n.AttrInts("axes", nil)
	} else {
		var ok [4]bool
		st, ok[0] = copyConstInts(n.Input(1))
		en, ok[1] = copyConstInts(n.Input(2))
		ax, ok[2] = copyConstInts(n.Input(3))
		sp, ok[3] = copyConstInts(n.Input(4))
		for _, o := range ok {
			if !o {
				return nil, nil, nil, fmt.Errorf("Slice parameters are not constants")
			}
		}
	}
	if len(st) != len(en) || ax != nil && len(ax) != len(st) || sp != nil && len(sp) != len(st) {
		return nil, nil, nil, fmt.Errorf("Slice parameters of different lengths")
	}
	starts = make([]int64, r)
	steps = make([]int64, r)
	dims = append([]int64(nil), in...)
	for d := range steps {
		steps[d] = 1
	}
	for i := range st {
		a := int64(i)
		if ax != nil {
			if a, err = copyNormAxis(ax[i], r); err != nil {
				return nil, nil, nil, err
			}
		}
		step := int64(1)
		if sp != nil {
			step = sp[i]
		}
		if step == 0 {
			return nil, nil, nil, fmt.Errorf("Slice step 0")
		}
		d := in[a]
		s, e := st[i], en[i]
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		if step > 0 {
			s, e = max(0, min(s, d)), max(0, min(e, d))
			dims[a] = max(0, (e-s+step-1)/step)
		} else {
			s, e = max(-1, min(s, d-1)), max(-1, min(e, d-1))
			dims[a] = max(0, (s-e-step-1)/(-step))
		}
		starts[a], steps[a] = s, step
	}
	return starts, steps, dims, nil
}

func lowerSlice(l *lowering, n *ir.Node) (*regionKernel, error) {
	starts, steps, dims, err := sliceParams(n, l.c.g.Opset(""))
	if err != nil {
		return nil, err
	}
	ist := copyContig(mustShape(n.Inputs[0]))
	sst := make([]int64, len(dims))
	off := int64(0)
	for d := range dims {
		sst[d] = ist[d] * steps[d]
		off += starts[d] * ist[d]
	}
	src, err := copySrc(l.c, n.Inputs[0])
	if err != nil {
		return nil, err
	}
	return &regionKernel{op: "slice", out: n.Outputs[0], pieces: []copyPiece{{src: src, dims: dims, srcSt: sst, srcOff: off, dstSt: copyContig(dims)}}}, nil
}

// lowerExpand broadcasts the input to the (static) output shape.
func lowerExpand(l *lowering, n *ir.Node) (*regionKernel, error) {
	in, out := mustShape(n.Inputs[0]), mustShape(n.Outputs[0])
	if len(in) > len(out) {
		return nil, fmt.Errorf("Expand input rank %d > output rank %d", len(in), len(out))
	}
	src, err := copySrc(l.c, n.Inputs[0])
	if err != nil {
		return nil, err
	}
	return &regionKernel{op: "expand", out: n.Outputs[0], pieces: []copyPiece{{src: src, dims: out, srcSt: bcastStrides(in, out), dstSt: copyContig(out)}}}, nil
}

// lowerConcat copies each input into its slab of the output.
func lowerConcat(l *lowering, n *ir.Node) (*regionKernel, error) {
	out := mustShape(n.Outputs[0])
	axis, err := copyNormAxis(n.AttrInt("axis", 0), int64(len(out)))
	if err != nil {
		return nil, err
	}
	ost := copyContig(out)
	k := &regionKernel{op: "concat", out: n.Outputs[0]}
	at := int64(0)
	for _, v := range n.Inputs {
		if v == nil {
			continue
		}
		s := mustShape(v)
		src, err := copySrc(l.c, v)
		if err != nil {
			return nil, err
		}
		k.pieces = append(k.pieces, copyPiece{src: src, dims: s, srcSt: copyContig(s), dstSt: ost, dstOff: at * ost[axis]})
		at += s[axis]
	}
	return k, nil
}

// copyMaxGatherPieces bounds the copies of a Gather whose constant indices
// are not an arithmetic progression.
const copyMaxGatherPieces = 64

func gatherParams(n *ir.Node) (axis int64, idx []int64, err error) {
	in := mustShape(n.Inputs[0])
	axis, err = copyNormAxis(n.AttrInt("axis", 0), int64(len(in)))
	if err != nil {
		return 0, nil, err
	}
	idx, ok := copyConstInts(n.Inputs[1])
	if !ok {
		return 0, nil, fmt.Errorf("Gather indices are not a constant")
	}
	for i, x := range idx {
		if x < 0 {
			x += in[axis]
		}
		if x < 0 || x >= in[axis] {
			return 0, nil, fmt.Errorf("Gather index %d out of range", idx[i])
		}
		idx[i] = x
	}
	if len(idx) > copyMaxGatherPieces && !copyArith(idx) {
		return 0, nil, fmt.Errorf("Gather with %d irregular indices (at most %d are lowered)", len(idx), copyMaxGatherPieces)
	}
	return axis, idx, nil
}

func copyArith(idx []int64) bool {
	for i := 2; i < len(idx); i++ {
		if idx[i]-idx[i-1] != idx[1]-idx[0] {
			return false
		}
	}
	return true
}

// lowerGather copies the indexed slabs: one strided copy when the indices
// are an arithmetic progression, else one per index.
func lowerGather(l *lowering, n *ir.Node) (*regionKernel, error) {
	axis, idx, err := gatherParams(n)
	if err != nil {
		return nil, err
	}
	in := mustShape(n.Inputs[0])
	ist := copyContig(in)
	src, err := copySrc(l.c, n.Inputs[0])
	if err != nil {
		return nil, err
	}
	outer, after := ir.NumElements(in[:axis]), ir.NumElements(in[axis+1:])
	m := int64(len(idx))
	k := &regionKernel{op: "gather", out: n.Outputs[0]}
	// The output viewed as [outer, m, after].
	dst := []int64{m * after, after, 1}
	if copyArith(idx) && m > 0 {
		step := int64(0)
		if m > 1 {
			step = idx[1] - idx[0]
		}
		k.pieces = []copyPiece{{src: src, dims: []int64{outer, m, after}, srcSt: []int64{in[axis] * ist[axis], step * ist[axis], 1}, srcOff: idx[0] * ist[axis], dstSt: dst}}
		return k, nil
	}
	for j, x := range idx {
		k.pieces = append(k.pieces, copyPiece{src: src, dims: []int64{outer, after}, srcSt: []int64{in[axis] * ist[axis], 1}, srcOff: x * ist[axis], dstSt: []int64{m * after, 1}, dstOff: int64(j) * after})
	}
	return k, nil
}

// padParams returns the begin/end pads and the fill value of a constant
// Pad.
func padParams(n *ir.Node, opset int64) (pads []int64, fill float32, err error) {
	mode := n.AttrString("mode", "constant")
	if mode != "constant" && mode != "reflect" && mode != "edge" {
		return nil, 0, fmt.Errorf("Pad mode %s (constant, reflect and edge are lowered)", mode)
	}
	r := len(mustShape(n.Inputs[0]))
	if opset < 11 {
		pads, fill = n.AttrInts("pads", nil), n.AttrFloat("value", 0)
	} else {
		var ok bool
		if pads, ok = copyConstInts(n.Input(1)); !ok || pads == nil {
			return nil, 0, fmt.Errorf("Pad pads are not a constant")
		}
		if cv := n.Input(2); cv != nil {
			t, ok := ir.ConstValue(cv)
			if !ok || t.Len() != 1 {
				return nil, 0, fmt.Errorf("Pad constant_value is not a constant scalar")
			}
			fill = float32(t.Float64At(0))
		}
		if ax := n.Input(3); ax != nil {
			axes, ok := copyConstInts(ax)
			if !ok || len(pads) != 2*len(axes) {
				return nil, 0, fmt.Errorf("Pad axes are not a constant matching pads")
			}
			full := make([]int64, 2*r)
			for i, a := range axes {
				if a, err = copyNormAxis(a, int64(r)); err != nil {
					return nil, 0, err
				}
				full[a], full[int(a)+r] = pads[i], pads[i+len(axes)]
			}
			pads = full
		}
	}
	if len(pads) != 2*r {
		return nil, 0, fmt.Errorf("Pad has %d pads for rank %d", len(pads), r)
	}
	if mode != "constant" {
		return pads, fill, padBorderCheck(mustShape(n.Inputs[0]), pads, mode)
	}
	return pads, fill, nil
}

// lowerPad fills the output with the constant and copies the (cropped,
// for negative pads) input into it.
func lowerPad(l *lowering, n *ir.Node) (*regionKernel, error) {
	pads, fill, err := padParams(n, l.c.g.Opset(""))
	if err != nil {
		return nil, err
	}
	if mode := n.AttrString("mode", "constant"); mode != "constant" {
		return lowerPadBorder(l, n, pads, mode)
	}
	in, out := mustShape(n.Inputs[0]), mustShape(n.Outputs[0])
	r := len(in)
	ist, ost := copyContig(in), copyContig(out)
	dims := make([]int64, r)
	var srcOff, dstOff int64
	for d := range in {
		b, e := pads[d], pads[d+r]
		lo, hi := max(0, -b), in[d]-max(0, -e)
		dims[d] = max(0, hi-lo)
		srcOff += lo * ist[d]
		dstOff += max(0, b) * ost[d]
	}
	src, err := copySrc(l.c, n.Inputs[0])
	if err != nil {
		return nil, err
	}
	return &regionKernel{op: "pad", out: n.Outputs[0], fill: &fill, pieces: []copyPiece{{src: src, dims: dims, srcSt: ist, srcOff: srcOff, dstSt: ost, dstOff: dstOff}}}, nil
}

// splitSizes returns the output sizes along the axis of a Split (the
// split attribute before opset 13, a constant input from 13, else equal
// parts).
func splitSizes(n *ir.Node, opset int64) (axis int64, sizes []int64, err error) {
	in := mustShape(n.Inputs[0])
	if axis, err = copyNormAxis(n.AttrInt("axis", 0), int64(len(in))); err != nil {
		return 0, nil, err
	}
	if opset < 13 {
		sizes = n.AttrInts("split", nil)
	} else {
		var ok bool
		if sizes, ok = copyConstInts(n.Input(1)); !ok {
			return 0, nil, fmt.Errorf("Split sizes are not a constant")
		}
	}
	if sizes == nil {
		// Equal parts (the last smaller, opset 18's num_outputs rule).
		m := int64(len(n.Outputs))
		part := (in[axis] + m - 1) / m
		for i := int64(0); i < m; i++ {
			sizes = append(sizes, max(0, min(part, in[axis]-i*part)))
		}
	}
	total := int64(0)
	for _, s := range sizes {
		total += s
	}
	if len(sizes) != len(n.Outputs) || total != in[axis] {
		return 0, nil, fmt.Errorf("Split sizes %v do not match %d outputs and dim %d", sizes, len(n.Outputs), in[axis])
	}
	return axis, sizes, nil
}

// lowerSplit is one strided copy per (used) output.
func lowerSplit(l *lowering, n *ir.Node) ([]kernel, error) {
	axis, sizes, err := splitSizes(n, l.c.g.Opset(""))
	if err != nil {
		return nil, err
	}
	in := mustShape(n.Inputs[0])
	ist := copyContig(in)
	src, err := copySrc(l.c, n.Inputs[0])
	if err != nil {
		return nil, err
	}
	var ks []kernel
	at := int64(0)
	for i, o := range n.Outputs {
		if o != nil {
			dims := append([]int64(nil), in...)
			dims[axis] = sizes[i]
			ks = append(ks, &regionKernel{op: "split", out: o, pieces: []copyPiece{{src: src, dims: dims, srcSt: ist, srcOff: at * ist[axis], dstSt: copyContig(dims)}}})
		}
		at += sizes[i]
	}
	return ks, nil
}

// resizeFactors returns the integer upsampling factor of each dim of a
// nearest Resize that is a pure replication: asymmetric coordinates with
// floor rounding (out o reads in floor(o/f)), constant scales equal to
// out/in (or sizes).
func resizeFactors(n *ir.Node, opset int64) ([]int64, error) {
	in, out := mustShape(n.Inputs[0]), mustShape(n.Outputs[0])
	if m := n.AttrString("mode", "nearest"); m != "nearest" {
		return nil, fmt.Errorf("Resize mode %s (only nearest is lowered)", m)
	}
	if opset >= 11 {
		if ct := n.AttrString("coordinate_transformation_mode", "half_pixel"); ct != "asymmetric" {
			return nil, fmt.Errorf("Resize coordinate_transformation_mode %s (only asymmetric is lowered)", ct)
		}
		if nm := n.AttrString("nearest_mode", "round_prefer_floor"); nm != "floor" {
			return nil, fmt.Errorf("Resize nearest_mode %s (only floor is lowered)", nm)
		}
	}
	if len(in) != len(out) {
		return nil, fmt.Errorf("Resize changes the rank")
	}
	sv := n.Input(1)
	if opset >= 11 {
		sv = n.Input(2)
	}
	var scales []float64
	if sv != nil {
		t, ok := ir.ConstValue(sv)
		if !ok {
			return nil, fmt.Errorf("Resize scales are not a constant")
		}
		for i := 0; i < t.Len(); i++ {
			scales = append(scales, t.Float64At(i))
		}
	}
	if len(scales) == 0 && (opset < 11 || n.Input(3) == nil) {
		return nil, fmt.Errorf("Resize has neither scales nor sizes")
	}
	if len(scales) != 0 && len(scales) != len(in) {
		return nil, fmt.Errorf("Resize has %d scales for rank %d", len(scales), len(in))
	}
	f := make([]int64, len(in))
	for d := range in {
		if in[d] == 0 || out[d]%in[d] != 0 {
			return nil, fmt.Errorf("Resize %v -> %v is not an integer upsampling", in, out)
		}
		f[d] = out[d] / in[d]
		if len(scales) != 0 && scales[d] != float64(f[d]) {
			return nil, fmt.Errorf("Resize scale %g is not the integer factor %d", scales[d], f[d])
		}
	}
	return f, nil
}

// lowerResize replicates each input element f times along each dim: dim d
// splits into (i, j) with out index i·f + j.
func lowerResize(l *lowering, n *ir.Node) (*regionKernel, error) {
	f, err := resizeFactors(n, l.c.g.Opset(""))
	if err != nil {
		return nil, err
	}
	in, out := mustShape(n.Inputs[0]), mustShape(n.Outputs[0])
	ist, ost := copyContig(in), copyContig(out)
	var dims, sst, dst []int64
	for d := range in {
		dims = append(dims, in[d], f[d])
		sst = append(sst, ist[d], 0)
		dst = append(dst, f[d]*ost[d], ost[d])
	}
	src, err := copySrc(l.c, n.Inputs[0])
	if err != nil {
		return nil, err
	}
	return &regionKernel{op: "resize", out: n.Outputs[0], pieces: []copyPiece{{src: src, dims: dims, srcSt: sst, dstSt: dst}}}, nil
}

func init() {
	type lowerFn func(*lowering, *ir.Node) (*regionKernel, error)
	wrap := func(f lowerFn) func(*lowering, *ir.Node) (kernel, error) {
		return func(l *lowering, n *ir.Node) (kernel, error) { return f(l, n) }
	}
	registerLowering("Transpose", &opLowering{inputs: firstInput, lower: wrap(lowerTranspose)})
	registerLowering("Slice", &opLowering{
		inputs: firstInput,
		check: func(n *ir.Node, opset int64) error {
			_, _, _, err := sliceParams(n, opset)
			return err
		},
		lower: wrap(lowerSlice),
	})
	registerLowering("Expand", &opLowering{inputs: firstInput, lower: wrap(lowerExpand)})
	registerLowering("Concat", &opLowering{
		check: func(n *ir.Node, _ int64) error {
			_, err := copyNormAxis(n.AttrInt("axis", 0), int64(len(mustShape(n.Outputs[0]))))
			return err
		},
		lower: wrap(lowerConcat),
	})
	// Gather is registered in gather.go (constant indices: lowerGather).
	registerLowering("Split", &opLowering{
		inputs: firstInput,
		check: func(n *ir.Node, opset int64) error {
			_, _, err := splitSizes(n, opset)
			return err
		},
		lowerMulti: lowerSplit,
	})
	// Resize is registered in resize.go (integer replication: lowerResize).
	registerLowering("Pad", &opLowering{
		inputs: firstInput,
		check: func(n *ir.Node, opset int64) error {
			_, _, err := padParams(n, opset)
			return err
		},
		lower: wrap(lowerPad),
	})
}
