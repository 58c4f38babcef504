package llm_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime"
	"github.com/optc-dev/optc/runtime/llm"
)

// fixtureLM is the committed fixture language model (tools/fixtures):
// one checkpoint as config.json + model.safetensors and as the ONNX export
// PyTorch made of it (Optimum KV-cache interface).
const fixtureLM = "../../testdata/models/lm-draft"

func loadFixture(t *testing.T) *llm.Model {
	t.Helper()
	if _, err := os.Stat(filepath.Join(fixtureLM, "model.safetensors")); err != nil {
		t.Skipf("fixture LM not present: %v", err)
	}
	m, err := llm.Load(fixtureLM)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fixtureSequence(t *testing.T, m *llm.Model, n int) []int32 {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(fixtureLM, "sample.txt"))
	if err != nil {
		t.Fatal(err)
	}
	seq := append([]int32{m.Tokenizer.Specials().BOS}, m.Tokenizer.Encode(string(text))...)
	return seq[:min(n, len(seq))]
}

// TestHFMatchesONNX: the Llama graph optc builds from config.json and
// model.safetensors gives the logits of PyTorch's ONNX export of the same
// checkpoint (run on the interpreter) at every position.
func TestHFMatchesONNX(t *testing.T) {
	m := loadFixture(t)
	if m.Tokenizer.Specials().BOS != 256 || m.Config.Heads != 2 || m.Config.KVHeads != 1 || m.Config.RopeInterleaved {
		t.Fatalf("config %+v, specials %+v", m.Config, m.Tokenizer.Specials())
	}
	seq := fixtureSequence(t, m, 150)
	rows := make([]int, len(seq))
	for i := range rows {
		rows[i] = i
	}
	got, err := m.Forward(context.Background(), nil, seq, rows)
	if err != nil {
		t.Fatal(err)
	}
	om, err := runtime.Open(filepath.Join(fixtureLM, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	s := int64(len(seq))
	ids, pos := make([]int64, s), make([]int64, s)
	for i, x := range seq {
		ids[i], pos[i] = int64(x), int64(i)
	}
	in := map[string]*runtime.Tensor{
		"input_ids":    ir.FromSlice(ir.Int64, []int64{1, s}, ids),
		"position_ids": ir.FromSlice(ir.Int64, []int64{1, s}, pos),
	}
	for _, v := range om.Inputs() {
		if strings.HasPrefix(v.Name, "past_key_values.") {
			in[v.Name] = ir.NewTensor(ir.Float32, 1, int64(m.Config.KVHeads), 0, int64(m.Config.HeadDim))
		}
	}
	out, err := om.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := out["logits"].Data.([]float32)
	v := m.Config.Vocab
	var worst float64
	for i := range got {
		for j := 0; j < v; j++ {
			worst = math.Max(worst, math.Abs(float64(got[i][j]-want[i*v+j])))
		}
	}
	t.Logf("largest logit difference optc graph vs ONNX export over %d positions: %g", len(seq), worst)
	if worst > 1e-4 {
		t.Errorf("logits differ from the ONNX export by up to %g", worst)
	}
}

// TestHFCacheEqualsFull: on the fixture LM too, decoding through the KV
// cache gives the uncached forward's logits at every position.
func TestHFCacheEqualsFull(t *testing.T) {
	m := loadFixture(t)
	seq := fixtureSequence(t, m, 200)
	rows := make([]int, len(seq))
	for i := range rows {
		rows[i] = i
	}
	full, err := m.Forward(context.Background(), nil, seq, rows)
	if err != nil {
		t.Fatal(err)
	}
	cache, _ := m.NewCache()
	for i := 0; i < len(seq); {
		n := 1
		if i == 0 {
			n = 37 // a chunked prefill, then one token at a time
		}
		r := make([]int, n)
		for k := range r {
			r[k] = k
		}
		out, err := m.Forward(context.Background(), cache, seq[i:i+n], r)
		if err != nil {
			t.Fatal(err)
		}
		for k := range out {
			if d := maxDiff(out[k], full[i+k]); d > 1e-5 {
				t.Fatalf("position %d: cached logits differ by %g", i+k, d)
			}
		}
		i += n
	}
}

func TestHFErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(cfg string) string {
		d := filepath.Join(dir, fmt.Sprint(len(cfg)))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "config.json"), []byte(cfg), 0o644)
		return d
	}
	for _, c := range []struct{ cfg, want string }{
		{`{"model_type": "gpt2"}`, `model_type "gpt2" is not supported`},
		{`{"model_type": "llama", "num_attention_heads": 2, "rope_scaling": {"type": "linear"}}`, "rope_scaling"},
		{`{"model_type": "llama", "vocab_size": 259, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 8, "optc_tokenizer": "bytes"}`, "model.safetensors"},
		{`not json`, "config.json"},
	} {
		_, err := llm.Load(write(c.cfg))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.cfg, err, c.want)
		}
	}
	if _, err := llm.Load(filepath.Join(dir, "x.bin")); err == nil {
		t.Error("missing file accepted")
	}
}
