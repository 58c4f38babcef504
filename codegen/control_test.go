package codegen_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// TestControlModulesVerify compiles the LSTM, If, comparison and
// reflect/edge Pad cases for every target level: each is fully native and
// its module passes opt -verify and llc.
func TestControlModulesVerify(t *testing.T) {
	verifyModules(t, codegentest.ControlCases(), allTargetLevels, true)
}
