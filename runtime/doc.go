// Package runtime is optc's embedding API: open a model, run it.
//
//	m, err := runtime.Open("model.onnx")     // reference backend (interpreter)
//	out, err := m.Run(ctx, map[string]*runtime.Tensor{"x": x})
//
// Open accepts an ONNX file today; compiled bundles (native backend) and
// the CUDA backend plug in behind the same Model interface as they land.
//
// runtime imports ir, frontend/onnx and its backends under runtime/.
package runtime
