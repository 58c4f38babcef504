package kvcache_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
	"github.com/optc-dev/optc/runtime/llm/llama"
	"github.com/optc-dev/optc/runtime/llm/llmtest"
)

// The caches through real models: the committed fixture LM (2 layers, one
// kv head of 64) and stories260K (5 layers, 4 kv heads of 8; read in place
// from ../shared/llm, skipped where absent).

const fixtureLM = "../../../testdata/models/lm-draft"

type kvModel struct {
	name string
	m    *llm.Model
	seq  []int32
}

func kvModels(t testing.TB) []kvModel {
	t.Helper()
	var ms []kvModel
	if _, err := os.Stat(filepath.Join(fixtureLM, "model.safetensors")); err == nil {
		m, err := llm.Load(fixtureLM)
		if err != nil {
			t.Fatal(err)
		}
		text, err := os.ReadFile(filepath.Join(fixtureLM, "sample.txt"))
		if err != nil {
			t.Fatal(err)
		}
		seq := append([]int32{m.Tokenizer.Specials().BOS}, m.Tokenizer.Encode(string(text))...)
		ms = append(ms, kvModel{"lm-draft", m, seq[:200]})
	}
	if d, ok := llmtest.Find(); ok {
		m, err := llm.Load(filepath.Join(d, "stories260K.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		g := llmtest.LoadGolden(t)
		c := g.Cases[0]
		ms = append(ms, kvModel{"stories260K", m, append(append([]int32{}, c.PromptTokens...), c.OutTokens...)})
	}
	if len(ms) == 0 {
		t.Skip("neither the fixture LM nor stories260K is present")
	}
	return ms
}

// randomHead is a retaining head with random weights for m's geometry.
func randomHead(m *llm.Model) *kvcache.RetainingHead {
	c := m.Config
	h := &kvcache.RetainingHead{Layers: c.Layers, QHeads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadDim, Hidden: 8,
		Rope: kvcache.RopeParams{Dim: c.RopeDim, Theta: c.RopeTheta, Interleaved: c.RopeInterleaved}}
	rng := rand.New(rand.NewPCG(1, 1))
	for l := 0; l < c.Layers; l++ {
		w1, w2 := make([]float32, h.Hidden*h.In()), make([]float32, c.KVHeads*h.Hidden)
		for i := range w1 {
			w1[i] = float32(rng.NormFloat64())
		}
		for i := range w2 {
			w2[i] = float32(rng.NormFloat64())
		}
		h.W1, h.W2 = append(h.W1, w1), append(h.W2, w2)
	}
	return h
}

// teacherForce feeds seq — the first prompt tokens in one pass, then one
// token at a time — and returns the logits predicting tokens 1…len−1.
func teacherForce(t *testing.T, m *llm.Model, c kvcache.Cache, seq []int32, prompt int) [][]float32 {
	t.Helper()
	ctx := context.Background()
	rows := make([]int, prompt)
	for i := range rows {
		rows[i] = i
	}
	out, err := m.Forward(ctx, c, seq[:prompt], rows)
	if err != nil {
		t.Fatal(err)
	}
	for i := prompt; i < len(seq)-1; i++ {
		o, err := m.Forward(ctx, c, seq[i:i+1], []int{0})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o[0])
	}
	return out
}

func nll(logits [][]float32, seq []int32) float64 {
	var s float64
	for i, lg := range logits {
		mx := math.Inf(-1)
		for _, x := range lg {
			mx = max(mx, float64(x))
		}
		var z float64
		for _, x := range lg {
			z += math.Exp(float64(x) - mx)
		}
		s += math.Log(z) + mx - float64(lg[seq[i+1]])
	}
	return s / float64(len(logits))
}

// TestModelCaches: eviction (by attention mass, or by a retaining head)
// with a budget at least the sequence length gives the dense cache's
// logits bit for bit; f16 and GEAR stay close, at the bytes they claim.
func TestModelCaches(t *testing.T) {
	for _, km := range kvModels(t) {
		t.Run(km.name, func(t *testing.T) {
			m, seq := km.m, km.seq
			spec := m.CacheSpec()
			dense, _ := kvcache.NewDense(spec, 0)
			want := teacherForce(t, m, dense, seq, 40)
			base := nll(want, seq)
			ample := []kvcache.EvictConfig{{Budget: len(seq), Sink: 4, Recent: 8}, {Budget: len(seq), Recent: 8, Head: randomHead(m)}}
			for _, cfg := range ample {
				ev, err := kvcache.NewEvict(spec, cfg)
				if err != nil {
					t.Fatal(err)
				}
				got := teacherForce(t, m, ev, seq, 40)
				for i := range want {
					for j := range want[i] {
						if got[i][j] != want[i][j] {
							t.Fatalf("%s: position %d logit %d: %v, dense %v", cfg, i, j, got[i][j], want[i][j])
						}
					}
				}
			}
			// Tolerances on |Δ mean NLL| (nats per token) for the fixture LM
			// and stories260K. GEAR v1 keeps one min/max per block of all
			// of a layer's heads (as GEAR's code): fine for the fixture's
			// single head of 64, coarse for stories260K's 4 heads of 8,
			// where KIVI's per-channel keys are the layout that works.
			for _, c := range []struct {
				spec       string
				tol, tolSt float64
				ratio      float64 // at most this fraction of the f32 bytes
			}{
				{"f16", 1e-3, 1e-3, 0.5},
				{"gear:4", 0.01, 0.2, 0.3},
				{"gear:4,kivi", 0.01, 0.01, 0.4},
				{"evict:64", 0.05, 0.05, 0.4},
			} {
				tol := c.tol
				if km.name == "stories260K" {
					tol = c.tolSt
				}
				mk, err := kvcache.ParseSpec(c.spec)
				if err != nil {
					t.Fatal(err)
				}
				cache, err := mk(spec)
				if err != nil {
					t.Fatal(err)
				}
				got := nll(teacherForce(t, m, cache, seq, 40), seq)
				ratio := float64(cache.Bytes()) / float64(spec.TokenBytes()*int64(len(seq)-1))
				t.Logf("%-12s NLL %.4f (dense %.4f), %.1f%% of f32 bytes", c.spec, got, base, 100*ratio)
				if math.Abs(got-base) > tol || ratio > c.ratio {
					t.Errorf("%s: NLL %.4f vs dense %.4f (tolerance %g), %.3f of the f32 bytes (at most %g)", c.spec, got, base, tol, ratio, c.ratio)
				}
			}
		})
	}
}

// TestModelRollback: for every cache kind, verifying 4 draft tokens and
// keeping 2 (Truncate) then decoding on gives the logits of decoding the 2
// kept tokens directly.
func TestModelRollback(t *testing.T) {
	ctx := context.Background()
	for _, km := range kvModels(t) {
		m, seq := km.m, km.seq
		for _, s := range []string{"dense", "f16", "gear:4,buffer=8", "gear:2,kivi,group=16,buffer=16", "evict:24,recent=4"} {
			mk, err := kvcache.ParseSpec(s)
			if err != nil {
				t.Fatal(err)
			}
			run := func(draft int) []float32 {
				c, err := mk(m.CacheSpec())
				if err != nil {
					t.Fatal(err)
				}
				// 30 prompt tokens, 20 decoded: buffers fill, blocks
				// compress, tokens are evicted.
				teacherForce(t, m, c, seq[:51], 30)
				if _, err := m.Forward(ctx, c, seq[50:50+draft], nil); err != nil {
					t.Fatal(err)
				}
				if err := c.Truncate(52); err != nil {
					t.Fatal(err)
				}
				out, err := m.Forward(ctx, c, seq[52:53], []int{0})
				if err != nil {
					t.Fatal(err)
				}
				return out[0]
			}
			a, b := run(4), run(2)
			for j := range a {
				if a[j] != b[j] {
					t.Fatalf("%s %s: after rollback logit %d is %v, decoding the kept tokens gives %v", km.name, s, j, a[j], b[j])
				}
			}
		}
	}
}

// TestRetainFeaturesUndoRope: the retaining head reads queries and keys
// as they were before the rotary embedding: rotating with the model's own
// tables (llama.Config.RopeTables, both layouts) and handing the result to
// Features gives the original back.
func TestRetainFeaturesUndoRope(t *testing.T) {
	for _, il := range []bool{false, true} {
		cfg := llama.Config{HeadDim: 8, RopeDim: 6, RopeTheta: 10000, ContextLen: 64, RopeInterleaved: il}
		cos, sin := cfg.RopeTables()
		cs, sn := cos.Data.([]float32), sin.Data.([]float32)
		h := &kvcache.RetainingHead{Layers: 1, QHeads: 2, KVHeads: 1, HeadDim: 8, Hidden: 1,
			Rope: kvcache.RopeParams{Dim: 6, Theta: 10000, Interleaved: il}}
		rng := rand.New(rand.NewPCG(2, 2))
		const n, start = 3, 40
		raw := make([][]float32, 3) // q [2][n][8], k [1][n][8], v [1][n][8]
		rot := make([][]float32, 3)
		for i, size := range []int{2 * n * 8, n * 8, n * 8} {
			raw[i] = make([]float32, size)
			for j := range raw[i] {
				raw[i][j] = float32(rng.NormFloat64())
			}
			rot[i] = append([]float32{}, raw[i]...)
		}
		for _, x := range rot[:2] { // q and k are rotated, v is not
			for row := 0; row < len(x)/8; row++ {
				p := start + row%n
				r := x[row*8 : row*8+8]
				for i := 0; i < 3; i++ {
					i0, i1 := i, i+3
					if il {
						i0, i1 = 2*i, 2*i+1
					}
					c, s := cs[p*3+i], sn[p*3+i]
					r[i0], r[i1] = r[i0]*c-r[i1]*s, r[i0]*s+r[i1]*c
				}
			}
		}
		f := make([]float32, n*h.In())
		if err := h.Features(f, rot[0], 2, rot[1], rot[2], n, start); err != nil {
			t.Fatal(err)
		}
		for tok := 0; tok < n; tok++ {
			x := f[tok*h.In() : (tok+1)*h.In()]
			want := append(append(append(append([]float32{}, raw[0][tok*8:tok*8+8]...), raw[0][(n+tok)*8:(n+tok)*8+8]...), raw[1][tok*8:tok*8+8]...), raw[2][tok*8:tok*8+8]...)
			for i := range want {
				if math.Abs(float64(x[i]-want[i])) > 1e-5 {
					t.Fatalf("interleaved=%v token %d feature %d: %v, want %v", il, tok, i, x[i], want[i])
				}
			}
		}
	}
}
