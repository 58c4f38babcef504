// Package bundle defines the on-disk format of a compiled optc model and
// checks a bundle before it is run.
//
// A bundle directory holds
//
//	lib<name>.so        native code + the C runtime shim (weights mapping,
//	                    header check, CPU-feature check, thread pool)
//	<name>.h            the C ABI: optc_model_open/run/close, …
//	weights.safetensors the weights in the layout the kernels stream
//	manifest.json       optc version, target, I/O signature, hashes, the
//	                    execution steps and the nodes that fell back
//	interp_<k>.optc     (partitioned models) the graph of each step that
//	                    runs on the interpreter, in optc's IR text format
//
// Package bundle/build writes bundles; this package only reads them, so
// the runtime does not depend on the compiler.
//
// bundle imports targets (feature checks) and nothing else of optc.
package bundle
