package native_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// TestConvTransposeAttributes compares the ConvTranspose attribute cases
// (groups, auto_pad, output_shape, output_padding) with the interpreter.
func TestConvTransposeAttributes(t *testing.T) {
	var cases []codegentest.InputCase
	for _, c := range codegentest.ConvTransposeCases() {
		cases = append(cases, codegentest.InputCase{Case: c})
	}
	runInputCases(t, cases)
}
