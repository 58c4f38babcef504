// Package native runs compiled optc bundles from Go.
//
// Open checks the bundle before any of its code runs: the manifest's
// target against this machine (architecture and CPU features), the
// SHA-256 of the library, header and weights against the manifest; then it
// dlopens the library (cgo), which maps the weights and checks their
// safetensors header itself. Run executes the bundle's steps in order:
// native segments through the library's C ABI, interpreter steps (nodes
// codegen could not lower) through runtime/interp, passing tensors by
// name.
//
// Options.ReuseBuffers keeps the buffers of the values a run's steps
// hand each other (native segments' outputs that are not the model's)
// and writes the next run's values into them instead of allocating them
// anew; the tensors Run returns are always fresh, so callers may keep
// them, and concurrent runs get buffers of their own. runtime/llm's
// native backend sets it: its bundles run once per decoding step.
//
// Model.AttnBlock returns a bundle's attention block kernel
// (codegen.AttnKernelName) as an interp.AttnBlockFunc: bound to a run's
// context with interp.WithAttnBlock, the interpreted optc.Attention
// steps hand it each block of the KV cache instead of running their Go
// loop (runtime/llm's native backend does so).
//
// native imports ir, bundle, targets and runtime/interp. Without cgo, Open
// returns an error.
package native
