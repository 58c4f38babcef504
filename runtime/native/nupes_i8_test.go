package native_test

import (
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/targets"
)

// Integer-only NUPES (codegen/gemm_nupes_i8.go): the test graphs
// (codegentest.NupesI8Cases) are exact in the interpreter's float32, so
// the native int8 kernels decoding the 4/3/2-bit codes through the int8
// table must match it bit for bit, on the VNNI path and on the pmaddwd
// path of AVX2 (a different table-lookup width) where this CPU runs them.
func TestNativeNupesI8Exact(t *testing.T) {
	host := codegentest.Host(t)
	tgs := []*targets.Target{host}
	if host.Name == "x86_64" {
		for _, mcpu := range []string{"x86-64-v3", "x86-64"} {
			tg, err := targets.Lookup("x86_64", mcpu)
			if err != nil {
				t.Fatal(err)
			}
			if missing, _ := targets.MissingFeatures(tg); len(missing) == 0 && tg.Features != host.Features {
				tgs = append(tgs, tg)
			}
		}
	}
	for _, tg := range tgs {
		for _, c := range codegentest.NupesI8Cases() {
			t.Run(tg.CPU+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				g := c.Build()
				dir := t.TempDir()
				res := codegentest.Bundle(t, g, tg, c.Shapes, dir, "")
				if !res.FullyNative() {
					t.Fatalf("fallback %v", res.Fallback)
				}
				i8 := 0
				for _, k := range res.Kernels {
					if i8Kernel.MatchString(k) {
						i8++
						if !strings.Contains(k, "power_int codes") {
							t.Errorf("int8 kernel without the NUPES decode: %s", k)
						}
					}
				}
				want := 1
				if strings.Contains(c.Name, "float") {
					want = 0
				}
				if i8 != want {
					t.Fatalf("%d int8 kernels, want %d: %v", i8, want, res.Kernels)
				}
				for seed := uint64(1); seed <= 2; seed++ {
					in := codegentest.Inputs(t, g, seed)
					i8Exactly(t, g, i8RunBundle(t, dir, 2, in), in)
				}
			})
		}
	}
}
