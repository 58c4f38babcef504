package interp_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/internal/ort"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// Helpers of the differential tests against ONNX Runtime (*_ort_test.go):
// a single-node ONNX model is written from an ortCase, run by ONNX Runtime
// and by the interpreter on the same seeded random feeds, and every output
// compared.

// ortCase is one single-node model: feeds are float32 graph
// inputs (random), consts are initializers.
type ortCase struct {
	name   string
	op     string
	opset  int64
	inputs []string // node input names ("" = omitted)
	feeds  map[string][]int64
	consts map[string]*ir.Tensor
	attrs  []*onnxpb.AttributeProto
	nOut   int
	dtype  ir.DType // of the feeds (Float32 when unset)
}

func ortAttrI(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_INT.Enum(), I: &v}
}

func ortAttrF(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_FLOAT.Enum(), F: &v}
}

func ortAttrS(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func ortAttrSs(name string, vs ...string) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_STRINGS.Enum()}
	for _, v := range vs {
		a.Strings = append(a.Strings, []byte(v))
	}
	return a
}

func ortAttrFs(name string, vs ...float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: vs}
}

// ortDTypes maps the dtypes these tests use to ONNX's codes.
var ortDTypes = map[ir.DType]onnxpb.TensorProto_DataType{
	ir.Float32: onnxpb.TensorProto_FLOAT, ir.Int64: onnxpb.TensorProto_INT64, ir.Int32: onnxpb.TensorProto_INT32,
	ir.Uint8: onnxpb.TensorProto_UINT8, ir.Int8: onnxpb.TensorProto_INT8,
}

// ortTensorProto encodes a float32, int32 or int64 constant.
func ortTensorProto(name string, t *ir.Tensor) *onnxpb.TensorProto {
	dt := int32(ortDTypes[t.DType])
	tp := &onnxpb.TensorProto{Name: &name, Dims: t.Shape, DataType: &dt}
	switch d := t.Data.(type) {
	case []float32:
		tp.FloatData = d
	case []int32:
		tp.Int32Data = d
	case []int64:
		tp.Int64Data = d
	}
	return tp
}

// ortModel writes the case as an ONNX model file.
func ortModel(t *testing.T, tc *ortCase) string {
	t.Helper()
	dt := int32(ortDTypes[tc.dtype])
	g := &onnxpb.GraphProto{Name: proto.String(tc.name)}
	var feedNames []string
	for _, in := range tc.inputs {
		if _, ok := tc.feeds[in]; ok {
			feedNames = append(feedNames, in)
		}
	}
	for _, in := range feedNames {
		shape := &onnxpb.TensorShapeProto{}
		for _, d := range tc.feeds[in] {
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		g.Input = append(g.Input, &onnxpb.ValueInfoProto{Name: proto.String(in), Type: &onnxpb.TypeProto{
			Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &dt, Shape: shape}}}})
	}
	for _, in := range tc.inputs {
		if c, ok := tc.consts[in]; ok {
			g.Initializer = append(g.Initializer, ortTensorProto(in, c))
		}
	}
	node := &onnxpb.NodeProto{OpType: proto.String(tc.op), Input: tc.inputs, Attribute: tc.attrs}
	for i := 0; i < tc.nOut; i++ {
		name := fmt.Sprintf("out%d", i)
		node.Output = append(node.Output, name)
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
			Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &dt}}}})
	}
	g.Node = []*onnxpb.NodeProto{node}
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(tc.opset)}},
		Graph:       g,
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), tc.name+".onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ortCheck runs the case with ONNX Runtime and the interpreter and
// compares every output.
func ortCheck(t *testing.T, tc ortCase, tol float64) {
	if tc.dtype == ir.Undefined {
		tc.dtype = ir.Float32
	}
	path := ortModel(t, &tc)
	g, err := onnx.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(int64(len(tc.name))))
	feeds := map[string]*ir.Tensor{}
	vals := map[string]interp.Value{}
	for name, shape := range tc.feeds {
		x := ir.NewTensor(tc.dtype, shape...)
		for i := 0; i < x.Len(); i++ {
			v := r.Float64()*2 - 1
			switch {
			case tc.dtype.IsInt():
				v = float64(r.Intn(100))
			case name == "grid":
				v *= 1.4 // reach past the borders
			}
			x.SetFloat64(i, v)
		}
		feeds[name], vals[name] = x, x
	}
	want, err := ort.Run(path, feeds)
	if err != nil {
		t.Fatalf("ONNX Runtime: %v", err)
	}
	got, err := interp.Run(context.Background(), g, vals)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range g.Outputs {
		gt, ok := got[o.Name].(*ir.Tensor)
		if !ok || want[o.Name] == nil {
			t.Fatalf("output %s: got %T, ONNX Runtime %v", o.Name, got[o.Name], want[o.Name])
		}
		if msg := tensorDiff(gt, want[o.Name], tol, tol); msg != "" {
			t.Errorf("output %s: %s", o.Name, msg)
		}
	}
}

func ortAttrIs(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

// randF32 is a seeded random float32 tensor with values in [-1, 1).
func randF32(r *rand.Rand, shape ...int64) *ir.Tensor {
	d := make([]float32, ir.NumElements(shape))
	for i := range d {
		d[i] = r.Float32()*2 - 1
	}
	return ir.FromSlice(ir.Float32, shape, d)
}
