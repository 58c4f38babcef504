package interp

import (
	"math"

	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// Hooks for caches that score their tokens (budgeted eviction, Locret):
// a cache implementing kvcache.QueryObserver is shown the queries of the
// tokens it is about to append; one implementing
// kvcache.AttentionObserver the softmax weights each kv head's query
// group put on the cached tokens.

// attnObserveQueries passes the head-major queries ([hq][s][hd], batch 1)
// to a cache that wants them.
func attnObserveQueries(cache kvcache.Cache, layer int, q []float32, hq, s int) {
	if o, ok := cache.(kvcache.QueryObserver); ok {
		o.ObserveQueries(layer, q, hq, s)
	}
}

// attnObserving returns the cache's attention observer, having given g a
// weight buffer to fill, or nil when the cache does not observe.
func attnObserving(cache kvcache.Cache, g *attnGroup) kvcache.AttentionObserver {
	o, ok := cache.(kvcache.AttentionObserver)
	if !ok {
		return nil
	}
	rows := len(g.q) / g.hd
	if n := rows * g.total; cap(g.w) >= n {
		g.w = g.w[:n]
	} else {
		g.w = make([]float32, n)
	}
	for i := range g.w {
		g.w[i] = float32(math.Inf(-1))
	}
	return o
}

// finishWeights turns the recorded scores into softmax weights with the
// rows' final maxima m and sums l (as run computes the output: each
// exp(s − m) in float32 from a float64 exponential).
func (g *attnGroup) finishWeights(m, l []float32) {
	if g.w == nil {
		return
	}
	for r := range m {
		row := g.w[r*g.total : (r+1)*g.total]
		if l[r] == 0 {
			clear(row)
			continue
		}
		inv := 1 / l[r]
		for j, s := range row {
			if math.IsInf(float64(s), -1) {
				row[j] = 0
				continue
			}
			row[j] = float32(math.Exp(float64(s-m[r]))) * inv
		}
	}
}
