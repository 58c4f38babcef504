package codegen_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// TestEWIntModulesVerify: the Cast, Where and integer arithmetic cases
// are fully native and pass opt -verify and llc on every target level.
func TestEWIntModulesVerify(t *testing.T) {
	var cs []codegentest.Case
	for _, c := range codegentest.EWIntCases() {
		cs = append(cs, c.Case)
	}
	verifyModules(t, cs, allTargetLevels, true)
}
