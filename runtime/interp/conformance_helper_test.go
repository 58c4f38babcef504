package interp_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// The ONNX conformance suite (Debian's libonnx-testdata) runs centrally in
// tests/conformance; run one family of it with e.g.
//
//	go test ./tests/conformance -run 'TestConformance/node/test_conv' -v
//
// This file holds the value comparison the package's own tests share
// (ONNX's tolerances) and the one conformance check the central runner
// cannot make (see TestCastLikeBFloat16Data).

// ONNX's backend test tolerances: |got-want| <= atol + rtol*|want|.
const (
	onnxRTol = 1e-3
	onnxATol = 1e-7
)

// tensorDiff compares got with want: same dtype and shape; floats within
// atol + rtol*|want| (NaN equals NaN), everything else exactly. It returns
// "" when they match, else how many elements differ and the first one.
func tensorDiff(got, want *ir.Tensor, rtol, atol float64) string {
	g, err := got.Dense()
	if err != nil {
		return fmt.Sprintf("cannot decode %s: %v", got, err)
	}
	if g.DType != want.DType {
		return fmt.Sprintf("dtype %s, want %s", g.DType, want.DType)
	}
	if fmt.Sprint(g.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Sprintf("shape %v, want %v", g.Shape, want.Shape)
	}
	bad, first := 0, ""
	for i := 0; i < want.Len(); i++ {
		var ok bool
		var gv, wv any
		switch {
		case want.DType.IsFloat():
			a, b := g.Float64At(i), want.Float64At(i)
			gv, wv = a, b
			ok = (math.IsNaN(a) && math.IsNaN(b)) || a == b || math.Abs(a-b) <= atol+rtol*math.Abs(b)
		case want.DType == ir.String:
			a, b := g.Data.([]string)[i], want.Data.([]string)[i]
			gv, wv = a, b
			ok = a == b
		case want.DType == ir.Uint64:
			a, b := g.Data.([]uint64)[i], want.Data.([]uint64)[i]
			gv, wv = a, b
			ok = a == b
		default:
			a, b := g.Int64At(i), want.Int64At(i)
			gv, wv = a, b
			ok = a == b
		}
		if !ok {
			if bad == 0 {
				first = fmt.Sprintf("element %d: got %v, want %v", i, gv, wv)
			}
			bad++
		}
	}
	if bad > 0 {
		return fmt.Sprintf("%d of %d elements differ; first %s", bad, want.Len(), first)
	}
	return ""
}

// valueDiff compares interpreter values with ONNX's tolerances: tensors
// by tensorDiff, sequences element by element, nil (an empty optional)
// only with nil.
func valueDiff(got, want interp.Value) error {
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
		if msg := tensorDiff(g, w, onnxRTol, onnxATol); msg != "" {
			return fmt.Errorf("%s", msg)
		}
		return nil
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
			if err := valueDiff(g.Tensors[i], w.Tensors[i]); err != nil {
				return fmt.Errorf("element %d: %v", i, err)
			}
		}
		return nil
	}
	return fmt.Errorf("unexpected expected value %T", want)
}

// TestCastLikeBFloat16Data runs the two bfloat16 CastLike node tests that
// tests/conformance skips: their models declare input "like" as [3,4] but
// ship a [1] tensor (ONNX Runtime rejects them). CastLike only reads the
// dtype of "like", so with that declared shape dropped the tests check the
// float <-> bfloat16 conversion against the suite's expected outputs.
func TestCastLikeBFloat16Data(t *testing.T) {
	const root = "/usr/share/libonnx-testdata/data/node"
	if _, err := os.Stat(root); err != nil {
		t.Skip("libonnx-testdata is not installed")
	}
	for _, name := range []string{"test_castlike_BFLOAT16_to_FLOAT", "test_castlike_FLOAT_to_BFLOAT16"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			g, err := onnx.LoadFile(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range g.Inputs {
				if v.Name == "like" {
					v.Type.Ranked, v.Type.Shape = false, nil
				}
			}
			set := filepath.Join(dir, "test_data_set_0")
			inputs := map[string]interp.Value{}
			for i, v := range g.Inputs {
				x, err := onnx.ReadTestData(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)), v.Type)
				if err != nil {
					t.Fatal(err)
				}
				inputs[v.Name] = x.Tensor
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
				if err := valueDiff(outs[v.Name], want.Tensor); err != nil {
					t.Errorf("output %q: %v", v.Name, err)
				}
			}
		})
	}
}
