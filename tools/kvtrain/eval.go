package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// evalSeq is one scored sequence: tokens[0:prompt] are prefilled in one
// forward pass, the rest are fed one at a time (teacher forcing); the
// target of position i is tokens[i+1], or final for the last position
// (−1: none), and positions < skip are not scored.
type evalSeq struct {
	tokens []int32
	final  int32
	prompt int
	skip   int
}

// evalResult is one cache kind's score over all sequences.
type evalResult struct {
	kind     string
	nll      float64 // nats, summed
	scored   int     // predictions scored
	bytes    int64   // cache bytes at the end of each sequence, summed
	f32Bytes int64   // what a dense f32 cache would hold, summed
	tokens   int     // tokens fed, summed
	elapsed  time.Duration
}

func (r *evalResult) bitsPerItem() float64 { return r.nll / math.Ln2 / float64(r.scored) }
func (r *evalResult) ratio() float64       { return float64(r.bytes) / float64(r.f32Bytes) }

// scoreSeq feeds one sequence through a fresh cache and returns its
// negative log likelihood, the number of predictions scored and the
// cache's bytes at the end.
func scoreSeq(ctx context.Context, m llm.LM, newCache kvcache.Constructor, s evalSeq) (float64, int, int64, error) {
	cache, err := newCache(m.CacheSpec())
	if err != nil {
		return 0, 0, 0, err
	}
	var nll float64
	n := 0
	score := func(pos int, logits []float32) {
		if pos < s.skip {
			return
		}
		target := s.final
		if pos+1 < len(s.tokens) {
			target = s.tokens[pos+1]
		}
		if target < 0 {
			return
		}
		nll += logSoftmaxNeg(logits, target)
		n++
	}
	rows := make([]int, s.prompt)
	for i := range rows {
		rows[i] = i
	}
	out, err := m.Forward(ctx, cache, s.tokens[:s.prompt], rows)
	if err != nil {
		return 0, 0, 0, err
	}
	for i, lg := range out {
		score(i, lg)
	}
	for i := s.prompt; i < len(s.tokens); i++ {
		out, err := m.Forward(ctx, cache, s.tokens[i:i+1], []int{0})
		if err != nil {
			return 0, 0, 0, err
		}
		score(i, out[0])
	}
	return nll, n, cache.Bytes(), nil
}

// logSoftmaxNeg is −log softmax(logits)[t] in float64.
func logSoftmaxNeg(logits []float32, t int32) float64 {
	mx := math.Inf(-1)
	for _, x := range logits {
		mx = max(mx, float64(x))
	}
	var sum float64
	for _, x := range logits {
		sum += math.Exp(float64(x) - mx)
	}
	return -(float64(logits[t]) - mx - math.Log(sum))
}

// evalKinds scores every sequence with every cache kind, jobs sequences
// at a time.
func evalKinds(ctx context.Context, m llm.LM, kinds []string, seqs []evalSeq, jobs int, progress func(string)) ([]*evalResult, error) {
	var res []*evalResult
	for _, kind := range kinds {
		newCache, err := kvcache.ParseSpec(kind)
		if err != nil {
			return nil, err
		}
		r := &evalResult{kind: kind}
		type one struct {
			nll   float64
			n     int
			bytes int64
			err   error
		}
		outs := make([]one, len(seqs))
		t0 := time.Now()
		sem := make(chan struct{}, max(jobs, 1))
		var wg sync.WaitGroup
		for i, s := range seqs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				o := &outs[i]
				o.nll, o.n, o.bytes, o.err = scoreSeq(ctx, m, newCache, s)
			}()
		}
		wg.Wait()
		r.elapsed = time.Since(t0)
		// Summed in sequence order: the same result for any jobs.
		for i, o := range outs {
			if o.err != nil {
				return nil, fmt.Errorf("%s: %w", kind, o.err)
			}
			r.nll += o.nll
			r.scored += o.n
			r.bytes += o.bytes
			r.f32Bytes += m.CacheSpec().TokenBytes() * int64(len(seqs[i].tokens))
			r.tokens += len(seqs[i].tokens)
		}
		res = append(res, r)
		if progress != nil {
			progress(fmt.Sprintf("%-28s %.5f bits/item, KV %.1f%% of f32", kind, r.bitsPerItem(), 100*r.ratio()))
		}
	}
	return res, nil
}
