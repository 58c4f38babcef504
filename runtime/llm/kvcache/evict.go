package kvcache

import (
	"fmt"
	"slices"
)

// EvictConfig configures budgeted eviction.
type EvictConfig struct {
	// Budget is the number of tokens kept per layer and kv head. Eviction
	// runs at the start of an Append, so while a forward pass attends the
	// cache holds up to Budget plus the new tokens.
	Budget int
	// Sink protects the first Sink positions (attention sinks); Recent
	// the Recent most recent tokens. Sink + Recent ≤ Budget.
	Sink, Recent int
	// Head scores tokens with a trained retaining head (Locret); nil
	// scores them by the attention mass they have received (the
	// data-free baseline: the sum, over every later query of the kv
	// head's query group, of the softmax weight on the token).
	Head *RetainingHead
}

func (c EvictConfig) validate(s Spec) error {
	switch {
	case c.Budget < 1:
		return fmt.Errorf("kvcache: eviction budget %d (want ≥ 1 token)", c.Budget)
	case c.Sink < 0 || c.Recent < 0 || c.Sink+c.Recent > c.Budget:
		return fmt.Errorf("kvcache: eviction protects %d sink and %d recent tokens, more than the budget of %d", c.Sink, c.Recent, c.Budget)
	}
	if c.Head != nil {
		return c.Head.check(s)
	}
	return nil
}

// String is the configuration in ParseSpec's syntax.
func (c EvictConfig) String() string {
	if c.Head != nil {
		return fmt.Sprintf("locret:%d,sink=%d,recent=%d", c.Budget, c.Sink, c.Recent)
	}
	return fmt.Sprintf("evict:%d,sink=%d,recent=%d", c.Budget, c.Sink, c.Recent)
}

// Evict is an f32 cache that keeps at most a budget of tokens per layer
// and kv head, evicting the lowest-scored unprotected ones (each kv head
// chooses its own). Keys are stored after the rotary embedding, so the
// survivors need no position; the cache keeps each one's position and
// score for eviction and rollback.
//
// Scores from the attention kernel (AttentionObserver) are held per query
// until the next Append folds them in, and eviction also happens at the
// start of an Append. So cutting the last Append with Truncate — keeping
// j ≥ 1 of its tokens — leaves exactly the state that appending only
// those j tokens would have left (scores included). Truncating further
// back keeps the tokens before the cut as they are now: evicted tokens
// stay evicted, folded scores stay folded, and heads that then hold
// different numbers of tokens evict down to the fewest (attention reads
// one length per layer).
type Evict struct {
	spec   Spec
	cfg    EvictConfig
	lens   []int
	layers []evictLayer
	stats  EvictStats
}

// EvictStats counts evictions.
type EvictStats struct {
	Evicted int64 // tokens evicted, summed over layers and heads
	MaxHeld int   // the most tokens one (layer, head) held
}

type evictLayer struct {
	lastStart, lastN int       // the last Append: positions [lastStart, lastStart+lastN)
	q                []float32 // queries of the Append being made (retaining head)
	qHeads, qN       int
	heads            []evictHead
}

type evictHead struct {
	pos   []int32   // positions of the held tokens, ascending
	k, v  []float32 // keys [held][HeadDim], values [held][ValDim]
	score []float32 // per held token
	// pend[i][j] is the attention mass query i of the last Append put on
	// held token j (summed over the group's query heads), pendRows ×
	// pendKeys, not yet in score.
	pend               []float32
	pendRows, pendKeys int
}

// NewEvict makes an empty evicting cache.
func NewEvict(s Spec, cfg EvictConfig) (*Evict, error) {
	if err := checkSpec(s); err != nil {
		return nil, err
	}
	if err := cfg.validate(s); err != nil {
		return nil, err
	}
	e := &Evict{spec: s, cfg: cfg, lens: make([]int, s.Layers), layers: make([]evictLayer, s.Layers)}
	for l := range e.layers {
		e.layers[l].heads = make([]evictHead, s.KVHeads)
	}
	return e, nil
}

func (e *Evict) Spec() Spec               { return e.spec }
func (e *Evict) Config() EvictConfig      { return e.cfg }
func (e *Evict) Stats() EvictStats        { return e.stats }
func (e *Evict) Len(layer int) int        { return layerLen(e.lens, layer) }
func (e *Evict) Head(l, h int) HeadView   { return evictView{e: e, layer: l, head: h} }
func (e *Evict) held(layer, head int) int { return len(e.layers[layer].heads[head].pos) }

// ObserveQueries implements QueryObserver: the retaining head reads the
// queries of the tokens being appended.
func (e *Evict) ObserveQueries(layer int, q []float32, heads, n int) {
	if e.cfg.Head == nil || layer < 0 || layer >= len(e.layers) {
		return
	}
	L := &e.layers[layer]
	L.q = append(L.q[:0], q...)
	L.qHeads, L.qN = heads, n
}

// ObserveAttention implements AttentionObserver: the attention mass of
// the last Append's queries, kept apart until the next Append.
func (e *Evict) ObserveAttention(layer, head int, w []float32, rows, keys int) {
	if e.cfg.Head != nil || layer < 0 || layer >= len(e.layers) || head < 0 || head >= e.spec.KVHeads {
		return
	}
	L := &e.layers[layer]
	n := L.lastN
	if n == 0 || rows%n != 0 || len(w) != rows*keys || keys != e.held(layer, head) {
		return // not the attention of the last Append
	}
	H := &L.heads[head]
	H.pend = slices.Grow(H.pend[:0], n*keys)[:n*keys]
	clear(H.pend)
	for r := 0; r < rows; r++ {
		dst := H.pend[(r%n)*keys : (r%n+1)*keys]
		for j, x := range w[r*keys : (r+1)*keys] {
			dst[j] += x
		}
	}
	H.pendRows, H.pendKeys = n, keys
}

// fold adds the pending attention mass of the surviving queries to the
// scores.
func (h *evictHead) fold() {
	keys := min(h.pendKeys, len(h.score))
	for i := 0; i < h.pendRows; i++ {
		for j, x := range h.pend[i*h.pendKeys : i*h.pendKeys+keys] {
			h.score[j] += x
		}
	}
	h.pendRows, h.pendKeys = 0, 0
}

func (e *Evict) Append(layer int, k, v []float32, n int) error {
	s := e.spec
	start := e.Len(layer)
	if err := checkAppend(s, layer, k, v, n, start); err != nil {
		return err
	}
	L := &e.layers[layer]
	var cis []float32
	if e.cfg.Head != nil && n > 0 {
		if L.qN != n {
			return fmt.Errorf("kvcache: the retaining-head scorer needs the queries of the %d appended tokens (the attention kernel reports them through QueryObserver)", n)
		}
		var err error
		if cis, err = e.cfg.Head.Score(layer, L.q, L.qHeads, k, v, n, start); err != nil {
			return err
		}
	}
	L.q, L.qN = L.q[:0], 0
	if n == 0 {
		return nil
	}
	hd, vd := s.HeadDim, s.ValDim
	for h := range L.heads {
		H := &L.heads[h]
		H.fold()
		if len(H.pos) > e.cfg.Budget {
			e.evict(H, e.cfg.Budget, start)
		}
		for i := 0; i < n; i++ {
			H.pos = append(H.pos, int32(start+i))
			var sc float32
			if cis != nil {
				sc = cis[h*n+i]
			}
			H.score = append(H.score, sc)
		}
		H.k = append(H.k, k[h*n*hd:(h+1)*n*hd]...)
		H.v = append(H.v, v[h*n*vd:(h+1)*n*vd]...)
		e.stats.MaxHeld = max(e.stats.MaxHeld, len(H.pos))
	}
	L.lastStart, L.lastN = start, n
	e.lens[layer] = start + n
	return nil
}

// evict keeps keep tokens of h: the protected ones first (the first Sink
// positions and the Recent most recent of a sequence of length seqLen),
// then by score, ties to the more recent; survivors stay in position
// order.
func (e *Evict) evict(h *evictHead, keep, seqLen int) {
	held := len(h.pos)
	if held <= keep {
		return
	}
	prot := func(j int) bool {
		p := int(h.pos[j])
		return p < e.cfg.Sink || p >= seqLen-e.cfg.Recent
	}
	order := make([]int, held)
	for j := range order {
		order[j] = j
	}
	slices.SortFunc(order, func(a, b int) int {
		if pa, pb := prot(a), prot(b); pa != pb {
			if pa {
				return -1
			}
			return 1
		}
		if h.score[a] != h.score[b] {
			if h.score[a] > h.score[b] {
				return -1
			}
			return 1
		}
		return int(h.pos[b]) - int(h.pos[a])
	})
	kept := order[:keep]
	slices.Sort(kept)
	hd, vd := e.spec.HeadDim, e.spec.ValDim
	for i, j := range kept {
		h.pos[i], h.score[i] = h.pos[j], h.score[j]
		copy(h.k[i*hd:(i+1)*hd], h.k[j*hd:(j+1)*hd])
		copy(h.v[i*vd:(i+1)*vd], h.v[j*vd:(j+1)*vd])
	}
	h.pos, h.score = h.pos[:keep], h.score[:keep]
	h.k, h.v = h.k[:keep*hd], h.v[:keep*vd]
	e.stats.Evicted += int64(held - keep)
}

func (e *Evict) Truncate(n int) error {
	if err := checkTruncate(n, e.lens); err != nil {
		return err
	}
	hd, vd := e.spec.HeadDim, e.spec.ValDim
	for l := range e.layers {
		L := &e.layers[l]
		fewest := -1
		for h := range L.heads {
			H := &L.heads[h]
			cut, _ := slices.BinarySearch(H.pos, int32(n))
			H.pos, H.score = H.pos[:cut], H.score[:cut]
			H.k, H.v = H.k[:cut*hd], H.v[:cut*vd]
			H.pendRows = max(0, min(H.pendRows, n-L.lastStart))
			H.fold()
			if fewest < 0 || cut < fewest {
				fewest = cut
			}
		}
		// Heads that evicted different tokens may now hold different
		// numbers; attention needs one length per layer.
		for h := range L.heads {
			e.evict(&L.heads[h], fewest, n)
		}
		if L.lastStart+L.lastN > n {
			L.lastN = max(0, n-L.lastStart)
			L.lastStart = min(L.lastStart, n)
		}
		L.q, L.qN = L.q[:0], 0
		e.lens[l] = n
	}
	return nil
}

// Bytes counts what the cache keeps per held token and head: the f32 key
// and value, and the 4-byte position and 4-byte score eviction needs.
func (e *Evict) Bytes() int64 {
	var toks int64
	for l := range e.layers {
		for h := range e.layers[l].heads {
			toks += int64(e.held(l, h))
		}
	}
	return toks * (int64(e.spec.HeadDim+e.spec.ValDim)*4 + 8)
}

// Reserved counts the allocated rows, positions, scores and the pending
// attention mass.
func (e *Evict) Reserved() int64 {
	var b int64
	for l := range e.layers {
		L := &e.layers[l]
		b += 4 * int64(cap(L.q))
		for h := range L.heads {
			H := &L.heads[h]
			b += 4 * int64(cap(H.k)+cap(H.v)+cap(H.pos)+cap(H.score)+cap(H.pend))
		}
	}
	return b
}

type evictView struct {
	e           *Evict
	layer, head int
}

func (v evictView) Len() int       { return v.e.held(v.layer, v.head) }
func (v evictView) BlockSize() int { return DefaultBlockSize }

func (v evictView) Block(b int, _, _ []float32) ([]float32, []float32, int) {
	H := &v.e.layers[v.layer].heads[v.head]
	hd, vd := v.e.spec.HeadDim, v.e.spec.ValDim
	t0 := b * DefaultBlockSize
	n := min(DefaultBlockSize, len(H.pos)-t0)
	if n <= 0 {
		return nil, nil, 0
	}
	return H.k[t0*hd : (t0+n)*hd], H.v[t0*vd : (t0+n)*vd], n
}
