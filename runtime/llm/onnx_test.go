package llm_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/optc-dev/optc/runtime/llm"
)

// TestONNXModel: the fixture LM's ONNX export, with its attention fused
// and bound to the cache at load, gives the logits of the same checkpoint
// loaded from safetensors (an independent path: optc's own Llama graph)
// at every position, decodes through the cache as it does uncached, and
// generates the same greedy tokens.
func TestONNXModel(t *testing.T) {
	hf := loadFixture(t)
	om, err := llm.Load(filepath.Join(fixtureLM, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if om.CacheSpec() != hf.CacheSpec() || om.VocabSize() != hf.VocabSize() || om.MaxLen() != hf.MaxLen() {
		t.Fatalf("ONNX model: cache %+v vocab %d len %d; checkpoint: %+v %d %d", om.CacheSpec(), om.VocabSize(), om.MaxLen(), hf.CacheSpec(), hf.VocabSize(), hf.MaxLen())
	}
	seq := fixtureSequence(t, hf, 120)
	rows := make([]int, len(seq))
	for i := range rows {
		rows[i] = i
	}
	ctx := context.Background()
	want, err := hf.Forward(ctx, nil, seq, rows)
	if err != nil {
		t.Fatal(err)
	}
	full, err := om.Forward(ctx, nil, seq, rows)
	if err != nil {
		t.Fatal(err)
	}
	cache, _ := om.NewCache()
	var worst, worstCached float64
	for i := 0; i < len(seq); {
		n := 1
		if i == 0 {
			n = 20
		}
		r := make([]int, n)
		for k := range r {
			r[k] = k
		}
		out, err := om.Forward(ctx, cache, seq[i:i+n], r)
		if err != nil {
			t.Fatal(err)
		}
		for k := range out {
			worstCached = max(worstCached, maxDiff(out[k], full[i+k]))
			worst = max(worst, maxDiff(full[i+k], want[i+k]))
		}
		i += n
	}
	t.Logf("ONNX vs checkpoint graph: %g; cached vs uncached: %g", worst, worstCached)
	if worst > 1e-4 || worstCached > 1e-5 {
		t.Errorf("logits differ: ONNX vs checkpoint %g, cached vs uncached %g", worst, worstCached)
	}
	req := llm.Request{Prompt: seq[:30], MaxTokens: 40}
	a, err := llm.NewGenerator(om).Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := llm.NewGenerator(hf).Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !equalIDs(a.Tokens, b.Tokens) {
		t.Errorf("greedy tokens differ:\nONNX       %v\ncheckpoint %v", a.Tokens, b.Tokens)
	}
}
