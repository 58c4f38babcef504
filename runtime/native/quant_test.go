package native_test

import (
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/native"
)

// Weight-only quantized GEMM: native code on the packed codes equals the
// interpreter, which runs the encoding's reference Decode, and the bundle
// stores the codes (1 or ½ byte per weight), not a float32 copy.
func TestNativeQuantMatchesInterpreter(t *testing.T) {
	host := codegentest.Host(t)
	for _, c := range codegentest.QuantCases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Build()
			var codeBytes, elems int64
			for _, v := range g.Consts {
				if q, ok := v.Const.Enc.(*ir.Quantized); ok {
					codeBytes += int64(len(q.Codes))
					elems += ir.NumElements(v.Const.Shape)
				}
			}
			dir := t.TempDir()
			res := codegentest.Bundle(t, g, host, c.Shapes, dir, "")
			if !res.FullyNative() || len(res.Decoded) != 0 {
				t.Fatalf("fully native %v, decoded %v", res.FullyNative(), res.Decoded)
			}
			var raw, quantKernels int64
			for _, w := range res.Weights {
				if w.Raw != nil {
					raw += int64(len(w.Raw))
				} else if strings.HasPrefix(w.Encoding, "packed_b(") {
					t.Errorf("fp32 packed copy of %s in the weights", w.Of)
				}
			}
			for _, k := range res.Kernels {
				if strings.Contains(k, "packed int") {
					quantKernels++
				}
			}
			if quantKernels == 0 {
				t.Fatalf("no quantized GEMM kernel: %v", res.Kernels)
			}
			// Codes are stored once, padded to panels of nr columns and 64 bytes
			// per tensor; never 4 bytes per weight (checked where the
			// padding does not dominate).
			if raw < codeBytes || (elems >= 1024 && raw >= 2*elems) {
				t.Errorf("stored codes %d bytes for %d weights (%d code bytes)", raw, elems, codeBytes)
			}
			m, err := native.Open(dir, native.Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			compare(t, g, m, codegentest.Inputs(t, g, 1))
		})
	}
}
