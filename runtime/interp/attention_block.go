package interp

import (
	"context"
	"math"
	"sync"
)

// A replaceable inner step of the Attention kernel: a native backend
// (runtime/native, a bundle's optc_attn_block) binds an AttnBlockFunc to
// the context of a run, and the kernel then hands it each block of keys
// and values instead of running its own loop over the block. The kernel
// still walks the cache's blocks through kvcache.HeadView (a compressed
// cache decodes one block at a time into scratch), appends the new keys
// and values, and normalizes the rows at the end; the Go loop stays the
// reference. Groups whose scores are observed (attention_observe.go) or
// that carry a general attn_mask input (anything but a token tree's
// boolean mask) keep the Go loop.

// AttnBlock is one call of an AttnBlockFunc: it updates the online-softmax
// state (M, L, Acc) of Rows query rows with the N keys and values of the
// block starting at key J0. Row r is query token r mod S of query head
// r div S of the group; it sees key j when j < Total, when Causal is
// false or j ≤ Past + r mod S, and when Keep is nil or Keep[(r mod S)·Total + j].
// Scores is scratch space of at least N·(HD+1) floats.
type AttnBlock struct {
	Q               []float32 // [Rows][HD]
	Rows, S, HD, DV int
	K, V            []float32 // [N][HD], [N][DV]
	N, J0           int
	Past, Total     int
	Causal          bool
	Scale           float32
	Keep            []bool    // nil, or [S][Total]
	M, L            []float32 // [Rows] running maxima (start at -Inf) and sums
	Acc             []float32 // [Rows][DV] unnormalized outputs
	Scores          []float32
}

// AttnBlockFunc applies one block (see AttnBlock).
type AttnBlockFunc func(*AttnBlock)

type attnBlockKey struct{}

// attnBlockScratch holds a group's block call and its running maxima,
// sums and kernel scratch (reused across groups and runs).
type attnBlockScratch struct {
	buf []float32
	blk AttnBlock
}

var attnScratch = sync.Pool{New: func() any { return new(attnBlockScratch) }}

// WithAttnBlock returns a context under which the Attention kernel runs
// its blocks with f (nil: the Go loop).
func WithAttnBlock(ctx context.Context, f AttnBlockFunc) context.Context {
	return context.WithValue(ctx, attnBlockKey{}, f)
}

func attnBlockFrom(ctx context.Context) AttnBlockFunc {
	if ctx == nil {
		return nil
	}
	f, _ := ctx.Value(attnBlockKey{}).(AttnBlockFunc)
	return f
}

// attnKeepRows returns the mask's boolean [S][total] rows when it is one
// (a token tree's), else ok is false.
func (am *attnMask) attnKeepRows(total int) (keep []bool, ok bool) {
	if am == nil {
		return nil, true
	}
	if am.keep != nil && am.stride == [4]int{0, 0, total, 1} {
		return am.keep, true
	}
	return nil, false
}

// runBlocks is run with f applying each block; it reports false (having
// done nothing) when the group needs the Go loop.
func (g *attnGroup) runBlocks(f AttnBlockFunc, src attnSource, y []float32) bool {
	keep, ok := g.mask.attnKeepRows(g.total)
	if f == nil || !ok || g.w != nil {
		return false
	}
	rows := len(g.q) / g.hd
	bs := src.blockSize()
	sp := attnScratch.Get().(*attnBlockScratch)
	defer attnScratch.Put(sp)
	st := attnGrow(&sp.buf, 2*rows+bs*(g.hd+1))
	a := &sp.blk
	*a = AttnBlock{Q: g.q, Rows: rows, S: g.s, HD: g.hd, DV: g.dv, Past: g.past, Total: g.total,
		Causal: g.causal, Scale: g.scale, Keep: keep, M: st[:rows], L: st[rows : 2*rows], Acc: y[:rows*g.dv], Scores: st[2*rows:]}
	defer func() { *a = AttnBlock{} }() // the pool must not keep the run's slices alive
	clear(a.Acc)
	for r := range a.M {
		a.M[r] = float32(math.Inf(-1))
	}
	for blk := 0; blk < src.numBlocks(); blk++ {
		a.K, a.V, a.N = src.block(blk)
		a.J0 = blk * bs
		if a.N > 0 && a.J0 < g.total {
			f(a)
		}
	}
	attnNormalize(a.Acc, a.L, g.dv)
	return true
}

// attnNormalize divides each output row by its softmax sum (rows without
// a visible key are zero).
func attnNormalize(acc, l []float32, dv int) {
	for r, s := range l {
		out := acc[r*dv : (r+1)*dv]
		if s == 0 {
			clear(out)
			continue
		}
		inv := 1 / s
		for d := range out {
			out[d] *= inv
		}
	}
}
