// Package safetensors reads and writes the safetensors weight container:
// an 8-byte little-endian header length, a JSON header mapping tensor
// names to dtype, shape and [begin, end) byte offsets into the data that
// follows (plus an optional "__metadata__" map of strings), then the
// tensor bytes, contiguous and without holes.
//
// Open memory-maps a file and validates the header against the file size;
// Write produces deterministic bytes (header keys sorted, header padded
// with spaces so the data starts at a chosen alignment). optc bundles
// store their weights this way; the language-model loader reads
// checkpoints with the same code.
//
// safetensors imports nothing of optc.
package safetensors
