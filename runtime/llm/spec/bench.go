package spec

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// BenchConfig is a side-by-side measurement of plain and speculative
// decoding: per run and prompt, the same number of tokens is generated
// plainly and with the strategy, one right after the other (same
// backend, same process), after one warm-up run.
type BenchConfig struct {
	Prompts   [][]int32
	GenTokens int
	Runs      int // default 3
	Sampler   llm.SamplerConfig
	NewCache  func(kvcache.Spec) (kvcache.Cache, error)
	Chunk     int
	Guard     *Guard
	// AfterWarmup, when set, is called between the warm-up run and the
	// measured ones (a backend that compiles per shape can count what
	// the measured runs still had to compile).
	AfterWarmup func()
}

// BenchResult compares a strategy with plain decoding.
type BenchResult struct {
	Strategy string `json:"strategy"`
	// Decode tokens/s (generated tokens over the decode time, prefill
	// excluded): medians over runs of the per-run totals.
	PlainTokensPerS float64 `json:"plain_tokens_per_s"`
	SpecTokensPerS  float64 `json:"spec_tokens_per_s"`
	Speedup         float64 `json:"speedup"`
	// Per-run speedups (spec / plain of the same run).
	Speedups []float64 `json:"speedups"`
	// The same from the process's CPU time instead of wall time: robust
	// to other load on the machine, but it counts the work of parallel
	// goroutines (PEARL) instead of their overlap.
	PlainCPUTokensPerS float64   `json:"plain_cpu_tokens_per_s"`
	SpecCPUTokensPerS  float64   `json:"spec_cpu_tokens_per_s"`
	CPUSpeedup         float64   `json:"cpu_speedup"`
	CPUSpeedups        []float64 `json:"cpu_speedups"`
	// Stats summed over the measured runs.
	Stats Stats `json:"stats"`
	// KV cache bytes at the end of the last run's last prompt: target
	// (plain decoding holds the same) and draft.
	TargetKVBytes int64 `json:"target_kv_bytes"`
	DraftKVBytes  int64 `json:"draft_kv_bytes"`
	// Exact says whether, under greedy decoding, every speculative
	// generation equalled the plain one token for token.
	Exact bool `json:"greedy_exact"`
}

// AcceptanceRate and TokensPerRound are the summed stats' figures.
func (b *BenchResult) AcceptanceRate() float64 { return b.Stats.AcceptanceRate() }
func (b *BenchResult) TokensPerRound() float64 { return b.Stats.TokensPerRound() }

// Bench measures plain decoding against a strategy. mk makes a fresh
// strategy per run, used for the run's prompts in turn: state such as
// Token Recycling's matrix carries from one prompt to the next (the
// paper's hot start across queries) but never from a run to the next,
// which would replay the same continuations.
func Bench(ctx context.Context, target Model, mk func() Strategy, cfg BenchConfig) (*BenchResult, error) {
	if cfg.Runs <= 0 {
		cfg.Runs = 3
	}
	if len(cfg.Prompts) == 0 || cfg.GenTokens <= 0 {
		return nil, fmt.Errorf("spec: bench needs prompts and tokens to generate")
	}
	res := &BenchResult{Strategy: mk().Name(), Exact: true}
	var plainRates, specRates, plainCPU, specCPU []float64
	for run := -1; run < cfg.Runs; run++ { // run -1 warms up
		var pt, st, pc, scpu float64 // seconds: wall and CPU
		var pn, sn int
		var runStats []Stats
		strat := mk()
		for i, prompt := range cfg.Prompts {
			sc := cfg.Sampler
			sc.Seed = cfg.Sampler.Seed + uint64(1000*(run+1)+i)
			req := llm.Request{Prompt: prompt, MaxTokens: cfg.GenTokens}
			plain := &Decoder{Target: target, Sampler: sc, NewCache: cfg.NewCache, Chunk: cfg.Chunk}
			pr, err := plain.Generate(ctx, req)
			if err != nil {
				return nil, err
			}
			spec := &Decoder{Target: target, Strategy: strat, Sampler: sc, NewCache: cfg.NewCache, Chunk: cfg.Chunk, Guard: cfg.Guard}
			sr, err := spec.Generate(ctx, req)
			if err != nil {
				return nil, err
			}
			pt += pr.GenTime.Seconds()
			st += sr.GenTime.Seconds()
			pc += pr.GenCPU.Seconds()
			scpu += sr.GenCPU.Seconds()
			pn += len(pr.Tokens)
			sn += len(sr.Tokens)
			if sc.Temperature <= 0 && !equalTokens(pr.Tokens, sr.Tokens) {
				res.Exact = false
			}
			runStats = append(runStats, sr.Stats)
			res.TargetKVBytes, res.DraftKVBytes = sr.CacheBytes, sr.DraftCacheBytes
		}
		if run < 0 {
			if cfg.AfterWarmup != nil {
				cfg.AfterWarmup()
			}
			continue
		}
		for _, s := range runStats {
			res.Stats.add(&s)
		}
		pr, sr := float64(pn)/pt, float64(sn)/st
		plainRates, specRates = append(plainRates, pr), append(specRates, sr)
		res.Speedups = append(res.Speedups, sr/pr)
		if pc > 0 && scpu > 0 {
			pcr, scr := float64(pn)/pc, float64(sn)/scpu
			plainCPU, specCPU = append(plainCPU, pcr), append(specCPU, scr)
			res.CPUSpeedups = append(res.CPUSpeedups, scr/pcr)
		}
	}
	res.PlainCPUTokensPerS, res.SpecCPUTokensPerS, res.CPUSpeedup = median(plainCPU), median(specCPU), median(res.CPUSpeedups)
	res.Stats.Strategy = res.Strategy
	res.PlainTokensPerS, res.SpecTokensPerS = median(plainRates), median(specRates)
	res.Speedup = median(res.Speedups)
	return res, nil
}

func equalTokens(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64{}, xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// add accumulates another generation's statistics.
func (s *Stats) add(o *Stats) {
	s.Rounds += o.Rounds
	s.PlainSteps += o.PlainSteps
	s.Drafted += o.Drafted
	s.Reached += o.Reached
	s.Accepted += o.Accepted
	s.Emitted += o.Emitted
	for len(s.Positions) < len(o.Positions) {
		s.Positions = append(s.Positions, PosStat{})
	}
	for i, p := range o.Positions {
		s.Positions[i].Reached += p.Reached
		s.Positions[i].Accepted += p.Accepted
	}
	s.TargetCalls += o.TargetCalls
	s.TargetTokens += o.TargetTokens
	s.TargetTime += o.TargetTime
	s.DraftCalls += o.DraftCalls
	s.DraftTokens += o.DraftTokens
	s.DraftTime += o.DraftTime
	s.GuardSwitches += o.GuardSwitches
}

// ForwardCost is a model's forward-pass time as a function of the number
// of tokens n fed at once, after a fixed context: t(n) ≈ Fixed +
// PerToken·n. A verifier that scores γ+1 tokens in one pass pays
// Fixed once instead of γ+1 times; when PerToken dominates (compute-bound
// kernels that gain nothing from more rows) speculation cannot win.
type ForwardCost struct {
	Fixed    float64     `json:"fixed_ms"`
	PerToken float64     `json:"per_token_ms"`
	Points   []CostPoint `json:"points"`
}

// CostPoint is the median time of a forward pass of Tokens tokens: wall
// time (MS) and the process's CPU time (CPUMS).
type CostPoint struct {
	Tokens int     `json:"tokens"`
	MS     float64 `json:"ms"`
	CPUMS  float64 `json:"cpu_ms"`
}

// MeasureForward times forward passes of each size after a context of
// contextLen tokens (median of reps) and fits the line by least squares
// to the CPU times (to the wall times where CPU time is not measured).
func MeasureForward(ctx context.Context, m Model, contextLen int, sizes []int, reps int) (*ForwardCost, error) {
	c, err := kvcache.NewDense(m.CacheSpec(), 0)
	if err != nil {
		return nil, err
	}
	v := m.VocabSize()
	seq := make([]int32, contextLen)
	for i := range seq {
		seq[i] = int32((7*i + 3) % v)
	}
	if contextLen > 0 {
		if _, err := llm.Prefill(ctx, m, c, seq, llm.DefaultChunk); err != nil {
			return nil, err
		}
	}
	fc := &ForwardCost{}
	for _, n := range sizes {
		toks := make([]int32, n)
		rows := make([]int, n)
		for i := range toks {
			toks[i], rows[i] = int32((5*i+1)%v), i
		}
		var ts, cs []float64
		for range max(reps, 1) {
			t0, c0 := time.Now(), processCPU()
			if _, err := m.Forward(ctx, c, toks, rows); err != nil {
				return nil, err
			}
			ts = append(ts, float64(time.Since(t0).Nanoseconds())/1e6)
			cs = append(cs, float64((processCPU()-c0).Nanoseconds())/1e6)
			if err := c.Truncate(contextLen); err != nil {
				return nil, err
			}
		}
		fc.Points = append(fc.Points, CostPoint{n, median(ts), median(cs)})
	}
	// Least squares t = a + b·n.
	var sn, st, snn, snt float64
	k := float64(len(fc.Points))
	for _, p := range fc.Points {
		n, t := float64(p.Tokens), p.CPUMS
		if t == 0 {
			t = p.MS
		}
		sn, st, snn, snt = sn+n, st+t, snn+n*n, snt+n*t
	}
	if d := k*snn - sn*sn; d != 0 {
		fc.PerToken = (k*snt - sn*st) / d
		fc.Fixed = (st - fc.PerToken*sn) / k
	}
	return fc, nil
}
