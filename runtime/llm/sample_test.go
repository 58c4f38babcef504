package llm_test

import (
	"math"
	"testing"

	"github.com/optc-dev/optc/runtime/llm"
)

// freqs draws n tokens and returns their frequencies.
func freqs(cfg llm.SamplerConfig, logits []float32, n int) []float64 {
	s := llm.NewSampler(cfg)
	f := make([]float64, len(logits))
	for i := 0; i < n; i++ {
		f[s.Sample(logits, nil)]++
	}
	for i := range f {
		f[i] /= float64(n)
	}
	return f
}

// TestSampler checks each step against probabilities computed by hand.
// Logits ln(0.5), ln(0.3), ln(0.2) are probabilities (0.5, 0.3, 0.2).
func TestSampler(t *testing.T) {
	lg := []float32{float32(math.Log(0.5)), float32(math.Log(0.3)), float32(math.Log(0.2))}
	const n = 40000
	for _, c := range []struct {
		name string
		cfg  llm.SamplerConfig
		want []float64
	}{
		{"temperature 1", llm.SamplerConfig{Temperature: 1, Seed: 1}, []float64{0.5, 0.3, 0.2}},
		// T = 0.5 squares the probabilities: 0.25, 0.09, 0.04 over 0.38.
		{"temperature 0.5", llm.SamplerConfig{Temperature: 0.5, Seed: 2}, []float64{0.25 / 0.38, 0.09 / 0.38, 0.04 / 0.38}},
		// top-k 2 keeps 0.5 and 0.3: 0.625, 0.375.
		{"top-k 2", llm.SamplerConfig{Temperature: 1, TopK: 2, Seed: 3}, []float64{0.625, 0.375, 0}},
		// top-p 0.6: 0.5 < 0.6, 0.5+0.3 ≥ 0.6 → the same two.
		{"top-p 0.6", llm.SamplerConfig{Temperature: 1, TopP: 0.6, Seed: 4}, []float64{0.625, 0.375, 0}},
		// top-p 0.5: the first alone reaches it.
		{"top-p 0.5", llm.SamplerConfig{Temperature: 1, TopP: 0.5, Seed: 5}, []float64{1, 0, 0}},
		{"top-k 1", llm.SamplerConfig{Temperature: 1, TopK: 1, Seed: 6}, []float64{1, 0, 0}},
	} {
		got := freqs(c.cfg, lg, n)
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 0.015 {
				t.Errorf("%s: frequencies %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
	// Greedy: the first of equal maxima.
	if got := llm.NewSampler(llm.SamplerConfig{}).Sample([]float32{1, 3, 3, 2}, nil); got != 1 {
		t.Errorf("greedy picked %d", got)
	}
	// Repetition penalty 2 on tokens 0 and 2 of logits (2, 1.5, -1):
	// token 0's positive logit halves to 1, token 2's negative one
	// doubles to -2; greedy then picks token 1 instead of 0. The caller's
	// logits stay unchanged.
	x := []float32{2, 1.5, -1}
	s := llm.NewSampler(llm.SamplerConfig{RepeatPenalty: 2})
	if got := s.Sample(x, []int32{0, 2, 2}); got != 1 || x[0] != 2 {
		t.Errorf("penalized greedy picked %d (logits now %v)", got, x)
	}
	if got := llm.NewSampler(llm.SamplerConfig{RepeatPenalty: 2, RepeatLastN: 1}).Sample(x, []int32{0, 2}); got != 0 {
		t.Errorf("a window of 1 should only penalize token 2, picked %d", got)
	}
	// Same seed, same draws; another seed, other draws.
	draw := func(seed uint64) []int32 {
		s := llm.NewSampler(llm.SamplerConfig{Temperature: 1, Seed: seed})
		var out []int32
		for i := 0; i < 50; i++ {
			out = append(out, s.Sample(lg, nil))
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	same := func(x, y []int32) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) || same(a, c) {
		t.Errorf("seeding: %v %v %v", a, b, c)
	}
	for _, bad := range []llm.SamplerConfig{{TopK: -1}, {TopP: 1.5}, {RepeatPenalty: -1}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
