package codegen_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/targets"
)

// TestQuantModulesVerify: every quantized-GEMM test graph passes opt
// -verify and llc for every target level.
func TestQuantModulesVerify(t *testing.T) {
	verifyModules(t, codegentest.QuantCases(), allTargetLevels, false)
}

// TestQuantAsm: the micro-kernel widens the codes in registers (sign
// extension of bytes to 32-bit lanes, int→float conversion) and feeds
// them to vector FMAs; no float32 copy of B is read.
func TestQuantAsm(t *testing.T) {
	cases := map[string]func() *codegentest.Case{}
	for _, c := range codegentest.QuantCases() {
		cases[c.Name] = func() *codegentest.Case { return &c }
	}
	checks := []struct {
		graph, target, fn string
		res               []string
	}{
		{"qmatmul_i8_32x64x100", "x86_64/x86-64-v3", "_uk6", []string{`vpmovsxbd\s`, `vcvtdq2ps\s+[^\n]*%ymm`, `vfmadd\d+ps\s+[^\n]*%ymm`}},
		{"qmatmul_i8_32x64x100", "x86_64/x86-64-v4", "_uk12", []string{`vpmovsxbd\s+[^\n]*%zmm`, `vcvtdq2ps\s+[^\n]*%zmm`, `vfmadd\d+ps\s+[^\n]*%zmm`}},
		{"qmatmul_i8_32x64x100", "aarch64/generic", "_uk8", []string{`(sxtl|sshll)\d?\s+v\d+\.(8h|4s)`, `scvtf\s+v\d+\.4s`, `fmla\s+v\d+\.4s`}},
		{"qmatmul_i4_32x64x100", "x86_64/x86-64-v3", "_uk6", []string{`vpsra[wd]\s|vpmovsxbd\s`, `vcvtdq2ps\s+[^\n]*%ymm`, `vfmadd\d+ps\s+[^\n]*%ymm`}},
		{"qmatmul_i4_32x64x100", "aarch64/generic", "_uk8", []string{`sshr\s+v\d+|sshll`, `scvtf\s+v\d+\.4s`, `fmla\s+v\d+\.4s`}},
	}
	for _, ck := range checks {
		t.Run(ck.graph+"/"+ck.target, func(t *testing.T) {
			t.Parallel()
			arch, mcpu, _ := strings.Cut(ck.target, "/")
			target, err := targets.Lookup(arch, mcpu)
			if err != nil {
				t.Fatal(err)
			}
			asm := compileAsm(t, cases[ck.graph]().Build(), target)
			text := funcAsm(asm, ck.fn)
			if text == "" {
				t.Fatalf("no function matching %q", ck.fn)
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
