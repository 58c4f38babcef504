package codegen_test

import (
	"regexp"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// TestI8ModulesVerify: every int8 test graph is fully native and its
// module passes opt -verify and llc on every target level (the VNNI
// level and the portable path of the others).
func TestI8ModulesVerify(t *testing.T) {
	verifyModules(t, codegentest.I8Cases(), append(allTargetLevels, "x86_64/x86-64-v4-vnni", "aarch64/neoverse-n1"), true)
}

// TestI8Asm: with VNNI the hot loop of the int8 micro-kernels is
// vpdpbusd on zmm registers (no widening, no float FMA); the portable
// path widens the bytes and multiplies in 32-bit lanes; aarch64 with the
// dot product uses sdot; no micro-kernel
// calls anything (no allocator, no libm), and the whole module calls no
// allocator.
func TestI8Asm(t *testing.T) {
	cases := map[string]codegentest.Case{}
	for _, c := range codegentest.I8Cases() {
		cases[c.Name] = c
	}
	checks := []struct {
		graph, target string
		want, not     []string
	}{
		{"i8_exact_matmul_32x784x128", "x86_64/x86-64-v4-vnni", []string{`vpdpbusd\s+[^\n]*%zmm`}, []string{`vfmadd`, `vpmovsxbd`}},
		{"i8_exact_conv3x3_s1_pad1_zp128", "x86_64/x86-64-v4-vnni", []string{`vpdpbusd\s+[^\n]*%zmm`}, []string{`vfmadd`}},
		{"i8_exact_matmul_32x784x128", "x86_64/x86-64-v3", []string{`vpmaddwd|vpmulld`}, []string{`vpdpbusd`}},
		{"i8_exact_matmul_32x784x128", "aarch64/generic", []string{`(smull|smlal|mul|mla)\d?\s+v\d+\.(4s|8h)`}, []string{`sdot`}},
		{"i8_exact_matmul_32x784x128", "aarch64/neoverse-n1", []string{`sdot\s+v\d+\.4s`}, []string{`smull|smlal`}},
		{"i8_exact_conv3x3_s1_pad1_zp128", "aarch64/neoverse-n1", []string{`sdot\s+v\d+\.4s`}, nil},
	}
	for _, ck := range checks {
		t.Run(ck.graph+"/"+ck.target, func(t *testing.T) {
			t.Parallel()
			target := lookupTarget(t, ck.target)
			c := cases[ck.graph]
			asm := compileAsm(t, c.Build(), target)
			uk := funcAsm(asm, "_uk")
			if uk == "" {
				t.Fatal("no micro-kernel in the assembly")
			}
			for _, re := range ck.want {
				if !regexp.MustCompile(re).MatchString(uk) {
					t.Errorf("micro-kernel: missing %q", re)
				}
			}
			for _, re := range ck.not {
				if regexp.MustCompile(re).MatchString(uk) {
					t.Errorf("micro-kernel: unexpected %q", re)
				}
			}
			if regexp.MustCompile(`\b(call|bl)\s`).MatchString(uk) {
				t.Errorf("micro-kernel calls a function")
			}
			if regexp.MustCompile(`\b(malloc|calloc|realloc|free|posix_memalign)\b`).MatchString(asm) {
				t.Errorf("module calls an allocator")
			}
		})
	}
}
