package spec

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/optc-dev/optc/runtime/llm"
)

// The head's backward pass agrees with central finite differences of
// its loss.
func TestAcceptHeadGradient(t *testing.T) {
	h := NewAcceptHead(4, 2, 3)
	x := []float32{0.3, -1.2, 0.8, 0.1}
	const a0, a1 = 0.7, 0.4
	loss := func() float64 {
		lp0, lp1 := logSoftmax2(h.logits(x))
		return -a0*lp0 - a1*lp1
	}
	tr := newHeadTrainer(h)
	tr.zero()
	tr.backward(x, a0, a1)
	for pi, p := range tr.params {
		for j := range p {
			old := p[j]
			const eps = 1e-2
			p[j] = old + eps
			up := loss()
			p[j] = old - eps
			down := loss()
			p[j] = old
			num := (up - down) / (2 * eps)
			if got := float64(tr.grads[pi][j]); math.Abs(got-num) > 2e-3+2e-2*math.Abs(num) {
				t.Errorf("parameter %d[%d]: gradient %g, finite difference %g", pi, j, got, num)
			}
		}
	}
}

// Training on examples whose acceptance depends on the hidden state
// beats the best constant prediction; the head survives a save/load
// round trip.
func TestTrainAcceptHead(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var ex []AcceptExample
	for range 3000 {
		x := make([]float32, 6)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		// Accepted with probability σ(2·x0 − x1): learnable.
		y := 1 / (1 + math.Exp(-(2*float64(x[0]) - float64(x[1]))))
		ex = append(ex, AcceptExample{Hidden: x, Label: y})
	}
	h, rep, err := TrainAcceptHead(ex, 6, TrainConfig{Epochs: 5, LR: 3e-3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if !(rep.LossEnd < 0.8*rep.LossConstant) || !(rep.LossEnd < rep.LossStart) {
		t.Errorf("held-out loss %.4f after training (start %.4f, constant %.4f): the head learned nothing", rep.LossEnd, rep.LossStart, rep.LossConstant)
	}
	path := filepath.Join(t.TempDir(), "head.safetensors")
	if err := h.Save(path, map[string]string{"draft": "test"}); err != nil {
		t.Fatal(err)
	}
	g, err := LoadAcceptHead(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex[:20] {
		if a, b := h.AcceptProb(e.Hidden), g.AcceptProb(e.Hidden); a != b {
			t.Fatalf("loaded head predicts %g, saved one %g", b, a)
		}
	}
	if _, err := LoadAcceptHead(filepath.Join("..", "..", "..", "testdata", "models", "lm-draft", "model.safetensors")); err == nil {
		t.Errorf("a model's safetensors loaded as an acceptance head")
	}
}

// CollectAcceptData labels each draft token with min(1, p/q): on the fake
// pair the labels are probabilities and most examples come from draft
// tokens (MixRatio 0.15 leaves about 85%).
func TestCollectAcceptData(t *testing.T) {
	target, draft := fakePair()
	prompts := [][]int32{{0, 1}, {2, 2, 1}, {1}}
	ex, err := CollectAcceptData(context.Background(), target, draft, AcceptDataConfig{Prompts: prompts, GenTokens: 20, Sampler: llm.SamplerConfig{Temperature: 1}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) < 40 || len(ex) > 60 {
		t.Errorf("%d examples from 60 positions at mix ratio 0.15", len(ex))
	}
	for _, e := range ex {
		if !(e.Label >= 0 && e.Label <= 1) || len(e.Hidden) != 3 {
			t.Fatalf("example %+v", e)
		}
	}
}
