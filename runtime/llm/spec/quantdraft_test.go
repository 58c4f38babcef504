package spec

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/optc-dev/optc/runtime/llm"
)

// logitsAfter is the model's next-token logits after prompt (no cache).
func logitsAfter(t *testing.T, m *llm.Model, prompt []int32) []float32 {
	t.Helper()
	r, err := m.ForwardWith(context.Background(), nil, prompt, []int{len(prompt) - 1}, llm.ForwardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Logits[0]
}

// cosine is the cosine similarity of two vectors.
func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// A quantized draft is smaller, computes nearly the float draft's logits,
// and leaves the float draft as it was; schemes with activations need
// calibration.
func TestQuantizeDraft(t *testing.T) {
	m := loadModel(t, fixtureDir("lm-draft"))
	text, err := os.ReadFile(filepath.Join(fixtureDir("lm-draft"), "sample.txt"))
	if err != nil {
		t.Fatal(err)
	}
	prompt := encode(m, "func (s *Server) Serve(l net.Listener) error {\n\t")
	before := logitsAfter(t, m, prompt)
	calib, err := TextCalibration(m, text, 4, 256)
	if err != nil {
		t.Fatal(err)
	}
	if len(calib) != 4 || len(calib[0]) != 257 {
		t.Fatalf("calibration: %d windows of %d tokens, want 4 of 257 (BOS + 256 bytes)", len(calib), len(calib[0]))
	}
	for _, c := range []struct {
		scheme string
		calib  [][]int32
		bits   float64
	}{
		{"int8:w", nil, 8},
		{"int8", calib, 8},
		{"nupes:4:datafree:int", calib, 4},
	} {
		q, info, err := QuantizeDraft(m, c.scheme, c.calib, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.scheme, err)
		}
		if info.Layers != 2*7+1 || info.AvgBits != c.bits || info.WeightBytes*int64(32/c.bits) > info.FloatWeightBytes*11/10 {
			t.Errorf("%s: %d layers at %.2f bits, %d of %d bytes; want 15 linear layers at %v bits", c.scheme, info.Layers, info.AvgBits, info.WeightBytes, info.FloatWeightBytes, c.bits)
		}
		if info.ModelBytes >= info.FloatModelBytes || q.WeightBytes != info.ModelBytes {
			t.Errorf("%s: model bytes %d (reported %d), float %d", c.scheme, info.ModelBytes, q.WeightBytes, info.FloatModelBytes)
		}
		if (info.CalibWindows > 0) != (c.calib != nil) {
			t.Errorf("%s: %d calibration windows recorded", c.scheme, info.CalibWindows)
		}
		if !strings.Contains(q.Name, c.scheme) {
			t.Errorf("%s: the draft is named %q", c.scheme, q.Name)
		}
		got := logitsAfter(t, q, prompt)
		if cos := cosine(got, before); cos < 0.99 {
			t.Errorf("%s: next-token logits at cosine %.4f to the float draft's (want ≥ 0.99)", c.scheme, cos)
		}
		if after := logitsAfter(t, m, prompt); !slices.Equal(after, before) {
			t.Errorf("%s: quantizing the draft changed the float draft's logits", c.scheme)
		}
	}
	if _, _, err := QuantizeDraft(m, "int8", nil, nil); err == nil || !strings.Contains(err.Error(), "calibration") {
		t.Errorf("int8 without calibration: %v, want an error asking for calibration text", err)
	}
	if _, _, err := QuantizeDraft(m, "int9", nil, nil); err == nil {
		t.Error("an unknown scheme was accepted")
	}
}
