// Package llm runs decoder language models: loading them into optc's IR
// (GGUF, Hugging Face config.json + model.safetensors, ONNX decoders with
// Optimum KV inputs/outputs, and such decoders in optc's IR text format, as
// `optc quant-report -o` writes them quantized), the forward pass with a KV cache the runtime owns, prefill in
// chunks, sampling (greedy, temperature, top-k, top-p, repetition
// penalty; seeded), the generation loop and llama-bench-style benchmarks.
//
// The pieces speculative decoding and compressed caches build on are
// interfaces: LM (any model whose forward appends to a kvcache.Cache and
// returns logits for chosen rows, so a verifier can score a whole draft
// in one call and roll back with Cache.Truncate) and kvcache.Cache.
//
// Backends: Model runs its graph on the reference interpreter;
// NativeModel (NewNative) runs the same graph compiled by codegen into
// bundles, one per token count (exact up to 8 tokens, the verify passes
// of speculative decoding; beyond that padded to powers of two) and
// logit-row count, compiled on first use into a temporary directory (or
// a kept, reusable NativeOptions.Dir) and run by runtime/native.
// optc.RotaryEmbedding nodes are rewritten into standard ops first
// (native_rope.go), so only optc.Attention, which reads and appends the
// KV cache found in the context, runs as an interpreter step inside the
// bundle under the same context, so caches, token trees
// and rollback behave as on the interpreter; the Attention steps walk the
// cache's blocks (decoding a compressed block into scratch) and run each
// on the bundle's native attention block kernel (codegen/attention.go;
// NativeOptions.InterpAttention keeps the Go loop). Logits agree within
// 1e-4 of their scale (measured: about 1e-6 with a dense cache). NativeModel implements LM and ForwardWith, so it serves
// as target and draft of runtime/llm/spec.
//
// It imports ir, gguf, safetensors, frontend/onnx, the interpreter
// backend, codegen, bundle/build and runtime/native (the native
// backend), kvcache, tokenizer and llama, and passes/attention (to bind
// an ONNX decoder's attention to the cache when it is loaded); cmd/optc
// imports it.
package llm
