// Package onnx imports ONNX models (ModelProto, ONNX 1.12 and older) into
// optc's graph IR.
//
// LoadFile and Load decode a model into an *ir.Graph:
//
//   - graph inputs, outputs and value_info types become ir.Types (tensor,
//     sequence, optional; symbolic and unknown dims kept); values without
//     type information get an unranked tensor type of undefined dtype;
//   - initializers and Constant nodes become constants (Value.Const), and
//     so do graph inputs that also have an initializer (old exporters list
//     weights as inputs);
//   - tensors may use any ONNX encoding (raw_data, the typed fields,
//     external data files relative to the model's directory, which may not
//     escape it); DecodeTensor is the decoder;
//   - attributes of every kind are kept; GRAPH/GRAPHS attributes become
//     subgraphs whose nodes reference values of enclosing graphs through
//     the same *ir.Value (names resolve through a scope chain, subgraph
//     definitions shadow outer names);
//   - opset_import becomes Graph.Opsets ("ai.onnx" is normalized to "");
//     default-domain opsets MinOpset..MaxOpset are accepted, and each op
//     must be registered in ir (ir.LookupOp) at a version the model's
//     opset reaches, with an arity its schema allows;
//   - model-local functions are inlined at their call sites;
//   - model metadata goes to Graph.Meta (see onnxMeta for the keys).
//
// Import verifies what the IR relies on: each value defined once, nodes in
// topological order, every used value defined, tensor data matching its
// dims. Malformed input never panics; every error names the model and the
// place in it.
//
// ReadTestData reads the input_N.pb / output_N.pb files of ONNX
// conformance tests.
//
// The protobuf bindings live in the subpackage onnxpb (generated, checked
// in). This package imports only ir, onnxpb and google.golang.org/protobuf.
package onnx
