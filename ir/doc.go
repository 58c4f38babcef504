// Package ir is optc's graph intermediate representation.
//
// A Graph holds typed inputs and outputs, nodes in topological order and
// constant tensors (weights). Every Value is produced exactly once (SSA):
// by a Node, as a graph input, or as a constant. Nodes carry ONNX op names
// and domains, typed attributes and the source node name for diagnostics;
// control-flow ops (If, Loop, Scan) carry subgraphs as attributes, and
// nodes inside a subgraph may read values of enclosing graphs.
//
// A Tensor holds data plus an Encoding that says how the data is stored.
// Dense tensors keep one Go element per logical element in Data. Other
// encodings (quantized, shared, sparse, low-rank) are decoded by exactly
// one Decode function, which is the reference for every backend.
//
// The package also holds the op registry (signature, attribute defaults,
// shape inference, FLOP/byte cost), the verifier and a deterministic text
// format whose printer and parser round-trip.
//
// ir imports nothing of optc.
package ir
