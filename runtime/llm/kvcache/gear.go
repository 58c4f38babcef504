package kvcache

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// GEARConfig configures a GEAR cache (papers.md §4.1).
type GEARConfig struct {
	// Bits is the quantization bit width b (2^b − 1 steps per group).
	Bits int
	// KIVI selects GEAR v2's layout: keys quantized per channel over
	// groups of Group consecutive tokens, values per token over groups
	// of Group consecutive channels. Otherwise v1's: one min/max per
	// compressed block (per kv head), outliers chosen over the block.
	KIVI  bool
	Group int
	// Buffer is n_b: new tokens stay in full precision (f32) until the
	// buffer holds Buffer of them; then they are compressed as one block
	// (KIVI: the largest multiple of Group tokens; the rest stay).
	Buffer int
	// Outliers is s, the fraction of entries kept exactly (s/2 at each
	// end of every quantization group).
	Outliers float64
	// PrefillRank is the low-rank residual's rank for blocks of more
	// than Buffer tokens (a prompt: decoding fills the buffer one token at
	// a time, so its blocks hold exactly Buffer); DecodeRank for the
	// others. Loop is the number of power iterations.
	PrefillRank, DecodeRank, Loop int
	// Seed seeds the power iteration's random start.
	Seed uint64
}

// DefaultGEAR returns the paper's defaults for b bits: s = 2%, prefill
// rank 4, decode rank 2, 3 power iterations; v1 (uniform layout) with a
// streaming buffer of 20 tokens, or the KIVI layout with groups and
// buffer of 64.
func DefaultGEAR(bits int, kivi bool) GEARConfig {
	c := GEARConfig{Bits: bits, KIVI: kivi, Buffer: 20, Outliers: 0.02, PrefillRank: 4, DecodeRank: 2, Loop: 3, Seed: 1}
	if kivi {
		c.Group, c.Buffer = 64, 64
	}
	return c
}

func (c GEARConfig) validate() error {
	switch {
	case c.Bits < 1 || c.Bits > 8:
		return fmt.Errorf("kvcache: GEAR bits %d (want 1…8)", c.Bits)
	case c.KIVI && c.Group < 1:
		return fmt.Errorf("kvcache: GEAR KIVI group size %d", c.Group)
	case c.Buffer < 1:
		return fmt.Errorf("kvcache: GEAR streaming buffer of %d tokens (want ≥ 1)", c.Buffer)
	case !(c.Outliers >= 0 && c.Outliers < 1):
		return fmt.Errorf("kvcache: GEAR outlier fraction %v (want 0 ≤ s < 1)", c.Outliers)
	case c.PrefillRank < 0 || c.DecodeRank < 0 || c.Loop < 1:
		return fmt.Errorf("kvcache: GEAR ranks %d/%d and %d power iterations", c.PrefillRank, c.DecodeRank, c.Loop)
	}
	return nil
}

// String is the configuration in ParseSpec's syntax.
func (c GEARConfig) String() string {
	s := fmt.Sprintf("gear:%d", c.Bits)
	if c.KIVI {
		s += fmt.Sprintf(",kivi,group=%d", c.Group)
	}
	return s + fmt.Sprintf(",buffer=%d,outliers=%g,rank=%d/%d,loop=%d", c.Buffer, c.Outliers, c.PrefillRank, c.DecodeRank, c.Loop)
}

// GEAR is a cache that compresses keys and values with GEAR: b-bit
// quantization, sparse exact outliers and a low-rank residual, with the
// most recent tokens in a full-precision streaming buffer. As in GEAR's
// code, a layer's kv heads are compressed together: a block is the
// [tokens][heads·channels] matrix of the layer's keys (or values), so
// quantization groups and outliers span heads (v1: the whole block; KIVI:
// a channel over Group tokens, or Group channels of a token); the
// residual is factored over the whole block in v1 and per head in KIVI
// (as v2's code does). Reads decode the rows and the head's columns of
// one block of tokens at a time into the reader's scratch buffers.
//
// Compression is deferred: the buffer is compressed at the start of the
// Append after the one that filled it. So cutting the last Append with
// Truncate — keeping j ≥ 1 of its tokens, as speculative decoding does
// after a rejected draft — leaves exactly the state that appending only
// those j tokens would have left. Truncating further back keeps the
// tokens before the cut as they read now (compressed tokens stay
// compressed; a partly cut block keeps its storage until it is dropped).
type GEAR struct {
	spec   Spec
	cfg    GEARConfig
	lens   []int
	layers []gearLayer
}

type gearLayer struct {
	bufStart, bufLen int // the buffered tokens' first position and number
	segs             []gearSeg
	// bk[h], bv[h] are head h's buffered keys [bufLen][HeadDim] and
	// values [bufLen][ValDim].
	bk, bv [][]float32
}

// gearSeg is a compressed block of tokens [start, start+n): keys
// [rows][KVHeads·HeadDim], values [rows][KVHeads·ValDim].
type gearSeg struct {
	start, n int // n ≤ k.rows: a truncation may hide trailing rows
	k, v     gearMat
}

// NewGEAR makes an empty GEAR cache.
func NewGEAR(s Spec, cfg GEARConfig) (*GEAR, error) {
	if err := checkSpec(s); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &GEAR{spec: s, cfg: cfg, lens: make([]int, s.Layers), layers: make([]gearLayer, s.Layers)}
	for l := range g.layers {
		g.layers[l].bk = make([][]float32, s.KVHeads)
		g.layers[l].bv = make([][]float32, s.KVHeads)
	}
	return g, nil
}

func (g *GEAR) Spec() Spec         { return g.spec }
func (g *GEAR) Config() GEARConfig { return g.cfg }
func (g *GEAR) Len(layer int) int  { return layerLen(g.lens, layer) }

// Head returns a view with its own scratch for the low-rank factors, so
// views of different heads may be read concurrently.
func (g *GEAR) Head(l, h int) HeadView {
	return gearView{g: g, layer: l, head: h, pbuf: make([]float32, max(g.spec.HeadDim, g.spec.ValDim)*max(g.cfg.PrefillRank, g.cfg.DecodeRank, 1))}
}

func (g *GEAR) Append(layer int, k, v []float32, n int) error {
	s := g.spec
	if err := checkAppend(s, layer, k, v, n, g.Len(layer)); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	g.compress(layer)
	L := &g.layers[layer]
	hd, vd := s.HeadDim, s.ValDim
	for h := range L.bk {
		L.bk[h] = append(L.bk[h], k[h*n*hd:(h+1)*n*hd]...)
		L.bv[h] = append(L.bv[h], v[h*n*vd:(h+1)*n*vd]...)
	}
	L.bufLen += n
	g.lens[layer] += n
	return nil
}

// compress turns a full streaming buffer into a compressed block.
func (g *GEAR) compress(layer int) {
	L := &g.layers[layer]
	if L.bufLen < g.cfg.Buffer {
		return
	}
	m := L.bufLen
	kl, vl, bands := gearUniform, gearUniform, 1
	if g.cfg.KIVI {
		m = m / g.cfg.Group * g.cfg.Group
		kl, vl, bands = gearPerChannel, gearPerToken, g.spec.KVHeads
	}
	if m == 0 {
		return
	}
	rank := g.cfg.DecodeRank
	if m > g.cfg.Buffer {
		rank = g.cfg.PrefillRank
	}
	H, hd, vd := g.spec.KVHeads, g.spec.HeadDim, g.spec.ValDim
	merge := func(buf [][]float32, d int) []float32 {
		x := make([]float32, m*H*d)
		for h, b := range buf {
			for t := 0; t < m; t++ {
				copy(x[(t*H+h)*d:(t*H+h+1)*d], b[t*d:(t+1)*d])
			}
		}
		return x
	}
	rng := rand.New(rand.NewPCG(g.cfg.Seed, uint64(layer)<<32|uint64(L.bufStart)))
	seg := gearSeg{start: L.bufStart, n: m,
		k: gearCompress(merge(L.bk, hd), m, H*hd, g.cfg.Bits, kl, g.cfg.Group, g.cfg.Outliers, rank, g.cfg.Loop, bands, rng),
		v: gearCompress(merge(L.bv, vd), m, H*vd, g.cfg.Bits, vl, g.cfg.Group, g.cfg.Outliers, rank, g.cfg.Loop, bands, rng),
	}
	L.segs = append(L.segs, seg)
	for h := range L.bk {
		L.bk[h] = append(L.bk[h][:0], L.bk[h][m*hd:]...)
		L.bv[h] = append(L.bv[h][:0], L.bv[h][m*vd:]...)
	}
	L.bufLen -= m
	L.bufStart += m
}

func (g *GEAR) Truncate(n int) error {
	if err := checkTruncate(n, g.lens); err != nil {
		return err
	}
	hd, vd := g.spec.HeadDim, g.spec.ValDim
	for l := range g.layers {
		L := &g.layers[l]
		keep := 0
		if n >= L.bufStart {
			keep = n - L.bufStart
		} else {
			i := sort.Search(len(L.segs), func(i int) bool { return L.segs[i].start >= n })
			clear(L.segs[i:])
			L.segs = L.segs[:i]
			if i > 0 {
				last := &L.segs[i-1]
				last.n = min(last.n, n-last.start)
			}
			L.bufStart = n
		}
		L.bufLen = keep
		for h := range L.bk {
			L.bk[h], L.bv[h] = L.bk[h][:keep*hd], L.bv[h][:keep*vd]
		}
		g.lens[l] = n
	}
	return nil
}

// Bytes is the exact payload: every compressed block's codes,
// quantization parameters, outliers and low-rank factors (gearMat.bytes),
// plus the buffered tokens at 4 bytes per element.
func (g *GEAR) Bytes() int64 { return g.count(false) }

// Reserved counts the compressed blocks and the buffers' capacity.
func (g *GEAR) Reserved() int64 { return g.count(true) }

func (g *GEAR) count(capacity bool) int64 {
	var b int64
	for _, L := range g.layers {
		for i := range L.segs {
			b += L.segs[i].k.bytes() + L.segs[i].v.bytes()
		}
		for h := range L.bk {
			if capacity {
				b += 4 * int64(cap(L.bk[h])+cap(L.bv[h]))
			} else {
				b += 4 * int64(len(L.bk[h])+len(L.bv[h]))
			}
		}
	}
	return b
}

// Stats counts what the cache holds, summed over layers: compressed and
// buffered tokens, and outliers.
func (g *GEAR) Stats() (compressed, buffered, outliers int) {
	for _, L := range g.layers {
		for _, s := range L.segs {
			compressed += s.n
			outliers += len(s.k.outVal) + len(s.v.outVal)
		}
		buffered += L.bufLen
	}
	return
}

type gearView struct {
	g           *GEAR
	layer, head int
	pbuf        []float32
}

func (v gearView) Len() int       { return v.g.Len(v.layer) }
func (v gearView) BlockSize() int { return DefaultBlockSize }

func (v gearView) Block(b int, kbuf, vbuf []float32) ([]float32, []float32, int) {
	g := v.g
	hd, vd := g.spec.HeadDim, g.spec.ValDim
	t0 := b * DefaultBlockSize
	n := min(DefaultBlockSize, v.Len()-t0)
	if n <= 0 {
		return nil, nil, 0
	}
	L := &g.layers[v.layer]
	kout, vout := kbuf[:n*hd], vbuf[:n*vd]
	t1 := t0 + n
	// Compressed blocks overlapping [t0, t1): this head's columns.
	i := sort.Search(len(L.segs), func(i int) bool { return L.segs[i].start+L.segs[i].n > t0 })
	for ; i < len(L.segs) && L.segs[i].start < t1; i++ {
		s := &L.segs[i]
		a, e := max(t0, s.start), min(t1, s.start+s.n)
		s.k.decodeRows(kout[(a-t0)*hd:(e-t0)*hd], a-s.start, e-s.start, v.head*hd, (v.head+1)*hd, v.pbuf)
		s.v.decodeRows(vout[(a-t0)*vd:(e-t0)*vd], a-s.start, e-s.start, v.head*vd, (v.head+1)*vd, v.pbuf)
	}
	// Buffered tokens.
	if a := max(t0, L.bufStart); a < t1 {
		copy(kout[(a-t0)*hd:], L.bk[v.head][(a-L.bufStart)*hd:(t1-L.bufStart)*hd])
		copy(vout[(a-t0)*vd:], L.bv[v.head][(a-L.bufStart)*vd:(t1-L.bufStart)*vd])
	}
	return kout, vout, n
}
