package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/ir"
)

// onnxConforms checks a test tensor against the declared type of the graph
// value it belongs to: same dtype (when declared), same rank and known dims
// (when ranked).
func onnxConforms(x *ir.Tensor, t *ir.Type) error {
	if t == nil {
		return nil
	}
	if t.Kind != ir.KindTensor {
		return fmt.Errorf("tensor where %s is declared", t)
	}
	if t.DType != ir.Undefined && x.DType != t.DType {
		return fmt.Errorf("got %s, declared %s", x, t)
	}
	if !t.Ranked {
		return nil
	}
	if len(x.Shape) != len(t.Shape) {
		return fmt.Errorf("got %s, declared %s", x, t)
	}
	for i, d := range t.Shape {
		if d.Known() && d.Size != x.Shape[i] {
			return fmt.Errorf("got %s, declared %s", x, t)
		}
	}
	return nil
}

// onnxValueConforms checks a whole test value against a declared type.
func onnxValueConforms(v TestValue, t ir.Type) error {
	switch t.Kind {
	case ir.KindTensor:
		return onnxConforms(v.Tensor, &t)
	case ir.KindSequence:
		for _, x := range v.Seq {
			if err := onnxConforms(x, t.Elem); err != nil {
				return err
			}
		}
		return nil
	}
	if !v.Present || t.Elem == nil {
		return nil
	}
	if t.Elem.Kind == ir.KindSequence {
		return onnxValueConforms(TestValue{Seq: v.Seq, Present: true}, *t.Elem)
	}
	return onnxConforms(v.Tensor, t.Elem)
}

// shapeQuirk lists test inputs whose data disagrees with the shape the
// model declares (checked with onnx's Python API): the CastLike tests
// declare "like" as [3,4] but store a one-element tensor.
var shapeQuirk = map[string]bool{
	"test_castlike_BFLOAT16_to_FLOAT/like":          true,
	"test_castlike_BFLOAT16_to_FLOAT_expanded/like": true,
	"test_castlike_FLOAT_to_BFLOAT16/like":          true,
	"test_castlike_FLOAT_to_BFLOAT16_expanded/like": true,
}

// rejectedModels are conformance models the frontend must refuse, with the
// error text it must give: optc does not run Gradient (automatic
// differentiation), so the op is not registered.
var rejectedModels = map[string]string{
	"simple/test_gradient_of_add/model.onnx":         "(ai.onnx.preview.training.Gradient, opset 1): unsupported op",
	"simple/test_gradient_of_add_and_mul/model.onnx": "(ai.onnx.preview.training.Gradient, opset 1): unsupported op",
}

// TestConformanceModels imports every model of the ONNX test data and reads
// each of its test data sets against the graph's declared input and output
// types.
func TestConformanceModels(t *testing.T) {
	files := conformanceModels(t)
	loaded, sets, values := 0, 0, 0
	perDir := map[string][2]int{}
	for _, f := range files {
		part := strings.Split(strings.TrimPrefix(f, conformanceDir+"/"), "/")[0]
		c := perDir[part]
		c[1]++
		g, err := LoadFile(f)
		if want, ok := rejectedModels[strings.TrimPrefix(f, conformanceDir+"/")]; ok {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: got error %v, want one containing %q", f, err, want)
			}
			perDir[part] = c
			continue
		}
		if err != nil {
			t.Error(err)
			perDir[part] = c
			continue
		}
		c[0]++
		perDir[part] = c
		loaded++
		dirs, _ := filepath.Glob(filepath.Join(filepath.Dir(f), "test_data_set_*"))
		for _, d := range dirs {
			sets++
			for _, side := range []struct {
				prefix string
				vals   []*ir.Value
			}{{"input", g.Inputs}, {"output", g.Outputs}} {
				n, _ := filepath.Glob(filepath.Join(d, side.prefix+"_*.pb"))
				if len(n) > len(side.vals) {
					t.Errorf("%s: %d %s files for %d graph %ss", d, len(n), side.prefix, len(side.vals), side.prefix)
				}
				for i, val := range side.vals {
					p := filepath.Join(d, fmt.Sprintf("%s_%d.pb", side.prefix, i))
					if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
						continue
					}
					v, err := ReadTestData(p, val.Type)
					if err == nil && !shapeQuirk[filepath.Base(filepath.Dir(d))+"/"+val.Name] {
						err = onnxValueConforms(v, val.Type)
					}
					if err != nil {
						t.Errorf("%s (%s %q, %s): %v", p, side.prefix, val.Name, val.Type, err)
					}
					values++
				}
			}
		}
	}
	parts := make([]string, 0, len(perDir))
	for part := range perDir {
		parts = append(parts, part)
	}
	sort.Strings(parts)
	for _, part := range parts {
		t.Logf("%s: %d of %d models import", part, perDir[part][0], perDir[part][1])
	}
	t.Logf("%d of %d conformance models import; %d test data sets, %d values read", loaded, len(files), sets, values)
}

func conformanceModel(t *testing.T, rel string) (*ir.Graph, string) {
	t.Helper()
	conformanceModels(t)
	dir := filepath.Join(conformanceDir, rel)
	g, err := LoadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	return g, dir
}

func valueNamed(vs []*ir.Value, name string) *ir.Value {
	for _, v := range vs {
		if v != nil && v.Name == name {
			return v
		}
	}
	return nil
}

// TestConformanceOuterScope checks outer-scope references in conformance
// models (found with onnx's Python API: a Loop body reading the graph
// input delta; an If inside a Loop body reading the body's input).
func TestConformanceOuterScope(t *testing.T) {
	g, _ := conformanceModel(t, "node/test_range_float_type_positive_delta_expanded")
	delta := valueNamed(g.Inputs, "delta")
	reads := 0
	_ = g.Walk(func(sg *ir.Graph, n *ir.Node) error {
		if sg != g && valueNamed(n.Inputs, "delta") != nil {
			if valueNamed(n.Inputs, "delta") != delta {
				t.Errorf("%s reads a different delta", n.Describe())
			}
			reads++
		}
		return nil
	})
	if delta == nil || reads == 0 {
		t.Fatal("no subgraph node reads the graph input delta")
	}

	g, _ = conformanceModel(t, "node/test_loop16_seq_none")
	body := g.Nodes[0].Attrs["body"].Graph
	in := valueNamed(body.Inputs, "opt_seq_in")
	reads = 0
	_ = body.Walk(func(sg *ir.Graph, n *ir.Node) error {
		if v := valueNamed(n.Inputs, "opt_seq_in"); v != nil && sg != body {
			if v != in {
				t.Errorf("%s reads a different opt_seq_in", n.Describe())
			}
			reads++
		}
		return nil
	})
	if in == nil || reads == 0 {
		t.Fatal("no nested node reads the body input opt_seq_in")
	}
}

// TestReadTestData checks values against onnx.numpy_helper's reading of
// the same files.
func TestReadTestData(t *testing.T) {
	g, dir := conformanceModel(t, "node/test_if_opt")
	v, err := ReadTestData(filepath.Join(dir, "test_data_set_0", "output_0.pb"), g.Outputs[0].Type)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Present || v.Tensor != nil || len(v.Seq) != 1 || !reflect.DeepEqual(v.Seq[0].Data, []float32{1, 2, 3, 4, 5}) ||
		v.Type.String() != "opt<seq<f32[5]>>" {
		t.Fatalf("test_if_opt output: %+v", v)
	}

	// bfloat16 data stored as UINT16 (numpy_helper reads 16117 = 0x3ef5).
	g, dir = conformanceModel(t, "node/test_cast_FLOAT_to_BFLOAT16")
	v, err = ReadTestData(filepath.Join(dir, "test_data_set_0", "output_0.pb"), g.Outputs[0].Type)
	if err != nil || v.Tensor.DType != ir.BFloat16 || v.Tensor.Data.([]uint16)[0] != 16117 {
		t.Fatalf("bfloat16 output: %+v, %v", v, err)
	}

	g, dir = conformanceModel(t, "node/test_optional_has_element_empty")
	v, err = ReadTestData(filepath.Join(dir, "test_data_set_0", "input_0.pb"), g.Inputs[0].Type)
	if err != nil || v.Present || v.Tensor != nil || v.Seq != nil {
		t.Fatalf("empty optional: %+v, %v", v, err)
	}

	g, dir = conformanceModel(t, "node/test_sequence_insert_at_back")
	v, err = ReadTestData(filepath.Join(dir, "test_data_set_0", "input_0.pb"), g.Inputs[0].Type)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int64{{1, 2, 3, 4}, {5, 6, 7}, {8, 9}}
	if len(v.Seq) != len(want) || v.Type.String() != "seq<i64[?]>" {
		t.Fatalf("sequence: %+v", v)
	}
	for i, w := range want {
		if !reflect.DeepEqual(v.Seq[i].Data, w) {
			t.Errorf("element %d = %v, want %v", i, v.Seq[i].Data, w)
		}
	}
	v, err = ReadTestData(filepath.Join(dir, "test_data_set_0", "input_1.pb"), g.Inputs[1].Type)
	if err != nil || !v.Present || !reflect.DeepEqual(v.Tensor.Data, []int64{10, 11, 12}) {
		t.Fatalf("tensor input: %+v, %v", v, err)
	}
}

func TestReadTestDataErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.pb")
	seq := &onnxpb.SequenceProto{ElemType: proto.Int32(int32(onnxpb.SequenceProto_MAP))}
	if err := os.WriteFile(p, mustMarshal(t, seq), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadTestData(p, ir.Type{Kind: ir.KindSequence})
	wantErr(t, err, p+": sequences of MAP are not supported")
	if err := os.WriteFile(p, []byte{0xff, 0xff}, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadTestData(p, ir.Type{Kind: ir.KindTensor})
	wantErr(t, err, p+": not a TensorProto")
	_, err = ReadTestData(filepath.Join(dir, "missing.pb"), ir.Type{})
	wantErr(t, err, "missing.pb")
}

// FuzzLoad feeds arbitrary bytes to the importer and the test-data reader:
// they must return errors, never panic (the importer's recover turns a
// panic into an "internal error", which fails the target).
func FuzzLoad(f *testing.F) {
	f.Add([]byte{})
	f.Add(mustMarshal(f, pbReluModel()))
	f.Add(mustMarshal(f, ifModel()))
	fm := pbModel(&onnxpb.GraphProto{
		Input:  []*onnxpb.ValueInfoProto{pbTensorVI("x", onnxpb.TensorProto_FLOAT, 2)},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("z")}},
		Node:   []*onnxpb.NodeProto{{OpType: proto.String("Scale"), Domain: proto.String("local"), Input: []string{"x", "x"}, Output: []string{"z"}}},
	}, pbOpset("", 17), pbOpset("local", 1))
	fm.Functions = []*onnxpb.FunctionProto{scaleFunc()}
	f.Add(mustMarshal(f, fm))
	f.Add(mustMarshal(f, &onnxpb.TensorProto{Dims: []int64{2}, DataType: proto.Int32(1), RawData: []byte{1, 2, 3, 4, 5, 6, 7, 8}}))
	for _, rel := range []string{"node/test_if_opt", "node/test_loop11", "node/test_conv_with_strides_padding",
		"node/test_sequence_insert_at_back", "pytorch-converted/test_ConvTranspose2d", "simple/test_sign_model"} {
		dir := filepath.Join(conformanceDir, rel)
		if b, err := os.ReadFile(filepath.Join(dir, "model.onnx")); err == nil {
			f.Add(b)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", "input_0.pb")); err == nil {
			f.Add(b)
		}
	}
	seqOfF32 := ir.Type{Kind: ir.KindSequence, Elem: &ir.Type{Kind: ir.KindTensor, DType: ir.Float32}}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Load(data, "", "fuzz.onnx")
		if err != nil {
			if g != nil || !strings.HasPrefix(err.Error(), "fuzz.onnx: ") || strings.Contains(err.Error(), "internal error") {
				t.Fatalf("bad error %v (graph %v)", err, g != nil)
			}
		} else if g == nil {
			t.Fatal("nil graph without an error")
		}
		for _, ty := range []ir.Type{{Kind: ir.KindTensor}, seqOfF32, {Kind: ir.KindOptional, Elem: &seqOfF32}} {
			_, _ = onnxTestValue(data, "", ty)
		}
	})
}
