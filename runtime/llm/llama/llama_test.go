package llama_test

import (
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/llm/llama"
	"github.com/optc-dev/optc/runtime/llm/llmtest"
)

// TestRopeTables compares the rotary tables with the ones llama2.c stored
// in its stories260K checkpoint (freq_cis_real/imag, [seq_len][head/2],
// computed by llama2.c's exporter in PyTorch: an independent source).
func TestRopeTables(t *testing.T) {
	raw, err := os.ReadFile(llmtest.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	var h [7]int32
	for i := range h {
		h[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	dim, hidden, layers, heads, kvHeads, vocab, seqLen := int(h[0]), int(h[1]), int(h[2]), int(h[3]), int(h[4]), int(h[5]), int(h[6])
	if vocab < 0 {
		vocab = -vocab
	}
	hd := dim / heads
	kv := kvHeads * hd
	// Skip the weights: embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final.
	skip := vocab*dim + layers*(dim+dim*dim+2*dim*kv+dim*dim+dim+3*dim*hidden) + dim
	f := func(i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(raw[28+4*(skip+i):])) }
	cfg := llama.Config{Vocab: vocab, Dim: dim, Hidden: hidden, Layers: layers, Heads: heads, KVHeads: kvHeads, HeadDim: hd,
		ContextLen: seqLen, RMSEps: 1e-5, RopeTheta: 10000, RopeDim: hd, RopeInterleaved: true}
	cos, sin := cfg.RopeTables()
	half := hd / 2
	var worst float64
	for p := 0; p < seqLen; p++ {
		for i := 0; i < half; i++ {
			wc, ws := f(p*half+i), f(seqLen*half+p*half+i)
			gc, gs := cos.Data.([]float32)[p*half+i], sin.Data.([]float32)[p*half+i]
			worst = math.Max(worst, math.Max(math.Abs(float64(gc-wc)), math.Abs(float64(gs-ws))))
		}
	}
	t.Logf("rotary tables over %d positions: largest difference from llama2.c's %g", seqLen, worst)
	if worst > 1e-4 {
		t.Errorf("rotary tables differ from llama2.c's by %g", worst)
	}
}

func TestBuildErrors(t *testing.T) {
	good := llama.Config{Vocab: 10, Dim: 8, Hidden: 16, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 4, ContextLen: 16, RMSEps: 1e-5, RopeTheta: 10000, RopeDim: 4, Tied: true}
	weights := func(name string) (*ir.Tensor, error) {
		return ir.NewTensor(ir.Float32, good.Shapes()[name]...), nil
	}
	if _, err := llama.Build(good, weights); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, c := range []struct {
		mod  func(*llama.Config)
		want string
	}{
		{func(c *llama.Config) { c.KVHeads = 3 }, "not a multiple"},
		{func(c *llama.Config) { c.RopeDim = 5 }, "rotary dimension"},
		{func(c *llama.Config) { c.Layers = 0 }, "positive"},
	} {
		cfg := good
		c.mod(&cfg)
		if _, err := llama.Build(cfg, weights); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", cfg, err, c.want)
		}
	}
	wrong := func(name string) (*ir.Tensor, error) {
		if name == "blk.0.ffn_up.weight" {
			return ir.NewTensor(ir.Float32, 8, 16), nil
		}
		return weights(name)
	}
	if _, err := llama.Build(good, wrong); err == nil || !strings.Contains(err.Error(), `"blk.0.ffn_up.weight" is f32 [8 16], but the hyperparameters give f32 [16 8]`) {
		t.Errorf("wrong shape: %v", err)
	}
}
