package native_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/targets"
)

// AdaPT fixed-point layers (passes/quant act=fixed) on the int8 kernels:
// fixed-point weights of 2–8 bits times fixed-point activations of 4–8
// bits, accumulated in int32 and rescaled by 2^−(FL_w+FL_a). The graphs
// (codegentest.AdaptI8Cases) are exact in the interpreter's float32, so
// native output must equal it bit for bit (atol = rtol = 0), every layer
// must run on an int8 kernel, and nothing may fall back.
func TestNativeAdaptI8Exact(t *testing.T) {
	for _, tg := range i8ExactTargets(t, "x86-64-v3") {
		for _, c := range codegentest.AdaptI8Cases() {
			t.Run(tg.CPU+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				i8ExactBundle(t, tg, c.Case, c.Layers, i8CheckVNNI(tg))
			})
		}
	}
}

// i8ExactTargets returns the host and, on x86-64, those of the given
// lower levels (the int8 kernels' other paths) that this CPU runs.
func i8ExactTargets(t *testing.T, mcpus ...string) []*targets.Target {
	host := codegentest.Host(t)
	tgs := []*targets.Target{host}
	if host.Name != "x86_64" {
		return tgs
	}
	for _, mcpu := range mcpus {
		tg, err := targets.Lookup("x86_64", mcpu)
		if err != nil {
			t.Fatal(err)
		}
		if missing, _ := targets.MissingFeatures(tg); len(missing) == 0 && tg.Features != host.Features {
			tgs = append(tgs, tg)
		}
	}
	return tgs
}

// i8CheckVNNI checks that an int8 kernel uses vpdpbusd exactly when tg
// has AVX512-VNNI.
func i8CheckVNNI(tg *targets.Target) func(string) error {
	vnni := strings.Contains(tg.Features, "+avx512vnni")
	return func(k string) error {
		if vnni != strings.Contains(k, "vpdpbusd") {
			return fmt.Errorf("target VNNI %v, kernel %s", vnni, k)
		}
		return nil
	}
}

// i8Count counts the int8 GEMM/Conv kernels, reporting each one check
// (when set) refuses.
func i8Count(t *testing.T, kernels []string, check func(string) error) int {
	t.Helper()
	n := 0
	for _, k := range kernels {
		if i8Kernel.MatchString(k) {
			n++
			if check != nil {
				if err := check(k); err != nil {
					t.Error(err)
				}
			}
		}
	}
	return n
}

// i8ExactBundle compiles c for tg, requires a fully native bundle with
// want int8 GEMM/Conv kernels (each passing check, when set), and
// compares two seeded runs with the interpreter bit for bit.
func i8ExactBundle(t *testing.T, tg *targets.Target, c codegentest.Case, want int, check func(string) error) {
	t.Helper()
	g := c.Build()
	dir := t.TempDir()
	res := codegentest.Bundle(t, g, tg, c.Shapes, dir, "")
	if !res.FullyNative() {
		t.Fatalf("fallback %v", res.Fallback)
	}
	if n := i8Count(t, res.Kernels, check); n != want {
		t.Fatalf("%d int8 kernels, want %d: %v", n, want, res.Kernels)
	}
	for seed := uint64(1); seed <= 2; seed++ {
		in := codegentest.Inputs(t, g, seed)
		i8Exactly(t, g, i8RunBundle(t, dir, 2, in), in)
	}
}

// The Fashion-MNIST MLP with fixed-point weights and activations (5–6 bit
// words with kl-bins=32, so narrow words and Clips are exercised) runs
// every layer on the int8 kernels and equals the interpreter running the
// same quantized graph bit for bit: each layer is Σ k_a·k_w (exact in
// float32 too, below 2^24 units of 2^−(FL_a+FL_w) for K = 784 and 8-bit
// codes) times that power of two plus the same float32 bias, and the Relu,
// Clip and QuantizeLinear in between are the same float32 operations.
func TestNativeAdaptActMLPExact(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: quantizes a model")
	}
	rows := fmnistTestRows(t)
	const batch = 32
	g, err := onnx.LoadFile("../../testdata/models/fmnist-mlp/model-op17.onnx")
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	qg, _, res := i8Quantize(t, g, "scheme=adapt,mode=weight+act,kl-bins=32", rows)
	narrow := 0
	for _, r := range res {
		if r.WL < 8 || r.ActWL < 8 {
			narrow++
		}
	}
	if narrow == 0 {
		t.Fatalf("no word narrower than 8 bits: %+v", res)
	}
	in := map[string]*ir.Tensor{qg.Inputs[0].Name: rows(0, batch)}
	dir := t.TempDir()
	br := codegentest.Bundle(t, qg, codegentest.Host(t), map[string][]int64{qg.Inputs[0].Name: in[qg.Inputs[0].Name].Shape}, dir, "")
	if !br.FullyNative() {
		t.Fatalf("fallback %v", br.Fallback)
	}
	if i8 := i8Count(t, br.Kernels, nil); i8 != len(res) {
		t.Fatalf("%d int8 kernels for %d layers: %v", i8, len(res), br.Kernels)
	}
	i8Exactly(t, qg, i8RunBundle(t, dir, 2, in), in)
}
