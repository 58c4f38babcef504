package llm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// BenchConfig is a llama-bench style measurement: pp (prompt processing:
// PromptTokens random tokens prefilled in chunks into an empty cache) and
// tg (text generation: GenTokens single-token forward passes from an
// empty cache, each token random), each repeated Runs times after one
// warm-up run.
type BenchConfig struct {
	PromptTokens int // 0 skips pp
	GenTokens    int // 0 skips tg
	Runs         int // default 5
	Chunk        int // prefill chunk (default DefaultChunk)
	Seed         uint64
}

// BenchStat is the throughput of one test over its runs.
type BenchStat struct {
	Test    string    `json:"test"` // "pp512", "tg128"
	Tokens  int       `json:"tokens"`
	Median  float64   `json:"median_tokens_per_s"`
	Min     float64   `json:"min_tokens_per_s"`
	Max     float64   `json:"max_tokens_per_s"`
	Samples []float64 `json:"samples_tokens_per_s"`
	// CPUMedian is the median rate over the process's CPU time (user +
	// system) instead of wall time: on a machine shared with other work
	// it counts the work done, not the waiting (0 where not measured).
	CPUMedian float64 `json:"cpu_median_tokens_per_s,omitempty"`
}

// Bench measures lm. newCache makes an empty cache per run.
func Bench(ctx context.Context, lm LM, cfg BenchConfig, newCache func() (kvcache.Cache, error)) ([]BenchStat, error) {
	if cfg.Runs <= 0 {
		cfg.Runs = 5
	}
	if cfg.PromptTokens+1 > lm.MaxLen() || cfg.GenTokens > lm.MaxLen() {
		return nil, fmt.Errorf("llm: bench of pp%d/tg%d exceeds the context length %d", cfg.PromptTokens, cfg.GenTokens, lm.MaxLen())
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	randTokens := func(n int) []int32 {
		t := make([]int32, n)
		for i := range t {
			t[i] = int32(rng.IntN(lm.VocabSize()))
		}
		return t
	}
	var out []BenchStat
	run := func(test string, n int, once func(toks []int32) error) error {
		st := BenchStat{Test: fmt.Sprintf("%s%d", test, n), Tokens: n}
		var cpu []float64
		for r := -1; r < cfg.Runs; r++ { // run -1 warms up
			toks := randTokens(n)
			t0, c0 := time.Now(), llmProcessCPU()
			if err := once(toks); err != nil {
				return err
			}
			if r >= 0 {
				st.Samples = append(st.Samples, rate(n, time.Since(t0)))
				if c := llmProcessCPU() - c0; c > 0 {
					cpu = append(cpu, rate(n, c))
				}
			}
		}
		s := append([]float64{}, st.Samples...)
		sort.Float64s(s)
		st.Min, st.Max = s[0], s[len(s)-1]
		st.Median = benchMedian(s)
		if len(cpu) == len(s) {
			sort.Float64s(cpu)
			st.CPUMedian = benchMedian(cpu)
		}
		out = append(out, st)
		return nil
	}
	if cfg.PromptTokens > 0 {
		err := run("pp", cfg.PromptTokens, func(toks []int32) error {
			c, err := newCache()
			if err != nil {
				return err
			}
			_, err = Prefill(ctx, lm, c, toks, cfg.Chunk)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if cfg.GenTokens > 0 {
		err := run("tg", cfg.GenTokens, func(toks []int32) error {
			c, err := newCache()
			if err != nil {
				return err
			}
			for _, t := range toks {
				if _, err := lm.Forward(ctx, c, []int32{t}, []int{0}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// benchMedian is the median of sorted samples.
func benchMedian(s []float64) float64 {
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}
