package codegen_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
)

func convGraph() *ir.Graph {
	for _, c := range codegentest.ConvCases() {
		if c.Name == "conv3x3_pad1_relu" {
			return c.Build()
		}
	}
	panic("no conv3x3_pad1_relu case")
}

func dwConvGraph() *ir.Graph {
	for _, c := range codegentest.ConvCases() {
		if c.Name == "dwconv3x3_pad1_relu" {
			return c.Build()
		}
	}
	panic("no dwconv3x3_pad1_relu case")
}

// TestConvModulesVerify: every Conv case's module passes opt -verify and
// llc at every target level (the no-FMA baseline and AVX-512 included).
func TestConvModulesVerify(t *testing.T) {
	verifyModules(t, codegentest.ConvCases(), []string{"x86_64/x86-64", "x86_64/x86-64-v4", "aarch64/generic"}, true)
}
