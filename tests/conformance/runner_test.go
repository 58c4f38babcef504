package conformance

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

func confTV(t *ir.Tensor) onnx.TestValue {
	return onnx.TestValue{Type: ir.TensorType(t.DType, ir.ShapeOf(t.Shape...)), Tensor: t, Present: true}
}

func f32(shape []int64, v ...float32) *ir.Tensor { return ir.FromSlice(ir.Float32, shape, v) }

// TestCompare checks the comparison rules on hand-made cases: the float
// tolerance is atol 1e-7 + rtol 1e-3 * |want|, so for want = 1000 any
// |diff| <= 1.0000001 passes.
func TestCompare(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	s2 := []int64{2}
	cases := []struct {
		name string
		got  interp.Value
		want onnx.TestValue
		diff string // substring of the difference; "" = match
	}{
		{"equal", f32(s2, 1, 2), confTV(f32(s2, 1, 2)), ""},
		{"within rtol", f32(s2, 1001, 0), confTV(f32(s2, 1000, 0)), ""},
		{"outside rtol", f32(s2, 1001.5, 0), confTV(f32(s2, 1000, 0)), "1 of 2 elements"},
		{"within atol", f32(s2, 5e-8, 0), confTV(f32(s2, 0, 0)), ""},
		{"outside atol", f32(s2, 2e-7, 0), confTV(f32(s2, 0, 0)), "[0]: got 2.00000002e-07, want 0"},
		{"nan matches nan", f32(s2, nan, 1), confTV(f32(s2, nan, 1)), ""},
		{"nan vs number", f32(s2, nan, 1), confTV(f32(s2, 0, 1)), "got NaN, want 0"},
		{"inf exact", f32(s2, inf, 1), confTV(f32(s2, inf, 1)), ""},
		{"inf vs -inf", f32(s2, inf, 1), confTV(f32(s2, -inf, 1)), "got +Inf, want -Inf"},
		{"inf vs big", f32(s2, 3e38, 1), confTV(f32(s2, inf, 1)), "differ"},
		{"dtype", ir.FromSlice(ir.Float64, s2, []float64{1, 2}), confTV(f32(s2, 1, 2)), "got dtype f64, want f32"},
		{"shape", f32([]int64{1, 2}, 1, 2), confTV(f32(s2, 1, 2)), "got shape [1 2], want [2]"},
		{"int exact", ir.FromSlice(ir.Int64, s2, []int64{1, 3}), confTV(ir.FromSlice(ir.Int64, s2, []int64{1, 2})), "[1]: got 3, want 2"},
		{"uint64 big", ir.FromSlice(ir.Uint64, s2, []uint64{math.MaxUint64, 0}), confTV(ir.FromSlice(ir.Uint64, s2, []uint64{math.MaxUint64 - 1, 0})), "got 18446744073709551615"},
		{"bool", ir.FromSlice(ir.Bool, s2, []bool{true, true}), confTV(ir.FromSlice(ir.Bool, s2, []bool{true, false})), "[1]: got true, want false"},
		{"string", ir.FromSlice(ir.String, s2, []string{"a", "b"}), confTV(ir.FromSlice(ir.String, s2, []string{"a", "c"})), `got "b", want "c"`},
		// f16 0x3C00 = 1.0, 0x3C01 = 1.0009766: within rtol 1e-3 of 1? 0.00098 <= 0.0010001: yes.
		{"f16", ir.FromSlice(ir.Float16, s2, []uint16{0x3C01, 0}), confTV(ir.FromSlice(ir.Float16, s2, []uint16{0x3C00, 0})), ""},
		// 0x3C02 = 1.0019531: outside.
		{"f16 far", ir.FromSlice(ir.Float16, s2, []uint16{0x3C02, 0}), confTV(ir.FromSlice(ir.Float16, s2, []uint16{0x3C00, 0})), "got 1.00195312, want 1"},
		{"wrong go type", &ir.Tensor{DType: ir.Float32, Shape: s2, Data: []float64{1, 2}}, confTV(f32(s2, 1, 2)), "holds -1 elements"},
		{"not a tensor", nil, confTV(f32(s2, 1, 2)), "got no value"},
		{"empty optional", nil, onnx.TestValue{Type: ir.Type{Kind: ir.KindOptional}}, ""},
		{"optional has value", f32(s2, 1, 2), onnx.TestValue{Type: ir.Type{Kind: ir.KindOptional}}, "want an empty optional"},
		{"sequence", interp.Sequence{ElemType: ir.Float32, Tensors: []*ir.Tensor{f32(s2, 1, 2)}},
			onnx.TestValue{Type: ir.Type{Kind: ir.KindSequence}, Seq: []*ir.Tensor{f32(s2, 1, 2)}, Present: true}, ""},
		{"sequence element", interp.Sequence{ElemType: ir.Float32, Tensors: []*ir.Tensor{f32(s2, 1, 2), f32(s2, 1, 2)}},
			onnx.TestValue{Type: ir.Type{Kind: ir.KindSequence}, Seq: []*ir.Tensor{f32(s2, 1, 2), f32(s2, 1, 5)}, Present: true}, "sequence element 1: 1 of 2"},
		{"sequence length", interp.Sequence{ElemType: ir.Float32},
			onnx.TestValue{Type: ir.Type{Kind: ir.KindSequence}, Seq: []*ir.Tensor{f32(s2, 1, 2)}, Present: true}, "got a sequence of 0 tensors, want 1"},
		{"tensor for sequence", f32(s2, 1, 2),
			onnx.TestValue{Type: ir.Type{Kind: ir.KindSequence}, Seq: []*ir.Tensor{}, Present: true}, "want a sequence"},
	}
	for _, c := range cases {
		d := confCompare(c.got, c.want)
		if (c.diff == "") != (d == "") || !strings.Contains(d, c.diff) {
			t.Errorf("%s: got difference %q, want one containing %q", c.name, d, c.diff)
		}
	}
}

func TestConfIndex(t *testing.T) {
	// Row-major [2,3,4]: flat 23 = 1*12 + 2*4 + 3.
	if got := confIndex([]int64{2, 3, 4}, 23); got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("got %v, want [1 2 3]", got)
	}
}

func TestSkiplistParsing(t *testing.T) {
	cases := map[string][]string{"node": {"test_a", "test_b"}, "simple": {"test_c"}}
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "skiplist.txt")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("# comment\n\nnode/test_a  skip   random output, RNG\nsimple/test_c xfail  kernel missing\n")
	m, err := confLoadSkiplist(good, cases)
	if err != nil {
		t.Fatal(err)
	}
	if e := m["node/test_a"]; e.kind != "skip" || e.reason != "random output, RNG" {
		t.Errorf("node/test_a: got %+v", e)
	}
	if e := m["simple/test_c"]; e.kind != "xfail" || e.reason != "kernel missing" {
		t.Errorf("simple/test_c: got %+v", e)
	}
	for body, want := range map[string]string{
		"node/test_a skip\n":                       "needs a reason",
		"node/test_a maybe reason\n":               "want skip or xfail",
		"node/test_zzz skip reason\n":              "no such test",
		"other/test_a skip reason\n":               "no such test",
		"node/test_a skip r\nnode/test_a skip r\n": "listed twice",
	} {
		_, err := confLoadSkiplist(write(body), cases)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error containing %q", body, err, want)
		}
	}
}

// TestSkiplistFile checks the real skiplist.txt against the installed
// test data (also done by TestConformance, but this runs under any -run).
func TestSkiplistFile(t *testing.T) {
	root := confDataRoot()
	if _, err := os.Stat(filepath.Join(root, "node")); err != nil {
		t.Skipf("ONNX conformance data not found at %s", root)
	}
	cases, err := confListCases(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := confLoadSkiplist("skiplist.txt", cases); err != nil {
		t.Fatal(err)
	}
}

// confHangRelease unblocks the test-only "Hang" kernel.
var confHangRelease = make(chan struct{})

func init() {
	interp.RegisterDomain("optc.test.conformance", "Hang", func(c *interp.Call, in []interp.Value) ([]interp.Value, error) {
		<-confHangRelease // ignores c.Ctx on purpose: a kernel that never returns
		return []interp.Value{in[0]}, nil
	})
}

// TestTimeout checks that a kernel that does not return fails its test
// after the timeout instead of hanging the run.
func TestTimeout(t *testing.T) {
	defer close(confHangRelease)
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, ir.ShapeOf(1))}
	y := &ir.Value{Name: "y", Type: x.Type}
	n := &ir.Node{Op: "Hang", Domain: "optc.test.conformance", Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}}
	y.Def = n
	g := &ir.Graph{Name: "hang", Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}, Nodes: []*ir.Node{n},
		Opsets: map[string]int64{"": 17, "optc.test.conformance": 1}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := confRunGraph(ctx, 50*time.Millisecond, g, map[string]interp.Value{"x": f32([]int64{1}, 1)})
	if err == nil || !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Errorf("got %v, want a timeout", err)
	}
}
