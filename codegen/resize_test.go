package codegen_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// TestResizeModulesVerify: the Resize cases are fully native and pass opt
// -verify and llc on every target level.
func TestResizeModulesVerify(t *testing.T) {
	var cs []codegentest.Case
	for _, c := range codegentest.ResizeCases() {
		cs = append(cs, c.Case)
	}
	verifyModules(t, cs, allTargetLevels, true)
}
