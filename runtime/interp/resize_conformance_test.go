package interp_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// The ONNX backend test cases of the recurrent and resampling kernels
// (Debian's libonnx-testdata), run here so these families can be checked
// on their own; tests/conformance runs the whole suite. The expected
// outputs come from the ONNX reference implementations (NumPy) and from
// PyTorch (GridSample).

const resampleTestData = "/usr/share/libonnx-testdata/data"

// resampleConformance runs every test case matching the patterns
// (relative to the test data root) as a subtest.
func resampleConformance(t *testing.T, patterns ...string) {
	if _, err := os.Stat(resampleTestData); err != nil {
		t.Skip("libonnx-testdata is not installed")
	}
	var dirs []string
	for _, p := range patterns {
		m, _ := filepath.Glob(filepath.Join(resampleTestData, p))
		dirs = append(dirs, m...)
	}
	if len(dirs) == 0 {
		t.Fatalf("no test cases match %v", patterns)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		name := strings.TrimPrefix(dir, resampleTestData+"/")
		t.Run(name, func(t *testing.T) { resampleRunCase(t, dir) })
	}
}

func resampleRunCase(t *testing.T, dir string) {
	g, err := onnx.LoadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		t.Fatal("no test data sets")
	}
	for _, set := range sets {
		inputs := map[string]interp.Value{}
		for i, v := range g.Inputs {
			tv, err := onnx.ReadTestData(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)), v.Type)
			if err != nil {
				t.Fatal(err)
			}
			inputs[v.Name] = tv.Tensor
		}
		outs, err := interp.Run(context.Background(), g, inputs)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range g.Outputs {
			want, err := onnx.ReadTestData(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)), v.Type)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := outs[v.Name].(*ir.Tensor)
			if !ok {
				t.Fatalf("output %q: got %T", v.Name, outs[v.Name])
			}
			if msg := resampleCompare(got, want.Tensor, 1e-3, 1e-7); msg != "" {
				t.Errorf("%s output %q: %s", filepath.Base(set), v.Name, msg)
			}
		}
	}
}

// resampleCompare checks got against want: floats within
// atol + rtol*|want| (the ONNX backend test tolerance is rtol 1e-3,
// atol 1e-7), other dtypes exactly.
func resampleCompare(got, want *ir.Tensor, rtol, atol float64) string {
	if got.DType != want.DType {
		return fmt.Sprintf("dtype %s, want %s", got.DType, want.DType)
	}
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
	}
	bad, first := 0, ""
	for i := 0; i < want.Len(); i++ {
		var ok bool
		switch {
		case want.DType.IsFloat():
			a, b := got.Float64At(i), want.Float64At(i)
			ok = (math.IsNaN(a) && math.IsNaN(b)) || a == b || math.Abs(a-b) <= atol+rtol*math.Abs(b)
		case want.DType == ir.String:
			ok = got.Data.([]string)[i] == want.Data.([]string)[i]
		default:
			ok = got.Int64At(i) == want.Int64At(i)
		}
		if !ok {
			if bad == 0 {
				first = fmt.Sprintf("element %d: got %v, want %v", i, got.Float64At(i), want.Float64At(i))
			}
			bad++
		}
	}
	if bad > 0 {
		return fmt.Sprintf("%d of %d elements differ; first %s", bad, want.Len(), first)
	}
	return ""
}

func TestResizeConformance(t *testing.T) {
	resampleConformance(t, "node/test_resize_*", "node/test_upsample_*")
}

func TestGridSampleConformance(t *testing.T) {
	resampleConformance(t, "node/test_gridsample*")
}

func TestRecurrentConformance(t *testing.T) {
	resampleConformance(t, "node/test_rnn_*", "node/test_simple_rnn_*", "node/test_gru_*", "node/test_lstm_*")
}
