// Package interp is optc's reference executor: a pure-Go interpreter of
// ir graphs. Every backend and every pass is checked against it, and it is
// checked against the ONNX backend conformance suite.
//
// Kernels are registered per op (domain, name) in init functions, one file
// per family of ops. A kernel receives the node, its run-time inputs and
// the opset version of the node's domain, and returns its outputs. Numerics
// follow the ONNX specification: float32 arithmetic for float32 tensors,
// float64 for float64.
//
// Run-time values are *ir.Tensor for tensors, Sequence for ONNX
// sequences and nil for absent optional values.
//
// interp imports ir only.
package interp
