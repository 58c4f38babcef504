package ir

// optc's own ops for decoder language models, in domain "optc" (opset 1).
// Their signatures follow the ONNX opset-23 ops of the same names, which
// ONNX 1.12 (the version optc reads) predates:
//
// optc.Attention(Q, K, V, attn_mask?, past_key?, past_value?) →
// (Y, present_key?, present_value?) is scaled dot-product attention with
// grouped-query heads. Q is [B, Hq, S, D] or [B, S, Hq·D] (then the
// q_num_heads and kv_num_heads attributes give the head counts); K and V
// are [B, Hkv, T, D] / [B, Hkv, T, Dv] or the 3-D equivalents; Hq is a
// multiple of Hkv and query head h reads kv head h / (Hq/Hkv). past_key
// and past_value ([B, Hkv, P, D]) are prepended to K and V; present_key
// and present_value are the concatenations. scale defaults to 1/√D.
// With is_causal, query i (at sequence position P+i) sees keys 0…P+i.
// attn_mask is added to the scores (float) or selects visible keys (bool),
// broadcast to [B, Hq, S, P+T]. Y has Q's layout with head size Dv.
//
// kv_layer ≥ 0 names the layer of a KV cache the runtime may bind to the
// run: then the new K/V are appended to that layer of the cache, the
// keys and values attended to are the cache's (read block by block), and
// past/present must be absent. Unbound, the op is plain attention.
//
// optc.RotaryEmbedding(X, cos_cache, sin_cache, position_ids?) rotates
// pairs of X's head channels: X is [B, H, S, D] or [B, S, H·D] (num_heads
// then required); the first rotary_embedding_dim channels (0 = all D) are
// rotated, as adjacent pairs (x[2i], x[2i+1]) when interleaved, else as
// halves (x[i], x[i+d/2]); with position_ids [B, S] the caches are
// [max_position, d/2] tables indexed by position, without they are
// [B, S, d/2]. x' = x·cos − y·sin, y' = y·cos + x·sin.

// DomainOptc is the op domain of optc's own ops.
const DomainOptc = "optc"

func init() {
	regOps(DomainOptc, inferAttention, attentionCost,
		opRow{"Attention", 1, "3-6:1-3", "is_causal=i:0 kv_layer=i:-1 kv_num_heads=i q_num_heads=i scale=f"})
	regOps(DomainOptc, inferRotary, opPerInElem(3),
		opRow{"RotaryEmbedding", 1, "3-4:1", "interleaved=i:0 num_heads=i rotary_embedding_dim=i:0"})
}

// attnGeom is an attention node's static geometry; unknown dims are
// UnknownDim.
type attnGeom struct {
	b, hq, hkv, s, t, p, d, dv Dim
	threeD                     bool
}

// attentionGeom reads the geometry from Q, K, V and past_key types.
func attentionGeom(c *inferCtx) (attnGeom, bool, error) {
	var g attnGeom
	tq, okq := c.ranked(0)
	tk, okk := c.ranked(1)
	tv, okv := c.ranked(2)
	if !okq || !okk || !okv {
		return g, false, nil
	}
	r := len(tq.Shape)
	if r != 3 && r != 4 {
		return g, false, c.errf("Q must be 3-D or 4-D, got %s", tq.Shape)
	}
	if len(tk.Shape) != r || len(tv.Shape) != r {
		return g, false, c.errf("Q %s, K %s and V %s must have the same rank", tq.Shape, tk.Shape, tv.Shape)
	}
	if c.dtype(1) != c.dtype(0) || c.dtype(2) != c.dtype(0) {
		return g, false, c.errf("Q, K and V dtypes differ: %s, %s, %s", c.dtype(0), c.dtype(1), c.dtype(2))
	}
	g.b = tq.Shape[0]
	if r == 4 {
		g.hq, g.s, g.d = tq.Shape[1], tq.Shape[2], tq.Shape[3]
		g.hkv, g.t = tk.Shape[1], tk.Shape[2]
		g.dv = tv.Shape[3]
		if !dimEq(tk.Shape[3], g.d) && tk.Shape[3].Known() && g.d.Known() {
			return g, false, c.errf("K head size %s differs from Q's %s", tk.Shape[3], g.d)
		}
	} else {
		g.threeD = true
		hq, hkv := c.attrInt("q_num_heads", 0), c.attrInt("kv_num_heads", 0)
		if hq <= 0 || hkv <= 0 {
			return g, false, c.errf("3-D inputs need positive q_num_heads and kv_num_heads attributes (got %d, %d)", hq, hkv)
		}
		g.hq, g.hkv = D(hq), D(hkv)
		g.s, g.t = tq.Shape[1], tk.Shape[1]
		g.d, g.dv = attnDiv(tq.Shape[2], hq), attnDiv(tv.Shape[2], hkv)
		if kd := attnDiv(tk.Shape[2], hkv); kd.Known() && g.d.Known() && kd.Size != g.d.Size {
			return g, false, c.errf("K hidden size %s over %d heads differs from Q's head size %s", tk.Shape[2], hkv, g.d)
		}
	}
	if g.hq.Known() && g.hkv.Known() && (g.hkv.Size == 0 || g.hq.Size%g.hkv.Size != 0) {
		return g, false, c.errf("%s query heads are not a multiple of %s kv heads", g.hq, g.hkv)
	}
	g.p = D(0)
	if c.has(4) {
		tp, ok := c.ranked(4)
		if !ok || len(tp.Shape) != 4 {
			g.p = UnknownDim()
		} else {
			g.p = tp.Shape[2]
		}
	}
	return g, true, nil
}

// attnDiv divides a known hidden size by a head count (unknown otherwise).
func attnDiv(d Dim, heads int64) Dim {
	if d.Known() && heads > 0 && d.Size%heads == 0 {
		return D(d.Size / heads)
	}
	return UnknownDim()
}

func inferAttention(c *inferCtx) error {
	if c.has(4) != c.has(5) {
		return c.errf("past_key and past_value must be given together")
	}
	g, ok, err := attentionGeom(c)
	if err != nil || !ok {
		d := c.dtype(0)
		return firstErr(err, c.setDType(0, d), c.setDType(1, d), c.setDType(2, d))
	}
	d := c.dtype(0)
	y := Shape{g.b, g.hq, g.s, g.dv}
	if g.threeD {
		y = Shape{g.b, g.s, dimMul(g.hq, g.dv)}
	}
	total := dimAdd(g.p, g.t)
	return firstErr(c.setTensor(0, d, y),
		c.setTensor(1, d, Shape{g.b, g.hkv, total, g.d}),
		c.setTensor(2, d, Shape{g.b, g.hkv, total, g.dv}))
}

// attentionCost counts 2·D multiply-adds per query/key score, 2·Dv per
// weighted value and 5 per score for the softmax, over B·Hq·S·(P+T)
// pairs (a bound cache's length is not static: P is the past input's).
func attentionCost(n *Node) Cost {
	return opFlops(func(n *Node) int64 {
		y, q := opOutDims(n, 0), opDims(n, 0)
		k := opDims(n, 1)
		if y == nil || q == nil || k == nil {
			return 0
		}
		total := k[len(k)-2]
		if len(k) == 3 {
			total = k[1]
		}
		if p := opDims(n, 4); len(p) == 4 {
			total += p[2]
		}
		var b, hq, s, d, dv int64
		if len(q) == 4 {
			b, hq, s, d, dv = q[0], q[1], q[2], q[3], y[3]
		} else {
			hq = n.AttrInt("q_num_heads", 1)
			b, s, d, dv = q[0], q[1], q[2]/max(hq, 1), y[2]/max(hq, 1)
		}
		return b * hq * s * total * (2*d + 2*dv + 5)
	})(n)
}

func inferRotary(c *inferCtx) error {
	if err := c.set(0, c.in(0)); err != nil {
		return err
	}
	tx, ok := c.ranked(0)
	if !ok {
		return nil
	}
	switch len(tx.Shape) {
	case 4:
	case 3:
		if c.attrInt("num_heads", 0) <= 0 {
			return c.errf("a 3-D input needs a positive num_heads attribute")
		}
	default:
		return c.errf("X must be 3-D or 4-D, got %s", tx.Shape)
	}
	if c.dtype(1) != c.dtype(0) || c.dtype(2) != c.dtype(0) {
		return c.errf("X, cos_cache and sin_cache dtypes differ: %s, %s, %s", c.dtype(0), c.dtype(1), c.dtype(2))
	}
	if c.has(3) && c.dtype(3) != Int64 && c.dtype(3) != Undefined {
		return c.errf("position_ids must be int64, got %s", c.dtype(3))
	}
	return nil
}
