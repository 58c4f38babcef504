package native_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/runtime/native"
)

func TestNativeConvMatchesInterpreter(t *testing.T) {
	host := codegentest.Host(t)
	for _, c := range codegentest.ConvCases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Build()
			dir := t.TempDir()
			res := codegentest.Bundle(t, g, host, c.Shapes, dir, "")
			if !res.FullyNative() {
				t.Fatalf("not fully native: fallback %v", res.Fallback)
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
