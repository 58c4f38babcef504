// Package build writes optc bundles: it takes codegen's result through the
// LLVM toolchain (verify, opt -O3, llc) and the C compiler (runtime shim,
// link), and writes the header, the weights and the manifest.
//
// Each --emit stage stops the pipeline: llvm (<name>.ll, verified), asm
// (<name>.s), obj (<name>.o and lib<name>.a with the shim, plus header,
// weights and manifest), lib (lib<name>.so and <name>.h), bundle (lib +
// weights.safetensors + manifest.json + interpreter step graphs).
//
// build imports codegen, targets, safetensors, bundle and ir.
package build
