package interp_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// A local run of the ONNX node conformance tests of the linear algebra,
// reduction, quantization, loss and signal kernels (the full suite with
// its skip list lives in tests/conformance). Expected outputs are the
// suite's own output_N.pb files; floats compare with the ONNX backend
// test tolerance (rtol 1e-3, atol 1e-7), everything else exactly.
//
// The *_expanded variants run the ops' function bodies, which use kernels
// of other families; a case whose graph has an op without a kernel is
// skipped, not failed.

const laNodeDir = "/usr/share/libonnx-testdata/data/node"

var laConformancePatterns = []string{
	"test_matmul_*", "test_gemm*", "test_matmulinteger*", "test_qlinearmatmul*", "test_einsum*", "test_det*",
	"test_quantizelinear*", "test_dequantizelinear*", "test_dynamicquantizelinear*",
	"test_reduce_*", "test_argmax*", "test_argmin*", "test_cumsum*", "test_top_k*",
	"test_tril*", "test_triu*", "test_range*",
	"test_nllloss*", "test_sce_*",
	"test_dft*", "test_stft*", "test_*window*", "test_melweightmatrix",
}

func TestConformanceLinalgFamily(t *testing.T) {
	if _, err := os.Stat(laNodeDir); err != nil {
		t.Skip("ONNX conformance data not installed (Debian package libonnx-testdata)")
	}
	seen := map[string]bool{}
	var dirs []string
	for _, p := range laConformancePatterns {
		m, _ := filepath.Glob(filepath.Join(laNodeDir, p))
		for _, d := range m {
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		t.Run(filepath.Base(d), func(t *testing.T) { laRunNodeTest(t, d) })
	}
}

func laRunNodeTest(t *testing.T, dir string) {
	g, err := onnx.LoadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Walk(func(_ *ir.Graph, n *ir.Node) error {
		if !interp.HasKernel(n.Domain, n.Op) {
			return fmt.Errorf("no kernel for %s (another family's op)", n.Op)
		}
		return nil
	}); err != nil {
		t.Skip(err)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		t.Fatal("no test data sets")
	}
	for _, set := range sets {
		inputs := map[string]interp.Value{}
		for i, in := range g.Inputs {
			v, err := onnx.ReadTestData(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)), in.Type)
			if err != nil {
				t.Fatal(err)
			}
			inputs[in.Name] = v.Tensor
		}
		outs, err := interp.Run(context.Background(), g, inputs)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range g.Outputs {
			want, err := onnx.ReadTestData(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)), o.Type)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := outs[o.Name].(*ir.Tensor)
			if !ok {
				t.Fatalf("output %q: got %T, want a tensor", o.Name, outs[o.Name])
			}
			if msg := laCompare(got, want.Tensor); msg != "" {
				t.Errorf("%s output %q: %s", filepath.Base(set), o.Name, msg)
			}
		}
	}
}

func laCompare(got, want *ir.Tensor) string {
	if got.DType != want.DType {
		return fmt.Sprintf("dtype %s, want %s", got.DType, want.DType)
	}
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
	}
	bad, first := 0, ""
	for i := 0; i < want.Len(); i++ {
		g, w := got.Float64At(i), want.Float64At(i)
		ok := g == w || (math.IsNaN(g) && math.IsNaN(w))
		if !ok && want.DType.IsFloat() {
			ok = math.Abs(g-w) <= 1e-7+1e-3*math.Abs(w)
		}
		if !ok {
			if bad == 0 {
				first = fmt.Sprintf("element %d: got %v, want %v", i, g, w)
			}
			bad++
		}
	}
	if bad > 0 {
		return fmt.Sprintf("%d of %d elements differ; first %s", bad, want.Len(), first)
	}
	return ""
}
