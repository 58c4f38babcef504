package native_test

import (
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/targets"
)

// AdaPT fixed-point layers (passes/quant act=fixed) on the int8 kernels:
// fixed-point weights of 2–8 bits times fixed-point activations of 4–8
// bits, accumulated in int32 and rescaled by 2^−(FL_w+FL_a). The graphs
// (codegentest.AdaptI8Cases) are exact in the interpreter's float32, so
// native output must equal it bit for bit (atol = rtol = 0), every layer
// must run on an int8 kernel, and nothing may fall back.
func TestNativeAdaptI8Exact(t *testing.T) {
	host := codegentest.Host(t)
	tgs := []*targets.Target{host}
	if host.Name == "x86_64" {
		// The pmaddwd path (no VNNI) too, where this CPU runs it.
		if tg, err := targets.Lookup("x86_64", "x86-64-v3"); err == nil {
			if missing, _ := targets.MissingFeatures(tg); len(missing) == 0 && tg.Features != host.Features {
				tgs = append(tgs, tg)
			}
		}
	}
	for _, tg := range tgs {
		vnni := strings.Contains(tg.Features, "+avx512vnni")
		for _, c := range codegentest.AdaptI8Cases() {
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
						if vnni != strings.Contains(k, "vpdpbusd") {
							t.Errorf("target VNNI %v, kernel %s", vnni, k)
						}
					}
				}
				if i8 != c.Layers {
					t.Fatalf("%d int8 kernels, want %d: %v", i8, c.Layers, res.Kernels)
				}
				for seed := uint64(1); seed <= 2; seed++ {
					in := codegentest.Inputs(t, g, seed)
					i8Exactly(t, g, i8RunBundle(t, dir, 2, in), in)
				}
			})
		}
	}
}
