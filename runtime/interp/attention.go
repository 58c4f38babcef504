package interp

import (
	"fmt"
	"math"
	"sync"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// Kernels of optc's language-model ops (domain "optc"; semantics in
// ir/ops_attention.go): Attention, which reads keys and values block by
// block — from a KV cache bound to the run (kvcache.NewContext) when the
// node names a cache layer, else from its inputs — with an online
// softmax, and RotaryEmbedding.

func init() {
	RegisterDomain(ir.DomainOptc, "Attention", attnKernel)
	RegisterDomain(ir.DomainOptc, "RotaryEmbedding", attnRopeKernel)
}

// attnBlockSize is the block length used when K/V come from inputs.
const attnBlockSize = 64

// attnF32 returns a float tensor's elements as float32 (converting f16,
// bf16 and f64), or an error for other dtypes.
func attnF32(c *Call, t *ir.Tensor, what string) ([]float32, error) {
	switch t.DType {
	case ir.Float32, ir.Float16, ir.BFloat16, ir.Float64:
		return t.Float32s(), nil
	}
	return nil, c.Errorf("%s: dtype %s is not supported (want f32, f16, bf16 or f64)", what, t.DType)
}

// attnOut builds an output of dtype d from float32 values.
func attnOut(d ir.DType, shape []int64, y []float32) *ir.Tensor {
	if d == ir.Float32 {
		return ir.FromSlice(ir.Float32, shape, y)
	}
	t := ir.NewTensor(d, shape...)
	for i, v := range y {
		t.SetFloat64(i, float64(v))
	}
	return t
}

// attnArena is the scratch of one Attention node's run, pooled across
// runs: the head-major copies of 3-D Q, K and V, the cache's decoding
// buffers, the head-major output of a 3-D node and the block sources.
// Nothing in it outlives the run: the output tensor is allocated, and a
// KV cache copies what it appends.
type attnArena struct {
	q, k, v, kv, y []float32
	cacheSrcs      []attnCacheSource
	sources        []attnSource
}

var attnArenas = sync.Pool{New: func() any { return new(attnArena) }}

// attnGrow returns (*s)[:n], reallocating *s when it is too short.
func attnGrow(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}

// attnHeadMajor returns x as [B][H][L][hd] float32: a 4-D input is
// already so; a 3-D [B, L, H·hd] input is transposed into *buf (grown as
// needed), or into a new slice when buf is nil.
func attnHeadMajor(x []float32, shape []int64, heads int, buf *[]float32) (data []float32, b, h, l, hd int) {
	if len(shape) == 4 {
		return x, int(shape[0]), int(shape[1]), int(shape[2]), int(shape[3])
	}
	b, l, h = int(shape[0]), int(shape[1]), heads
	hd = int(shape[2]) / heads
	var out []float32
	if buf != nil {
		out = attnGrow(buf, len(x))
	} else {
		out = make([]float32, len(x))
	}
	for bi := 0; bi < b; bi++ {
		for li := 0; li < l; li++ {
			src := x[(bi*l+li)*h*hd:]
			for hi := 0; hi < h; hi++ {
				copy(out[((bi*h+hi)*l+li)*hd:((bi*h+hi)*l+li+1)*hd], src[hi*hd:(hi+1)*hd])
			}
		}
	}
	return out, b, h, l, hd
}

// attnSource yields one (batch, kv head)'s keys and values in blocks.
type attnSource interface {
	blockSize() int
	numBlocks() int
	block(b int) (k, v []float32, n int)
}

// attnSlices is a source over contiguous [L][hd] keys and [L][dv] values.
type attnSlices struct {
	k, v   []float32
	l      int
	hd, dv int
}

func (s attnSlices) blockSize() int { return attnBlockSize }
func (s attnSlices) numBlocks() int { return (s.l + attnBlockSize - 1) / attnBlockSize }
func (s attnSlices) block(b int) ([]float32, []float32, int) {
	j0 := b * attnBlockSize
	n := min(attnBlockSize, s.l-j0)
	return s.k[j0*s.hd : (j0+n)*s.hd], s.v[j0*s.dv : (j0+n)*s.dv], n
}

// attnCacheSource reads a cache head view, decoding into scratch buffers.
type attnCacheSource struct {
	view       kvcache.HeadView
	kbuf, vbuf []float32
}

func (s *attnCacheSource) blockSize() int { return s.view.BlockSize() }
func (s *attnCacheSource) numBlocks() int { return kvcache.NumBlocks(s.view) }
func (s *attnCacheSource) block(b int) ([]float32, []float32, int) {
	return s.view.Block(b, s.kbuf, s.vbuf)
}

// attnMask is the broadcast view of attn_mask over [B, Hq, S, total].
type attnMask struct {
	add    []float32 // additive float mask, or
	keep   []bool    // boolean mask (false hides the key)
	stride [4]int
}

func attnMaskOf(c *Call, m *ir.Tensor, dims [4]int) (*attnMask, error) {
	if m == nil {
		return nil, nil
	}
	if m.Rank() > 4 {
		return nil, c.Errorf("attn_mask of rank %d (at most 4)", m.Rank())
	}
	am := &attnMask{}
	off := 4 - m.Rank()
	st := strides(m.Shape)
	for i, d := range m.Shape {
		switch {
		case d == int64(dims[off+i]):
			am.stride[off+i] = int(st[i])
		case d == 1:
		default:
			return nil, c.Errorf("attn_mask of shape %v does not broadcast to [B, Hq, S, total] = %v", m.Shape, dims)
		}
	}
	if m.DType == ir.Bool {
		am.keep = m.Data.([]bool)
		return am, nil
	}
	add, err := attnF32(c, m, "attn_mask")
	if err != nil {
		return nil, err
	}
	am.add = add
	return am, nil
}

// attnGroup computes the output rows of the rep query heads that share one
// kv head, for batch b: online softmax over the source's blocks (each
// block read once for all rows), then normalization.
type attnGroup struct {
	q      []float32 // [rep][S][hd] query rows of this group
	s, hd  int
	dv     int
	past   int // keys before the first query's own
	total  int
	causal bool
	scale  float32
	mask   *attnMask
	b, h0  int // batch index and first query head (for the mask)
	// w, when set ([rows][total]), receives the attention weights
	// (attention_observe.go).
	w []float32
	// block, when set, applies each block (attention_block.go).
	block AttnBlockFunc
}

func (g *attnGroup) run(src attnSource, y []float32) {
	if g.runBlocks(g.block, src, y) {
		return
	}
	rows := len(g.q) / g.hd
	m := make([]float32, rows)
	l := make([]float32, rows)
	acc := y[:rows*g.dv]
	clear(acc)
	for r := range m {
		m[r] = float32(math.Inf(-1))
	}
	bs := src.blockSize()
	sc := make([]float32, bs)
	for blk := 0; blk < src.numBlocks(); blk++ {
		k, v, n := src.block(blk)
		j0 := blk * bs
		for r := 0; r < rows; r++ {
			i := r % g.s
			limit := g.total
			if g.causal {
				limit = min(limit, g.past+i+1)
			}
			jn := min(n, limit-j0)
			if jn <= 0 {
				continue
			}
			qv := g.q[r*g.hd : (r+1)*g.hd]
			mx := float32(math.Inf(-1))
			for j := 0; j < jn; j++ {
				kv := k[j*g.hd : (j+1)*g.hd]
				var dot float32
				for d, x := range qv {
					dot += x * kv[d]
				}
				s := dot * g.scale
				if g.mask != nil {
					s = g.mask.apply(s, g.b, g.h0+r/g.s, i, j0+j)
				}
				sc[j] = s
				if g.w != nil {
					g.w[r*g.total+j0+j] = s
				}
				mx = max(mx, s)
			}
			if math.IsInf(float64(mx), -1) {
				continue // every key of this block is masked for this row
			}
			out := acc[r*g.dv : (r+1)*g.dv]
			if mx > m[r] {
				if l[r] != 0 {
					corr := float32(math.Exp(float64(m[r] - mx)))
					l[r] *= corr
					for d := range out {
						out[d] *= corr
					}
				}
				m[r] = mx
			}
			for j := 0; j < jn; j++ {
				if math.IsInf(float64(sc[j]), -1) {
					continue
				}
				p := float32(math.Exp(float64(sc[j] - m[r])))
				l[r] += p
				vv := v[j*g.dv : (j+1)*g.dv]
				for d := range out {
					out[d] += p * vv[d]
				}
			}
		}
	}
	g.finishWeights(m, l)
	attnNormalize(acc, l, g.dv)
}

func (am *attnMask) apply(s float32, b, h, i, j int) float32 {
	at := b*am.stride[0] + h*am.stride[1] + i*am.stride[2] + j*am.stride[3]
	if am.keep != nil {
		if !am.keep[at] {
			return float32(math.Inf(-1))
		}
		return s
	}
	return s + am.add[at]
}

func attnKernel(c *Call, in []Value) ([]Value, error) {
	var ts [6]*ir.Tensor
	for i := range ts {
		var err error
		if i < 3 {
			ts[i], err = tensorArg(c, in, i)
		} else {
			ts[i], err = optTensorArg(c, in, i)
		}
		if err != nil {
			return nil, err
		}
	}
	qt, kt, vt, maskT, pastK, pastV := ts[0], ts[1], ts[2], ts[3], ts[4], ts[5]
	r := qt.Rank()
	if (r != 3 && r != 4) || kt.Rank() != r || vt.Rank() != r {
		return nil, c.Errorf("Q %v, K %v, V %v: want all 3-D or all 4-D", qt.Shape, kt.Shape, vt.Shape)
	}
	if kt.DType != qt.DType || vt.DType != qt.DType {
		return nil, c.Errorf("Q, K and V dtypes differ: %s, %s, %s", qt.DType, kt.DType, vt.DType)
	}
	hqAttr, hkvAttr := int(c.Node.AttrInt("q_num_heads", 0)), int(c.Node.AttrInt("kv_num_heads", 0))
	if r == 3 && (hqAttr <= 0 || hkvAttr <= 0 || qt.Shape[2]%int64(hqAttr) != 0 || kt.Shape[2]%int64(hkvAttr) != 0 || vt.Shape[2]%int64(hkvAttr) != 0) {
		return nil, c.Errorf("3-D Q %v, K %v, V %v need q_num_heads and kv_num_heads dividing their hidden sizes (got %d, %d)", qt.Shape, kt.Shape, vt.Shape, hqAttr, hkvAttr)
	}
	qd, err := attnF32(c, qt, "Q")
	if err != nil {
		return nil, err
	}
	kd, err := attnF32(c, kt, "K")
	if err != nil {
		return nil, err
	}
	vd, err := attnF32(c, vt, "V")
	if err != nil {
		return nil, err
	}
	layer := int(c.Node.AttrInt("kv_layer", -1))
	var cache kvcache.Cache
	if layer >= 0 {
		cache = kvcache.FromContext(c.Ctx)
	}
	// With a cache bound, nothing of Q, K or V outlives the run (present
	// outputs are not produced; the cache copies what it appends), so the
	// head-major copies go to pooled scratch.
	ar := attnArenas.Get().(*attnArena)
	defer attnArenas.Put(ar)
	var qb, kb, vb *[]float32
	if cache != nil {
		qb, kb, vb = &ar.q, &ar.k, &ar.v
	}
	q, B, hq, S, hd := attnHeadMajor(qd, qt.Shape, hqAttr, qb)
	k, bk, hkv, T, hdk := attnHeadMajor(kd, kt.Shape, hkvAttr, kb)
	v, bv, hkvv, tv, dv := attnHeadMajor(vd, vt.Shape, hkvAttr, vb)
	switch {
	case bk != B || bv != B:
		return nil, c.Errorf("batch sizes differ: Q %d, K %d, V %d", B, bk, bv)
	case hdk != hd:
		return nil, c.Errorf("K head size %d differs from Q's %d", hdk, hd)
	case hkvv != hkv || tv != T:
		return nil, c.Errorf("K %v and V %v disagree on heads or length", kt.Shape, vt.Shape)
	case hkv == 0 || hq%hkv != 0:
		return nil, c.Errorf("%d query heads are not a multiple of %d kv heads", hq, hkv)
	}
	if (pastK == nil) != (pastV == nil) {
		return nil, c.Errorf("past_key and past_value must be given together")
	}
	scale := float32(1 / math.Sqrt(float64(hd)))
	if a, ok := c.Node.Attrs["scale"]; ok && a.Kind == ir.AttrFloat {
		scale = a.Float
	}
	causal := c.Node.AttrInt("is_causal", 0) != 0

	// The keys and values attended to: the bound cache's, or past ++ new.
	var sources []attnSource // [B][hkv]
	var past, total int
	var presentK, presentV *ir.Tensor
	if cache != nil {
		if pastK != nil {
			return nil, c.Errorf("past_key/past_value given while a KV cache is bound to layer %d", layer)
		}
		if attnWants(c.Node, 1) || attnWants(c.Node, 2) {
			return nil, c.Errorf("present_key/present_value are not produced while a KV cache is bound")
		}
		sp := cache.Spec()
		switch {
		case B != 1:
			return nil, c.Errorf("a KV cache holds one sequence; batch size %d", B)
		case layer >= sp.Layers:
			return nil, c.Errorf("kv_layer %d, but the bound cache has %d layers", layer, sp.Layers)
		case sp.KVHeads != hkv || sp.HeadDim != hd || sp.ValDim != dv:
			return nil, c.Errorf("K/V have %d heads of size %d/%d, the bound cache %d of %d/%d", hkv, hd, dv, sp.KVHeads, sp.HeadDim, sp.ValDim)
		}
		// The new tokens are the last T the cache holds after the append:
		// query i sees the held keys up to the one of its own token.
		held := cache.Head(layer, 0).Len()
		// Check the mask before the cache changes: a failed node leaves
		// the cache as it was.
		if _, err := attnMaskOf(c, maskT, [4]int{B, hq, S, held + T}); err != nil {
			return nil, err
		}
		attnObserveQueries(cache, layer, q, hq, S)
		if err := cache.Append(layer, k, v, T); err != nil {
			return nil, c.Errorf("%v", err)
		}
		head0 := cache.Head(layer, 0)
		total = head0.Len()
		past = total - T
		if maskT != nil && total != held+T {
			return nil, c.Errorf("attn_mask was sized for %d keys but the cache holds %d after the append", held+T, total)
		}
		// One pair of scratch buffers serves every head: the heads are
		// read one after the other.
		bs := head0.BlockSize()
		kv := attnGrow(&ar.kv, bs*(hd+dv))
		kbuf, vbuf := kv[:bs*hd:bs*hd], kv[bs*hd:]
		if cap(ar.cacheSrcs) < hkv {
			ar.cacheSrcs = make([]attnCacheSource, hkv)
		}
		srcs := ar.cacheSrcs[:hkv]
		sources = ar.sources[:0]
		for h := 0; h < hkv; h++ {
			view := head0
			if h > 0 {
				view = cache.Head(layer, h)
			}
			srcs[h] = attnCacheSource{view: view, kbuf: kbuf, vbuf: vbuf}
			sources = append(sources, &srcs[h])
		}
		ar.sources = sources
		defer clear(srcs) // drop the views: the pool must not keep the cache alive
	} else {
		kAll, vAll := k, v
		if pastK != nil {
			if pastK.Rank() != 4 || pastV.Rank() != 4 || pastK.Shape[0] != int64(B) || pastK.Shape[1] != int64(hkv) || pastK.Shape[3] != int64(hd) ||
				pastV.Shape[0] != int64(B) || pastV.Shape[1] != int64(hkv) || pastV.Shape[2] != pastK.Shape[2] || pastV.Shape[3] != int64(dv) {
				return nil, c.Errorf("past_key %v / past_value %v do not match [B=%d, Hkv=%d, P, %d/%d]", pastK.Shape, pastV.Shape, B, hkv, hd, dv)
			}
			pk, err := attnF32(c, pastK, "past_key")
			if err != nil {
				return nil, err
			}
			pv, err := attnF32(c, pastV, "past_value")
			if err != nil {
				return nil, err
			}
			past = int(pastK.Shape[2])
			kAll = attnConcatSeq(pk, k, B*hkv, past, T, hd)
			vAll = attnConcatSeq(pv, v, B*hkv, past, T, dv)
		}
		total = past + T
		for bh := 0; bh < B*hkv; bh++ {
			sources = append(sources, attnSlices{k: kAll[bh*total*hd : (bh+1)*total*hd], v: vAll[bh*total*dv : (bh+1)*total*dv], l: total, hd: hd, dv: dv})
		}
		if attnWants(c.Node, 1) {
			presentK = attnOut(qt.DType, []int64{int64(B), int64(hkv), int64(total), int64(hd)}, kAll)
		}
		if attnWants(c.Node, 2) {
			presentV = attnOut(qt.DType, []int64{int64(B), int64(hkv), int64(total), int64(dv)}, vAll)
		}
	}
	mask, err := attnMaskOf(c, maskT, [4]int{B, hq, S, total})
	if err != nil {
		return nil, err
	}
	if cache != nil {
		if tree := kvcache.TreeFromContext(c.Ctx); tree != nil {
			if mask, err = attnTreeMask(tree, S, past, total, maskT != nil); err != nil {
				return nil, c.Errorf("%v", err)
			}
		}
	}

	rep := hq / hkv
	var y []float32 // head-major [B][hq][S][dv]
	if r == 3 {
		y = attnGrow(&ar.y, B*hq*S*dv) // transposed into the output below
	} else {
		y = make([]float32, B*hq*S*dv)
	}
	for b := 0; b < B; b++ {
		for g := 0; g < hkv; g++ {
			h0 := g * rep
			grp := attnGroup{
				q: q[(b*hq+h0)*S*hd : (b*hq+h0+rep)*S*hd], s: S, hd: hd, dv: dv,
				past: past, total: total, causal: causal, scale: scale, mask: mask, b: b, h0: h0,
				block: attnBlockFrom(c.Ctx),
			}
			src := sources[g]
			if cache == nil {
				src = sources[b*hkv+g]
			}
			obs := attnObserving(cache, &grp)
			grp.run(src, y[(b*hq+h0)*S*dv:(b*hq+h0+rep)*S*dv])
			if obs != nil {
				obs.ObserveAttention(layer, g, grp.w, rep*S, total)
			}
		}
	}
	var yShape []int64
	if r == 4 {
		yShape = []int64{int64(B), int64(hq), int64(S), int64(dv)}
	} else {
		yShape = []int64{int64(B), int64(S), int64(hq * dv)}
		y = attnTokenMajor(y, B, hq, S, dv)
	}
	out := []Value{attnOut(qt.DType, yShape, y), nil, nil}
	if presentK != nil {
		out[1] = presentK
	}
	if presentV != nil {
		out[2] = presentV
	}
	return out[:min(3, len(c.Node.Outputs))], nil
}

// attnTreeMask is the mask of tree attention (kvcache.WithTree): the S
// new tokens, the last of the tree's tokens, see the keys before the tree
// (held before it in the cache), their ancestors in the tree and
// themselves.
func attnTreeMask(t *kvcache.Tree, s, past, total int, masked bool) (*attnMask, error) {
	if masked {
		return nil, fmt.Errorf("attn_mask given while a token tree is bound")
	}
	if err := t.Check(t.Base+len(t.Parents)-s, s); err != nil {
		return nil, err
	}
	start := total - len(t.Parents) // cache index of the tree's first token
	if past != total-s || start < 0 {
		return nil, fmt.Errorf("a tree of %d tokens, %d of them new, over a cache of %d", len(t.Parents), s, total)
	}
	keep := make([]bool, s*total)
	for i, row := range t.Visible(s) {
		r := keep[i*total : (i+1)*total]
		for j := range start {
			r[j] = true
		}
		copy(r[start:], row)
	}
	return &attnMask{keep: keep, stride: [4]int{0, 0, total, 1}}, nil
}

// attnWants reports whether output i of n is present.
func attnWants(n *ir.Node, i int) bool {
	return i < len(n.Outputs) && n.Outputs[i] != nil && n.Outputs[i].Name != ""
}

// attnConcatSeq concatenates [n][p][d] and [n][t][d] along the middle axis.
func attnConcatSeq(a, b []float32, n, p, t, d int) []float32 {
	out := make([]float32, n*(p+t)*d)
	for i := 0; i < n; i++ {
		copy(out[i*(p+t)*d:], a[i*p*d:(i+1)*p*d])
		copy(out[(i*(p+t)+p)*d:], b[i*t*d:(i+1)*t*d])
	}
	return out
}

// attnTokenMajor turns [B][H][S][d] into [B][S][H·d].
func attnTokenMajor(y []float32, b, h, s, d int) []float32 {
	out := make([]float32, len(y))
	for bi := 0; bi < b; bi++ {
		for hi := 0; hi < h; hi++ {
			for si := 0; si < s; si++ {
				copy(out[((bi*s+si)*h+hi)*d:((bi*s+si)*h+hi+1)*d], y[((bi*h+hi)*s+si)*d:((bi*h+hi)*s+si+1)*d])
			}
		}
	}
	return out
}
