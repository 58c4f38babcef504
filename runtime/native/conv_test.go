package native_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

func TestNativeConvMatchesInterpreter(t *testing.T) {
	host := codegentest.Host(t)
	for _, c := range codegentest.ConvCases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Build()
			m := openFullyNative(t, g, host, c.Shapes)
			compare(t, g, m, codegentest.Inputs(t, g, 1))
		})
	}
}
