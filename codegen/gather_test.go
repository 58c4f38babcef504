package codegen_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// TestGatherModulesVerify: the run-time-index Gather modules are fully
// native and pass opt -verify and llc on every target level.
func TestGatherModulesVerify(t *testing.T) {
	var cs []codegentest.Case
	for _, c := range codegentest.GatherCases() {
		cs = append(cs, c.Case)
	}
	verifyModules(t, cs, allTargetLevels, true)
}
