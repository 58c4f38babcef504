// Package attention recognizes attention in exported decoder graphs and
// binds it to the runtime's KV cache.
//
// Pass "attention" (Fuse) finds the pattern PyTorch exports for scaled
// dot-product attention — new keys/values concatenated to the past ones,
// optionally repeated for grouped-query heads (Unsqueeze→Expand→Reshape),
// scores Q·Kᵀ, a scale, a -inf mask (Where) or an additive one (Add),
// Softmax, the weighted sum of V — and replaces it with one optc.Attention
// node that also produces the present keys/values. A mask that depends
// only on shapes and equals the causal mask for every shape tried is
// dropped for is_causal=1.
//
// Pass "bind-kv" (BindKV) turns a graph with Hugging Face Optimum cache
// inputs and outputs (past_key_values.{i}.key/.value, present.{i}.key/
// .value) into one whose attention nodes read and append to layer i of a
// KV cache bound at run time (kv_layer = i): the past inputs and present
// outputs disappear, so the runtime owns the cache.
//
// It imports ir, passes and runtime/interp (to evaluate mask subgraphs).
package attention
