package onnx

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/ir"
)

func load(t *testing.T, m *onnxpb.ModelProto) *ir.Graph {
	t.Helper()
	g, err := Load(mustMarshal(t, m), "", "m.onnx")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestLoadBasic(t *testing.T) {
	m := pbReluModel()
	m.ProducerName = proto.String("hand")
	m.ProducerVersion = proto.String("0.1")
	m.DocString = proto.String("a test model")
	m.MetadataProps = []*onnxpb.StringStringEntryProto{{Key: proto.String("author"), Value: proto.String("me")}}
	m.OpsetImport = []*onnxpb.OperatorSetIdProto{pbOpset("ai.onnx", 13)}
	// An old exporter lists the weight w among the inputs too.
	m.Graph.Input = append(m.Graph.Input, pbTensorVI("w", onnxpb.TensorProto_FLOAT, 2))
	m.Graph.ValueInfo = []*onnxpb.ValueInfoProto{pbTensorVI("s", onnxpb.TensorProto_FLOAT, 2)}
	g := load(t, m)

	if len(g.Inputs) != 1 || g.Inputs[0].Name != "x" {
		t.Fatalf("inputs = %v, want just x (w is a weight)", g.Inputs)
	}
	if len(g.Consts) != 1 || g.Consts[0].Name != "w" || !reflect.DeepEqual(g.Consts[0].Const.Data, []float32{1, -1}) {
		t.Fatalf("consts = %v, want w = [1 -1]", g.Consts)
	}
	if got, want := g.Opsets, map[string]int64{"": 13}; !reflect.DeepEqual(got, want) {
		t.Fatalf("opsets = %v, want %v", got, want)
	}
	wantMeta := map[string]string{"producer": "hand", "producer_version": "0.1", "ir_version": "8", "doc": "a test model", "prop:author": "me"}
	if !reflect.DeepEqual(g.Meta, wantMeta) {
		t.Fatalf("meta = %v, want %v", g.Meta, wantMeta)
	}
	if len(g.Nodes) != 2 {
		t.Fatalf("%d nodes, want 2", len(g.Nodes))
	}
	add, relu := g.Nodes[0], g.Nodes[1]
	if add.Name != "add" || add.Inputs[0] != g.Inputs[0] || add.Inputs[1] != g.Consts[0] {
		t.Fatalf("add node wired wrong: %+v", add)
	}
	if relu.Inputs[0] != add.Outputs[0] || add.Outputs[0].Def != add || g.Outputs[0] != relu.Outputs[0] {
		t.Fatal("relu node wired wrong")
	}
	f2 := ir.TensorType(ir.Float32, ir.ShapeOf(2))
	for _, v := range []*ir.Value{g.Inputs[0], add.Outputs[0], g.Outputs[0], g.Consts[0]} {
		if v.Type.String() != f2.String() {
			t.Errorf("%s: type %s, want %s", v.Name, v.Type, f2)
		}
	}
}

func TestLoadTypes(t *testing.T) {
	dim := func(d *onnxpb.TensorShapeProto_Dimension) *onnxpb.TensorShapeProto_Dimension { return d }
	symbolic := &onnxpb.ValueInfoProto{Name: proto.String("a"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Shape: &onnxpb.TensorShapeProto{
			Dim: []*onnxpb.TensorShapeProto_Dimension{
				dim(&onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}}),
				{},
				dim(&onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 3}}),
			}}}}}}
	unranked := &onnxpb.ValueInfoProto{Name: proto.String("b"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_BOOL))}}}}
	seq := &onnxpb.ValueInfoProto{Name: proto.String("c"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_SequenceType{
		SequenceType: &onnxpb.TypeProto_Sequence{ElemType: pbTensorVI("", onnxpb.TensorProto_FLOAT, 4).Type}}}}
	opt := &onnxpb.ValueInfoProto{Name: proto.String("d"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_OptionalType{
		OptionalType: &onnxpb.TypeProto_Optional{ElemType: seq.Type}}}}
	untyped := &onnxpb.ValueInfoProto{Name: proto.String("e")}
	m := pbModel(&onnxpb.GraphProto{
		Input:  []*onnxpb.ValueInfoProto{symbolic, unranked, seq, opt, untyped},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("e")}, {Name: proto.String("i")}},
		Node:   []*onnxpb.NodeProto{pbNode("Identity", "", []string{"e"}, []string{"i"})},
	})
	g := load(t, m)
	want := []string{"i64[batch,?,3]", "bool[*]", "seq<f32[4]>", "opt<seq<f32[4]>>", "undefined[*]"}
	for i, w := range want {
		if got := g.Inputs[i].Type.String(); got != w {
			t.Errorf("input %s: type %s, want %s", g.Inputs[i].Name, got, w)
		}
	}
	if tt := g.Inputs[4].Type; tt.Kind != ir.KindTensor || tt.Ranked || tt.DType != ir.Undefined {
		t.Errorf("untyped input: %+v", tt)
	}
	if g.Outputs[0] != g.Inputs[4] || g.Nodes[0].Name != "" || g.Outputs[1].Type.String() != "undefined[*]" {
		t.Errorf("outputs wired wrong: %v, node name %q", g.Outputs, g.Nodes[0].Name)
	}
}

func TestLoadConstantNodes(t *testing.T) {
	attr := func(a *onnxpb.AttributeProto, name string, k onnxpb.AttributeProto_AttributeType) *onnxpb.AttributeProto {
		a.Name, a.Type = proto.String(name), k.Enum()
		return a
	}
	consts := []struct {
		attr  *onnxpb.AttributeProto
		dtype ir.DType
		shape []int64
		data  any
	}{
		{pbAttrTensor("value", pbFloats("", []int64{1, 2}, 3, 4)), ir.Float32, []int64{1, 2}, []float32{3, 4}},
		{attr(&onnxpb.AttributeProto{F: proto.Float32(0.5)}, "value_float", onnxpb.AttributeProto_FLOAT), ir.Float32, []int64{}, []float32{0.5}},
		{attr(&onnxpb.AttributeProto{Floats: []float32{1, 2, 3}}, "value_floats", onnxpb.AttributeProto_FLOATS), ir.Float32, []int64{3}, []float32{1, 2, 3}},
		{attr(&onnxpb.AttributeProto{I: proto.Int64(-9)}, "value_int", onnxpb.AttributeProto_INT), ir.Int64, []int64{}, []int64{-9}},
		{attr(&onnxpb.AttributeProto{Ints: []int64{7, 8}}, "value_ints", onnxpb.AttributeProto_INTS), ir.Int64, []int64{2}, []int64{7, 8}},
		{attr(&onnxpb.AttributeProto{S: []byte("hi")}, "value_string", onnxpb.AttributeProto_STRING), ir.String, []int64{}, []string{"hi"}},
		{attr(&onnxpb.AttributeProto{Strings: [][]byte{[]byte("a"), []byte("b")}}, "value_strings", onnxpb.AttributeProto_STRINGS), ir.String, []int64{2}, []string{"a", "b"}},
		// An attribute without its type field (pre-IR-2 models).
		{&onnxpb.AttributeProto{Name: proto.String("value_ints"), Ints: []int64{5}}, ir.Int64, []int64{1}, []int64{5}},
	}
	gp := &onnxpb.GraphProto{}
	for i, c := range consts {
		name := "c" + string(rune('0'+i))
		gp.Node = append(gp.Node, pbNode("Constant", "", nil, []string{name}, c.attr))
		gp.Output = append(gp.Output, &onnxpb.ValueInfoProto{Name: proto.String(name)})
	}
	g := load(t, pbModel(gp))
	if len(g.Nodes) != 0 || len(g.Consts) != len(consts) {
		t.Fatalf("%d nodes and %d consts, want 0 and %d", len(g.Nodes), len(g.Consts), len(consts))
	}
	for i, c := range consts {
		v := g.Consts[i]
		if g.Outputs[i] != v || v.Const.DType != c.dtype || !reflect.DeepEqual(v.Const.Shape, c.shape) || !reflect.DeepEqual(v.Const.Data, c.data) {
			t.Errorf("const %d (%s): got %s %v %v, want %s %v %v", i, c.attr.GetName(), v.Const.DType, v.Const.Shape, v.Const.Data, c.dtype, c.shape, c.data)
		}
	}
}

func TestLoadOptionalInputsAndAttrs(t *testing.T) {
	ints := &onnxpb.AttributeProto{Name: proto.String("pads"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 1, 1, 1}}
	str := &onnxpb.AttributeProto{Name: proto.String("auto_pad"), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte("NOTSET")}
	m := pbModel(&onnxpb.GraphProto{
		Input:       []*onnxpb.ValueInfoProto{pbTensorVI("x", onnxpb.TensorProto_FLOAT, 1, 1, 4, 4)},
		Initializer: []*onnxpb.TensorProto{pbFloats("w", []int64{1, 1, 1, 1}, 2)},
		Output:      []*onnxpb.ValueInfoProto{{Name: proto.String("y")}, {Name: proto.String("mask")}},
		Node: []*onnxpb.NodeProto{
			pbNode("Conv", "conv", []string{"x", "w", ""}, []string{"c"}, ints, str),
			// Dropout's optional mask output is kept, its ratio input omitted.
			pbNode("Dropout", "", []string{"c", ""}, []string{"y", "mask"}),
			pbNode("Dropout", "", []string{"c"}, []string{"", "m2"}),
		},
	})
	m.Graph.Output[1].Name = proto.String("mask")
	g := load(t, m)
	conv := g.Nodes[0]
	if len(conv.Inputs) != 3 || conv.Inputs[2] != nil {
		t.Fatalf("conv inputs %v, want a nil third", conv.Inputs)
	}
	if got := conv.AttrInts("pads", nil); !reflect.DeepEqual(got, []int64{1, 1, 1, 1}) || conv.AttrString("auto_pad", "") != "NOTSET" {
		t.Fatalf("conv attrs %v", conv.Attrs)
	}
	if d := g.Nodes[1]; d.Inputs[1] != nil || d.Name != "" || !strings.Contains(d.Describe(), `producing "y"`) {
		t.Fatalf("dropout: inputs %v, describe %q", d.Inputs, d.Describe())
	}
	if d := g.Nodes[2]; d.Outputs[0] != nil || d.Outputs[1].Name != "m2" {
		t.Fatalf("dropout outputs %v, want [nil m2]", d.Outputs)
	}
}

// ifModel is: y = If(cond) then {t = Add(x, x)} else {e = Neg(x)}, both
// branches reading the outer x.
func ifModel() *onnxpb.ModelProto {
	then := &onnxpb.GraphProto{Name: proto.String("then"),
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("t")}},
		Node:   []*onnxpb.NodeProto{pbNode("Add", "tadd", []string{"x", "x"}, []string{"t"})}}
	els := &onnxpb.GraphProto{Name: proto.String("else"),
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("e")}},
		Node:   []*onnxpb.NodeProto{pbNode("Neg", "eneg", []string{"x"}, []string{"e"})}}
	return pbModel(&onnxpb.GraphProto{
		Input:  []*onnxpb.ValueInfoProto{pbTensorVI("cond", onnxpb.TensorProto_BOOL), pbTensorVI("x", onnxpb.TensorProto_FLOAT, 2)},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y")}},
		Node: []*onnxpb.NodeProto{pbNode("If", "if", []string{"cond"}, []string{"y"},
			pbAttrGraph("then_branch", then), pbAttrGraph("else_branch", els))},
	})
}

func TestLoadSubgraphScopes(t *testing.T) {
	g := load(t, ifModel())
	x := g.Inputs[1]
	then := g.Nodes[0].Attrs["then_branch"].Graph
	els := g.Nodes[0].Attrs["else_branch"].Graph
	if then.Nodes[0].Inputs[0] != x || then.Nodes[0].Inputs[1] != x || els.Nodes[0].Inputs[0] != x {
		t.Fatal("branches do not share the outer *ir.Value x")
	}
	if then.Outputs[0] != then.Nodes[0].Outputs[0] || len(then.Inputs) != 0 {
		t.Fatal("then branch outputs wrong")
	}

	// A Loop body input named like an outer value shadows it; the body
	// may still read another outer value (w).
	body := &onnxpb.GraphProto{Name: proto.String("body"),
		Input: []*onnxpb.ValueInfoProto{pbTensorVI("i", onnxpb.TensorProto_INT64), pbTensorVI("c", onnxpb.TensorProto_BOOL),
			pbTensorVI("x", onnxpb.TensorProto_FLOAT, 2)},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("c")}, {Name: proto.String("xo")}},
		Node:   []*onnxpb.NodeProto{pbNode("Add", "", []string{"x", "w"}, []string{"xo"})}}
	m := pbModel(&onnxpb.GraphProto{
		Input: []*onnxpb.ValueInfoProto{pbTensorVI("n", onnxpb.TensorProto_INT64), pbTensorVI("x", onnxpb.TensorProto_FLOAT, 2),
			pbTensorVI("w", onnxpb.TensorProto_FLOAT, 2)},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y")}},
		Node:   []*onnxpb.NodeProto{pbNode("Loop", "loop", []string{"n", "", "x"}, []string{"y"}, pbAttrGraph("body", body))},
	})
	g = load(t, m)
	bg := g.Nodes[0].Attrs["body"].Graph
	add := bg.Nodes[0]
	if add.Inputs[0] != bg.Inputs[2] || add.Inputs[0] == g.Inputs[1] || add.Inputs[1] != g.Inputs[2] {
		t.Fatal("body input x must shadow the outer x, and w must be the outer w")
	}
	if bg.Outputs[0] != bg.Inputs[1] {
		t.Fatal("body output c must be the body input c")
	}
}

func TestLoadOptionalTypeAttr(t *testing.T) {
	tp := pbTensorVI("", onnxpb.TensorProto_FLOAT, 5).Type
	m := pbModel(&onnxpb.GraphProto{
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("o")}},
		Node: []*onnxpb.NodeProto{pbNode("Optional", "", nil, []string{"o"},
			&onnxpb.AttributeProto{Name: proto.String("type"), Type: onnxpb.AttributeProto_TYPE_PROTO.Enum(), Tp: tp})},
	})
	g := load(t, m)
	if got := g.Outputs[0].Type.String(); got != "opt<f32[5]>" {
		t.Fatalf("Optional output type %s, want opt<f32[5]>", got)
	}
	if a := g.Nodes[0].Attrs["type"]; a == nil || a.Kind != ir.AttrTypeProto {
		t.Fatal("type attribute missing")
	}
}

// scaleFunc is the model-local function local.Scale(X, B) -> Z with
// attribute alpha: S = Add(X, B); Z = LeakyRelu<alpha = @alpha>(S).
func scaleFunc() *onnxpb.FunctionProto {
	return &onnxpb.FunctionProto{
		Name: proto.String("Scale"), Domain: proto.String("local"),
		Input: []string{"X", "B"}, Output: []string{"Z"}, Attribute: []string{"alpha"},
		OpsetImport: []*onnxpb.OperatorSetIdProto{pbOpset("", 17)},
		Node: []*onnxpb.NodeProto{
			pbNode("Add", "", []string{"X", "B"}, []string{"S"}),
			pbNode("LeakyRelu", "act", []string{"S"}, []string{"Z"},
				&onnxpb.AttributeProto{Name: proto.String("alpha"), RefAttrName: proto.String("alpha"), Type: onnxpb.AttributeProto_FLOAT.Enum()}),
		},
	}
}

func TestLoadFunctions(t *testing.T) {
	call := func(name string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		n := pbNode("Scale", name, in, out, attrs...)
		n.Domain = proto.String("local")
		return n
	}
	// Pass is local.Pass(P) -> P: its output is its input.
	pass := &onnxpb.FunctionProto{Name: proto.String("Pass"), Domain: proto.String("local"),
		Input: []string{"P"}, Output: []string{"P"}, OpsetImport: []*onnxpb.OperatorSetIdProto{pbOpset("", 17)}}
	// Twice calls Scale twice (a function calling a function).
	twice := &onnxpb.FunctionProto{Name: proto.String("Twice"), Domain: proto.String("local"),
		Input: []string{"A"}, Output: []string{"C"}, OpsetImport: []*onnxpb.OperatorSetIdProto{pbOpset("", 17), pbOpset("local", 1)},
		Node: []*onnxpb.NodeProto{call("", []string{"A", "A"}, []string{"T"}), call("", []string{"T", "T"}, []string{"C"})}}
	passCall := pbNode("Pass", "", []string{"z2"}, []string{"p"})
	passCall.Domain = proto.String("local")
	twiceCall := pbNode("Twice", "tw", []string{"x"}, []string{"q"})
	twiceCall.Domain = proto.String("local")
	m := pbModel(&onnxpb.GraphProto{
		Input:  []*onnxpb.ValueInfoProto{pbTensorVI("x", onnxpb.TensorProto_FLOAT, 2), pbTensorVI("b", onnxpb.TensorProto_FLOAT, 2)},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("z1")}, {Name: proto.String("p")}, {Name: proto.String("q")}},
		Node: []*onnxpb.NodeProto{
			call("s1", []string{"x", "b"}, []string{"z1"}, pbAttrFloat("alpha", 0.5)),
			call("", []string{"z1", "b"}, []string{"z2"}),
			passCall,
			twiceCall,
		},
	}, pbOpset("", 17), pbOpset("local", 1))
	m.Functions = []*onnxpb.FunctionProto{scaleFunc(), pass, twice}
	g := load(t, m)

	var ops []string
	for _, n := range g.Nodes {
		ops = append(ops, n.Op)
	}
	if want := []string{"Add", "LeakyRelu", "Add", "LeakyRelu", "Identity", "Add", "LeakyRelu", "Add", "LeakyRelu"}; !reflect.DeepEqual(ops, want) {
		t.Fatalf("inlined ops %v, want %v", ops, want)
	}
	add1, act1, add2, act2, id := g.Nodes[0], g.Nodes[1], g.Nodes[2], g.Nodes[3], g.Nodes[4]
	if add1.Inputs[0] != g.Inputs[0] || add1.Inputs[1] != g.Inputs[1] || act1.Inputs[0] != add1.Outputs[0] {
		t.Fatal("first call wired wrong")
	}
	if act1.Outputs[0] != g.Outputs[0] || g.Outputs[0].Name != "z1" || act1.Name != "s1/1/act" {
		t.Fatalf("first call output %v, node name %q", act1.Outputs[0], act1.Name)
	}
	if a := act1.Attrs["alpha"]; a == nil || a.Kind != ir.AttrFloat || a.Float != 0.5 {
		t.Fatalf("alpha of the first call = %+v, want 0.5", a)
	}
	if act2.HasAttr("alpha") {
		t.Fatal("the second call sets no alpha: the attribute must be omitted")
	}
	if add2.Inputs[0] != act1.Outputs[0] || add1.Outputs[0] == add2.Outputs[0] || add1.Outputs[0].Name == add2.Outputs[0].Name {
		t.Fatal("the two expansions must have distinct internal values")
	}
	if id.Inputs[0] != act2.Outputs[0] || g.Outputs[1] != id.Outputs[0] || id.Outputs[0].Name != "p" {
		t.Fatal("pass-through function output wrong")
	}
	if g.Nodes[5].Inputs[0] != g.Inputs[0] || g.Nodes[7].Inputs[0] != g.Nodes[6].Outputs[0] || g.Outputs[2] != g.Nodes[8].Outputs[0] {
		t.Fatal("nested function calls wired wrong")
	}
}

func TestLoadFunctionErrors(t *testing.T) {
	rec := &onnxpb.FunctionProto{Name: proto.String("Rec"), Domain: proto.String("local"),
		Input: []string{"X"}, Output: []string{"Y"}, OpsetImport: []*onnxpb.OperatorSetIdProto{pbOpset("local", 1)},
		Node: []*onnxpb.NodeProto{{OpType: proto.String("Rec"), Domain: proto.String("local"), Input: []string{"X"}, Output: []string{"Y"}}}}
	old := scaleFunc()
	old.OpsetImport = []*onnxpb.OperatorSetIdProto{pbOpset("", 13)}
	broken := scaleFunc()
	broken.Node = broken.Node[:1]
	for _, c := range []struct {
		name string
		f    *onnxpb.FunctionProto
		op   string
		want string
	}{
		{"recursive", rec, "Rec", "nested too deeply"},
		{"opset conflict", old, "Scale", `function local.Scale imports opset 13 of domain "", but the model imports opset 17`},
		{"output not produced", broken, "Scale", `never produces output "z"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := pbNode(c.op, "call", []string{"x", "x"}, []string{"z"})
			n.Domain = proto.String("local")
			if c.op == "Rec" {
				n.Input = n.Input[:1]
			}
			m := pbModel(&onnxpb.GraphProto{
				Input:  []*onnxpb.ValueInfoProto{pbTensorVI("x", onnxpb.TensorProto_FLOAT, 2)},
				Output: []*onnxpb.ValueInfoProto{{Name: proto.String("z")}},
				Node:   []*onnxpb.NodeProto{n},
			}, pbOpset("", 17), pbOpset("local", 1))
			m.Functions = []*onnxpb.FunctionProto{c.f}
			_, err := Load(mustMarshal(t, m), "", "m.onnx")
			wantErr(t, err, `m.onnx: node "call" (function local.`+c.op+`): `, c.want)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	type edit func(m *onnxpb.ModelProto)
	leakySince := ir.LookupOp("", "LeakyRelu").SinceVersion // 6 in ONNX
	node := func(m *onnxpb.ModelProto, i int) *onnxpb.NodeProto { return m.Graph.Node[i] }
	cases := []struct {
		name string
		edit edit
		want string // the whole message must contain it
	}{
		{"unknown op", func(m *onnxpb.ModelProto) {
			m.OpsetImport = append(m.OpsetImport, pbOpset("com.foo", 1))
			n := node(m, 1)
			n.OpType, n.Domain, n.Name = proto.String("Bar"), proto.String("com.foo"), proto.String("conv_3")
		}, `m.onnx: node "conv_3" (com.foo.Bar, opset 1): unsupported op`},
		{"unknown default op", func(m *onnxpb.ModelProto) { node(m, 1).OpType = proto.String("Frobnicate") },
			`m.onnx: node "relu" (Frobnicate, opset 17): unsupported op`},
		{"unnamed node", func(m *onnxpb.ModelProto) {
			node(m, 1).OpType, node(m, 1).Name = proto.String("Frobnicate"), nil
		}, `m.onnx: node #1 producing "y" (Frobnicate, opset 17): unsupported op`},
		{"domain not imported", func(m *onnxpb.ModelProto) { node(m, 1).Domain = proto.String("com.bar") },
			`m.onnx: node "relu" (com.bar.Relu): domain "com.bar" is not imported`},
		{"op too old for opset", func(m *onnxpb.ModelProto) {
			m.OpsetImport = []*onnxpb.OperatorSetIdProto{pbOpset("", leakySince-1)}
			m.Graph.Node = []*onnxpb.NodeProto{pbNode("LeakyRelu", "relu", []string{"x"}, []string{"y"})}
		}, fmt.Sprintf(`node "relu" (LeakyRelu, opset %d): unsupported op version (optc supports LeakyRelu from opset %d)`, leakySince-1, leakySince)},
		{"opset too new", func(m *onnxpb.ModelProto) { m.OpsetImport = []*onnxpb.OperatorSetIdProto{pbOpset("", 18)} },
			"m.onnx: default-domain opset 18 is not supported (optc supports opsets 1 to 17)"},
		{"opset twice", func(m *onnxpb.ModelProto) { m.OpsetImport = append(m.OpsetImport, pbOpset("ai.onnx", 13)) },
			`opset_import lists domain "" twice`},
		{"no opset import", func(m *onnxpb.ModelProto) { m.OpsetImport = nil },
			`domain "" is not imported`},
		{"undefined input", func(m *onnxpb.ModelProto) { node(m, 1).Input[0] = "nope" },
			`m.onnx: node "relu" (Relu, opset 17): input: value "nope" is never defined`},
		{"not topological", func(m *onnxpb.ModelProto) { g := m.Graph; g.Node[0], g.Node[1] = g.Node[1], g.Node[0] },
			`node "relu" (Relu, opset 17): input: value "s" is used before node "add" produces it`},
		{"two producers", func(m *onnxpb.ModelProto) { node(m, 1).Output[0] = "s" },
			`m.onnx: value "s" is produced twice: by node "add" and by node "relu"`},
		{"produces an input", func(m *onnxpb.ModelProto) { node(m, 1).Output[0] = "x" },
			`value "x" produced by node "relu" is also a graph input or initializer`},
		{"input twice", func(m *onnxpb.ModelProto) { m.Graph.Input = append(m.Graph.Input, m.Graph.Input[0]) },
			`input "x" is listed twice`},
		{"initializer twice", func(m *onnxpb.ModelProto) {
			m.Graph.Initializer = append(m.Graph.Initializer, m.Graph.Initializer[0])
		}, `initializer "w" is defined twice`},
		{"dims vs data", func(m *onnxpb.ModelProto) { m.Graph.Initializer[0].Dims = []int64{3} },
			`m.onnx: initializer: tensor "w": 2 float_data values, want 3 for shape [3] (3 elements)`},
		{"missing output", func(m *onnxpb.ModelProto) { m.Graph.Output[0].Name = proto.String("zz") },
			`output "zz": value "zz" is never defined`},
		{"arity", func(m *onnxpb.ModelProto) { node(m, 1).Input = []string{"s", "s"} },
			`m.onnx: Relu node "relu": 2 inputs, want 1`},
		{"duplicate attribute", func(m *onnxpb.ModelProto) {
			node(m, 1).Attribute = []*onnxpb.AttributeProto{pbAttrFloat("a", 1), pbAttrFloat("a", 2)}
		}, `attribute "a" is given twice`},
		{"attribute without type", func(m *onnxpb.ModelProto) {
			node(m, 1).Attribute = []*onnxpb.AttributeProto{{Name: proto.String("a")}}
		}, `attribute "a": attribute has neither a type nor a value`},
		{"ref_attr outside function", func(m *onnxpb.ModelProto) {
			node(m, 1).Attribute = []*onnxpb.AttributeProto{{Name: proto.String("a"), RefAttrName: proto.String("b"), Type: onnxpb.AttributeProto_INT.Enum()}}
		}, `refers to function attribute "b" outside a function body`},
		{"sparse attribute", func(m *onnxpb.ModelProto) {
			node(m, 1).Attribute = []*onnxpb.AttributeProto{{Name: proto.String("a"), Type: onnxpb.AttributeProto_SPARSE_TENSOR.Enum()}}
		}, "sparse tensor attributes are not supported"},
		{"sparse constant", func(m *onnxpb.ModelProto) {
			*node(m, 0) = *pbNode("Constant", "k", nil, []string{"s"}, &onnxpb.AttributeProto{Name: proto.String("sparse_value"),
				Type: onnxpb.AttributeProto_SPARSE_TENSOR.Enum(), SparseTensor: &onnxpb.SparseTensorProto{}})
		}, `node "k" (Constant, opset 17): attribute "sparse_value": sparse constants are not supported`},
		{"constant with two values", func(m *onnxpb.ModelProto) {
			*node(m, 0) = *pbNode("Constant", "k", nil, []string{"s"}, pbAttrFloat("value_float", 1), pbAttrFloat("value_float", 2))
		}, "Constant has 2 attributes"},
		{"constant of wrong kind", func(m *onnxpb.ModelProto) {
			*node(m, 0) = *pbNode("Constant", "k", nil, []string{"s"}, pbAttrFloat("value_int", 1))
		}, `attribute "value_int" (FLOAT): not a Constant value attribute`},
		{"sparse initializer", func(m *onnxpb.ModelProto) {
			m.Graph.SparseInitializer = []*onnxpb.SparseTensorProto{{Values: pbFloats("sp", []int64{1}, 1)}}
		}, `sparse initializer "sp"`},
		{"map input", func(m *onnxpb.ModelProto) {
			m.Graph.Input[0].Type = &onnxpb.TypeProto{Value: &onnxpb.TypeProto_MapType{MapType: &onnxpb.TypeProto_Map{}}}
		}, `input "x": map types are not supported`},
		{"no graph", func(m *onnxpb.ModelProto) { m.Graph = nil }, "m.onnx: the model has no graph"},
		{"subgraph error", func(m *onnxpb.ModelProto) {
			*m = *ifModel()
			m.Graph.Node[0].Attribute[0].G.Node[0].OpType = proto.String("Frobnicate")
		}, `m.onnx: node "if" (If, opset 17): attribute "then_branch": graph "then": node "tadd" (Frobnicate, opset 17): unsupported op`},
		{"subgraph arity", func(m *onnxpb.ModelProto) {
			*m = *ifModel()
			m.Graph.Node[0].Attribute[1].G.Node[0].Input = []string{"x", "x"}
		}, `m.onnx: node "if" (If, opset 17): attribute "else_branch": graph "else": Neg node "eneg": 2 inputs, want 1`},
		{"old model without opset_import", func(m *onnxpb.ModelProto) {
			m.IrVersion, m.OpsetImport = proto.Int64(2), nil // means opset 1
			m.Graph.Node = []*onnxpb.NodeProto{pbNode("LeakyRelu", "relu", []string{"x"}, []string{"y"})}
		}, `node "relu" (LeakyRelu, opset 1): unsupported op version`},
		{"subgraph reads a later value", func(m *onnxpb.ModelProto) {
			*m = *ifModel()
			m.Graph.Node[0].Attribute[1].G.Node[0].Input[0] = "y"
		}, `graph "else": node "eneg" (Neg, opset 17): input: value "y" is used before node "if" produces it`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := pbReluModel()
			c.edit(m)
			g, err := Load(mustMarshal(t, m), "", "m.onnx")
			if g != nil {
				t.Error("graph returned with an error")
			}
			wantErr(t, err, c.want)
		})
	}
}

// TestLoadCorrupted cuts and damages serialized models: every result must
// be an error naming the model.
func TestLoadCorrupted(t *testing.T) {
	models := map[string][]byte{"relu.onnx": mustMarshal(t, pbReluModel()), "if.onnx": mustMarshal(t, ifModel())}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not an ONNX model"},
		{"text", []byte("hello, world"), "not an ONNX model"},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00"), "not an ONNX model"},
		{"zeros", make([]byte, 64), "not an ONNX model"},
	} {
		if _, err := Load(c.data, "", c.name); err == nil || !strings.HasPrefix(err.Error(), c.name+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	for name, data := range models {
		for _, at := range []int{1, 2, 5, len(data) / 3, len(data) / 2, len(data) - 10, len(data) - 1} {
			if _, err := Load(data[:at], "", name); err == nil || !strings.HasPrefix(err.Error(), name+": ") {
				t.Errorf("%s cut to %d of %d bytes: error %v", name, at, len(data), err)
			}
		}
		flipped := append([]byte{}, data...)
		flipped[0] ^= 0xff
		if _, err := Load(flipped, "", name); err == nil || !strings.Contains(err.Error(), "not an ONNX model") {
			t.Errorf("%s with its first byte flipped: error %v", name, err)
		}
	}
}
