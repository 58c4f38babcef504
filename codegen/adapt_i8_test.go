package codegen_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// TestAdaptI8ModulesVerify: the AdaPT fixed-point test graphs are fully
// native and their modules pass opt -verify and llc on the VNNI level and
// on aarch64 with and without the dot product (runtime/native's
// TestNativeAdaptI8Exact runs them on this CPU).
func TestAdaptI8ModulesVerify(t *testing.T) {
	var cs []codegentest.Case
	for _, c := range codegentest.AdaptI8Cases() {
		cs = append(cs, c.Case)
	}
	verifyModules(t, cs, []string{"x86_64/x86-64-v4-vnni", "aarch64/generic", "aarch64/neoverse-n1"}, true)
}
