package llm_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/optc-dev/optc/frontend/onnx"
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

// TestTextModel: the fixture LM's ONNX graph written in optc's IR text
// format (what `optc quant-report -o` writes) loads through llm.Load with
// the config.json beside it and gives the ONNX model's logits.
func TestTextModel(t *testing.T) {
	g, err := onnx.LoadFile(filepath.Join(fixtureLM, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	txt := filepath.Join(dir, "lm.txt")
	if err := os.WriteFile(txt, []byte(g.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := llm.Load(txt); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Fatalf("without config.json: err %v, want one naming config.json", err)
	}
	cfg, err := os.ReadFile(filepath.Join(fixtureLM, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	tm, err := llm.Load(txt)
	if err != nil {
		t.Fatal(err)
	}
	om, err := llm.Load(filepath.Join(fixtureLM, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	seq := []int32{256, 'f', 'u', 'n', 'c', ' ', 'm', 'a', 'i', 'n'}
	rows := []int{0, 4, 9}
	ctx := context.Background()
	want, err := om.Forward(ctx, nil, seq, rows)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tm.Forward(ctx, nil, seq, rows)
	if err != nil {
		t.Fatal(err)
	}
	for r := range rows {
		for i := range want[r] {
			if got[r][i] != want[r][i] {
				t.Fatalf("row %d logit %d: text model %v, ONNX model %v", rows[r], i, got[r][i], want[r][i])
			}
		}
	}
}
