package codegen_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// TestConvTransposeModulesVerify: the ConvTranspose attribute cases are
// fully native and pass opt -verify and llc on every target level.
func TestConvTransposeModulesVerify(t *testing.T) {
	verifyModules(t, codegentest.ConvTransposeCases(), allTargetLevels, true)
}
