package interp_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// attnRecorder is a dense cache that records what the kernel reports to
// observing caches.
type attnRecorder struct {
	*kvcache.Dense
	queries []float32
	qHeads  int
	weights map[int][]float32 // per kv head
	rows    int
	keys    int
}

func (r *attnRecorder) ObserveQueries(layer int, q []float32, heads, n int) {
	r.queries, r.qHeads = append([]float32{}, q...), heads
}

func (r *attnRecorder) ObserveAttention(layer, head int, w []float32, rows, keys int) {
	r.weights[head] = append([]float32{}, w...)
	r.rows, r.keys = rows, keys
}

// TestAttentionObservers: a cache implementing the observer interfaces
// sees the new tokens' queries (head-major, as attention uses them) before
// they are appended, and after each kv head the softmax weights of its
// query group — equal to the textbook softmax in float64, zero above the
// causal diagonal — while the output is the plain dense cache's, bit for
// bit.
func TestAttentionObservers(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	const hq, hkv, D, past, S = 4, 2, 8, 70, 3
	attrs := map[string]*ir.Attr{"is_causal": ir.IntAttr(1), "q_num_heads": ir.IntAttr(hq), "kv_num_heads": ir.IntAttr(hkv), "kv_layer": ir.IntAttr(0)}
	spec := kvcache.Spec{Layers: 1, KVHeads: hkv, HeadDim: D, ValDim: D}
	plain, _ := kvcache.NewDense(spec, 0)
	d2, _ := kvcache.NewDense(spec, 0)
	rec := &attnRecorder{Dense: d2, weights: map[int][]float32{}}
	// A past of 70 tokens, then 3 new ones.
	pk, pv := attnRand(rng, 1, past, hkv*D), attnRand(rng, 1, past, hkv*D)
	pq := attnRand(rng, 1, past, hq*D)
	q, k, v := attnRand(rng, 1, S, hq*D), attnRand(rng, 1, S, hkv*D), attnRand(rng, 1, S, hkv*D)
	var outs [2][]float32
	for i, c := range []kvcache.Cache{plain, rec} {
		ctx := kvcache.NewContext(context.Background(), c)
		if _, err := attnRun(ctx, "Attention", attrs, 1, pq, pk, pv); err != nil {
			t.Fatal(err)
		}
		out, err := attnRun(ctx, "Attention", attrs, 1, q, k, v)
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = out[0].Data.([]float32)
	}
	for i := range outs[0] {
		if outs[0][i] != outs[1][i] {
			t.Fatalf("output %d differs with an observing cache: %v vs %v", i, outs[1][i], outs[0][i])
		}
	}
	qd := q.Data.([]float32) // [1][S][hq·D]
	if rec.qHeads != hq || len(rec.queries) != hq*S*D || rec.queries[(3*S+1)*D+5] != qd[1*hq*D+3*D+5] {
		t.Fatalf("observed queries: %d heads, %d floats", rec.qHeads, len(rec.queries))
	}
	rep, total := hq/hkv, past+S
	if rec.rows != rep*S || rec.keys != total || len(rec.weights) != hkv {
		t.Fatalf("observed %d rows × %d keys for %d heads", rec.rows, rec.keys, len(rec.weights))
	}
	allK := append(append([]float32{}, pk.Data.([]float32)...), k.Data.([]float32)...) // [total][hkv·D]
	for g := 0; g < hkv; g++ {
		w := rec.weights[g]
		for r := 0; r < rep*S; r++ {
			h, i := g*rep+r/S, r%S
			qv := qd[i*hq*D+h*D : i*hq*D+(h+1)*D]
			sc := make([]float64, total)
			mx := math.Inf(-1)
			for j := 0; j <= past+i; j++ {
				for e := 0; e < D; e++ {
					sc[j] += float64(qv[e]) * float64(allK[j*hkv*D+g*D+e])
				}
				sc[j] /= math.Sqrt(D)
				mx = max(mx, sc[j])
			}
			var sum float64
			for j := 0; j <= past+i; j++ {
				sum += math.Exp(sc[j] - mx)
			}
			var got float64
			for j := 0; j < total; j++ {
				want := 0.0
				if j <= past+i {
					want = math.Exp(sc[j]-mx) / sum
				}
				x := float64(w[r*total+j])
				got += x
				if math.Abs(x-want) > 1e-6 {
					t.Fatalf("head %d row %d key %d: weight %v, want %v", g, r, j, x, want)
				}
			}
			if math.Abs(got-1) > 1e-5 {
				t.Errorf("head %d row %d: weights sum to %v", g, r, got)
			}
		}
	}
}
