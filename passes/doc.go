// Package passes holds optc's pass interface, the pass manager, the
// pipeline spec parser and the generic graph passes (constant folding,
// dead-code elimination).
//
// A Pass rewrites an ir.Graph in place. Pipelines are strings such as
//
//	fold,dce,quant(scheme=nupes,bits=4),prune(method=snip,sparsity=0.5)
//
// parsed by ParsePipeline against the registry of pass constructors
// (Register). The Context carries what passes share: calibration data, a
// seeded RNG, a progress/log writer and a report sink in which each pass
// records what it did per layer. With Context.Verify set, ir.Verify runs
// after every pass, and the first pass that breaks the graph is named.
//
// Compression passes live in sub-packages (passes/quant, passes/prune,
// passes/share, passes/kv, passes/search) and register themselves.
//
// passes imports ir and runtime/interp (the reference executor, used to
// fold constants and to collect calibration statistics).
package passes
