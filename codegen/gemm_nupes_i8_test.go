package codegen_test

import (
	"regexp"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// TestNupesI8ModulesVerify: every integer-only NUPES test graph is fully
// native and its module passes opt -verify and llc on every target level
// (pshufb at SSE, AVX2 and AVX-512BW width, the select chain of
// x86-64 v1, tbl on aarch64 with and without the dot product).
func TestNupesI8ModulesVerify(t *testing.T) {
	verifyModules(t, codegentest.NupesI8Cases(), append(allTargetLevels, "x86_64/x86-64-v2", "x86_64/x86-64-v4-vnni", "aarch64/neoverse-n1"), true)
}

// TestNupesI8Asm: the task decodes the 4-bit codes through the int8 table
// with one byte shuffle per vector (vpshufb on zmm with VNNI, tbl on
// aarch64) and the micro-kernel multiplies int8 in int32 (vpdpbusd /
// sdot), with no float FMA in either.
func TestNupesI8Asm(t *testing.T) {
	cases := map[string]codegentest.Case{}
	for _, c := range codegentest.NupesI8Cases() {
		cases[c.Name] = c
	}
	for _, ck := range []struct {
		graph, target string
		task, uk      string
	}{
		{"nupes_i8_exact_matmul_b4_32x784x128", "x86_64/x86-64-v4-vnni", `vpshufb\s+[^\n]*%zmm`, `vpdpbusd\s+[^\n]*%zmm`},
		{"nupes_i8_exact_matmul_b4_32x784x128", "x86_64/x86-64-v3", `vpshufb\s+[^\n]*%ymm`, `vpmaddwd|vpmulld`},
		{"nupes_i8_exact_matmul_b4_32x784x128", "aarch64/neoverse-n1", `tbl\s+v\d+\.16b`, `sdot\s+v\d+\.4s`},
	} {
		t.Run(ck.graph+"/"+ck.target, func(t *testing.T) {
			t.Parallel()
			asm := compileAsm(t, cases[ck.graph].Build(), lookupTarget(t, ck.target))
			task, uk := funcAsm(asm, "_gemm"), funcAsm(asm, "_uk")
			if task == "" || uk == "" {
				t.Fatal("no task or micro-kernel in the assembly")
			}
			if !regexp.MustCompile(ck.task).MatchString(task) {
				t.Errorf("task: missing %q", ck.task)
			}
			if !regexp.MustCompile(ck.uk).MatchString(uk) {
				t.Errorf("micro-kernel: missing %q", ck.uk)
			}
			if regexp.MustCompile(`vfmadd|fmla`).MatchString(task + uk) {
				t.Errorf("float FMA in the integer layer")
			}
		})
	}
}
