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
// native imports ir, bundle, targets and runtime/interp. Without cgo, Open
// returns an error.
package native
