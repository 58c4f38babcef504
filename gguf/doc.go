// Package gguf reads and writes GGUF files, the single-file model format of
// llama.cpp (versions 2 and 3): the header, the typed metadata key/value
// store, the tensor directory and the tensor data, with exact block
// dequantization of the F32, F16, BF16, Q8_0, Q4_0 and Q4_1 tensor types.
//
// It is a file-format package like npy: it knows nothing about model
// architectures (runtime/llm builds the Llama graph from a File) and imports
// only ir, for the dtypes and tensors it returns. It lives at the top level,
// not under runtime/llm, because it is used beyond the language-model
// runtime: `optc inspect` lists a GGUF's tensors and metadata, and exporters
// write compressed weights back into GGUF files for llama.cpp.
//
// Shapes: GGUF stores dims fastest-varying first (ggml's ne[0] is the row
// length). Every shape this package returns is in the row-major order the
// rest of optc uses (NumPy order), i.e. reversed: a ggml tensor with
// ne = [64, 512] is a [512, 64] ir.Tensor.
package gguf
