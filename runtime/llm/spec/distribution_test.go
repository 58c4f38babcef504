package spec

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optc-dev/optc/runtime/llm"
)

// chiSquare is Pearson's statistic of observed counts against expected
// probabilities over n draws, with cells of expected count below 5 pooled
// into one; it returns the statistic and the degrees of freedom.
func chiSquare(counts []int, probs []float64, n int) (float64, int) {
	var stat, poolE float64
	var poolO, cells int
	for i, p := range probs {
		e := p * float64(n)
		if e < 5 {
			poolE += e
			poolO += counts[i]
			continue
		}
		d := float64(counts[i]) - e
		stat += d * d / e
		cells++
	}
	if poolE > 0 {
		d := float64(poolO) - poolE
		stat += d * d / max(poolE, 1e-9)
		cells++
	}
	return stat, cells - 1
}

// chiCritical is the 1−α quantile of χ² with k degrees of freedom by the
// Wilson–Hilferty approximation; z is the standard normal quantile
// (z = 3.719 for α = 1e-4).
func chiCritical(k int, z float64) float64 {
	a := 2 / (9 * float64(k))
	return float64(k) * math.Pow(1-a+z*math.Sqrt(a), 3)
}

// The verifiers alone (papers §5.1, §8): on small random p and q, the
// first emitted token is distributed as p.
func TestVerifierDistributions(t *testing.T) {
	const v, n = 6, 100000
	rng := rand.New(rand.NewPCG(11, 12))
	randDist := func(sparse bool) []float64 {
		d := make([]float64, v)
		for i := range d {
			d[i] = rng.ExpFloat64()
			if sparse && rng.IntN(3) == 0 {
				d[i] = 0 // disjoint supports happen after top-k/top-p
			}
		}
		d[rng.IntN(v)] += 0.1
		normalize(d)
		return d
	}
	for trial := range 4 {
		p, q := randDist(trial%2 == 1), randDist(trial >= 2)
		cases := map[string]func(r *rand.Rand) int32{
			"chain": func(r *rand.Rand) int32 {
				d := draw(r, q)
				n, next := verifyChain(r, [][]float64{p, p}, [][]float64{q}, []int32{d})
				if n == 1 {
					return d
				}
				return next
			},
			"rrs-without-replacement": func(r *rand.Rand) int32 {
				// Three siblings drawn from q without replacement.
				qc := append([]float64(nil), q...)
				var kids []int32
				for range 3 {
					if s := sum(qc); s <= 0 {
						break
					}
					k := draw(r, qc)
					kids = append(kids, k)
					qc[k] = 0
				}
				_, tok := rrs(r, withoutReplacement, p, q, kids)
				return tok
			},
			"rrs-candidates": func(r *rand.Rand) int32 {
				_, tok := rrs(r, candidates, p, nil, []int32{2, 0, 5})
				return tok
			},
			"kseq-4": func(r *rand.Rand) int32 {
				xs := make([]int32, 4)
				for i := range xs {
					xs[i] = draw(r, q)
				}
				_, tok := kseq(r, p, q, xs)
				return tok
			},
		}
		for _, name := range []string{"chain", "rrs-without-replacement", "rrs-candidates", "kseq-4"} {
			r := rand.New(rand.NewPCG(uint64(trial), 99))
			counts := make([]int, v)
			for range n {
				counts[cases[name](r)]++
			}
			stat, df := chiSquare(counts, p, n)
			if crit := chiCritical(df, 3.719); stat > crit {
				t.Errorf("trial %d %s: χ² = %.1f > %.1f (df %d, α = 1e-4): counts %v, p %v", trial, name, stat, crit, df, counts, p)
			}
		}
	}
}

func sum(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}

// fakePair is a target and a draft over 3 tokens that agree partly.
func fakePair() (*fakeLM, *fakeLM) {
	return &fakeLM{vocab: 3, maxLen: 64, scale: 1.2, hidden: 3},
		&fakeLM{vocab: 3, maxLen: 64, scale: 1.2, noise: 0.9, seed: 5, hidden: 3}
}

// seqProbs is the target's probability of every sequence of n tokens
// after prompt under the warping of cfg, indexed in base vocab.
func seqProbs(m *fakeLM, cfg llm.SamplerConfig, prompt []int32, n int) []float64 {
	w := llm.NewSampler(cfg)
	total := int(math.Pow(float64(m.vocab), float64(n)))
	out := make([]float64, total)
	for idx := range out {
		seq := append([]int32{}, prompt...)
		p := 1.0
		x := idx
		for range n {
			tok := int32(x % m.vocab)
			x /= m.vocab
			p *= w.Probs(m.logitsAfter(seq), seq, nil)[tok]
			seq = append(seq, tok)
		}
		out[idx] = p
	}
	return out
}

// Every strategy, run end to end on the fake pair many times with
// different seeds, emits 4-token continuations distributed as the
// target's (χ² at α = 1e-4 over the 81 sequences; the seeds are fixed, so
// the test is deterministic).
func TestStrategiesSampleTheTarget(t *testing.T) {
	target, draft := fakePair()
	prompt := []int32{1, 2, 0}
	const runs, ntok = 8000, 4
	// A head whose prediction follows the fake's first hidden feature:
	// P(accept) = σ(2·h0), so drafting continues past step 2 only
	// sometimes.
	head := &AcceptHead{Hidden: 3, Out: headLinear{W: []float32{0, 0, 0, 2, 0, 0}, B: []float32{0, 0}, in: 3}}
	configs := []llm.SamplerConfig{{Temperature: 1}, {Temperature: 0.7, TopK: 3, RepeatPenalty: 1.3}}
	for ci, cfg := range configs {
		want := seqProbs(target, cfg, prompt, ntok)
		strategies := []func() Strategy{
			func() Strategy { return NewFixed(draft, 2) },
			func() Strategy { return NewSpecDecPP(draft, head, 0.5, 1, 3) },
			func() Strategy { return NewPearl(draft, 2) },
			func() Strategy { return NewRSD(draft, []int{2, 2}) },
			func() Strategy { return NewSpecTr(draft, 3, 2) },
			func() Strategy { return &Recycle{K: 3, Template: [][][]int{{{0, 1}}, {{0, 1}, {0}}}} },
			func() Strategy { return &Recycle{K: 3, Template: [][][]int{{{0, 1}}, {{0, 1}, {0}}}, Adaptive: true} },
		}
		for _, mk := range strategies {
			name := mk().Name()
			counts := make([]int, len(want))
			var st Stats
			strat := mk() // reused: Token Recycling's matrix stays hot across runs
			for run := range runs {
				c := cfg
				c.Seed = uint64(1000*ci + run)
				d := &Decoder{Target: target, Strategy: strat, Sampler: c}
				res, err := d.Generate(context.Background(), llm.Request{Prompt: prompt, MaxTokens: ntok})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				idx, mul := 0, 1
				for _, tok := range res.Tokens {
					idx += int(tok) * mul
					mul *= target.vocab
				}
				counts[idx]++
				st.Rounds += res.Stats.Rounds
				st.Accepted += res.Stats.Accepted
				st.Reached += res.Stats.Reached
				st.Drafted += res.Stats.Drafted
			}
			stat, df := chiSquare(counts, want, runs)
			crit := chiCritical(df, 3.719)
			t.Logf("config %d %-14s χ² = %5.1f (critical %.1f, df %d); acceptance %.2f over %d rounds, %.2f drafts per round", ci, name, stat, crit, df, st.AcceptanceRate(), st.Rounds, float64(st.Drafted)/float64(st.Rounds))
			if stat > crit {
				t.Errorf("config %d %s: χ² = %.1f > %.1f: the tokens are not distributed as the target's", ci, name, stat, crit)
			}
			if st.Accepted == 0 {
				t.Errorf("config %d %s: never accepted a draft token", ci, name)
			}
		}
	}
}
