package eval

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime"
)

// identityClassifier returns a model whose scores are its input [n,k].
func identityClassifier(batch ir.Dim, k int64) *runtime.Model {
	b := ir.NewBuilder("id")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.Shape{batch, ir.D(k)}))
	b.Output(b.Op1("Identity", nil, x))
	return runtime.FromGraph(b.Graph(), "id")
}

func TestClassifier(t *testing.T) {
	// rows' argmax: 2, 0, 1, 1 (tie between 1 and 2: first wins), 0
	x := ir.FromSlice(ir.Float32, []int64{5, 3}, []float32{
		0, 1, 5,
		9, 1, 2,
		0, 3, 1,
		0, 4, 4,
		1, 0, 0,
	})
	y := ir.FromSlice(ir.Int64, []int64{5}, []int64{2, 0, 0, 1, 1})
	for _, tc := range []struct {
		name    string
		batch   ir.Dim
		opt     ClassifierOptions
		correct int
		samples int
		perCls  string
	}{
		// labels 2,0,0,1,1 vs predictions 2,0,1,1,0: 3 of 5 right;
		// per label: 0: 1/2, 1: 1/2, 2: 1/1
		{"dynamic batch 2", ir.Sym("n"), ClassifierOptions{Batch: 2}, 3, 5, "0:1/2 1:1/2 2:1/1"},
		{"fixed batch 3 (padded)", ir.D(3), ClassifierOptions{}, 3, 5, "0:1/2 1:1/2 2:1/1"},
		{"limit 3", ir.Sym("n"), ClassifierOptions{Limit: 3}, 2, 3, "0:1/2 2:1/1"},
	} {
		var calls []int
		tc.opt.Progress = func(done, total int) { calls = append(calls, done) }
		r, err := Classifier(context.Background(), identityClassifier(tc.batch, 3), x, y, tc.opt)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.Correct != tc.correct || r.Samples != tc.samples || r.Top1 != float64(tc.correct)/float64(tc.samples) {
			t.Errorf("%s: %d/%d (%v), want %d/%d", tc.name, r.Correct, r.Samples, r.Top1, tc.correct, tc.samples)
		}
		var parts []string
		for _, c := range r.PerClass {
			parts = append(parts, fmt.Sprintf("%d:%d/%d", c.Label, c.Correct, c.Samples))
		}
		if got := strings.Join(parts, " "); got != tc.perCls {
			t.Errorf("%s: per class %s, want %s", tc.name, got, tc.perCls)
		}
		if len(calls) == 0 || calls[len(calls)-1] != tc.samples {
			t.Errorf("%s: progress calls %v", tc.name, calls)
		}
	}
}

func TestClassifierErrors(t *testing.T) {
	m := identityClassifier(ir.Sym("n"), 3)
	x := ir.NewTensor(ir.Float32, 2, 3)
	for _, tc := range []struct {
		name string
		x, y *ir.Tensor
		opt  ClassifierOptions
		want string
	}{
		{"label count", x, ir.NewTensor(ir.Int64, 3), ClassifierOptions{}, "first dim"},
		{"float labels", x, ir.NewTensor(ir.Float32, 2), ClassifierOptions{}, "integer"},
		{"dtype", ir.NewTensor(ir.Float64, 2, 3), ir.NewTensor(ir.Int64, 2), ClassifierOptions{}, "wants f32"},
		{"input name", x, ir.NewTensor(ir.Int64, 2), ClassifierOptions{Input: "nope"}, "no input"},
		{"output name", x, ir.NewTensor(ir.Int64, 2), ClassifierOptions{Output: "nope"}, "no output"},
	} {
		_, err := Classifier(context.Background(), m, tc.x, tc.y, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

// bigramLM is a "language model" with the Optimum interface whose logits
// at each position are row input_ids of table [vocab,vocab]: the next-byte
// distribution depends only on the current token. Its past inputs are
// accepted (and concatenated into present outputs) but do not change the
// logits.
func bigramLM(table *ir.Tensor) *runtime.Model {
	b := ir.NewBuilder("bigram")
	ids := b.Input("input_ids", ir.TensorType(ir.Int64, ir.Shape{ir.Sym("b"), ir.Sym("s")}))
	b.Input("position_ids", ir.TensorType(ir.Int64, ir.Shape{ir.Sym("b"), ir.Sym("s")}))
	pk := b.Input("past_key_values.0.key", ir.TensorType(ir.Float32, ir.Shape{ir.Sym("b"), ir.D(1), ir.Sym("p"), ir.D(2)}))
	tab := b.Const("table", table)
	logits := b.Op1("Gather", map[string]*ir.Attr{"axis": ir.IntAttr(0)}, tab, ids)
	b.Output(logits, b.Op1("Identity", nil, pk))
	g := b.Graph()
	logits.Name = "logits"
	return runtime.FromGraph(g, "bigram")
}

func TestByteLM(t *testing.T) {
	const vocab = 259
	zero := ir.NewTensor(ir.Float32, vocab, vocab)
	// Uniform logits: every byte costs log2(259) bits.
	uniform := math.Log2(vocab)

	// A table where after token a the next byte a+1 has logit ln(258*3):
	// p(a+1) = 3*258/(3*258+258) = 3/4, any other byte 1/(4*258).
	peaked := ir.NewTensor(ir.Float32, vocab, vocab)
	for a := 0; a < vocab; a++ {
		peaked.Data.([]float32)[a*vocab+(a+1)%vocab] = float32(math.Log(258 * 3))
	}
	hit, miss := -math.Log2(0.75), -math.Log2(1.0/(4*258))
	for _, tc := range []struct {
		name  string
		table *ir.Tensor
		text  string
		opt   LMOptions
		want  float64
	}{
		{"uniform", zero, "hello, world", LMOptions{Ctx: 5, BOS: 256}, uniform},
		// "abcd" in one window: BOS->a (BOS+1 = 257 != 'a': miss),
		// a->b, b->c, c->d hits.
		{"peaked one window", peaked, "abcd", LMOptions{Ctx: 8, BOS: 256}, (miss + 3*hit) / 4},
		// windows "ab" "cd": each starts with a miss after BOS.
		{"peaked windows of 2", peaked, "abcd", LMOptions{Ctx: 2, BOS: 256, Batch: 1}, (2*miss + 2*hit) / 4},
		// BOS 96 ('a'-1) makes the first byte a hit too; windows "abc" "d"
		// (the short last window runs alone): d after BOS 96 is a miss.
		{"bos and short window", peaked, "abcd", LMOptions{Ctx: 3, BOS: 96}, (3*hit + miss) / 4},
	} {
		r, err := ByteLM(context.Background(), bigramLM(tc.table), []byte(tc.text), tc.opt)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if math.Abs(r.BitsPerByte-tc.want) > 1e-5 || math.Abs(r.Perplexity-math.Exp2(tc.want)) > 1e-3*r.Perplexity {
			t.Errorf("%s: %.6f bits/byte (ppl %.4f), want %.6f", tc.name, r.BitsPerByte, r.Perplexity, tc.want)
		}
		if r.Bytes != len(tc.text) {
			t.Errorf("%s: %d bytes", tc.name, r.Bytes)
		}
	}
	if _, err := ByteLM(context.Background(), identityClassifier(ir.Sym("n"), 3), []byte("x"), LMOptions{}); err == nil {
		t.Error("a classifier was accepted as a language model")
	}
	if _, err := ByteLM(context.Background(), bigramLM(zero), nil, LMOptions{}); err == nil {
		t.Error("empty text accepted")
	}
}

func TestSpacedWindows(t *testing.T) {
	for _, tc := range []struct {
		text   string
		n, ctx int
		want   string
	}{
		// step (10-2)/2 = 4: offsets 0, 4, 8
		{"abcdefghij", 3, 2, "abefij"},
		// step (10-3)/1 = 7: offsets 0, 7
		{"abcdefghij", 2, 3, "abchij"},
		{"abcdefghij", 4, 3, "abcdefghij"}, // too short: unchanged
		{"abcdefghij", 1, 3, "abcdefghij"},
	} {
		if got := string(SpacedWindows([]byte(tc.text), tc.n, tc.ctx)); got != tc.want {
			t.Errorf("SpacedWindows(%q, %d, %d) = %q, want %q", tc.text, tc.n, tc.ctx, got, tc.want)
		}
	}
}
