// Package ort runs ONNX models with ONNX Runtime, as an oracle for optc's
// tests and as the reference backend of `optc bench --vs onnxruntime`.
//
// optc's core never depends on ONNX Runtime: the bindings
// (github.com/yalue/onnxruntime_go) load the shared library at run time
// with dlopen, and only when a session is first created (NewSession,
// Version, Run, Latency). Nothing in this package touches the library at
// init, so a binary that imports it runs unchanged on a machine without
// ONNX Runtime; only `optc bench --vs onnxruntime` and the tests that
// compare against ONNX Runtime ask for it, and the tests skip when
// Available reports false. Without cgo every call returns an error.
//
// The library comes from the npm package onnxruntime-node (fetched by
// tools/fetch-models.sh into the repository cache) or from $OPTC_ORT_LIB.
// Bindings are github.com/yalue/onnxruntime_go v1.27, which asks the library
// for C API version 24; ONNX Runtime keeps older API versions, so the 1.30
// library serves it (TestAPIVersion checks).
package ort
