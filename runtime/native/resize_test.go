package native_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/native"
)

// TestResizeModes compares the Resize cases (linear, cubic, nearest over
// the coordinate transformations; constant and run-time scales, sizes and
// roi) with the interpreter.
func TestResizeModes(t *testing.T) { runInputCases(t, codegentest.ResizeCases()) }

// TestResizeRuntimeScalesMismatch: run-time scales or sizes that do not
// give the compiled output shape (or a NaN scale) make the run fail with
// StatusResizeScales (3) instead of resampling with them.
func TestResizeRuntimeScalesMismatch(t *testing.T) {
	host := codegentest.Host(t)
	for _, tt := range []struct {
		name  string
		fixed map[string]*ir.Tensor
	}{
		{"resize_linear_runtime_scales", map[string]*ir.Tensor{"scales": ir.FromSlice(ir.Float32, []int64{4}, []float32{1, 1, 3, 1.5})}},
		{"resize_linear_runtime_scales", map[string]*ir.Tensor{"scales": ir.FromSlice(ir.Float32, []int64{4}, []float32{1, 1.5, 2, 1.5})}},
		{"resize_linear_runtime_scales", map[string]*ir.Tensor{"scales": ir.FromSlice(ir.Float32, []int64{4}, []float32{1, 1, float32(math.NaN()), 1.5})}},
		{"resize_linear_runtime_sizes", map[string]*ir.Tensor{"sizes": ir.FromSlice(ir.Int64, []int64{4}, []int64{1, 1, 3, 9})}},
	} {
		var c codegentest.InputCase
		for _, rc := range codegentest.ResizeCases() {
			if rc.Name == tt.name {
				c = rc
			}
		}
		g := c.Build()
		dir := t.TempDir()
		codegentest.Bundle(t, g, host, c.Shapes, dir, "")
		m, err := native.Open(dir, native.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Run(context.Background(), codegentest.CaseInputs(g, tt.fixed, 1))
		if err == nil || !strings.Contains(err.Error(), "code 3: run-time Resize scales") {
			t.Errorf("%s with %v: err %v, want code 3", tt.name, tt.fixed, err)
		}
		m.Close()
	}
}
