package capi_test

import (
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/targets"
)

// TestI8SdotCABI runs the int8 test graphs (integer-only NUPES too: tbl
// table lookups; AdaPT fixed point) compiled for an aarch64 CPU
// with the dot product (sdot, activation codes in the int8 domain)
// through the C ABI under qemu: bit for bit the interpreter's, as on the
// host (see runtime/native's TestNativeI8Exact).
func TestI8SdotCABI(t *testing.T) {
	tg, err := targets.Lookup("aarch64", "neoverse-n1")
	if err != nil {
		t.Fatal(err)
	}
	tc := codegentest.Toolchain(t, tg)
	if err := tc.CheckRunner(); err != nil {
		t.Skip(err)
	}
	cases := append(codegentest.I8Cases(), codegentest.NupesI8Cases()...)
	cases = append(cases, codegentest.I8GroupCases()...) // grouped/depthwise int8 Conv
	cases = append(cases, codegentest.I8AxisCases()...)  // per-axis QuantizeLinear/DequantizeLinear
	for _, c := range codegentest.AdaptI8Cases() {
		cases = append(cases, c.Case) // AdaPT fixed point: signed activation codes
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Build()
			dir := t.TempDir()
			res := codegentest.Bundle(t, g, tg, c.Shapes, dir, "")
			if !res.FullyNative() {
				t.Fatalf("not fully native: %v", res.Fallback)
			}
			prog := buildProgram(t, tc, dir)
			in := codegentest.Inputs(t, g, 5)
			got, _, err := runProgram(t, tc, prog, dir, "weights.safetensors", 2, g, in)
			if err != nil {
				t.Fatal(err)
			}
			want := reference(t, g, in)
			for _, o := range g.Outputs {
				if err := codegentest.Close(got[o.Name], want[o.Name], 0, 0); err != nil {
					t.Errorf("output %q: %v", o.Name, err)
				}
			}
		})
	}
}
