package native_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/internal/ort"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/native"
)

// TestRealModelsPartitioned compiles the real models of the foundation
// issue (fetched into the cache by tools/fetch-models.sh) with fixed
// shapes. Codegen may lower only part of them (the rest runs on
// the interpreter), so they exercise partitioned execution on real graphs:
// native and interpreter steps alternate, tensors pass between them by
// name. (Silero VAD is fully native: see TestSileroVADFullyNative.)
// Outputs must match the interpreter alone within 1e-4 + 1e-3·|x|.
func TestRealModelsPartitioned(t *testing.T) {
	for _, tt := range []struct {
		name, rel string
		shapes    map[string][]int64
		extra     map[string]*ir.Tensor
	}{
		{"ppocr_mobile_cls", "npm/ocr-models/package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx",
			map[string][]int64{"x": {1, 3, 48, 192}}, nil},
		{"ppocrv4_det", "npm/ocr-models/package/assets/ch_PP-OCRv4_det_infer.onnx",
			map[string][]int64{"x": {1, 3, 64, 96}}, nil},
		{"silero_vad_legacy", "npm/vad-web/package/dist/silero_vad_legacy.onnx",
			map[string][]int64{"input": {1, 512}, "h": {2, 1, 64}, "c": {2, 1, 64}},
			map[string]*ir.Tensor{"sr": ir.ScalarI64(16000)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(ort.CacheDir(), tt.rel)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("model not fetched (tools/fetch-models.sh): %v", err)
			}
			g, err := onnx.LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			res := codegentest.Bundle(t, g, codegentest.Host(t), tt.shapes, dir, "")
			t.Logf("%d steps, %d kernels, %d nodes on the interpreter", len(res.Steps), len(res.Kernels), len(res.Fallback))
			in := map[string]*ir.Tensor{}
			rng := rand.New(rand.NewPCG(5, 5))
			for _, v := range g.Inputs {
				if x, ok := tt.extra[v.Name]; ok {
					in[v.Name] = x
					continue
				}
				shape, _ := v.Type.Shape.Concrete()
				in[v.Name] = codegentest.Random(rng, shape...)
			}
			m, err := native.Open(dir, native.Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			got, err := m.Run(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			want := interpRun(t, g, in)
			for _, o := range g.Outputs {
				if err := codegentest.Close(got[o.Name], want[o.Name], 1e-4, 1e-3); err != nil {
					t.Errorf("output %q: %v", o.Name, err)
				}
			}
		})
	}
}

func interpRun(t *testing.T, g *ir.Graph, in map[string]*ir.Tensor) map[string]*ir.Tensor {
	t.Helper()
	out := map[string]*ir.Tensor{}
	iin := map[string]any{}
	for k, v := range in {
		iin[k] = v
	}
	res, err := interpRunValues(g, iin)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range res {
		out[k] = v.(*ir.Tensor)
	}
	return out
}
