package spec

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// fakeLM is a language model over a small vocabulary whose next-token
// logits are a fixed pseudo-random function of the whole context. It
// stores each token's id as its key in the KV cache, so it reads its
// context back from the cache like a real model, and it honours token
// trees (kvcache.Tree) by following parents. Two fakeLMs with the same
// seed and a noise level make a target and a draft that agree only
// partly.
type fakeLM struct {
	vocab, maxLen int
	seed          uint64
	noise         float64 // draft: logits + noise·N(0,1) from another seed
	scale         float64
	hidden        int
}

func (f *fakeLM) CacheSpec() kvcache.Spec {
	return kvcache.Spec{Layers: 1, KVHeads: 1, HeadDim: 1, ValDim: 1, MaxLen: f.maxLen}
}
func (f *fakeLM) VocabSize() int  { return f.vocab }
func (f *fakeLM) MaxLen() int     { return f.maxLen }
func (f *fakeLM) HiddenSize() int { return f.hidden }

// logitsAfter is the logits after a context.
func (f *fakeLM) logitsAfter(ctx []int32) []float32 {
	h := fnv.New64a()
	for _, t := range ctx {
		fmt.Fprintf(h, "%d,", t)
	}
	key := h.Sum64()
	r := rand.New(rand.NewPCG(key, 7))
	out := make([]float32, f.vocab)
	for i := range out {
		out[i] = float32(f.scale * r.NormFloat64())
	}
	if f.noise > 0 {
		rn := rand.New(rand.NewPCG(key, f.seed))
		for i := range out {
			out[i] += float32(f.noise * rn.NormFloat64())
		}
	}
	return out
}

func (f *fakeLM) Forward(ctx context.Context, cache kvcache.Cache, tokens []int32, rows []int) ([][]float32, error) {
	r, err := f.ForwardWith(ctx, cache, tokens, rows, llm.ForwardOptions{})
	if err != nil {
		return nil, err
	}
	return r.Logits, nil
}

func (f *fakeLM) ForwardWith(_ context.Context, cache kvcache.Cache, tokens []int32, rows []int, opt llm.ForwardOptions) (*llm.ForwardResult, error) {
	var held []int32
	if cache != nil {
		v := cache.Head(0, 0)
		kb, vb := make([]float32, v.BlockSize()), make([]float32, v.BlockSize())
		for b := range kvcache.NumBlocks(v) {
			k, _, n := v.Block(b, kb, vb)
			for i := range n {
				held = append(held, int32(k[i]))
			}
		}
	}
	start := len(held)
	all := append(held, tokens...)
	// parent[i] is the position token i follows.
	parent := func(i int) int { return i - 1 }
	if t := opt.Tree; t != nil {
		if err := t.Check(start, len(tokens)); err != nil {
			return nil, err
		}
		parent = func(i int) int {
			if i < t.Base {
				return i - 1
			}
			if p := t.Parents[i-t.Base]; p >= 0 {
				return t.Base + p
			}
			return t.Base - 1
		}
	}
	context := func(i int) []int32 {
		var rev []int32
		for j := i; j >= 0; j = parent(j) {
			rev = append(rev, all[j])
		}
		c := make([]int32, len(rev))
		for k := range rev {
			c[k] = rev[len(rev)-1-k]
		}
		return c
	}
	res := &llm.ForwardResult{}
	for _, r := range rows {
		c := context(start + r)
		res.Logits = append(res.Logits, f.logitsAfter(c))
		if opt.Hidden {
			h := make([]float32, f.hidden)
			for i := range h {
				h[i] = float32(c[len(c)-1]) - 1 + float32(math.Sin(float64(len(c)*(i+1))))/10
			}
			res.Hidden = append(res.Hidden, h)
		}
	}
	if cache != nil {
		ks := make([]float32, len(tokens))
		for i, t := range tokens {
			ks[i] = float32(t)
		}
		if err := cache.Append(0, ks, make([]float32, len(tokens)), len(tokens)); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func nil2dense(s kvcache.Spec) (kvcache.Cache, error) { return kvcache.NewDense(s, 0) }
