// Package ort runs ONNX models with ONNX Runtime, as an oracle for optc's
// tests and benchmarks. It must only be imported by tests (it needs cgo and
// the ONNX Runtime shared library, which the optc tool itself never uses).
//
// The library comes from the npm package onnxruntime-node (fetched by
// tools/fetch-models.sh into the repository cache) or from $OPTC_ORT_LIB.
// Bindings are github.com/yalue/onnxruntime_go v1.27, which asks the library
// for C API version 24; ONNX Runtime keeps older API versions, so the 1.30
// library serves it (TestAPIVersion checks).
//
// Tests call Available and skip when it reports false.
package ort
