package codegen_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// TestQuantConvModulesVerify: Conv with quantized filters (every
// encoding; the direct kernel's layouts, the im2col GEMM, grouped and
// depthwise) passes opt -verify and llc on every target level, where the
// direct kernel's row tiles (6, 8 or 12 rows) are decoded as vectors of
// that many lanes.
func TestQuantConvModulesVerify(t *testing.T) {
	var cs []codegentest.Case
	for _, c := range codegentest.QuantConvCases() {
		cs = append(cs, c.Case)
	}
	verifyModules(t, cs, allTargetLevels, true)
}
