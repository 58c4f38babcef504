package main

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
)

// evalQuantRun runs optc eval on lm-draft's sample text (1024 bytes, two
// windows) and returns bits per byte and the quantization summary.
func evalQuantRun(t *testing.T, args ...string) (float64, *evalQuantSummary) {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "models", "lm-draft")
	cmd := newEvalCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(append([]string{filepath.Join(dir, "model.onnx"), "--text", filepath.Join(dir, "sample.txt"), "--json", "--quiet"}, args...))
	if err := cmd.Execute(); err != nil {
		t.Fatalf("eval %v: %v", args, err)
	}
	var r struct {
		Result struct {
			BitsPerByte float64 `json:"bits_per_byte"`
		} `json:"result"`
		Quant *evalQuantSummary `json:"quant"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("eval %v: %v\n%s", args, err, out.String())
	}
	return r.Result.BitsPerByte, r.Quant
}

// The quantized LM's bits per byte are measured against the float model's
// on the interpreter (the independent reference): 8-bit weights and
// activations calibrated on text windows stay within 0.05 bits/byte of
// fp32, 4-bit per-group weights within 0.3; a mis-scaled or unfed
// quantization lands near log2(259) = 8 bits/byte.
func TestEvalQuantLM(t *testing.T) {
	if testing.Short() {
		t.Skip("runs lm-draft three times on the interpreter")
	}
	calib := filepath.Join("..", "..", "testdata", "models", "lm-target", "sample.txt")
	fp, q := evalQuantRun(t)
	if q != nil {
		t.Fatalf("fp32 eval reports a quantization: %+v", q)
	}
	for _, c := range []struct {
		args []string
		tol  float64
		bits float64
	}{
		{[]string{"--quant", "int8", "--calib", calib, "--calib-samples", "2"}, 0.05, 8},
		{[]string{"--quant", "int4:g32"}, 0.3, 4},
	} {
		got, q := evalQuantRun(t, c.args...)
		if q == nil || q.AvgBits != c.bits || q.Bytes >= q.FloatBytes {
			t.Errorf("%v: summary %+v, want %g bits/param average and fewer bytes", c.args, q, c.bits)
		}
		if d := got - fp; math.Abs(d) > c.tol || math.IsNaN(d) {
			t.Errorf("%v: %.4f bits/byte, fp32 %.4f: change %+.4f, want within %g", c.args, got, fp, d, c.tol)
		}
	}
}
