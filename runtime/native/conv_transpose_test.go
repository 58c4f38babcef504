package native_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/runtime/native"
)

// TestConvTransposeAttributes compares the ConvTranspose attribute cases
// (groups, auto_pad, output_shape, output_padding) with the interpreter.
func TestConvTransposeAttributes(t *testing.T) {
	host := codegentest.Host(t)
	for _, c := range codegentest.ConvTransposeCases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Build()
			dir := t.TempDir()
			res := codegentest.Bundle(t, g, host, c.Shapes, dir, "")
			if !res.FullyNative() {
				t.Fatalf("not fully native: %v", res.Fallback)
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
