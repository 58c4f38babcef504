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

// A local run of the ONNX node conformance tests of the tensor
// manipulation, control-flow, sequence and string kernels (the full suite
// with its skip list lives in tests/conformance). Expected outputs are the
// suite's own output_N.pb files.

const tmNodeDir = "/usr/share/libonnx-testdata/data/node"

var tmConformancePatterns = []string{
	"test_reshape*", "test_flatten*", "test_squeeze*", "test_unsqueeze*", "test_transpose*",
	"test_concat*", "test_split*", "test_slice*", "test_gather*", "test_scatter*", "test_expand*",
	"test_tile*", "test_constant_pad", "test_edge_pad", "test_reflect_pad", "test_shape*", "test_size*",
	"test_constantofshape*", "test_constant", "test_onehot*", "test_nonzero*", "test_unique*",
	"test_identity*", "test_eyelike*", "test_compress*", "test_reversesequence*", "test_if*",
	"test_loop*", "test_scan*", "test_sequence_*", "test_optional_*", "test_strnorm*",
	"test_tfidfvectorizer*", "test_split_to_sequence*",
}

// tmSkip lists tests of these ops that cannot pass, with the reason.
var tmSkip = map[string]string{}

func TestConformanceTensorOps(t *testing.T) {
	if _, err := os.Stat(tmNodeDir); err != nil {
		t.Skip("ONNX conformance data not installed (Debian package libonnx-testdata)")
	}
	seen := map[string]bool{}
	var dirs []string
	patterns := tmConformancePatterns
	if p := os.Getenv("OPTC_TM_CONFORMANCE"); p != "" {
		patterns = []string{p} // e.g. "test_*" to survey the whole suite
	}
	for _, p := range patterns {
		m, _ := filepath.Glob(filepath.Join(tmNodeDir, p))
		for _, d := range m {
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		name := filepath.Base(d)
		t.Run(name, func(t *testing.T) {
			if why, ok := tmSkip[name]; ok {
				t.Skip(why)
			}
			if err := tmRunNodeTest(d); err != nil {
				t.Error(err)
			}
		})
	}
}

func tmRunNodeTest(dir string) error {
	g, err := onnx.LoadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return err
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		return fmt.Errorf("no test_data_set_* in %s", dir)
	}
	for _, set := range sets {
		inputs := map[string]interp.Value{}
		for i, in := range g.Inputs {
			v, err := onnx.ReadTestData(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)), in.Type)
			if err != nil {
				return err
			}
			inputs[in.Name] = tmTestValue(v)
		}
		got, err := interp.Run(context.Background(), g, inputs)
		if err != nil {
			return err
		}
		for i, out := range g.Outputs {
			v, err := onnx.ReadTestData(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)), out.Type)
			if err != nil {
				return err
			}
			if err := tmCompare(got[out.Name], tmTestValue(v)); err != nil {
				return fmt.Errorf("%s: output %q: %v", filepath.Base(set), out.Name, err)
			}
		}
	}
	return nil
}

func tmTestValue(v onnx.TestValue) interp.Value {
	if !v.Present {
		return nil
	}
	if v.Tensor != nil {
		return v.Tensor
	}
	// The element dtype comes from the declared type; bounded, since
	// ReadTestData's optional types may point to themselves.
	t := v.Type
	for k := 0; k < 4 && t.Kind != ir.KindTensor && t.Elem != nil; k++ {
		t = *t.Elem
	}
	dt := t.DType
	if len(v.Seq) > 0 {
		dt = v.Seq[0].DType
	}
	return interp.Sequence{ElemType: dt, Tensors: v.Seq}
}

func tmCompare(got, want interp.Value) error {
	switch w := want.(type) {
	case nil:
		if got != nil {
			return fmt.Errorf("got %v, want an empty optional", got)
		}
		return nil
	case *ir.Tensor:
		g, ok := got.(*ir.Tensor)
		if !ok {
			return fmt.Errorf("got %T, want a tensor", got)
		}
		return tmCompareTensor(g, w)
	case interp.Sequence:
		g, ok := got.(interp.Sequence)
		if !ok {
			return fmt.Errorf("got %T, want a sequence", got)
		}
		if w.ElemType != ir.Undefined && g.ElemType != w.ElemType {
			return fmt.Errorf("sequence of %s, want %s", g.ElemType, w.ElemType)
		}
		if len(g.Tensors) != len(w.Tensors) {
			return fmt.Errorf("sequence of %d tensors, want %d", len(g.Tensors), len(w.Tensors))
		}
		for i := range w.Tensors {
			if err := tmCompareTensor(g.Tensors[i], w.Tensors[i]); err != nil {
				return fmt.Errorf("element %d: %v", i, err)
			}
		}
		return nil
	}
	return fmt.Errorf("unexpected expected value %T", want)
}

func tmCompareTensor(g, w *ir.Tensor) error {
	g, err := g.Dense()
	if err != nil {
		return err
	}
	if g.DType != w.DType || fmt.Sprint(g.Shape) != fmt.Sprint(w.Shape) {
		return fmt.Errorf("got %s, want %s", g, w)
	}
	if w.DType == ir.String {
		gs, ws := g.Data.([]string), w.Data.([]string)
		for i := range ws {
			if gs[i] != ws[i] {
				return fmt.Errorf("element %d: got %q, want %q", i, gs[i], ws[i])
			}
		}
		return nil
	}
	for i := 0; i < w.Len(); i++ {
		a, b := g.Float64At(i), w.Float64At(i)
		if math.IsNaN(a) && math.IsNaN(b) {
			continue
		}
		if w.DType.IsFloat() {
			if math.Abs(a-b) > 1e-7+1e-3*math.Abs(b) {
				return fmt.Errorf("element %d: got %v, want %v", i, a, b)
			}
		} else if g.Int64At(i) != w.Int64At(i) {
			return fmt.Errorf("element %d: got %v, want %v", i, g.Int64At(i), w.Int64At(i))
		}
	}
	return nil
}
