package locret

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// TestGradient checks the analytic gradient of Locret's loss (SmoothL1 +
// λ·MSE of neighbours) through the MLP against central finite
// differences in float64-sized steps.
func TestGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := &mlp{in: 5, hid: 4, out: 2, w1: make([]float32, 20), w2: make([]float32, 8)}
	for _, w := range [][]float32{m.w1, m.w2} {
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
	}
	const n = 6
	x, y := make([]float32, n*5), make([]float32, n*2)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range y {
		y[i] = float32(rng.Float64() * 3) // some |o − y| > 1: both SmoothL1 branches
	}
	const lambda = 0.3 // large, so the smoothness term shows
	z, h, o, do := make([]float32, n*4), make([]float32, n*4), make([]float32, n*2), make([]float32, n*2)
	loss := func() float64 {
		m.forward(x, n, z, h, o)
		return locretLoss(o, y, n, 2, lambda, do)
	}
	loss()
	g1, g2 := make([]float32, 20), make([]float32, 8)
	m.backward(x, n, z, h, do, g1, g2)
	for _, c := range []struct {
		w, g []float32
	}{{m.w1, g1}, {m.w2, g2}} {
		for i := range c.w {
			orig := c.w[i]
			const eps = 1e-2
			c.w[i] = orig + eps
			up := loss()
			c.w[i] = orig - eps
			down := loss()
			c.w[i] = orig
			num := (up - down) / (2 * eps)
			if math.Abs(num-float64(c.g[i])) > 2e-3*max(1, math.Abs(num)) {
				t.Errorf("weight %d: analytic %v, numeric %v", i, c.g[i], num)
			}
		}
	}
}

// TestTrainLearns: on synthetic data whose label is a function of one
// feature, training lowers the held-out loss well below its level at
// step 100 and ranks tokens like the labels. (The head has no biases, as
// Locret's; one constant feature stands in for the offsets real queries,
// keys and values carry.)
func TestTrainLearns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	geom := &kvcache.RetainingHead{Layers: 1, QHeads: 1, KVHeads: 1, HeadDim: 2, Hidden: 16}
	const windows, prompt = 40, 32
	ds := &Dataset{Head: geom, Windows: windows, Prompt: prompt, Answer: 1,
		X: [][]float32{make([]float32, windows*prompt*geom.In())}, Y: [][]float32{make([]float32, windows*prompt)}}
	for i := 0; i < windows*prompt; i++ {
		for c := 0; c < geom.In(); c++ {
			ds.X[0][i*geom.In()+c] = float32(rng.NormFloat64())
		}
		ds.X[0][i*geom.In()] = 1
		ds.Y[0][i] = float32(1 / (1 + math.Exp(-3*float64(ds.X[0][i*geom.In()+2])))) // the key's first channel
	}
	cfg := DefaultTrain()
	cfg.Steps, cfg.Warmup, cfg.LR, cfg.Holdout = 1500, 150, 1e-2, 8
	var first float64
	cfg.Log = func(step int, train, valid float64) {
		if first == 0 {
			first = valid
		}
	}
	head, valid, err := Train(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !(valid[0] < first/4) {
		t.Errorf("held-out loss %.5f after training, %.5f at step 100", valid[0], first)
	}
	// Held-out windows: the scores order tokens as the labels do.
	x := ds.X[0][(windows-8)*prompt*geom.In():]
	y := ds.Y[0][(windows-8)*prompt:]
	out := make([]float32, 8*prompt)
	head.Forward(0, x, 8*prompt, out, nil)
	agree, pairs := 0, 0
	for i := 0; i < len(out); i += 7 {
		for j := i + 1; j < len(out); j += 11 {
			if y[i] != y[j] {
				pairs++
				if (out[i] > out[j]) == (y[i] > y[j]) {
					agree++
				}
			}
		}
	}
	if float64(agree) < 0.9*float64(pairs) {
		t.Errorf("scores order %d of %d token pairs as the labels do", agree, pairs)
	}
}

// TestCollect: on the fixture LM, the labels are the largest softmax
// weight an answer query puts on each prompt token, recomputed here in
// float64 from the cached keys and the queries the kernel saw.
func TestCollect(t *testing.T) {
	dir := "../../../testdata/models/lm-draft"
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Skipf("fixture LM not present: %v", err)
	}
	m, err := llm.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(dir, "sample.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var wins [][]int32
	for w := 0; w < 2; w++ {
		toks := []int32{m.Tokenizer.Specials().BOS}
		for _, b := range text[w*100 : w*100+19] {
			toks = append(toks, int32(b))
		}
		wins = append(wins, toks)
	}
	const prompt = 12
	geom := Geometry(m, 4)
	ds, err := Collect(context.Background(), m, geom, wins, prompt, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Recompute window 1 with a recorder of queries and keys.
	rec := &qkRecorder{}
	rec.Dense, _ = kvcache.NewDense(m.CacheSpec(), 0)
	if _, err := m.Forward(context.Background(), rec, wins[1], nil); err != nil {
		t.Fatal(err)
	}
	c := m.Config
	n, d := len(wins[1]), c.HeadDim
	for l := 0; l < c.Layers; l++ {
		keys, _, _ := rec.Head(l, 0).Block(0, nil, nil)
		for tok := 0; tok < prompt; tok++ {
			var want float64
			for h := 0; h < c.Heads; h++ {
				for i := prompt; i < n; i++ { // answer queries
					q := rec.q[l][(h*n+i)*d : (h*n+i+1)*d]
					sc := make([]float64, i+1)
					mx := math.Inf(-1)
					for j := range sc {
						for e := 0; e < d; e++ {
							sc[j] += float64(q[e]) * float64(keys[j*d+e])
						}
						sc[j] /= math.Sqrt(float64(d))
						mx = max(mx, sc[j])
					}
					var z float64
					for j := range sc {
						z += math.Exp(sc[j] - mx)
					}
					want = max(want, math.Exp(sc[tok]-mx)/z)
				}
			}
			got := float64(ds.Y[l][(1*prompt+tok)*c.KVHeads])
			if math.Abs(got-want) > 1e-5 {
				t.Errorf("layer %d token %d: label %v, want %v", l, tok, got, want)
			}
		}
	}
	if len(ds.X[0]) != 2*prompt*geom.In() {
		t.Errorf("features %d", len(ds.X[0]))
	}
}

type qkRecorder struct {
	*kvcache.Dense
	q map[int][]float32
}

func (r *qkRecorder) ObserveQueries(layer int, q []float32, heads, n int) {
	if r.q == nil {
		r.q = map[int][]float32{}
	}
	r.q[layer] = append([]float32{}, q...)
}

// TestCommittedHead: the retaining head trained for the fixture LM
// (testdata/lm-draft.lrh, made by `go run ./tools/kvtrain train`) fits the
// model's geometry and scores tokens through ParseSpec's locret cache.
func TestCommittedHead(t *testing.T) {
	dir := "../../../testdata/models/lm-draft"
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Skipf("fixture LM not present: %v", err)
	}
	m, err := llm.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := kvcache.ParseSpec("locret:16,head=testdata/lm-draft.lrh")
	if err != nil {
		t.Fatal(err)
	}
	c, err := mk(m.CacheSpec())
	if err != nil {
		t.Fatal(err)
	}
	seq := []int32{256}
	for _, b := range []byte("func main() {\n\tfmt.Println(\"hello, world\")\n}\n") {
		seq = append(seq, int32(b))
	}
	ctx := context.Background()
	if _, err := m.Forward(ctx, c, seq[:10], nil); err != nil {
		t.Fatal(err)
	}
	for _, tok := range seq[10:] {
		out, err := m.Forward(ctx, c, []int32{tok}, []int{0})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range out[0] {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatal("non-finite logit")
			}
		}
	}
	e := c.(*kvcache.Evict)
	if e.Stats().Evicted == 0 || c.Head(1, 0).Len() > 16+1 {
		t.Errorf("evicted %d, holding %d", e.Stats().Evicted, c.Head(1, 0).Len())
	}
}
