// Package llama builds the Llama decoder architecture as an optc IR graph
// from its hyperparameters and weights: token embedding, per layer
// RMSNorm → Q/K/V projections → rotary embedding → optc.Attention
// (grouped-query, causal, bound to the runtime's KV cache by layer) →
// output projection → residual, RMSNorm → SwiGLU feed-forward → residual;
// final RMSNorm and the classifier (the token embedding when tied).
//
// Loaders of every format (GGUF, safetensors + config.json) produce a
// Config and a weight source and call Build, so passes, codegen and the
// runtime see every Llama model alike. Weights are named as in GGUF
// (token_embd.weight, blk.N.attn_q.weight, …) in PyTorch's [out, in]
// layout; loaders of other formats rename them.
//
// It imports ir and nothing else of optc.
package llama
