package codegen_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen"
	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/targets"
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
	tgs := []string{"x86_64/x86-64", "x86_64/x86-64-v4", "aarch64/generic"}
	for _, c := range codegentest.ConvCases() {
		for _, tg := range tgs {
			t.Run(fmt.Sprintf("%s/%s", c.Name, tg), func(t *testing.T) {
				t.Parallel()
				arch, mcpu, _ := strings.Cut(tg, "/")
				target, err := targets.Lookup(arch, mcpu)
				if err != nil {
					t.Fatal(err)
				}
				res, err := codegen.Compile(c.Build(), codegen.Options{Target: target, Shapes: c.Shapes})
				if err != nil {
					t.Fatal(err)
				}
				if !res.FullyNative() {
					t.Fatalf("fallback: %v", res.Fallback)
				}
				tc := codegentest.Toolchain(t, target)
				if err := tc.Verify(context.Background(), res.Module); err != nil {
					t.Fatal(err)
				}
				if _, err := tc.Compile(context.Background(), res.Module, false); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
