package llm_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/optc-dev/optc/gguf"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
	"github.com/optc-dev/optc/runtime/llm/llmtest"
)

// goldenSequence is the first golden prompt followed by its 200 tokens.
func goldenSequence(t *testing.T) []int32 {
	c := llmtest.LoadGolden(t).Cases[0]
	return append(append([]int32{}, c.PromptTokens...), c.OutTokens...)
}

func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestCacheEqualsFull: the logits at every position of a 205-token
// sequence are the same whether the whole sequence runs in one uncached
// forward pass or is fed through the KV cache — prefill in chunks of 3,
// 64 and 1, then one token at a time (crossing the cache's 64-token
// blocks).
func TestCacheEqualsFull(t *testing.T) {
	m := stories(t)
	seq := goldenSequence(t)
	all := make([]int, len(seq))
	for i := range all {
		all[i] = i
	}
	full, err := m.Forward(context.Background(), nil, seq, all)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{3, 64, 1} {
		cache, err := m.NewCache()
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for i := 0; i < len(seq); {
			n := chunk
			if i >= 70 {
				n = 1 // decoding
			}
			n = min(n, len(seq)-i)
			rows := make([]int, n)
			for r := range rows {
				rows[r] = r
			}
			out, err := m.Forward(context.Background(), cache, seq[i:i+n], rows)
			if err != nil {
				t.Fatal(err)
			}
			for r := range out {
				worst = math.Max(worst, maxDiff(out[r], full[i+r]))
			}
			i += n
		}
		if worst > 1e-5 {
			t.Errorf("prefill chunk %d: cached logits differ from the uncached forward by up to %g", chunk, worst)
		}
		t.Logf("prefill chunk %d: largest logit difference cached vs uncached %g", chunk, worst)
		if cache.Len(0) != len(seq) || cache.Bytes() != int64(len(seq))*m.CacheSpec().TokenBytes() {
			t.Errorf("cache holds %d tokens, %d bytes", cache.Len(0), cache.Bytes())
		}
	}
}

// snapshot copies every key and value the cache holds.
func snapshot(c kvcache.Cache) [][]float32 {
	var out [][]float32
	s := c.Spec()
	for l := 0; l < s.Layers; l++ {
		for h := 0; h < s.KVHeads; h++ {
			v := c.Head(l, h)
			var kv []float32
			for b := 0; b < kvcache.NumBlocks(v); b++ {
				k, val, _ := v.Block(b, nil, nil)
				kv = append(append(kv, k...), val...)
			}
			out = append(out, kv)
		}
	}
	return out
}

// TestRollback: truncating the cache and feeding the same tokens again
// restores the exact state (cache contents, byte count, next logits);
// feeding different tokens after a rollback equals never having fed the
// rolled-back ones.
func TestRollback(t *testing.T) {
	m := stories(t)
	seq := goldenSequence(t)[:120]
	ctx := context.Background()
	cache, _ := m.NewCache()
	want, err := llm.Prefill(ctx, m, cache, seq, 16)
	if err != nil {
		t.Fatal(err)
	}
	before, bytesBefore := snapshot(cache), cache.Bytes()
	if err := cache.Truncate(100); err != nil {
		t.Fatal(err)
	}
	if cache.Len(0) != 100 || cache.Bytes() != bytesBefore/120*100 {
		t.Errorf("after truncate: %d tokens, %d bytes", cache.Len(0), cache.Bytes())
	}
	// A rejected draft: four other tokens, then rolled back again.
	if _, err := m.Forward(ctx, cache, []int32{5, 6, 7, 8}, nil); err != nil {
		t.Fatal(err)
	}
	if err := cache.Truncate(100); err != nil {
		t.Fatal(err)
	}
	got, err := llm.Prefill(ctx, m, cache, seq[100:], 7)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(got, want); d != 0 {
		t.Errorf("logits after rollback differ by %g", d)
	}
	after := snapshot(cache)
	for i := range before {
		if !slicesEqual(before[i], after[i]) {
			t.Fatalf("cache head %d differs after rollback and refeed", i)
		}
	}
	if cache.Bytes() != bytesBefore {
		t.Errorf("bytes %d, want %d", cache.Bytes(), bytesBefore)
	}
	// A failing forward (a token outside the vocabulary) leaves the cache alone.
	if _, err := m.Forward(ctx, cache, []int32{1, 9999}, nil); err == nil {
		t.Error("bad token accepted")
	}
	if cache.Len(0) != 120 {
		t.Errorf("failed forward left %d tokens", cache.Len(0))
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// patch replaces the first occurrence of old after the first occurrence
// of anchor.
func patch(t *testing.T, b []byte, anchor, old, repl string) []byte {
	t.Helper()
	i := bytes.Index(b, []byte(anchor))
	j := bytes.Index(b[i:], []byte(old))
	if i < 0 || j < 0 || len(old) != len(repl) {
		t.Fatalf("cannot patch %q after %q", old, anchor)
	}
	out := append([]byte{}, b...)
	copy(out[i+j:], repl)
	return out
}

// TestLoadErrors: each malformed file gives one clear error naming the
// file and what is wrong.
func TestLoadErrors(t *testing.T) {
	good, err := os.ReadFile(llmtest.Path(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	u32 := func(v byte) string { return string([]byte{v, 0, 0, 0}) }
	cases := []struct {
		name, want string
		is         error
		data       []byte
	}{
		{"bad magic", "not a GGUF file", gguf.ErrBadMagic, append([]byte("GGML"), good[4:]...)},
		{"truncated", `truncated file: tensor "blk.4.ffn_norm.weight"`, gguf.ErrTruncated, good[:len(good)-1]},
		{"architecture", `architecture "mamba" is not supported`, nil, patch(t, good, "general.architecture", "llama", "mamba")},
		// head_count_kv 4 → 2: K and V projections no longer fit.
		{"shape", `tensor "blk.0.attn_k.weight" has shape [32 64], but the hyperparameters give [16 64]`, nil,
			patch(t, good, "llama.attention.head_count_kv", u32(4)+u32(4), u32(4)+u32(2))},
		{"missing tensor", `tensor "output_norm.weight" is missing`, nil, patch(t, good, "output_norm.weight", "output_norm", "output_nor_")},
		{"missing hyperparameter", `metadata "llama.block_count" is missing`, nil, patch(t, good, "llama.block_count", "block_count", "block_c0unt")},
	}
	dir := t.TempDir()
	for _, c := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".gguf")
		if err := os.WriteFile(p, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := llm.LoadGGUF(p)
		switch {
		case err == nil:
			t.Errorf("%s: loaded", c.name)
		case !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(p)):
			t.Errorf("%s: error %q, want it to name the file and contain %q", c.name, err, c.want)
		case c.is != nil && !errors.Is(err, c.is):
			t.Errorf("%s: error %v is not %v", c.name, err, c.is)
		}
	}
}

// TestQuantizedGGUF rewrites stories260K with its matrices stored as F16,
// Q8_0 and Q4_0 (ffn_down, whose rows of 172 are no multiple of 32, stays
// F32, as llama.cpp's quantizer falls back too), loads each and compares
// the next-token logits with the f32 model's.
func TestQuantizedGGUF(t *testing.T) {
	m := stories(t)
	src, err := gguf.Open(llmtest.Path(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	prompt := llmtest.LoadGolden(t).Cases[0].PromptTokens
	ctx := context.Background()
	ref, err := m.Forward(ctx, nil, prompt, []int{len(prompt) - 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		typ gguf.TensorType
		tol float64
	}{{gguf.F16, 0.02}, {gguf.Q8_0, 0.5}, {gguf.Q4_0, 5}} {
		var ts []gguf.WriteTensor
		for _, ti := range src.Tensors {
			raw, _, err := src.Raw(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			w := gguf.WriteTensor{Name: ti.Name, Shape: ti.Shape(), Type: gguf.F32, Data: raw}
			if len(ti.Dims) == 2 && ti.Dims[0]%32 == 0 {
				f, _ := src.Float32(ti.Name)
				w.Type = c.typ
				if c.typ == gguf.F16 {
					w.Data = make([]byte, 0, 2*f.Len())
					for _, v := range f.Data.([]float32) {
						h := ir.F32ToF16(v)
						w.Data = append(w.Data, byte(h), byte(h>>8))
					}
				} else if w.Data, err = gguf.Quantize(c.typ, f.Data.([]float32)); err != nil {
					t.Fatal(err)
				}
			}
			ts = append(ts, w)
		}
		p := filepath.Join(t.TempDir(), "q.gguf")
		var buf bytes.Buffer
		if err := gguf.Write(&buf, src.KVs, ts); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, buf.Bytes(), 0o644)
		q, err := llm.LoadGGUF(p)
		if err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
		if q.FileTypes[c.typ.String()] == 0 {
			t.Errorf("%s: file types %v", c.typ, q.FileTypes)
		}
		out, err := q.Forward(ctx, nil, prompt, []int{len(prompt) - 1})
		if err != nil {
			t.Fatal(err)
		}
		d := maxDiff(out[0], ref[0])
		t.Logf("%s: next-token logits differ from f32 by up to %.4f; top-1 %d (f32 %d)", c.typ, d, llm.Argmax(out[0]), llm.Argmax(ref[0]))
		if d > c.tol || d == 0 {
			t.Errorf("%s: logits differ from f32 by %g (want (0, %g])", c.typ, d, c.tol)
		}
		if c.typ != gguf.Q4_0 && llm.Argmax(out[0]) != llm.Argmax(ref[0]) {
			t.Errorf("%s: top-1 token changed", c.typ)
		}
	}
}
