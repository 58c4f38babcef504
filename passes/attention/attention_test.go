package attention_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
	"github.com/optc-dev/optc/passes/attention"
	"github.com/optc-dev/optc/runtime/interp"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// fixtureONNX is PyTorch's export of the committed fixture LM (Optimum
// KV-cache interface, grouped-query attention, causal mask).
const fixtureONNX = "../../testdata/models/lm-draft/model.onnx"

func load(t *testing.T) *ir.Graph {
	t.Helper()
	if _, err := os.Stat(fixtureONNX); err != nil {
		t.Skipf("fixture LM not present: %v", err)
	}
	g, err := onnx.LoadFile(fixtureONNX)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func count(g *ir.Graph, op string) int {
	n := 0
	for _, x := range g.Nodes {
		if x.Op == op {
			n++
		}
	}
	return n
}

// feeds returns input_ids/position_ids for tokens at positions past…,
// and random past keys/values of length past.
func feeds(g *ir.Graph, tokens []int64, past int, rng *rand.Rand) map[string]interp.Value {
	s := int64(len(tokens))
	pos := make([]int64, s)
	for i := range pos {
		pos[i] = int64(past + i)
	}
	in := map[string]interp.Value{
		"input_ids":    ir.FromSlice(ir.Int64, []int64{1, s}, append([]int64{}, tokens...)),
		"position_ids": ir.FromSlice(ir.Int64, []int64{1, s}, pos),
	}
	for _, v := range g.Inputs {
		if strings.HasPrefix(v.Name, "past_key_values.") {
			t := ir.NewTensor(ir.Float32, 1, 1, int64(past), 64)
			for i := range t.Data.([]float32) {
				t.Data.([]float32)[i] = float32(rng.NormFloat64())
			}
			in[v.Name] = t
		}
	}
	return in
}

func diff(t *testing.T, what string, a, b interp.Value, tol float64) {
	t.Helper()
	x, y := a.(*ir.Tensor).Data.([]float32), b.(*ir.Tensor).Data.([]float32)
	if len(x) != len(y) {
		t.Fatalf("%s: %d vs %d values", what, len(x), len(y))
	}
	for i := range x {
		if math.Abs(float64(x[i]-y[i])) > tol {
			t.Fatalf("%s[%d]: %v vs %v", what, i, x[i], y[i])
		}
	}
}

// TestFuseFixture: the exported attention of both layers becomes
// optc.Attention with a causal flag (the mask is recognized), and the
// fused graph computes the original's logits and present keys/values, with
// and without a past.
func TestFuseFixture(t *testing.T) {
	orig, fused := load(t), load(t)
	ctx := passes.NewContext(1)
	if err := passes.Run(ctx, fused, []passes.Pass{attention.Fuse{}}); err != nil {
		t.Fatal(err)
	}
	if n := count(fused, "Attention"); n != 2 || count(fused, "Softmax") != 0 {
		t.Fatalf("%d attention nodes, %d softmax left", n, count(fused, "Softmax"))
	}
	for _, r := range ctx.Report.Records {
		if r.Fields["causal"] != true || r.Fields["gqa"] != true || r.Fields["past"] != true {
			t.Errorf("record %+v", r)
		}
	}
	t.Logf("nodes: %d exported, %d fused", len(orig.Nodes), len(fused.Nodes))
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct{ s, past int }{{5, 0}, {3, 4}, {1, 7}} {
		toks := make([]int64, c.s)
		for i := range toks {
			toks[i] = int64(rng.IntN(256))
		}
		in := feeds(orig, toks, c.past, rng)
		want, err := interp.Run(context.Background(), orig, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := interp.Run(context.Background(), fused, in)
		if err != nil {
			t.Fatal(err)
		}
		for name := range want {
			diff(t, name, got[name], want[name], 1e-5)
		}
	}
}

// TestBindKV: after binding, the graph's only inputs are input_ids and
// position_ids, its only output the logits, and fed token by token with a
// cache bound it gives the exported graph's logits for the whole sequence.
func TestBindKV(t *testing.T) {
	orig, g := load(t), load(t)
	if err := passes.Run(passes.NewContext(1), g, []passes.Pass{attention.Fuse{}, attention.BindKV{}}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range g.Inputs {
		names = append(names, v.Name)
	}
	if strings.Join(names, ",") != "input_ids,position_ids" || len(g.Outputs) != 1 || g.Outputs[0].Name != "logits" {
		t.Fatalf("inputs %v, outputs %d", names, len(g.Outputs))
	}
	toks := []int64{256, 112, 97, 99, 107, 97, 103, 101, 32, 109}
	rng := rand.New(rand.NewPCG(2, 2))
	want, err := interp.Run(context.Background(), orig, feeds(orig, toks, 0, rng))
	if err != nil {
		t.Fatal(err)
	}
	wl := want["logits"].(*ir.Tensor).Data.([]float32)
	cache, _ := kvcache.NewDense(kvcache.Spec{Layers: 2, KVHeads: 1, HeadDim: 64, ValDim: 64}, 4)
	ctx := kvcache.NewContext(context.Background(), cache)
	for i, chunk := range [][2]int{{0, 4}, {4, 5}, {5, 10}} {
		part := toks[chunk[0]:chunk[1]]
		got, err := interp.Run(ctx, g, feeds(g, part, chunk[0], rng))
		if err != nil {
			t.Fatal(err)
		}
		gl := got["logits"].(*ir.Tensor).Data.([]float32)
		for k := range gl {
			if d := math.Abs(float64(gl[k] - wl[chunk[0]*259+k])); d > 1e-4 {
				t.Fatalf("chunk %d: logit %d differs by %g", i, k, d)
			}
		}
	}
	if cache.Len(0) != 10 || cache.Len(1) != 10 {
		t.Errorf("cache lengths %d %d", cache.Len(0), cache.Len(1))
	}
	// Binding needs the fused attention.
	if err := (attention.BindKV{}).Run(passes.NewContext(1), load(t)); err == nil || !strings.Contains(err.Error(), "run the attention pass first") {
		t.Errorf("unfused graph: %v", err)
	}
}

// maskGraph builds attention with a data-dependent mask:
// y = softmax(where(m, -inf, q·kᵀ·0.5) or q·kᵀ·0.5 + m)·v, for the
// non-causal mask paths (kept as an attn_mask input).
func maskGraph(additive bool) *ir.Graph {
	b := ir.NewBuilder("masked")
	f := func(name string, shape ...int64) *ir.Value {
		return b.Input(name, ir.TensorType(ir.Float32, ir.ShapeOf(shape...)))
	}
	q, k, v := f("q", 1, 2, 3, 4), f("k", 1, 2, 5, 4), f("v", 1, 2, 5, 4)
	kt := b.Op1("Transpose", map[string]*ir.Attr{"perm": ir.IntsAttr(0, 1, 3, 2)}, k)
	s := b.Op1("Mul", nil, b.Op1("MatMul", nil, q, kt), b.Const("half", ir.ScalarF32(0.5)))
	if additive {
		s = b.Op1("Add", nil, s, f("m", 1, 1, 3, 5))
	} else {
		m := b.Input("m", ir.TensorType(ir.Bool, ir.ShapeOf(3, 5)))
		s = b.Op1("Where", nil, m, b.Const("ninf", ir.ScalarF32(float32(math.Inf(-1)))), s)
	}
	y := b.Op1("MatMul", nil, b.Op1("Softmax", map[string]*ir.Attr{"axis": ir.IntAttr(-1)}, s), v)
	b.Output(y)
	ir.InferShapes(b.Graph())
	return b.Graph()
}

func TestFuseMasks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	rnd := func(shape ...int64) *ir.Tensor {
		t := ir.NewTensor(ir.Float32, shape...)
		for i := range t.Data.([]float32) {
			t.Data.([]float32)[i] = float32(rng.NormFloat64())
		}
		return t
	}
	for _, additive := range []bool{false, true} {
		orig, g := maskGraph(additive), maskGraph(additive)
		if err := passes.Run(passes.NewContext(1), g, []passes.Pass{attention.Fuse{}}); err != nil {
			t.Fatal(err)
		}
		if count(g, "Attention") != 1 || g.Nodes[len(g.Nodes)-1].Input(3) == nil {
			t.Fatalf("additive=%v: not fused with a mask:\n%s", additive, g)
		}
		in := map[string]interp.Value{"q": rnd(1, 2, 3, 4), "k": rnd(1, 2, 5, 4), "v": rnd(1, 2, 5, 4)}
		if additive {
			in["m"] = rnd(1, 1, 3, 5)
		} else {
			m := make([]bool, 15)
			for i := range m {
				m[i] = i%4 == 1 // hide some keys, never a whole row
			}
			in["m"] = ir.FromSlice(ir.Bool, []int64{3, 5}, m)
		}
		want, err := interp.Run(context.Background(), orig, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := interp.Run(context.Background(), g, in)
		if err != nil {
			t.Fatal(err)
		}
		for name := range want {
			diff(t, name, got[name], want[name], 1e-6)
		}
	}
}
