package codegen_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// TestQuantModulesVerify: every quantized-GEMM test graph passes opt
// -verify and llc for every target level.
func TestQuantModulesVerify(t *testing.T) {
	verifyModules(t, codegentest.QuantCases(), allTargetLevels, false)
}

// TestQuantModulesVerifyEncodings: the per-group, zero-point, NUPES and
// fixed-point cases (both schedules) pass opt -verify and llc for the
// baseline x86 level (select-chain table decode) and aarch64.
func TestQuantModulesVerifyEncodings(t *testing.T) {
	var cs []codegentest.Case
	for _, c := range codegentest.QuantEncodingCases() {
		if strings.Contains(c.Name, "_1x") || strings.Contains(c.Name, "_32x") || strings.Contains(c.Name, "qmatmulA_") {
			cs = append(cs, c)
		}
	}
	verifyModules(t, cs, []string{"x86_64/x86-64", "aarch64/generic"}, true)
}

// TestQuantAsm: with one row tile (M = 1) the micro-kernel widens the
// codes in registers (sign extension of bytes to 32-bit lanes,
// int→float conversion; 4-bit codes on AVX-512 and NUPES codes through
// vpermps on a constant table register, or a compare/select chain on NEON) and feeds them to vector
// FMAs; with several row tiles (M = 32) the task function decodes each
// slice with the same instructions and the micro-kernel is the float one.
// No float32 copy of B is read, and nothing calls an allocator.
func TestQuantAsm(t *testing.T) {
	cases := map[string]func() *codegentest.Case{}
	for _, c := range append(codegentest.QuantCases(), codegentest.QuantEncodingCases()...) {
		cases[c.Name] = func() *codegentest.Case { return &c }
	}
	cvt := func(r string) string { return `vcvtdq2ps\s+[^\n]*%` + r }
	fma := func(r string) string { return `vfmadd\d+ps\s+[^\n]*%` + r }
	checks := []struct {
		graph, target, fn string
		res               []string
	}{
		{"qmatmul_i8_1x17x33", "x86_64/x86-64-v3", "_uk1", []string{`vpmovsxbd\s`, cvt("ymm"), fma("ymm")}},
		{"qmatmul_i8_1x17x33", "x86_64/x86-64-v4", "_uk1", []string{`vpmovsxbd\s+[^\n]*%zmm`, cvt("zmm"), fma("zmm")}},
		{"qmatmul_i8_1x17x33", "aarch64/generic", "_uk1", []string{`(sxtl|sshll)\d?\s+v\d+\.(8h|4s)`, `scvtf\s+v\d+\.4s`, `fmla\s+v\d+\.4s`}},
		{"qmatmul_i4_1x17x33", "x86_64/x86-64-v3", "_uk1", []string{`vpsra[wd]\s|vpmovsxbd\s`, cvt("ymm"), fma("ymm")}},
		// 4-bit on AVX-512: the nibble → float table is one vpermps.
		{"qmatmul_i4_1x17x33", "x86_64/x86-64-v4", "_uk1", []string{`vpmovsxbd\s`, `vperm(ps|d)\s+[^\n]*%zmm`, fma("zmm")}},
		{"qmatmul_i4_1x17x33", "aarch64/generic", "_uk1", []string{`sshr\s+v\d+|sshll`, `scvtf\s+v\d+\.4s`, `fmla\s+v\d+\.4s`}},
		// Several row tiles: decode per slice in the task (fn "": the whole
		// module, since a one-task kernel's task is inlined), float
		// micro-kernel.
		{"qmatmul_i4_32x64x100", "x86_64/x86-64-v4", "", []string{`vpmovsxbd\s`, `vperm(ps|d)\s+[^\n]*%zmm`, `vmovaps\s+%zmm\d+, `}},
		{"qmatmul_i4_32x64x100", "x86_64/x86-64-v4", "_uk12", []string{fma("zmm")}},
		// NUPES: table lookup in registers.
		{"qmatmul_power4_1x100x40", "x86_64/x86-64-v4", "_uk1", []string{`vperm(ps|d)\s+[^\n]*%zmm`, fma("zmm")}},
		{"qmatmul_power3_1x100x40", "x86_64/x86-64-v3", "_uk1", []string{`vperm(ps|d)\s+[^\n]*%ymm`, fma("ymm")}},
		{"qmatmul_power4_1x100x40", "aarch64/generic", "_uk1", []string{`cmeq\s+v\d+\.4s`, `(bsl|bif|bit)\s+v\d+\.16b`, `fmla\s+v\d+\.4s`}},
		{"qmatmul_power4_32x300x48", "x86_64/x86-64-v4", "", []string{`vperm(ps|d)\s+[^\n]*%zmm`}},
		// A quantized left operand: decoded per task, float micro-kernel.
		{"qmatmulA_power4_20x70x50", "x86_64/x86-64-v4", "", []string{`vperm(ps|d)\s+[^\n]*%zmm`, fma("zmm")}},
		// Per-group scales: each decoded row is scaled.
		{"qmatmul_uniform4_g32_1x100x40", "x86_64/x86-64-v4", "_uk1", []string{`vmulps\s+[^\n]*%zmm`, fma("zmm")}},
		// AdaPT 12-bit words: int16 codes.
		{"qmatmul_fixed12_1x100x40", "x86_64/x86-64-v4", "_uk1", []string{`vpmovsxwd\s+[^\n]*%zmm`, fma("zmm")}},
	}
	alloc := regexp.MustCompile(`call[ql]?\s+\S*(malloc|calloc|realloc|free|posix_memalign|_Znwm)`)
	for _, ck := range checks {
		t.Run(ck.graph+"/"+ck.target+"/"+ck.fn, func(t *testing.T) {
			t.Parallel()
			target := lookupTarget(t, ck.target)
			c := cases[ck.graph]
			if c == nil {
				t.Fatalf("no case %s", ck.graph)
			}
			asm := compileAsm(t, c().Build(), target)
			if m := alloc.FindString(asm); m != "" {
				t.Errorf("allocator call in the module: %s", m)
			}
			text := funcAsm(asm, ck.fn)
			if text == "" {
				p := filepath.Join(os.TempDir(), strings.NewReplacer("/", "_").Replace(ck.graph+"_"+ck.target)+"_module.s")
				os.WriteFile(p, []byte(asm), 0o644)
				t.Fatalf("no function matching %q (module in %s)", ck.fn, p)
			}
			for _, re := range ck.res {
				if !regexp.MustCompile(re).MatchString(text) {
					t.Errorf("%s: missing %q", ck.fn, re)
				}
			}
			if t.Failed() || os.Getenv("OPTC_KEEP_ASM") != "" {
				p := filepath.Join(os.TempDir(), strings.NewReplacer("/", "_").Replace(ck.graph+"_"+ck.target)+".s")
				os.WriteFile(p, []byte(text), 0o644)
				t.Logf("assembly in %s", p)
			}
		})
	}
}
