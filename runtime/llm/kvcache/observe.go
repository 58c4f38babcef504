package kvcache

import "fmt"

// Optional interfaces a cache implements when it needs more from the
// attention kernel than keys and values. A kernel checks for them with a
// type assertion; caches that do not implement them cost nothing.

// QueryObserver receives the queries of the tokens about to be appended.
// The kernel calls ObserveQueries(layer, q, heads, n) right before
// Append(layer, …, n): q holds the n tokens' query rows head-major,
// [heads][n][HeadDim], exactly as attention uses them (after the rotary
// embedding). The cache must copy what it keeps. The retaining-head
// scorer of an evicting cache (Locret) reads them.
type QueryObserver interface {
	ObserveQueries(layer int, q []float32, heads, n int)
}

// AttentionObserver receives the attention weights a layer's new tokens
// put on the cached tokens. After attending over (layer, kv head) the
// kernel calls ObserveAttention(layer, head, w, rows, keys): w is
// [rows][keys] row-major, the softmax weights (0 where a key is not
// visible) of every query row that reads this kv head — rows =
// (query heads per kv head) × (new tokens), head-major, so the rows of
// new token i are i, i+n, i+2n, … — and keys is the view's Len at the
// time. The slice is reused by the kernel; copy what you keep. Budgeted
// eviction scores tokens by the attention mass they receive.
type AttentionObserver interface {
	ObserveAttention(layer, head int, w []float32, rows, keys int)
}

// checkSpec validates a cache geometry.
func checkSpec(s Spec) error {
	if s.Layers <= 0 || s.KVHeads <= 0 || s.HeadDim <= 0 || s.ValDim <= 0 || s.MaxLen < 0 {
		return fmt.Errorf("kvcache: invalid spec %+v", s)
	}
	return nil
}

// checkAppend validates the arguments of Append for a cache whose layer
// holds start tokens.
func checkAppend(s Spec, layer int, k, v []float32, n, start int) error {
	if layer < 0 || layer >= s.Layers {
		return fmt.Errorf("kvcache: layer %d out of range (the cache has %d)", layer, s.Layers)
	}
	if n < 0 || len(k) != s.KVHeads*n*s.HeadDim || len(v) != s.KVHeads*n*s.ValDim {
		return fmt.Errorf("kvcache: append of %d tokens with %d key and %d value floats (want %d and %d)",
			n, len(k), len(v), s.KVHeads*n*s.HeadDim, s.KVHeads*n*s.ValDim)
	}
	if s.MaxLen > 0 && start+n > s.MaxLen {
		return fmt.Errorf("kvcache: layer %d: %d + %d tokens exceed the cache's capacity of %d", layer, start, n, s.MaxLen)
	}
	return nil
}

// checkTruncate validates Truncate(n) against the layers' lengths.
func checkTruncate(n int, lens []int) error {
	if n < 0 {
		return fmt.Errorf("kvcache: truncate to %d", n)
	}
	for l, ln := range lens {
		if n > ln {
			return fmt.Errorf("kvcache: truncate to %d tokens, but layer %d holds %d", n, l, ln)
		}
	}
	return nil
}

// layerLen is Len for caches that track one length per layer.
func layerLen(lens []int, layer int) int {
	if layer < 0 || layer >= len(lens) {
		return 0
	}
	return lens[layer]
}
