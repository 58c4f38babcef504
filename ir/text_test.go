package ir

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func printString(t testing.TB, g *Graph) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Print(&buf, g); err != nil {
		t.Fatalf("Print: %v", err)
	}
	return buf.String()
}

// TestPrintGolden compares printed graphs with testdata/<name>.txt.
func TestPrintGolden(t *testing.T) {
	for _, tc := range testGraphs {
		t.Run(tc.name, func(t *testing.T) {
			got := printString(t, tc.build())
			path := filepath.Join("testdata", tc.name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./ir -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("printed text differs from %s (rerun with -update if intended):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff shows the first differing line.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return "(no line differs)"
}

// TestRoundTrip checks print∘parse = id on the hand-built graphs and the
// golden files, and that parsing rebuilds the same structure.
func TestRoundTrip(t *testing.T) {
	for _, tc := range testGraphs {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.build()
			s1 := printString(t, g)
			g2, err := Parse(s1)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s2 := printString(t, g2); s2 != s1 {
				t.Fatalf("round trip differs:\n%s", lineDiff(s1, s2))
			}
			if tc.valid {
				if err := Verify(g); err != nil {
					t.Errorf("Verify(built): %v", err)
				}
				if err := Verify(g2); err != nil {
					t.Errorf("Verify(parsed): %v", err)
				}
			}
			compareGraphs(t, g, g2)
		})
	}
}

// compareGraphs checks the parts of two graphs that the text must carry
// exactly: tensor bits, attribute values and kinds, value linkage.
func compareGraphs(t *testing.T, a, b *Graph) {
	t.Helper()
	if len(a.Consts) != len(b.Consts) || len(a.Nodes) != len(b.Nodes) || len(a.Inputs) != len(b.Inputs) || len(a.Outputs) != len(b.Outputs) {
		t.Fatalf("graph %s: structure differs", a.Name)
	}
	for i, c := range a.Consts {
		if !sameTensor(c.Const, b.Consts[i].Const) {
			t.Errorf("const %s differs after round trip", c.Name)
		}
	}
	for i, n := range a.Nodes {
		m := b.Nodes[i]
		if n.Op != m.Op || n.Domain != m.Domain || n.Name != m.Name || len(n.Inputs) != len(m.Inputs) || len(n.Outputs) != len(m.Outputs) {
			t.Errorf("node %d differs: %s vs %s", i, n.Describe(), m.Describe())
			continue
		}
		for j, o := range m.Outputs {
			if o != nil && o.Def != m {
				t.Errorf("%s output %d: Def not linked", m.Describe(), j)
			}
		}
		for k, at := range n.Attrs {
			bt := m.Attrs[k]
			if bt == nil || at.Kind != bt.Kind {
				t.Errorf("%s attribute %s: kind differs", n.Describe(), k)
				continue
			}
			if at.Kind == AttrFloat && math.Float32bits(at.Float) != math.Float32bits(bt.Float) {
				t.Errorf("%s attribute %s: %v vs %v", n.Describe(), k, at.Float, bt.Float)
			}
			if at.Kind == AttrTensor && !sameTensor(at.Tensor, bt.Tensor) {
				t.Errorf("%s attribute %s: tensor differs", n.Describe(), k)
			}
			if at.Graph != nil {
				compareGraphs(t, at.Graph, bt.Graph)
			}
			for j := range at.Graphs {
				compareGraphs(t, at.Graphs[j], bt.Graphs[j])
			}
		}
	}
}

// sameTensor compares dtype, shape and element bits.
func sameTensor(a, b *Tensor) bool {
	if a.DType != b.DType || len(a.Shape) != len(b.Shape) || a.Len() != b.Len() {
		return false
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return false
		}
	}
	return bytes.Equal(tensorLEBytes(a), tensorLEBytes(b)) && (a.DType != String ||
		strings.Join(a.Data.([]string), "\x00") == strings.Join(b.Data.([]string), "\x00"))
}

// TestGoldenFilesParse checks that every file in testdata parses and
// prints back byte for byte.
func TestGoldenFilesParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		g, err := Parse(string(src))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if got := printString(t, g); got != string(src) {
			t.Errorf("%s does not print back identically:\n%s", f, lineDiff(string(src), got))
		}
	}
}

func TestPrintFloats(t *testing.T) {
	cases := []struct {
		f    float32
		want string
	}{
		{1, "1.0"}, {-2, "-2.0"}, {0.1, "0.1"}, {1e-5, "1e-05"}, {3.4028235e38, "3.4028235e+38"},
		{float32(math.Copysign(0, -1)), "-0.0"}, {float32(math.Inf(1)), "inf"}, {1e21, "1e+21"},
	}
	for _, c := range cases {
		if got := textF32(c.f); got != c.want {
			t.Errorf("textF32(%v) = %q, want %q", c.f, got, c.want)
		}
	}
	// f16 0x3555 is 0.333251953125 exactly; float32's shortest form of it.
	h := FromSlice(Float16, []int64{1}, []uint16{0x3555})
	if got := textElem(h, 0); got != "0.33325195" {
		t.Errorf("f16 0x3555 prints %q", got)
	}
}

type fakeEncoding struct{}

func (fakeEncoding) Kind() string                      { return "quant" }
func (fakeEncoding) Decode(t *Tensor) (*Tensor, error) { return nil, errors.New("fake") }
func (fakeEncoding) StoredBytes() int64                { return 1 }

func TestPrintErrors(t *testing.T) {
	cases := []struct {
		name string
		mod  func(g *Graph)
		want string
	}{
		{"encoding", func(g *Graph) {
			g.Consts[0].Const = &Tensor{DType: Float32, Shape: []int64{8, 3, 3, 3}, Enc: fakeEncoding{}}
		}, "cannot print the quant encoding"},
		{"duplicate name", func(g *Graph) { g.Nodes[1].Outputs[0].Name = g.Nodes[0].Outputs[0].Name }, "two values named"},
		{"use before def", func(g *Graph) { g.Nodes[0], g.Nodes[1] = g.Nodes[1], g.Nodes[0] }, "used where it is not defined"},
		{"nil node", func(g *Graph) { g.Nodes[2] = nil }, "nil node"},
		{"bad op", func(g *Graph) { g.Nodes[0].Op = "not an op" }, "not an identifier"},
		{"bad data", func(g *Graph) { g.Consts[1].Const.Data = []int64{1} }, "data of Go type"},
		{"bad attr", func(g *Graph) { g.Nodes[0].Attrs["x"] = &Attr{} }, "invalid attribute kind"},
		{"bad dtype", func(g *Graph) { g.Inputs[0].Type.DType = 99 }, "invalid dtype"},
	}
	for _, c := range cases {
		g := testCNN()
		c.mod(g)
		err := Print(&bytes.Buffer{}, g)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if s := g.String(); !strings.Contains(s, "# error:") {
			t.Errorf("%s: String() lacks the error comment", c.name)
		}
	}
}

func TestParseErrors(t *testing.T) {
	const head = "graph g(%x: f32[2]) -> (%y: f32[2]) {\n"
	cases := []struct {
		src, want string
	}{
		{"", "1:1: expected \"graph\""},
		{"graph g(%x: f32[2]) -> (%y: f32[2]) {\n  return %y\n}", "2:10: undefined value %y"},
		{head + "  %y = Relu(%z)\n  return %y\n}", "2:13: undefined value %z"},
		{head + "  %x = Relu(%x)\n  return %x\n}", "2:3: value %x is already defined"},
		{head + "  %y: f33[2] = Relu(%x)\n  return %y\n}", "2:7: unknown dtype \"f33\""},
		{head + "  %y = Relu(%x) {a=[]}\n  return %y\n}", "2:20: an empty list needs its kind"},
		{head + "  %y = Relu(%x) {a=1, a=2}\n  return %y\n}", "2:23: attribute a given twice"},
		{head + "  const %c: f32[2] = dense<[1]>\n  return %c\n}", "2:22: 1 elements for f32[2], want 2"},
		{head + "  const %c: u8[1] = dense<[256]>\n  return %c\n}", "2:28: 256 is out of range for u8"},
		{head + "  const %c: f32[2] = dense<base64 \"AAAA\">\n  return %c\n}", "2:35: 3 bytes for f32[2], want 8"},
		{head + "  const %c: f32[*] = dense<[1]>\n  return %c\n}", "2:22: the const type f32[*] does not give"},
		{head + "  %y = Relu(%x) {t=dense<[1]>}\n  return %y\n}", "2:26: a tensor literal outside a const needs its type"},
		{head + "  %y = Relu(%x)\n  return %y\n}", "1:25: output %y is declared f32[2] but has type ?[*]"},
		{head + "  %y: f32[2] = Relu(%x)\n  return %x\n}", "3:10: return value %x does not match"},
		{head + "  %y: f32[2] = Relu(%x)\n  return %y\n} extra", "4:3: unexpected \"extra\""},
		{head + "  %y: f32[2] = Relu(%x) {f=1e99}\n  return %y\n}", "2:28: invalid or out-of-range float"},
		{head + "  %y: f32[2] = Relu(%x) {f=nan:0x1}\n  return %y\n}", "2:28: 0x1 is not a float32 NaN"},
		{head + "  %y: f32[2] = Relu(%x) @\n  return %y\n}", "2:25: unexpected character '@'"},
		{head + "  %y: f32[2] = Relu(%x) {s=\"abc}\n  return %y\n}", "2:28: unterminated or invalid string"},
		{"graph g() -> () {\n  const %c: bool[1] = dense<base64 \"Ag==\">\n  return\n}", "bool byte 2 is not 0 or 1"},
		{"graph g() -> () {\n  const %c: f32[100000,100000] = dense<[]>\n  return\n}", "is too large"},
		{"graph g(%x: seq<seq<" + strings.Repeat("seq<", 300) + "?>>) -> () {\n  return\n}", "nesting deeper than"},
		{"graph g(%x: f32[-1]) -> () {\n  return\n}", "1:17: invalid dim -1"},
		{"graph g() -> () opset{\"\"=1, \"\"=2} {\n  return\n}", "opset \"\" given twice"},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q):\n  error %v\n  want  %q", c.src, err, c.want)
		}
	}
}

// TestParseAccepts covers syntax the printer never writes: comments,
// types left out of consts, floats given as integers in tensors.
func TestParseAccepts(t *testing.T) {
	src := `# a comment
graph "g 1"(%x: f32[2]) -> (%y: f32[2]) {
  const %c = dense<f32[2] [1, -2.5]>   # type from the literal
  %y: f32[2] = Add(%x, %c)
  return %y
}`
	g, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	c := g.Consts[0]
	if typeText(c.Type) != "f32[2]" || c.Const.Data.([]float32)[1] != -2.5 || g.Name != "g 1" {
		t.Errorf("parsed %v %v %q", c.Type, c.Const.Data, g.Name)
	}
	if err := Verify(g); err != nil {
		t.Error(err)
	}
}

// FuzzParse: parsing never panics, and when it succeeds the printed form
// parses back to the same text.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err == nil {
			f.Add(string(src))
		}
	}
	f.Add("graph g(%x: f32[N,?]) -> (%x: f32[N,?]) {\n  return %x\n}\n")
	f.Add("graph g() -> () {\n  () = Op() {a=[1.5, 2], b=ints[], c=dense<i4[3] [1, -8, 7]>}\n  return\n}\n")
	f.Fuzz(func(t *testing.T, src string) {
		g, err := Parse(src)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Print(&buf, g); err != nil {
			t.Fatalf("Print of a parsed graph failed: %v\ninput: %q", err, src)
		}
		s1 := buf.String()
		g2, err := Parse(s1)
		if err != nil {
			t.Fatalf("reparse failed: %v\nprinted:\n%s", err, s1)
		}
		buf.Reset()
		if err := Print(&buf, g2); err != nil {
			t.Fatal(err)
		}
		if buf.String() != s1 {
			t.Fatalf("print∘parse is not the identity:\n%s", lineDiff(s1, buf.String()))
		}
		// Whatever the graph, the checkers return errors, never panic.
		_ = Verify(g)
		if err := InferShapes(g); err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("InferShapes: %v\ninput:\n%s", err, s1)
		}
		GraphCost(g)
	})
}
