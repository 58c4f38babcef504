package ir

import (
	"strings"
	"testing"
)

// inferCase parses a graph body written in the text format, runs
// InferShapes and returns the types of the last node's outputs joined by
// "; " (or "error: ..." when inference fails).
func inferCase(t *testing.T, ins, body string) string {
	t.Helper()
	src := "graph g(" + ins + ") -> () opset{\"\"=17} {\n" + body + "\n  return\n}"
	if strings.Contains(body, "opset:") {
		// "opset:N" on the first line of the body selects another version.
		line, rest, _ := strings.Cut(body, "\n")
		src = "graph g(" + ins + ") -> () opset{\"\"=" + strings.TrimPrefix(strings.TrimSpace(line), "opset:") + "} {\n" + rest + "\n  return\n}"
	}
	g, err := Parse(src)
	if err != nil {
		t.Fatalf("bad test graph: %v\n%s", err, src)
	}
	if err := InferShapes(g); err != nil {
		return "error: " + err.Error()
	}
	n := g.Nodes[len(g.Nodes)-1]
	var out []string
	for _, v := range n.Outputs {
		if v == nil {
			out = append(out, "_")
			continue
		}
		out = append(out, typeText(v.Type))
	}
	return strings.Join(out, "; ")
}

// TestInferShapes: expected shapes are worked out by hand from the ONNX
// operator definitions (formulas in the comments).
func TestInferShapes(t *testing.T) {
	cases := []struct {
		name, ins, body, want string
	}{
		// out = floor((32 + 1 + 1 - 3) / 2) + 1 = 16
		{"conv stride pad", "%x: f32[1,3,32,32], %w: f32[8,3,3,3]",
			"%y = Conv(%x, %w) {pads=[1,1,1,1], strides=[2,2]}", "f32[1,8,16,16]"},
		// kernel from the weight; dilation 2 gives an effective kernel of 5: 10 - 5 + 1 = 6
		{"conv depthwise dilated", "%x: f32[N,8,10,10], %w: f32[8,1,3,3]",
			"%y = Conv(%x, %w) {group=8, dilations=[2,2]}", "f32[N,8,6,6]"},
		// SAME_UPPER: ceil(15 / 2) = 8
		{"conv same", "%x: f32[2,3,15,15], %w: f32[4,3,3,3]",
			"%y = Conv(%x, %w) {auto_pad=\"SAME_UPPER\", strides=[2,2]}", "f32[2,4,8,8]"},
		// VALID: floor((15 - 3) / 2) + 1 = 7
		{"conv valid 1d", "%x: f32[2,3,15], %w: f32[4,3,3]",
			"%y = Conv(%x, %w) {auto_pad=\"VALID\", strides=[2]}", "f32[2,4,7]"},
		{"conv channel mismatch", "%x: f32[1,4,8,8], %w: f32[8,3,3,3]",
			"%y = Conv(%x, %w)", "error: input has 4 channels"},
		// 2·(5−1) + 1 + 3 − 1 − 1 = 10 spatial; 2 output channels per group
		{"conv transpose", "%x: f32[1,4,5,5], %w: f32[4,2,3,3]",
			"%y = ConvTranspose(%x, %w) {strides=[2,2], pads=[1,1,1,1], output_padding=[1,1]}", "f32[1,2,10,10]"},
		{"conv transpose output_shape", "%x: f32[1,4,5,5], %w: f32[4,2,3,3]",
			"%y = ConvTranspose(%x, %w) {strides=[2,2], output_shape=[11,12]}", "f32[1,2,11,12]"},
		// floor((32 + 2 − 3) / 2) + 1 = 16; indices share the shape
		{"maxpool", "%x: f32[1,3,32,32]",
			"%y, %i = MaxPool(%x) {kernel_shape=[3,3], pads=[1,1,1,1], strides=[2,2]}", "f32[1,3,16,16]; i64[1,3,16,16]"},
		// ceil((4 − 3) / 2) + 1 = 2; floor gives 1
		{"maxpool ceil", "%x: f32[1,1,4,4]",
			"%y = MaxPool(%x) {kernel_shape=[3,3], strides=[2,2], ceil_mode=1}", "f32[1,1,2,2]"},
		{"maxpool floor", "%x: f32[1,1,4,4]",
			"%y = MaxPool(%x) {kernel_shape=[3,3], strides=[2,2]}", "f32[1,1,1,1]"},
		{"avgpool", "%x: f16[N,C,H,8]",
			"%y = AveragePool(%x) {kernel_shape=[2,2], strides=[2,2]}", "f16[N,C,?,4]"},
		{"global pool", "%x: f32[N,16,7,7]", "%y = GlobalAveragePool(%x)", "f32[N,16,1,1]"},
		// (2,1,3,4) @ (5,4,6): batch (2,5), rows 3, cols 6
		{"matmul batch", "%a: f32[2,1,3,4], %b: f32[5,4,6]", "%y = MatMul(%a, %b)", "f32[2,5,3,6]"},
		{"matmul vec left", "%a: f32[4], %b: f32[4,6]", "%y = MatMul(%a, %b)", "f32[6]"},
		{"matmul vec right", "%a: f32[B,3,4], %b: f32[4]", "%y = MatMul(%a, %b)", "f32[B,3]"},
		{"matmul mismatch", "%a: f32[3,4], %b: f32[5,6]", "%y = MatMul(%a, %b)", "error: matmul inner dims 4 and 5 differ"},
		{"matmulinteger", "%a: u8[3,4], %b: u8[4,2]", "%y = MatMulInteger(%a, %b)", "i32[3,2]"},
		// transA: A is (K=4, M=3); transB: B is (N=5, K=4)
		{"gemm", "%a: f32[4,3], %b: f32[5,4], %c: f32[5]", "%y = Gemm(%a, %b, %c) {transA=1, transB=1}", "f32[3,5]"},
		{"add broadcast", "%a: f32[N,3,1], %b: f32[4]", "%y = Add(%a, %b)", "f32[N,3,4]"},
		{"add symbolic", "%a: f32[N,1], %b: f32[1,M]", "%y = Mul(%a, %b)", "f32[N,M]"},
		{"add symbolic concrete", "%a: f32[N,5], %b: f32[7,5]", "%y = Sub(%a, %b)", "f32[7,5]"},
		{"add mismatch", "%a: f32[3], %b: f32[4]", "%y = Add(%a, %b)", "error: shapes [[3] [4]] do not broadcast"},
		{"add dtype mismatch", "%a: f32[3], %b: i64[3]", "%y = Add(%a, %b)", "error: input 0 is f32, input 1 is i64"},
		{"add unranked", "%a: f32[*], %b: f32[3]", "%y = Add(%a, %b)", "f32[*]"},
		{"pow mixed", "%a: f32[2,3], %b: i64[]", "%y = Pow(%a, %b)", "f32[2,3]"},
		{"legacy broadcast", "%a: f32[2,3,4], %b: f32[3]", "opset:6\n%y = Add(%a, %b) {broadcast=1, axis=1}", "f32[2,3,4]"},
		{"sum variadic", "%a: f32[3,1], %b: f32[4], %c: f32[1,1]", "%y = Sum(%a, %b, %c)", "f32[3,4]"},
		{"equal", "%a: i64[2,3], %b: i64[3]", "%y = Equal(%a, %b)", "bool[2,3]"},
		{"and", "%a: bool[2], %b: bool[2]", "%y = And(%a, %b)", "bool[2]"},
		{"not", "%a: bool[N]", "%y = Not(%a)", "bool[N]"},
		{"isnan", "%a: f32[2,2]", "%y = IsNaN(%a)", "bool[2,2]"},
		{"where", "%c: bool[N,1], %a: f32[3], %b: f32[]", "%y = Where(%c, %a, %b)", "f32[N,3]"},
		{"cast", "%a: f32[2,N]", "%y = Cast(%a) {to=7}", "i64[2,N]"},
		{"castlike", "%a: f32[2,N], %b: f16[1]", "%y = CastLike(%a, %b)", "f16[2,N]"},
		{"clip", "%a: f32[2,3], %lo: f32[], %hi: f32[]", "%y = Clip(%a, %lo, %hi)", "f32[2,3]"},
		{"activations", "%a: f32[N,7]", "%y = LeakyRelu(%a) {alpha=0.1}", "f32[N,7]"},
		{"softmax", "%a: f32[N,7]", "%y = Softmax(%a)", "f32[N,7]"},
		{"prelu", "%a: f32[N,3,8], %s: f32[3,1]", "%y = PRelu(%a, %s)", "f32[N,3,8]"},
		{"batchnorm", "%x: f32[N,3,8,8], %s: f32[3], %b: f32[3], %m: f32[3], %v: f32[3]",
			"%y = BatchNormalization(%x, %s, %b, %m, %v)", "f32[N,3,8,8]"},
		{"batchnorm training", "%x: f32[N,3,8,8], %s: f32[3], %b: f32[3], %m: f32[3], %v: f32[3]",
			"%y, %rm, %rv = BatchNormalization(%x, %s, %b, %m, %v) {training_mode=1}", "f32[N,3,8,8]; f32[3]; f32[3]"},
		{"instancenorm", "%x: f32[N,3,8], %s: f32[3], %b: f32[3]", "%y = InstanceNormalization(%x, %s, %b)", "f32[N,3,8]"},
		// Mean and InvStdDev keep the dims before axis and set the rest to 1.
		{"layernorm", "%x: f16[B,T,64], %s: f16[64], %b: f16[64]",
			"%y, %mean, %inv = LayerNormalization(%x, %s, %b) {axis=-1}", "f16[B,T,64]; f32[B,T,1]; f32[B,T,1]"},
		{"dropout", "%x: f32[N,4]", "%y, %m = Dropout(%x)", "f32[N,4]; bool[N,4]"},
		{"flatten", "%x: f32[N,3,4,5]", "%y = Flatten(%x) {axis=2}", "f32[?,20]"},
		{"flatten batch", "%x: f32[N,3,4]", "%y = Flatten(%x)", "f32[N,12]"},
		{"flatten 0", "%x: f32[2,3,4]", "%y = Flatten(%x) {axis=0}", "f32[1,24]"},
		{"reshape 0 -1", "%x: f32[N,3,4,5]",
			"const %s: i64[2] = dense<[0, -1]>\n%y = Reshape(%x, %s)", "f32[N,60]"},
		{"reshape -1 symbolic", "%x: f32[N,3,4,5]",
			"const %s: i64[3] = dense<[-1, 4, 5]>\n%y = Reshape(%x, %s)", "f32[?,4,5]"},
		{"reshape -1 concrete", "%x: f32[2,3,4,5]",
			"const %s: i64[3] = dense<[-1, 4, 5]>\n%y = Reshape(%x, %s)", "f32[6,4,5]"},
		{"reshape bad", "%x: f32[2,3]", "const %s: i64[1] = dense<[5]>\n%y = Reshape(%x, %s)", "error: cannot reshape f32[2,3] to [5]"},
		{"reshape unknown shape", "%x: f32[2,3], %s: i64[3]", "%y = Reshape(%x, %s)", "f32[?,?,?]"},
		// Shape → Slice → Concat → Reshape: [B, T, 64] to [B, T, 8, 8].
		{"reshape from shape chain", "%x: f32[B,T,64]",
			`const %starts: i64[1] = dense<[0]>
const %ends: i64[1] = dense<[2]>
const %tail: i64[2] = dense<[8, 8]>
%s = Shape(%x)
%bt = Slice(%s, %starts, %ends)
%target = Concat(%bt, %tail) {axis=0}
%y = Reshape(%x, %target)`, "f32[B,T,8,8]"},
		// Shape → Gather → Unsqueeze → Concat with a Constant node.
		{"reshape from gather chain", "%x: f32[B,T,64]",
			`const %i0: i64[] = dense<[0]>
const %ax: i64[1] = dense<[0]>
%s = Shape(%x)
%b = Gather(%s, %i0) {axis=0}
%bu = Unsqueeze(%b, %ax)
%rest = Constant() {value=dense<i64[1] [-1]>}
%target = Concat(%bu, %rest) {axis=0}
%y = Reshape(%x, %target)`, "f32[B,?]"},
		{"shape", "%x: f32[B,T,64]", "%s = Shape(%x) {start=1}", "i64[2]"},
		{"size", "%x: f32[B,T,64]", "%s = Size(%x)", "i64[]"},
		{"squeeze attr", "%x: f32[3,1,4]", "opset:11\n%y = Squeeze(%x) {axes=[1]}", "f32[3,4]"},
		{"squeeze input", "%x: f32[3,1,4]", "const %a: i64[1] = dense<[-2]>\n%y = Squeeze(%x, %a)", "f32[3,4]"},
		{"squeeze all", "%x: f32[1,3,1]", "%y = Squeeze(%x)", "f32[3]"},
		{"squeeze wrong", "%x: f32[3,2]", "const %a: i64[1] = dense<[1]>\n%y = Squeeze(%x, %a)", "error: cannot squeeze dim 1 of size 2"},
		// Output rank 4: axes 0 and −1 → 3.
		{"unsqueeze", "%x: f32[3,4]", "const %a: i64[2] = dense<[0, -1]>\n%y = Unsqueeze(%x, %a)", "f32[1,3,4,1]"},
		{"transpose", "%x: f32[A,B,C]", "%y = Transpose(%x) {perm=[2,0,1]}", "f32[C,A,B]"},
		{"transpose default", "%x: f32[A,B,C]", "%y = Transpose(%x)", "f32[C,B,A]"},
		{"concat", "%a: f32[2,3], %b: f32[2,4]", "%y = Concat(%a, %b) {axis=1}", "f32[2,7]"},
		{"concat symbolic", "%a: f32[2,3], %b: f32[2,N]", "%y = Concat(%a, %b) {axis=-1}", "f32[2,?]"},
		{"concat mismatch", "%a: f32[2,3], %b: f32[3,3]", "%y = Concat(%a, %b) {axis=1}", "error: inputs differ in dim 0"},
		{"split equal", "%x: f32[6,4]", "%a, %b = Split(%x)", "f32[3,4]; f32[3,4]"},
		{"split sizes", "%x: f32[6,4]", "const %s: i64[2] = dense<[2, 4]>\n%a, %b = Split(%x, %s)", "f32[2,4]; f32[4,4]"},
		{"split attr", "%x: f32[6,4]", "opset:11\n%a, %b = Split(%x) {axis=1, split=[1,3]}", "f32[6,1]; f32[6,3]"},
		// axis 0: indices 1, 3, 5, 7 (end −1 → 9); axis 1: [0, 1000) clamps to 20
		{"slice", "%x: f32[10,20]",
			"const %s: i64[2] = dense<[1, 0]>\nconst %e: i64[2] = dense<[-1, 1000]>\nconst %a: i64[2] = dense<[0, 1]>\nconst %st: i64[2] = dense<[2, 1]>\n%y = Slice(%x, %s, %e, %a, %st)",
			"f32[4,20]"},
		// start −1 → 9, end clamps to −1, step −1: indices 9..0 = 10 elements
		{"slice reverse", "%x: f32[10]",
			"const %s: i64[1] = dense<[-1]>\nconst %e: i64[1] = dense<[-1000]>\nconst %a: i64[1] = dense<[0]>\nconst %st: i64[1] = dense<[-1]>\n%y = Slice(%x, %s, %e, %a, %st)",
			"f32[10]"},
		{"slice symbolic full", "%x: f32[N,20]",
			"const %s: i64[1] = dense<[0]>\nconst %e: i64[1] = dense<[9223372036854775807]>\nconst %a: i64[1] = dense<[0]>\n%y = Slice(%x, %s, %e, %a)",
			"f32[N,20]"},
		{"slice opset 9", "%x: f32[10,20]", "opset:9\n%y = Slice(%x) {starts=[2], ends=[5], axes=[1]}", "f32[10,3]"},
		{"slice unknown", "%x: f32[10,20], %s: i64[1], %e: i64[1]", "%y = Slice(%x, %s, %e)", "f32[?,20]"},
		// data[:1] + indices + data[2:]
		{"gather", "%x: f32[5,6,7], %i: i64[2,3]", "%y = Gather(%x, %i) {axis=1}", "f32[5,2,3,7]"},
		{"gather scalar", "%x: f32[5,6], %i: i64[]", "%y = Gather(%x, %i)", "f32[6]"},
		{"expand", "%x: f32[3,1]", "const %s: i64[3] = dense<[2, 1, 4]>\n%y = Expand(%x, %s)", "f32[2,3,4]"},
		{"tile", "%x: f32[2,N]", "const %r: i64[2] = dense<[2, 1]>\n%y = Tile(%x, %r)", "f32[4,N]"},
		{"pad", "%x: f32[2,3]", "const %p: i64[4] = dense<[0, 1, 0, 2]>\n%y = Pad(%x, %p)", "f32[2,6]"},
		{"pad negative", "%x: f32[5,N]", "const %p: i64[4] = dense<[-1, 0, -2, 0]>\n%y = Pad(%x, %p)", "f32[2,N]"},
		{"pad opset 2", "%x: f32[2,3]", "opset:2\n%y = Pad(%x) {pads=[1,1,1,1]}", "f32[4,5]"},
		{"constantofshape", "", "const %s: i64[2] = dense<[2, 3]>\n%y = ConstantOfShape(%s) {value=dense<i64[1] [7]>}", "i64[2,3]"},
		{"constantofshape default", "%s: i64[3]", "%y = ConstantOfShape(%s)", "f32[?,?,?]"},
		{"constant", "", "%y = Constant() {value_ints=[1, 2, 3]}", "i64[3]"},
		{"range", "", "const %a: i64[] = dense<[1]>\nconst %b: i64[] = dense<[10]>\nconst %c: i64[] = dense<[3]>\n%y = Range(%a, %b, %c)", "i64[3]"},
		{"reduce keepdims", "%x: f32[2,3,4]", "opset:13\n%y = ReduceMean(%x) {axes=[1]}", "f32[2,1,4]"},
		{"reduce no keepdims", "%x: f32[2,3,4]", "opset:13\n%y = ReduceMax(%x) {axes=[-1, 0], keepdims=0}", "f32[3]"},
		{"reduce all", "%x: f32[2,3,4]", "opset:13\n%y = ReduceL2(%x)", "f32[1,1,1]"},
		{"reducesum input", "%x: f32[2,3,4]", "const %a: i64[1] = dense<[1]>\n%y = ReduceSum(%x, %a) {keepdims=0}", "f32[2,4]"},
		{"reducesum noop", "%x: f32[2,3,4]", "const %a: i64[0] = dense<[]>\n%y = ReduceSum(%x, %a) {noop_with_empty_axes=1}", "f32[2,3,4]"},
		{"argmax", "%x: f32[2,3,4]", "%y = ArgMax(%x) {axis=1, keepdims=0}", "i64[2,4]"},
		{"topk", "%x: f32[2,10]", "const %k: i64[1] = dense<[3]>\n%v, %i = TopK(%x, %k)", "f32[2,3]; i64[2,3]"},
		// floor(8·2) = 16
		{"resize scales", "%x: f32[1,3,8,8]",
			"const %s: f32[4] = dense<[1.0, 1.0, 2.0, 2.0]>\n%y = Resize(%x, _, %s)", "f32[1,3,16,16]"},
		{"resize sizes", "%x: f32[N,3,8,8]",
			"const %s: i64[4] = dense<[1, 3, 5, 7]>\n%y = Resize(%x, _, _, %s)", "f32[1,3,5,7]"},
		{"resize opset 10", "%x: f32[1,3,8,8]",
			"opset:10\nconst %s: f32[4] = dense<[1.0, 1.0, 0.5, 1.5]>\n%y = Resize(%x, %s)", "f32[1,3,4,12]"},
		{"upsample opset 7", "%x: f32[1,3,8,8]", "opset:7\n%y = Upsample(%x) {scales=[1.0, 1.0, 2.0, 3.0]}", "f32[1,3,16,24]"},
		{"depthtospace", "%x: f32[N,8,3,4]", "%y = DepthToSpace(%x) {blocksize=2}", "f32[N,2,6,8]"},
		// X (seq 5, batch 2, input 10); Y (seq, dirs, batch, hidden)
		{"lstm bidirectional", "%x: f32[5,2,10], %w: f32[2,28,10], %r: f32[2,28,7]",
			"%y, %yh, %yc = LSTM(%x, %w, %r) {direction=\"bidirectional\", hidden_size=7}", "f32[5,2,2,7]; f32[2,2,7]; f32[2,2,7]"},
		{"gru layout 1", "%x: f32[B,T,10], %w: f32[1,21,10], %r: f32[1,21,7]",
			"%y, %yh = GRU(%x, %w, %r) {layout=1}", "f32[B,T,1,7]; f32[B,1,7]"},
		{"rnn only yh", "%x: f32[T,B,3], %w: f32[1,4,3], %r: f32[1,4,4]",
			"_, %yh = RNN(%x, %w, %r) {hidden_size=4}", "_; f32[1,B,4]"},
		// Where(Equal(s, -1), ones, s) on the known vector [2, -1] gives [2, 1].
		{"where on shape values", "%x: f32[2,1]",
			`const %s: i64[2] = dense<[2, -1]>
const %m1: i64[] = dense<[-1]>
const %ones: i64[2] = dense<[1, 1]>
%eq = Equal(%s, %m1)
%w = Where(%eq, %ones, %s)
%y = Expand(%x, %w)`, "f32[2,1]"},
		// The condition Shape(x)[1] == 1 is known: the then branch's type wins.
		{"if static condition", "%x: f32[3,1,5]",
			`const %i: i64[] = dense<[1]>
const %one: i64[] = dense<[1]>
const %ax: i64[1] = dense<[1]>
%s = Shape(%x)
%d = Gather(%s, %i)
%c = Equal(%d, %one)
%y = If(%c) {else_branch=graph e() -> (%b: f32[3,1,5]) {
  %b: f32[3,1,5] = Identity(%x)
  return %b
}, then_branch=graph t() -> (%a: f32[3,5]) {
  %a: f32[3,5] = Squeeze(%x, %ax)
  return %a
}}`, "f32[3,5]"},
		{"identity seq", "%s: seq<f32[2]>", "%y = Identity(%s)", "seq<f32[2]>"},
		{"sequence construct", "%a: f32[2,3], %b: f32[2,4]", "%y = SequenceConstruct(%a, %b)", "seq<f32[2,?]>"},
		{"quantize", "%x: f32[N,4], %s: f32[], %z: i8[]", "%y = QuantizeLinear(%x, %s, %z)", "i8[N,4]"},
		{"dequantize", "%x: u8[N,4], %s: f32[], %z: u8[]", "%y = DequantizeLinear(%x, %s, %z)", "f32[N,4]"},
		{"unknown op", "%x: f32[2]", "%y = Unique(%x)", "?[*]"},
		{"unregistered op", "%x: f32[2]", "%y = com.example.Foo(%x)", "?[*]"},
		// Declared types: unknown dims get filled, symbols kept, conflicts fail.
		{"fill declared unknown dims", "%x: f32[2,3]", "%y: f32[?,3] = Relu(%x)", "f32[2,3]"},
		{"keep declared symbol", "%x: f32[2,3]", "%y: f32[B,3] = Relu(%x)", "f32[B,3]"},
		{"keep declared unranked dtype", "%x: f32[2,3]", "%y: f32[*] = Relu(%x)", "f32[2,3]"},
		{"declared conflict", "%x: f32[2,3]", "%y: f32[2,4] = Relu(%x)", `error: Relu node producing "y": output 0 (y): declared f32[2,4], inferred f32[2,3] (dim 1)`},
		{"declared dtype conflict", "%x: f32[2,3]", "%y: i64[*] = Relu(%x)", "error: Relu node producing \"y\": output 0 (y): declared i64[*], inferred f32[2,3]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := inferCase(t, c.ins, c.body)
			if strings.HasPrefix(c.want, "error: ") {
				if !strings.HasPrefix(got, "error: ") || !strings.Contains(got, strings.TrimPrefix(c.want, "error: ")) {
					t.Errorf("got %s, want %s", got, c.want)
				}
				return
			}
			if got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

// TestInferSubgraphs: If joins its branches, Loop types its carried values
// and stacks its scan outputs, Scan slices its inputs.
func TestInferSubgraphs(t *testing.T) {
	g := testControl()
	if got := typeText(g.Nodes[0].Outputs[0].Type); got != "f32[N,4]" {
		t.Errorf("If output %s", got)
	}
	lbody := g.Nodes[1].Attrs["body"].Graph
	if got := typeText(lbody.Inputs[2].Type); got != "f32[N,4]" {
		t.Errorf("Loop body carried input %s", got)
	}
	if got := typeText(g.Nodes[1].Outputs[1].Type); got != "f32[3,N,4]" {
		t.Errorf("Loop scan output %s", got)
	}

	src := `graph g(%x: f32[2,3], %c: bool[]) -> () opset{""=17} {
  %y = If(%c) {else_branch=graph e() -> (%b: ?[*]) {
    %b = Concat(%x, %x) {axis=0}
    return %b
  }, then_branch=graph t() -> (%a: ?[*]) {
    %a = Identity(%x)
    return %a
  }}
  %s1, %s2 = Scan(%x, %x) {body=graph body(%acc: ?[*], %row: ?[*]) -> (%acc2: ?[*], %out: ?[*]) {
    %acc2 = Add(%acc, %row)
    %out = Neg(%row)
    return %acc2, %out
  }, num_scan_inputs=1, scan_output_axes=[1]}
  return
}`
	g, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := InferShapes(g); err != nil {
		t.Fatal(err)
	}
	// Branches [2,3] and [4,3] join to [?,3].
	if got := typeText(g.Nodes[0].Outputs[0].Type); got != "f32[?,3]" {
		t.Errorf("If output %s", got)
	}
	// State (2,3) + row (3) broadcasts to (2,3); the scan output (3)
	// gains the 2 iterations at axis 1.
	if got := typeText(g.Nodes[1].Outputs[0].Type) + " " + typeText(g.Nodes[1].Outputs[1].Type); got != "f32[2,3] f32[3,2]" {
		t.Errorf("Scan outputs %s", got)
	}

	// A loop state that grows: [0] on entry, [1] after one iteration. The
	// body must not be typed as if the state stayed [0].
	src = `graph g(%n: i64[]) -> () opset{""=17} {
  const %init: f32[0] = dense<[]>
  const %one: f32[1] = dense<[1.0]>
  %acc_out = Loop(%n, _, %init) {body=graph body(%i: ?[*], %c: ?[*], %acc: ?[*]) -> (%c2: ?[*], %acc2: ?[*]) {
    %c2 = Identity(%c)
    %acc2 = Concat(%acc, %one) {axis=0}
    return %c2, %acc2
  }}
  return
}`
	if g, err = Parse(src); err != nil {
		t.Fatal(err)
	}
	if err := InferShapes(g); err != nil {
		t.Fatal(err)
	}
	body := g.Nodes[0].Attrs["body"].Graph
	got := typeText(body.Inputs[2].Type) + " " + typeText(body.Outputs[1].Type) + " " + typeText(g.Nodes[0].Outputs[0].Type)
	if got != "f32[?] f32[?] f32[?]" {
		t.Errorf("growing loop state: body input, body output, loop output = %s", got)
	}
}

// TestSchemaInfer checks the per-schema Infer entry point, which sees
// constant inputs but not the walk's propagated values.
func TestSchemaInfer(t *testing.T) {
	b := NewBuilder("g")
	x := b.Input("x", TensorType(Float32, ShapeOf(2, 3, 4)))
	s := b.Const("s", FromSlice(Int64, []int64{2}, []int64{-1, 4}))
	y := b.Op1("Reshape", nil, x, s)
	if err := LookupOp("", "Reshape").Infer(y.Def, 17); err != nil {
		t.Fatal(err)
	}
	if got := typeText(y.Type); got != "f32[6,4]" {
		t.Errorf("got %s", got)
	}
}

// TestGraphCost: FLOPs by hand; bytes are 4 per f32 element.
func TestGraphCost(t *testing.T) {
	cases := []struct {
		name, ins, body    string
		flops, read, wrote int64
	}{
		// 2·(2·4)·3 = 48
		{"matmul", "%a: f32[2,3], %b: f32[3,4]", "%y = MatMul(%a, %b)", 48, (6 + 12) * 4, 8 * 4},
		// 2·M·N·K + M·N = 2·4·5·3 + 20 = 140
		{"gemm", "%a: f32[4,3], %b: f32[3,5], %c: f32[5]", "%y = Gemm(%a, %b, %c)", 140, (12 + 15 + 5) * 4, 20 * 4},
		// 2 · (8·16·16 outputs) · (3·3·3) = 110592, plus 2048 for the bias
		{"conv", "%x: f32[1,3,32,32], %w: f32[8,3,3,3], %b: f32[8]",
			"%y = Conv(%x, %w, %b) {pads=[1,1,1,1], strides=[2,2]}", 110592 + 2048, (3*32*32 + 8*27 + 8) * 4, 8 * 16 * 16 * 4},
		// each of the 4·5·5 inputs feeds 2·3·3 outputs: 2·100·18 = 3600
		{"conv transpose", "%x: f32[1,4,5,5], %w: f32[4,2,3,3]",
			"%y = ConvTranspose(%x, %w) {strides=[2,2]}", 3600, (100 + 72) * 4, 2 * 11 * 11 * 4},
		// 16·16 outputs per channel × 3 channels × a 3·3 window
		{"maxpool", "%x: f32[1,3,32,32]", "%y = MaxPool(%x) {kernel_shape=[3,3], pads=[1,1,1,1], strides=[2,2]}",
			3 * 16 * 16 * 9, 3 * 32 * 32 * 4, 3 * 16 * 16 * 4},
		{"relu", "%x: f32[2,3]", "%y = Relu(%x)", 6, 24, 24},
		{"add broadcast", "%a: f32[2,3], %b: f32[3]", "%y = Add(%a, %b)", 6, 36, 24},
		{"reduce", "%x: f32[2,3,4]", "%y = ReduceSum(%x)", 24, 96, 4},
		{"reshape", "%x: f32[2,3]", "const %s: i64[1] = dense<[6]>\n%y = Reshape(%x, %s)", 0, 24 + 8, 24},
		{"layernorm", "%x: f32[2,4], %s: f32[4]", "%y = LayerNormalization(%x, %s)", 8 * 8, 48, 32},
		// 1 direction · 10 steps (seq 5 × batch 2) · (2·4·7·(10+7) + (4+3)·7)
		{"lstm", "%x: f32[5,2,10], %w: f32[1,28,10], %r: f32[1,28,7]",
			"%y = LSTM(%x, %w, %r) {hidden_size=7}", 10 * (2*4*7*17 + 7*7), (100 + 280 + 196) * 4, 70 * 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "graph g(" + c.ins + ") -> () opset{\"\"=17} {\n" + c.body + "\n  return\n}"
			g, err := Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := InferShapes(g); err != nil {
				t.Fatal(err)
			}
			cost, unknown := GraphCost(g)
			if unknown != 0 {
				t.Fatalf("%d nodes of unknown cost", unknown)
			}
			if cost.FLOPs != c.flops || cost.BytesRead != c.read || cost.BytesWritten != c.wrote {
				t.Errorf("cost %+v, want FLOPs %d, read %d, written %d", cost, c.flops, c.read, c.wrote)
			}
		})
	}
}

func TestGraphCostUnknown(t *testing.T) {
	g := testCNN() // batch N is symbolic: every node's cost is unknown
	if _, unknown := GraphCost(g); unknown != len(g.Nodes) {
		t.Errorf("%d unknown, want %d", unknown, len(g.Nodes))
	}
	g.Inputs[0].Type.Shape[0] = D(1)
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			o.Type = Type{}
		}
	}
	if err := InferShapes(g); err != nil {
		t.Fatal(err)
	}
	cost, unknown := GraphCost(g)
	if unknown != 0 {
		t.Errorf("%d unknown after fixing the batch", unknown)
	}
	// conv 2·2048·27 + 2048 bias; BN 2·2048; relu 2048; maxpool 512·4;
	// global pool 512; flatten 0; gemm 2·10·8 + 10
	want := int64(2*2048*27+2048) + 2*2048 + 2048 + 512*4 + 512 + 0 + (2*10*8 + 10)
	if cost.FLOPs != want {
		t.Errorf("FLOPs %d, want %d", cost.FLOPs, want)
	}
	if _, unknown := GraphCost(testControl()); unknown != 2 {
		t.Errorf("control flow nodes should have unknown cost, got %d unknown", unknown)
	}
}
