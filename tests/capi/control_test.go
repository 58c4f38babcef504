package capi_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// TestControlCasesCABI runs codegen's LSTM / If / comparison / reflect-
// and edge-Pad cases (codegentest.ControlCases) through the C program on
// x86-64 and ARM64 (qemu) against the interpreter with TestCABI's
// tolerance: the NEON build of these lowerings. The int64 "sel*" inputs
// take all zeros and all ones (the else and then branches; see
// codegentest.ControlInputs).
func TestControlCasesCABI(t *testing.T) {
	for _, arch := range []string{"x86_64", "aarch64"} {
		t.Run(arch, func(t *testing.T) {
			tc := capiTarget(t, arch)
			for _, c := range codegentest.ControlCases() {
				t.Run(c.Name, func(t *testing.T) {
					t.Parallel()
					g := c.Build()
					dir := t.TempDir()
					res := codegentest.Bundle(t, g, tc.Target, c.Shapes, dir, "")
					if !res.FullyNative() {
						t.Fatalf("not fully native: %v", res.Fallback)
					}
					prog := buildProgram(t, tc, dir)
					for _, combo := range []int{0, codegentest.ControlCombos(g) - 1} {
						in := codegentest.ControlInputs(g, combo, 3)
						got, _, err := runProgram(t, tc, prog, dir, "weights.safetensors", 2, g, in)
						if err != nil {
							t.Fatal(err)
						}
						want := reference(t, g, in)
						for _, o := range g.Outputs {
							if err := codegentest.Close(got[o.Name], want[o.Name], atol, rtol); err != nil {
								t.Errorf("input set %d, output %q: %v", combo, o.Name, err)
							}
						}
					}
				})
			}
		})
	}
}
