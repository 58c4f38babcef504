package codegen_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen"
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
		// One row tile: the micro-kernel decodes in its k loop.
		{"nupes_i8_exact_matmul_b4_1x64x10", "x86_64/x86-64-v4-vnni", ``, `vpshufb\s+[^\n]*%zmm(.|\n)*vpdpbusd|vpdpbusd(.|\n)*vpshufb\s+[^\n]*%zmm`},
	} {
		t.Run(ck.graph+"/"+ck.target, func(t *testing.T) {
			t.Parallel()
			asm := compileAsm(t, cases[ck.graph].Build(), lookupTarget(t, ck.target))
			task, uk := funcAsm(asm, "_gemm"), funcAsm(asm, "_uk")
			if uk == "" || task == "" && ck.task != "" {
				t.Fatal("no task or micro-kernel in the assembly")
			}
			if ck.task != "" && !regexp.MustCompile(ck.task).MatchString(task) {
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

// TestNupesI8PackedDeterministic: a power_int weight is stored as nibbles
// (less than one byte per weight: never expanded to int8 or float32 at
// compile or load time), and compiling twice gives the same module and
// the same weight bytes.
func TestNupesI8PackedDeterministic(t *testing.T) {
	tg := lookupTarget(t, "x86_64/x86-64-v4-vnni")
	for _, c := range codegentest.NupesI8Cases() {
		if strings.Contains(c.Name, "float") {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			var res [2]*codegen.Result
			for i := range res {
				r, err := codegen.Compile(c.Build(), codegen.Options{Target: tg, Shapes: c.Shapes})
				if err != nil {
					t.Fatal(err)
				}
				res[i] = r
			}
			if len(res[0].Decoded) != 0 {
				t.Fatalf("decoded at compile time: %v", res[0].Decoded)
			}
			n := 0
			for i, w := range res[0].Weights {
				if w.Of == "w" && strings.Contains(w.Encoding, "nupes_i8") {
					n++
					// Output channels C (padded to 32) × reduction K (to
					// 4, plus a 32-byte lookup chunk) nibbles, plus the
					// blob's 64-byte alignment.
					C, K := w.Shape[1], w.Shape[0]
					switch {
					case len(w.Shape) == 4: // input channels in groups of 4
						C, K = w.Shape[0], (w.Shape[1]+3)/4*4*w.Shape[2]*w.Shape[3]
					case strings.Contains(c.Name, "gemm"):
						C, K = w.Shape[0], w.Shape[1]
					}
					if bound := (C+31)/32*32*((K+3)/4*4+32)/2 + 64; int64(len(w.Raw)) > bound {
						t.Errorf("weight %s: %d bytes for %d 4-bit codes (bound %d)", w.Name, len(w.Raw), C*K, bound)
					}
				}
				if w2 := res[1].Weights[i]; w.Name != w2.Name || string(w.Raw) != string(w2.Raw) || len(w.Data) != len(w2.Data) {
					t.Errorf("weight %d (%s) differs between two compilations", i, w.Name)
				}
			}
			if n != 1 {
				t.Errorf("%d nibble-packed weights made from w, want 1", n)
			}
			if string(res[0].Module) != string(res[1].Module) {
				t.Error("two compilations gave different modules")
			}
		})
	}
}
