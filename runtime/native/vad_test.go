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
)

// TestSileroVADFullyNative compiles Silero VAD (legacy) for 512-sample
// chunks: its shape-dependent Ifs fold once the input shape is bound, the
// If on the sample rate is lowered with both model variants (16 kHz and
// 8 kHz) as native branches, and the LSTMs and the reflection Pad are
// lowered, so nothing falls back to the interpreter. For each sample
// rate, two chunks run with the state (hn, cn) of the first fed to the
// second, natively and on the interpreter, each chain on its own; every
// output matches within 1e-4 + 1e-3·|x| (the tolerance of the real-model
// tests).
func TestSileroVADFullyNative(t *testing.T) {
	path := filepath.Join(ort.CacheDir(), "npm/vad-web/package/dist/silero_vad_legacy.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("model not fetched (tools/fetch-models.sh): %v", err)
	}
	g, err := onnx.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := openFullyNative(t, g, codegentest.Host(t), map[string][]int64{"input": {1, 512}})
	// The reference runs the model as loaded (unbound shapes, Ifs intact).
	ref, err := onnx.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range []int64{16000, 8000} {
		rng := rand.New(rand.NewPCG(uint64(sr), 9))
		zeros := ir.NewTensor(ir.Float32, 2, 1, 64)
		gotH, gotC, wantH, wantC := zeros, zeros, zeros, zeros
		for chunk := 0; chunk < 2; chunk++ {
			x := codegentest.Random(rng, 1, 512)
			got, err := m.Run(context.Background(), map[string]*ir.Tensor{"input": x, "sr": ir.ScalarI64(sr), "h": gotH, "c": gotC})
			if err != nil {
				t.Fatal(err)
			}
			want := interpRun(t, ref, map[string]*ir.Tensor{"input": x, "sr": ir.ScalarI64(sr), "h": wantH, "c": wantC})
			for _, o := range []string{"output", "hn", "cn"} {
				if err := codegentest.Close(got[o], want[o], 1e-4, 1e-3); err != nil {
					t.Errorf("sr %d, chunk %d, output %q: %v", sr, chunk, o, err)
				}
			}
			gotH, gotC, wantH, wantC = got["hn"], got["cn"], want["hn"], want["cn"]
		}
	}
}
