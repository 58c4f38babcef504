package native_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// Grouped and depthwise int8 Conv (codegen/conv_dw_i8.go) on the host and
// the x86-64 v1 (SSE2), AVX2 and AVX-512 targets this CPU runs: one direct int8 Conv kernel per
// graph, fully native, and the interpreter's output bit for bit (the
// graphs are exact in float32, see codegentest.I8Cases).
func TestNativeI8GroupConvExact(t *testing.T) {
	direct := func(k string) error {
		if !strings.Contains(k, "(direct,") {
			return fmt.Errorf("not the direct grouped kernel: %s", k)
		}
		return nil
	}
	for _, tg := range i8ExactTargets(t, "x86-64", "x86-64-v3", "x86-64-v4") {
		for _, c := range codegentest.I8GroupCases() {
			t.Run(tg.CPU+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				i8ExactBundle(t, tg, c, 1, direct)
			})
		}
	}
}

// Per-axis QuantizeLinear/DequantizeLinear run natively and equal the
// interpreter bit for bit (rounding ties to even, saturation, per-channel
// zero points) on two seeded inputs.
func TestNativeI8AxisQDQExact(t *testing.T) {
	for _, tg := range i8ExactTargets(t, "x86-64", "x86-64-v3") {
		for _, c := range codegentest.I8AxisCases() {
			t.Run(tg.CPU+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				i8ExactBundle(t, tg, c, 0, nil)
			})
		}
	}
}
