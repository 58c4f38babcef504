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

	"google.golang.org/protobuf/proto"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// The ONNX backend test cases of the convolution, pooling, normalization
// and vision kernels (from Debian's libonnx-testdata), run here so this
// family can be checked on its own; tests/conformance runs the whole
// suite. Expected outputs come from the ONNX reference implementations.

const convTestData = "/usr/share/libonnx-testdata/data"

// convFamilyTests are the node test name patterns of this family.
var convFamilyTests = []string{
	"node/test_conv*", "node/test_basic_conv*", "node/test_convtranspose*",
	"node/test_convinteger*", "node/test_qlinearconv*",
	"node/test_maxpool*", "node/test_averagepool*", "node/test_lppool*", "node/test_global*",
	"node/test_maxroipool*", "node/test_roialign*", "node/test_maxunpool*",
	"node/test_batchnorm*", "node/test_instancenorm*", "node/test_layer_normalization*",
	"node/test_lrn*", "node/test_mvn*", "node/test_lpnormalization*",
	"node/test_dropout*", "node/test_training_dropout*",
	"node/test_depthtospace*", "node/test_spacetodepth*", "node/test_nonmaxsuppression*",
	"pytorch-converted/test_AvgPool*", "pytorch-converted/test_BatchNorm*",
	"pytorch-converted/test_Conv*", "pytorch-converted/test_MaxPool*",
	"pytorch-converted/test_PixelShuffle",
	"pytorch-operator/test_operator_conv*", "pytorch-operator/test_operator_maxpool",
}

func TestConvFamilyConformance(t *testing.T) {
	if _, err := os.Stat(convTestData); err != nil {
		t.Skip("libonnx-testdata is not installed")
	}
	var dirs []string
	for _, p := range convFamilyTests {
		m, _ := filepath.Glob(filepath.Join(convTestData, p))
		dirs = append(dirs, m...)
	}
	sort.Strings(dirs)
	for i, dir := range dirs {
		if i > 0 && dir == dirs[i-1] {
			continue
		}
		name := strings.TrimPrefix(dir, convTestData+"/")
		t.Run(name, func(t *testing.T) { convRunCase(t, dir) })
	}
}

func convRunCase(t *testing.T, dir string) {
	g, err := onnx.LoadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Walk(func(_ *ir.Graph, n *ir.Node) error {
		if !interp.HasKernel(n.Domain, n.Op) {
			return fmt.Errorf("no kernel for %s", n.Op)
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
		for i, v := range g.Inputs {
			x, err := convReadTensor(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)))
			if err != nil {
				t.Fatal(err)
			}
			inputs[v.Name] = x
		}
		outs, err := interp.Run(context.Background(), g, inputs)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range g.Outputs {
			want, err := convReadTensor(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := outs[v.Name].(*ir.Tensor)
			if !ok {
				t.Fatalf("output %q: got %T", v.Name, outs[v.Name])
			}
			if msg := convCompare(got, want); msg != "" {
				t.Errorf("%s output %q: %s", filepath.Base(set), v.Name, msg)
			}
		}
	}
}

func convReadTensor(path string) (*ir.Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tp := &onnxpb.TensorProto{}
	if err := proto.Unmarshal(data, tp); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return onnx.DecodeTensor(tp, filepath.Dir(path))
}

// convCompare checks got against want with the ONNX backend test
// tolerance (rtol 1e-3, atol 1e-7) for floats and exactly otherwise.
func convCompare(got, want *ir.Tensor) string {
	if got.DType != want.DType {
		return fmt.Sprintf("dtype %s, want %s", got.DType, want.DType)
	}
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
	}
	bad, first := 0, ""
	for i := 0; i < want.Len(); i++ {
		var ok bool
		if want.DType.IsFloat() {
			a, b := got.Float64At(i), want.Float64At(i)
			ok = (math.IsNaN(a) && math.IsNaN(b)) || a == b || math.Abs(a-b) <= 1e-7+1e-3*math.Abs(b)
		} else if want.DType == ir.String {
			ok = got.Data.([]string)[i] == want.Data.([]string)[i]
		} else {
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
