// Package llm runs decoder language models: loading them into optc's IR
// (GGUF, Hugging Face config.json + model.safetensors, ONNX decoders with
// Optimum KV inputs/outputs), the forward pass with a KV cache the runtime owns, prefill in
// chunks, sampling (greedy, temperature, top-k, top-p, repetition
// penalty; seeded), the generation loop and llama-bench-style benchmarks.
//
// The pieces speculative decoding and compressed caches build on are
// interfaces: LM (any model whose forward appends to a kvcache.Cache and
// returns logits for chosen rows, so a verifier can score a whole draft
// in one call and roll back with Cache.Truncate) and kvcache.Cache.
//
// It imports ir, gguf, safetensors, frontend/onnx, the interpreter
// backend, kvcache, tokenizer and llama, and passes/attention (to bind an
// ONNX decoder's attention to the cache when it is loaded); cmd/optc
// imports it.
package llm
