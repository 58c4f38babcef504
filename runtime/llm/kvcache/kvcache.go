package kvcache

import (
	"context"
)

// Spec is the geometry of a cache.
type Spec struct {
	Layers  int // attention layers
	KVHeads int // key/value heads per layer
	HeadDim int // key head size
	ValDim  int // value head size (usually HeadDim)
	// MaxLen bounds the tokens held (0 = unbounded).
	MaxLen int
}

// TokenBytes is the number of bytes one token occupies in a dense f32
// cache of this geometry (every layer, head, key and value).
func (s Spec) TokenBytes() int64 {
	return int64(s.Layers) * int64(s.KVHeads) * int64(s.HeadDim+s.ValDim) * 4
}

// Cache holds the keys and values of one sequence.
type Cache interface {
	Spec() Spec
	// Len is the number of tokens appended to layer l so far: the
	// sequence position of the layer's next token. (A cache that evicts
	// holds fewer; its HeadViews say how many.)
	Len(layer int) int
	// Append adds n tokens to a layer. k holds their keys head-major,
	// [KVHeads][n][HeadDim]; v their values, [KVHeads][n][ValDim]. The
	// cache copies them.
	Append(layer int, k, v []float32, n int) error
	// Head is a read view of one layer's kv head.
	Head(layer, head int) HeadView
	// Truncate drops every token at sequence position ≥ n in every layer,
	// restoring the state after the first n tokens were appended. n may
	// not exceed a layer's length.
	Truncate(n int) error
	// Bytes is the exact number of bytes holding the stored keys and
	// values; Reserved counts the storage allocated (whole blocks).
	Bytes() int64
	Reserved() int64
}

// HeadView reads one (layer, kv head) in blocks of consecutive tokens.
type HeadView interface {
	// Len is the number of tokens held (the most recent appended last).
	Len() int
	// BlockSize is the number of tokens per block (the last block may
	// hold fewer).
	BlockSize() int
	// Block returns block b's keys [n][HeadDim] and values [n][ValDim],
	// row-major, and n. kbuf and vbuf (at least BlockSize·HeadDim and
	// BlockSize·ValDim long) are scratch space a compressed cache decodes
	// into; a dense cache returns its own storage. The caller must not
	// modify the returned slices or keep them past the next Append or
	// Truncate.
	Block(b int, kbuf, vbuf []float32) (k, v []float32, n int)
}

// NumBlocks is the number of blocks of a view.
func NumBlocks(h HeadView) int {
	bs := h.BlockSize()
	return (h.Len() + bs - 1) / bs
}

type ctxKey struct{}

// NewContext returns a context that binds c to the graph runs made with it.
func NewContext(ctx context.Context, c Cache) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the cache bound to ctx, or nil.
func FromContext(ctx context.Context) Cache {
	c, _ := ctx.Value(ctxKey{}).(Cache)
	return c
}

// Dense is an f32 cache stored in fixed-size blocks per layer and head,
// allocated as tokens arrive. Blocks beyond the length are kept after
// Truncate for reuse (Reserved counts them) until Release.
type Dense struct {
	spec      Spec
	blockSize int
	lens      []int
	// blocks[layer][head] is a list of blocks; each block holds
	// blockSize keys then blockSize values.
	blocks [][][][]float32
}

// DefaultBlockSize is the number of tokens per block of a Dense cache.
const DefaultBlockSize = 64

// NewDense makes an empty dense cache; blockSize ≤ 0 means
// DefaultBlockSize.
func NewDense(s Spec, blockSize int) (*Dense, error) {
	if err := checkSpec(s); err != nil {
		return nil, err
	}
	if blockSize <= 0 {
		blockSize = DefaultBlockSize
	}
	d := &Dense{spec: s, blockSize: blockSize, lens: make([]int, s.Layers), blocks: make([][][][]float32, s.Layers)}
	for l := range d.blocks {
		d.blocks[l] = make([][][]float32, s.KVHeads)
	}
	return d, nil
}

func (d *Dense) Spec() Spec { return d.spec }

func (d *Dense) Len(layer int) int { return layerLen(d.lens, layer) }

func (d *Dense) Append(layer int, k, v []float32, n int) error {
	s := d.spec
	start := d.Len(layer)
	if err := checkAppend(s, layer, k, v, n, start); err != nil {
		return err
	}
	bs, hd, vd := d.blockSize, s.HeadDim, s.ValDim
	for h := 0; h < s.KVHeads; h++ {
		kh, vh := k[h*n*hd:(h+1)*n*hd], v[h*n*vd:(h+1)*n*vd]
		for i := 0; i < n; {
			pos := start + i
			b, off := pos/bs, pos%bs
			for b >= len(d.blocks[layer][h]) {
				d.blocks[layer][h] = append(d.blocks[layer][h], make([]float32, bs*(hd+vd)))
			}
			blk := d.blocks[layer][h][b]
			m := min(n-i, bs-off)
			copy(blk[off*hd:(off+m)*hd], kh[i*hd:(i+m)*hd])
			copy(blk[bs*hd+off*vd:bs*hd+(off+m)*vd], vh[i*vd:(i+m)*vd])
			i += m
		}
	}
	d.lens[layer] = start + n
	return nil
}

func (d *Dense) Truncate(n int) error {
	if err := checkTruncate(n, d.lens); err != nil {
		return err
	}
	for l := range d.lens {
		d.lens[l] = n
	}
	return nil
}

// Release frees the blocks beyond every layer's length.
func (d *Dense) Release() {
	for l, ln := range d.lens {
		keep := (ln + d.blockSize - 1) / d.blockSize
		for h := range d.blocks[l] {
			bl := d.blocks[l][h]
			clear(bl[keep:])
			d.blocks[l][h] = bl[:keep]
		}
	}
}

func (d *Dense) Bytes() int64 {
	var toks int64
	for _, n := range d.lens {
		toks += int64(n)
	}
	return toks * int64(d.spec.KVHeads) * int64(d.spec.HeadDim+d.spec.ValDim) * 4
}

func (d *Dense) Reserved() int64 {
	var blocks int64
	for l := range d.blocks {
		for h := range d.blocks[l] {
			blocks += int64(len(d.blocks[l][h]))
		}
	}
	return blocks * int64(d.blockSize) * int64(d.spec.HeadDim+d.spec.ValDim) * 4
}

func (d *Dense) Head(layer, head int) HeadView {
	return denseView{d: d, layer: layer, head: head}
}

type denseView struct {
	d           *Dense
	layer, head int
}

func (v denseView) Len() int       { return v.d.Len(v.layer) }
func (v denseView) BlockSize() int { return v.d.blockSize }

func (v denseView) Block(b int, _, _ []float32) ([]float32, []float32, int) {
	bs, hd, vd := v.d.blockSize, v.d.spec.HeadDim, v.d.spec.ValDim
	n := min(bs, v.Len()-b*bs)
	if n <= 0 {
		return nil, nil, 0
	}
	blk := v.d.blocks[v.layer][v.head][b]
	return blk[:n*hd], blk[bs*hd : bs*hd+n*vd], n
}
