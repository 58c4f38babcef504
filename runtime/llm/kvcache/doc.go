// Package kvcache is the key/value cache of decoder language models: the
// interface attention kernels read keys and values through, block by
// block, and the dense implementation. Compressed caches (f16, GEAR,
// budgeted eviction) implement the same interface, so kernels never need
// a whole layer expanded.
//
// A cache holds one sequence. The runtime binds it to a graph run with
// NewContext; an optc.Attention node whose kv_layer attribute is ≥ 0
// then appends its new keys and values to that layer and attends over the
// cache's contents. Rolling back (after rejected speculative drafts) is
// Truncate.
//
// It imports nothing of optc, so that every backend's kernels may use it.
package kvcache
