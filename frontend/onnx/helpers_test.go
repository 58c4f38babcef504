package onnx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
)

// Small constructors for hand-built ONNX protos.

const conformanceDir = "/usr/share/libonnx-testdata/data"

func pbTensorVI(name string, dt onnxpb.TensorProto_DataType, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{
			Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(dt)), Shape: shape}}}}
}

func pbNode(op, name string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	n := &onnxpb.NodeProto{OpType: proto.String(op), Input: in, Output: out, Attribute: attrs}
	if name != "" {
		n.Name = proto.String(name)
	}
	return n
}

func pbFloats(name string, dims []int64, vals ...float32) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: vals}
}

func pbAttrGraph(name string, g *onnxpb.GraphProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
}

func pbAttrFloat(name string, f float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(f)}
}

func pbAttrTensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}

func pbOpset(domain string, v int64) *onnxpb.OperatorSetIdProto {
	return &onnxpb.OperatorSetIdProto{Domain: proto.String(domain), Version: proto.Int64(v)}
}

// pbModel wraps a graph into a model importing default opset 17 unless
// opsets are given.
func pbModel(g *onnxpb.GraphProto, opsets ...*onnxpb.OperatorSetIdProto) *onnxpb.ModelProto {
	if len(opsets) == 0 {
		opsets = []*onnxpb.OperatorSetIdProto{pbOpset("", 17)}
	}
	return &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g, OpsetImport: opsets}
}

// pbReluModel is a one-node model: y = Relu(x + w), w an initializer.
func pbReluModel() *onnxpb.ModelProto {
	return pbModel(&onnxpb.GraphProto{
		Name:        proto.String("g"),
		Input:       []*onnxpb.ValueInfoProto{pbTensorVI("x", onnxpb.TensorProto_FLOAT, 2)},
		Output:      []*onnxpb.ValueInfoProto{pbTensorVI("y", onnxpb.TensorProto_FLOAT, 2)},
		Initializer: []*onnxpb.TensorProto{pbFloats("w", []int64{2}, 1, -1)},
		Node: []*onnxpb.NodeProto{
			pbNode("Add", "add", []string{"x", "w"}, []string{"s"}),
			pbNode("Relu", "relu", []string{"s"}, []string{"y"}),
		},
	})
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// conformanceModels lists the model files of the installed ONNX test data,
// skipping the test when it is absent.
func conformanceModels(t testing.TB) []string {
	t.Helper()
	if _, err := os.Stat(conformanceDir); err != nil {
		t.Skipf("ONNX test data not installed (%s): apt-get install libonnx-testdata", conformanceDir)
	}
	files, err := filepath.Glob(filepath.Join(conformanceDir, "*", "*", "model.onnx"))
	if err != nil || len(files) == 0 {
		t.Skipf("no models under %s", conformanceDir)
	}
	return files
}

func wantErr(t *testing.T, err error, substrs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", substrs)
	}
	for _, s := range substrs {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err, s)
		}
	}
}
