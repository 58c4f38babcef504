package ir

import (
	"math"
)

// Hand-built graphs shared by the text, verifier and inference tests.

// rampF32 returns n deterministic float32 values.
func rampF32(n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i%17-8) * scale
	}
	return out
}

// testCNN is a small image classifier: Conv, BatchNormalization, Relu,
// MaxPool, GlobalAveragePool, Flatten, Gemm.
func testCNN() *Graph {
	b := NewBuilder("cnn")
	x := b.Input("x", TensorType(Float32, Shape{Sym("N"), D(3), D(32), D(32)}))
	w := b.Const("conv1.w", FromSlice(Float32, []int64{8, 3, 3, 3}, rampF32(8*3*3*3, 0.125)))
	cb := b.Const("conv1.b", FromSlice(Float32, []int64{8}, rampF32(8, 0.5)))
	c := b.Op1("Conv", map[string]*Attr{"kernel_shape": IntsAttr(3, 3), "pads": IntsAttr(1, 1, 1, 1), "strides": IntsAttr(2, 2)}, x, w, cb)
	scale := b.Const("bn.scale", FromSlice(Float32, []int64{8}, []float32{1, 1, 1, 1, 2, 2, 2, 2}))
	bias := b.Const("bn.bias", FromSlice(Float32, []int64{8}, make([]float32, 8)))
	mean := b.Const("bn.mean", FromSlice(Float32, []int64{8}, rampF32(8, 0.25)))
	vr := b.Const("bn.var", FromSlice(Float32, []int64{8}, []float32{1, 2, 3, 4, 5, 6, 7, 8}))
	bn := b.Op1("BatchNormalization", map[string]*Attr{"epsilon": FloatAttr(1e-5)}, c, scale, bias, mean, vr)
	r := b.Op1("Relu", nil, bn)
	p := b.Op1("MaxPool", map[string]*Attr{"kernel_shape": IntsAttr(2, 2), "strides": IntsAttr(2, 2)}, r)
	gp := b.Op1("GlobalAveragePool", nil, p)
	f := b.Op1("Flatten", map[string]*Attr{"axis": IntAttr(1)}, gp)
	fw := b.Const("fc.w", FromSlice(Float32, []int64{10, 8}, rampF32(80, 0.0625)))
	fb := b.Const("fc.b", FromSlice(Float32, []int64{10}, rampF32(10, 1)))
	y := b.Op1("Gemm", map[string]*Attr{"transB": IntAttr(1)}, f, fw, fb)
	b.Output(y)
	g := b.Graph()
	g.Meta = map[string]string{"producer_name": "optc-test", "doc": "line1\nline2 \"quoted\""}
	if err := InferShapes(g); err != nil {
		panic(err)
	}
	return g
}

// testDTypes holds a constant of every dtype, small (inline) and large
// (base64), with the awkward float values.
func testDTypes() *Graph {
	b := NewBuilder("dtypes")
	nan32 := math.Float32frombits(0x7fc00000)
	payload32 := math.Float32frombits(0x7fc00001)
	negNaN32 := math.Float32frombits(0xffc00000)
	sub32 := math.Float32frombits(1) // smallest subnormal
	f32 := []float32{0, float32(math.Copysign(0, -1)), 1, -1.5, 0.1, 3.4028235e38, -3.4028235e38, sub32,
		float32(math.Inf(1)), float32(math.Inf(-1)), nan32, payload32, negNaN32, 1e-7, 123456789}
	b.Const("f32", FromSlice(Float32, []int64{3, 5}, f32))
	f64 := []float64{0, math.Copysign(0, -1), 0.1, math.Pi, math.MaxFloat64, math.SmallestNonzeroFloat64,
		math.Inf(1), math.Inf(-1), math.Float64frombits(0x7ff8000000000000), math.Float64frombits(0x7ff8000000000123), 1e300}
	b.Const("f64", FromSlice(Float64, []int64{11}, f64))
	f16 := []uint16{0x0000, 0x8000, 0x3c00, 0x3555, 0x7bff, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0x7e01, 0xfe00}
	b.Const("f16", FromSlice(Float16, []int64{11}, f16))
	bf16 := []uint16{0x0000, 0x8000, 0x3f80, 0x3dcd, 0x7f7f, 0x0001, 0x7f80, 0xff80, 0x7fc0, 0x7fc1}
	b.Const("bf16", FromSlice(BFloat16, []int64{2, 5}, bf16))
	b.Const("i4", FromSlice(Int4, []int64{5}, []int8{-8, -1, 0, 3, 7}))
	b.Const("u4", FromSlice(Uint4, []int64{3}, []uint8{0, 9, 15}))
	b.Const("i8", FromSlice(Int8, []int64{3}, []int8{-128, 0, 127}))
	b.Const("u8", FromSlice(Uint8, []int64{2}, []uint8{0, 255}))
	b.Const("i16", FromSlice(Int16, []int64{2}, []int16{-32768, 32767}))
	b.Const("u16", FromSlice(Uint16, []int64{2}, []uint16{0, 65535}))
	b.Const("i32", FromSlice(Int32, []int64{2}, []int32{math.MinInt32, math.MaxInt32}))
	b.Const("u32", FromSlice(Uint32, []int64{2}, []uint32{0, math.MaxUint32}))
	b.Const("i64", FromSlice(Int64, []int64{2}, []int64{math.MinInt64, math.MaxInt64}))
	b.Const("u64", FromSlice(Uint64, []int64{2}, []uint64{0, math.MaxUint64}))
	b.Const("bool", FromSlice(Bool, []int64{2, 2}, []bool{true, false, false, true}))
	b.Const("str", FromSlice(String, []int64{4}, []string{"", "héllo", "tab\there \"q\"", "\xff\x00raw"}))
	b.Const("scalar", ScalarI64(-7))
	b.Const("empty", FromSlice(Float32, []int64{0, 3}, []float32{}))
	// Large tensors of every dtype go through base64.
	const n = 45
	big := map[DType]*Tensor{}
	for _, d := range []DType{Float32, Float16, BFloat16, Float64, Int4, Uint4, Int8, Uint8, Int16, Uint16, Int32, Uint32, Int64, Uint64, Bool} {
		t := NewTensor(d, 5, 9)
		for i := 0; i < n; i++ {
			switch d {
			case Int4:
				t.Data.([]int8)[i] = int8(i%16 - 8)
			case Uint4:
				t.Data.([]uint8)[i] = uint8(i % 16)
			case Float16:
				t.Data.([]uint16)[i] = F32ToF16(float32(i) * 0.3)
			case BFloat16:
				t.Data.([]uint16)[i] = F32ToBF16(float32(i) * -0.3)
			default:
				t.SetFloat64(i, float64(i*37%101)-50)
			}
		}
		big[d] = t
		b.Const("big_"+d.String(), t)
	}
	big[Float32].Data.([]float32)[7] = payload32
	big[Float64].Data.([]float64)[3] = math.Float64frombits(0x7ff8000000000456)
	bigStr := make([]string, 40)
	for i := range bigStr {
		bigStr[i] = string(rune('a' + i%26))
	}
	b.Const("big_string", FromSlice(String, []int64{40}, bigStr))
	in := b.Input("x", TensorType(Float32, Shape{D(3), D(5)}))
	b.Output(b.Op1("Identity", nil, in))
	return b.Graph()
}

// testAttrs exercises every attribute kind, types of every kind, odd
// names, omitted inputs and outputs, custom domains and zero outputs.
func testAttrs() *Graph {
	b := NewBuilder("attrs")
	g := b.Graph()
	g.Opsets["com.example"] = 3
	g.Opsets["ai.onnx.preview.training"] = 1
	x := b.Input("onnx::Input 0", TensorType(Float32, Shape{Sym("batch size"), Sym("seq"), UnknownDim(), D(4)}))
	s := b.Input("s", Type{Kind: KindSequence, Elem: &Type{Kind: KindTensor, DType: Int64}})
	o := b.Input("o", Type{Kind: KindOptional, Elem: &Type{Kind: KindSequence, Elem: &Type{Kind: KindTensor, DType: String, Ranked: true, Shape: Shape{}}}})
	u := b.Input("u", Type{Kind: KindTensor, DType: Undefined, Ranked: true, Shape: Shape{D(2)}})
	e := b.Input("e", Type{Kind: KindSequence})
	sub := NewBuilder("body")
	sx := sub.Input("sx", TensorType(Float32, Shape{}))
	sub.Output(sub.Op1("Neg", nil, sx))
	sub2 := NewBuilder("second")
	sy := sub2.Input("sy", Type{})
	sub2.Output(sub2.Op1("Identity", nil, sy))
	sub2.Graph().Opsets = nil
	sub.Graph().Opsets = nil
	attrs := map[string]*Attr{
		"f":            FloatAttr(1.5),
		"f_int":        FloatAttr(3),
		"f_negzero":    FloatAttr(float32(math.Copysign(0, -1))),
		"f_inf":        FloatAttr(float32(math.Inf(-1))),
		"f_nan":        FloatAttr(math.Float32frombits(0x7fc00000)),
		"f_tiny":       FloatAttr(1e-45),
		"i":            IntAttr(-3),
		"s":            StringAttr("a \"string\"\n\twith escapes ☃"),
		"s_empty":      StringAttr(""),
		"t":            TensorAttr(FromSlice(Int32, []int64{2}, []int32{1, 2})),
		"g":            GraphAttr(sub.Graph()),
		"fs":           FloatsAttr(1, -2.5, 1e10),
		"is":           IntsAttr(1, -2, 3),
		"ss":           {Kind: AttrStrings, Strings: []string{"x", "", "y z"}},
		"ts":           {Kind: AttrTensors, Tensors: []*Tensor{ScalarF32(2), FromSlice(Bool, []int64{1}, []bool{true})}},
		"gs":           {Kind: AttrGraphs, Graphs: []*Graph{sub2.Graph()}},
		"empty_fs":     {Kind: AttrFloats},
		"empty_is":     {Kind: AttrInts},
		"empty_ss":     {Kind: AttrStrings},
		"empty_ts":     {Kind: AttrTensors},
		"empty_gs":     {Kind: AttrGraphs},
		"type":         {Kind: AttrTypeProto},
		"weird-name.1": IntAttr(0),
	}
	n := &Node{Op: "Custom", Domain: "com.example", Name: "custom \"node\"", Attrs: attrs,
		Inputs: []*Value{x, nil, s, o, u, e}}
	y := &Value{Name: "/model/y:0", Def: n}
	z := &Value{Name: "z", Def: n, Type: Type{Kind: KindOptional}}
	n.Outputs = []*Value{y, nil, z}
	g.Nodes = append(g.Nodes, n)
	// A node without outputs and a training-domain node without a name.
	g.Nodes = append(g.Nodes, &Node{Op: "Sink", Domain: "com.example", Inputs: []*Value{y}})
	g.Outputs = []*Value{y, x}
	return g
}

// testControl has If and Loop nodes whose bodies read outer values, and a
// subgraph nested in a subgraph.
func testControl() *Graph {
	b := NewBuilder("control")
	cond := b.Input("cond", TensorType(Bool, Shape{}))
	x := b.Input("x", TensorType(Float32, Shape{Sym("N"), D(4)}))
	one := b.Const("one", ScalarF32(1))

	thenB := NewBuilder("then")
	thenB.Graph().Opsets = nil
	ty := thenB.Op1("Add", nil, x, one) // reads outer x and one
	thenB.Output(ty)
	elseB := NewBuilder("else")
	elseB.Graph().Opsets = nil
	inner := NewBuilder("inner")
	inner.Graph().Opsets = nil
	inner.Output(inner.Op1("Neg", nil, x))
	inner2 := NewBuilder("inner2")
	inner2.Graph().Opsets = nil
	inner2.Output(inner2.Op1("Abs", nil, x))
	ey := elseB.Op1("If", map[string]*Attr{"then_branch": GraphAttr(inner.Graph()), "else_branch": GraphAttr(inner2.Graph())}, cond)
	elseB.Output(ey)
	r := b.Op1("If", map[string]*Attr{"then_branch": GraphAttr(thenB.Graph()), "else_branch": GraphAttr(elseB.Graph())}, cond)

	body := NewBuilder("body")
	body.Graph().Opsets = nil
	it := body.Input("i", Type{})
	bc := body.Input("c", Type{})
	acc := body.Input("acc", Type{})
	_ = it
	nacc := body.Op1("Mul", nil, acc, r) // reads the outer If result
	body.Output(body.Op1("Identity", nil, bc), nacc, body.Op1("Identity", nil, nacc))
	trips := b.Const("trips", ScalarI64(3))
	outs := b.Op("Loop", []*Value{trips, nil, x}, map[string]*Attr{"body": GraphAttr(body.Graph())}, 2)
	b.Output(outs...)
	g := b.Graph()
	if err := InferShapes(g); err != nil {
		panic(err)
	}
	return g
}

// testGraphs are the golden and round-trip cases.
var testGraphs = []struct {
	name  string
	build func() *Graph
	valid bool // passes Verify
}{
	{"cnn", testCNN, true},
	{"dtypes", testDTypes, true},
	{"attrs", testAttrs, false}, // custom ops are not registered
	{"control", testControl, true},
}
