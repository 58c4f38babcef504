package llm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// SamplerConfig chooses how the next token is picked from the logits.
// The zero value is greedy decoding. Otherwise the steps run in
// llama.cpp's default order: repetition penalty, top-k, top-p,
// temperature, then a seeded draw from the softmax.
type SamplerConfig struct {
	// Temperature ≤ 0 picks the most likely token (the first on ties).
	Temperature float32 `json:"temperature"`
	// TopK > 0 keeps the K most likely tokens.
	TopK int `json:"top_k"`
	// TopP in (0, 1) keeps the smallest set of most likely tokens whose
	// probability reaches P.
	TopP float32 `json:"top_p"`
	// RepeatPenalty > 0 and ≠ 1 divides the positive logits (multiplies
	// the negative ones) of the tokens among the last RepeatLastN of the
	// sequence (prompt included), as llama.cpp does. Off by default.
	RepeatPenalty float32 `json:"repeat_penalty"`
	RepeatLastN   int     `json:"repeat_last_n"` // 0 means 64
	// Seed makes the draws reproducible.
	Seed uint64 `json:"seed"`
}

// Greedy reports whether the config is plain argmax decoding.
func (c SamplerConfig) Greedy() bool { return c.Temperature <= 0 && !c.penalized() }

func (c SamplerConfig) penalized() bool { return c.RepeatPenalty > 0 && c.RepeatPenalty != 1 }

// Validate rejects meaningless settings.
func (c SamplerConfig) Validate() error {
	switch {
	case math.IsNaN(float64(c.Temperature)) || c.TopK < 0 || c.TopP < 0 || c.TopP > 1 || c.RepeatPenalty < 0 || c.RepeatLastN < 0:
		return fmt.Errorf("sampler: invalid settings %+v", c)
	}
	return nil
}

// Sampler picks tokens; it holds the random state of one generation.
type Sampler struct {
	cfg  SamplerConfig
	rng  *rand.Rand
	work []float32
	idx  []int32
	prob []float64
}

// NewSampler makes a sampler whose random draws depend only on cfg.Seed.
func NewSampler(cfg SamplerConfig) *Sampler {
	return &Sampler{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))}
}

// Sample returns the next token given the logits and the sequence so far.
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
	x := s.penalize(logits, history)
	if s.cfg.Temperature <= 0 {
		return Argmax(x)
	}
	cand, p := s.candidates(x)
	r := s.rng.Float64()
	var cum float64
	for i, pi := range p {
		cum += pi
		if r < cum {
			return cand[i]
		}
	}
	return cand[len(cand)-1]
}

// Probs returns the distribution Sample draws the next token from, over
// the whole vocabulary (zero outside the tokens top-k and top-p keep;
// one-hot on the argmax when the temperature is ≤ 0), in dst when it is
// long enough. It uses no random numbers: speculative decoding compares
// a draft's and a target's distributions after the same warping.
func (s *Sampler) Probs(logits []float32, history []int32, dst []float64) []float64 {
	if cap(dst) < len(logits) {
		dst = make([]float64, len(logits))
	}
	dst = dst[:len(logits)]
	clear(dst)
	x := s.penalize(logits, history)
	if s.cfg.Temperature <= 0 {
		dst[Argmax(x)] = 1
		return dst
	}
	cand, p := s.candidates(x)
	for i, id := range cand {
		dst[id] = p[i]
	}
	return dst
}

// penalize applies the repetition penalty (to a copy of the logits).
func (s *Sampler) penalize(logits []float32, history []int32) []float32 {
	c := s.cfg
	if !c.penalized() {
		return logits
	}
	s.work = append(s.work[:0], logits...)
	x := s.work
	n := c.RepeatLastN
	if n == 0 {
		n = 64
	}
	seen := map[int32]bool{}
	for _, t := range history[max(0, len(history)-n):] {
		if t < 0 || int(t) >= len(x) || seen[t] {
			continue
		}
		seen[t] = true
		if x[t] <= 0 {
			x[t] *= c.RepeatPenalty
		} else {
			x[t] /= c.RepeatPenalty
		}
	}
	return x
}

// candidates returns the tokens top-k and top-p keep, sorted by logit
// (descending; ties: lower id first), and their probabilities at the
// temperature.
func (s *Sampler) candidates(x []float32) ([]int32, []float64) {
	c := s.cfg
	s.idx = s.idx[:0]
	for i := range x {
		s.idx = append(s.idx, int32(i))
	}
	// Stable, so ties keep the lower id first; slices' generic sort
	// (no reflection) is several times faster than sort.SliceStable here,
	// which a speculative round pays once per drafted and verified token.
	slices.SortStableFunc(s.idx, func(a, b int32) int {
		switch {
		case x[a] > x[b]:
			return -1
		case x[a] < x[b]:
			return 1
		}
		return 0
	})
	cand := s.idx
	if c.TopK > 0 && c.TopK < len(cand) {
		cand = cand[:c.TopK]
	}
	if c.TopP > 0 && c.TopP < 1 {
		p := s.softmax(x, cand, 1)
		var cum float64
		keep := len(cand)
		for i, pi := range p {
			cum += pi
			if cum >= float64(c.TopP) {
				keep = i + 1
				break
			}
		}
		cand = cand[:keep]
	}
	return cand, s.softmax(x, cand, c.Temperature)
}

// softmax returns the probabilities of the candidates (sorted descending)
// at temperature t, in float64.
func (s *Sampler) softmax(x []float32, cand []int32, t float32) []float64 {
	s.prob = s.prob[:0]
	mx := float64(x[cand[0]]) / float64(t)
	var sum float64
	for _, id := range cand {
		e := math.Exp(float64(x[id])/float64(t) - mx)
		s.prob = append(s.prob, e)
		sum += e
	}
	for i := range s.prob {
		s.prob[i] /= sum
	}
	return s.prob
}

// Argmax returns the index of the largest logit (the first on ties).
func Argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}
