// Package kvcache is the key/value cache of decoder language models: the
// interface attention kernels read keys and values through, block by
// block, and its implementations:
//
//   - Dense: f32 (the reference);
//   - F16: half-precision keys and values;
//   - GEAR (papers.md §4.1): b-bit quantization with 2^b − 1 steps, exact
//     sparse outliers and a low-rank residual by power iteration, with a
//     full-precision streaming buffer of the newest tokens; GEAR v1's
//     uniform layout or KIVI's (keys per channel, values per token);
//   - Evict: a token budget per layer and kv head, scored by the
//     attention mass each token has received (data-free, with attention
//     sinks and a recent window protected) or by a trained Locret
//     retaining head (RetainingHead, papers.md §4.2).
//
// Compressed caches decode one block of tokens at a time into scratch
// buffers the reader owns (HeadView.Block); no cache is ever expanded
// whole. Bytes is the exact size of what each cache stores. ParseSpec
// turns the strings of `optc generate --kv` into constructors.
//
// A cache holds one sequence. The runtime binds it to a graph run with
// NewContext; an optc.Attention node whose kv_layer attribute is ≥ 0
// then appends its new keys and values to that layer and attends over the
// cache's contents. Caches that score tokens implement QueryObserver and
// AttentionObserver, through which the kernel shows them the queries and
// the attention weights. Rolling back (after rejected speculative drafts)
// is Truncate: for every kind, cutting the last Append leaves exactly the
// state of appending only the kept tokens.
//
// It imports nothing of optc, so that every backend's kernels may use it.
package kvcache
