package codegen_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

func convCaseGraph(name string) func() *ir.Graph {
	return func() *ir.Graph {
		for _, c := range codegentest.ConvCases() {
			if c.Name == name {
				return c.Build()
			}
		}
		panic("no conv case " + name)
	}
}

// TestConvDirectAsm: the direct conv's micro-kernel is vector FMAs on
// vector loads of the phase planes (no gathers, no scalar loads of the
// input), its epilogue stores the output grid's partial rows with masked
// stores, and a stride-2 phase copy de-interleaves with a shuffle.
func TestConvDirectAsm(t *testing.T) {
	for _, tc := range []struct {
		cas, target, fn string
		res             []string
	}{
		{"conv3x3_s2_batch17", "x86_64/x86-64-v4", "_uk", []string{`vfmadd\d+ps\s+[^\n]*%zmm`, `vmovups\s+%zmm\d+, [^\n]*\{%k\d\}`, `-vgather`, `-call`}},
		{"conv3x3_s2_batch17", "x86_64/x86-64-v3", "_uk", []string{`vfmadd\d+ps\s+[^\n]*%ymm`, `vmaskmovps`, `-vgather`, `-call`}},
		{"conv3x3_s2_batch17", "aarch64/generic", "_uk", []string{`fmla\s+v\d+\.4s`, `-bl\s`}},
		{"conv3x3_s2_batch17", "x86_64/x86-64-v4", "_conv", []string{`vpermt2ps|vshufps`}},
		// An unpadded 1x1 conv reads its input in place: no copy task, and
		// the last column tile's kernel masks its loads.
		{"conv1x1_hardswish", "x86_64/x86-64-v4", "_uk12_tail", []string{`vmovups\s+[^\n]*%zmm\d+\s*\{%k\d\}\s*\{z\}`, `vfmadd\d+ps\s+[^\n]*%zmm`}},
		{"conv1x1_hardswish", "x86_64/x86-64-v4", "_convphase", []string{`-.`}},
	} {
		t.Run(tc.cas+"/"+tc.target+tc.fn, func(t *testing.T) {
			t.Parallel()
			target := lookupTarget(t, tc.target)
			asm := compileAsm(t, convCaseGraph(tc.cas)(), target)
			text := funcAsm(asm, tc.fn)
			if text == "" && tc.res[0] != `-.` {
				t.Fatalf("no function matching %q", tc.fn)
			}
			for _, re := range tc.res {
				neg := strings.HasPrefix(re, "-")
				if regexp.MustCompile(strings.TrimPrefix(re, "-")).MatchString(text) == neg {
					t.Errorf("%s %s: %q (negated: %v) does not hold", tc.target, tc.fn, re, neg)
				}
			}
			if t.Failed() {
				p := filepath.Join(os.TempDir(), "optc-conv-direct.s")
				os.WriteFile(p, []byte(asm), 0o644)
				t.Logf("assembly in %s", p)
			}
		})
	}
}
