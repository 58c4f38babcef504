package llm

import (
	"context"
	"fmt"
	"time"

	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// Generator decodes with one model and a KV cache per request.
type Generator struct {
	lm       LM
	chunk    int
	sampler  SamplerConfig
	newCache func(kvcache.Spec) (kvcache.Cache, error)
}

// Option configures a Generator.
type Option func(*Generator)

// DefaultChunk is the prefill chunk size: prompts are processed this many
// tokens per forward pass.
const DefaultChunk = 64

// WithChunkSize sets the prefill chunk size (tokens per forward pass).
func WithChunkSize(n int) Option { return func(g *Generator) { g.chunk = n } }

// WithSampler sets the sampling (default greedy).
func WithSampler(c SamplerConfig) Option { return func(g *Generator) { g.sampler = c } }

// WithCache sets how caches are made (default: dense f32).
func WithCache(f func(kvcache.Spec) (kvcache.Cache, error)) Option {
	return func(g *Generator) { g.newCache = f }
}

// NewGenerator makes a generator for lm.
func NewGenerator(lm LM, opts ...Option) *Generator {
	g := &Generator{lm: lm, chunk: DefaultChunk, newCache: func(s kvcache.Spec) (kvcache.Cache, error) { return kvcache.NewDense(s, 0) }}
	for _, o := range opts {
		o(g)
	}
	if g.chunk <= 0 {
		g.chunk = DefaultChunk
	}
	return g
}

// Request is one generation.
type Request struct {
	Prompt    []int32 // token ids, BOS included when the model wants it
	MaxTokens int     // tokens to generate
	// Stop ends generation after emitting one of these tokens (EOS).
	Stop []int32
	// OnToken, when set, receives each generated token as it is chosen;
	// an error stops generation and is returned.
	OnToken func(id int32) error
}

// Result is a finished generation.
type Result struct {
	Prompt []int32
	Tokens []int32
	// StopReason is "stop" (a stop token), "length" (MaxTokens) or
	// "context" (the model's context is full).
	StopReason string
	// PromptTime is the prefill time (PromptTokens forward passes in
	// chunks); GenTime the time of the DecodeSteps single-token passes
	// that followed, sampling included.
	PromptTime, GenTime time.Duration
	DecodeSteps         int
	// CacheBytes is the KV cache's stored size at the end.
	CacheBytes int64
}

// PromptTokensPerSec and GenTokensPerSec are the throughputs.
func (r *Result) PromptTokensPerSec() float64 { return rate(len(r.Prompt), r.PromptTime) }
func (r *Result) GenTokensPerSec() float64    { return rate(r.DecodeSteps, r.GenTime) }

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Prefill feeds tokens into cache in chunks and returns the logits after
// the last one.
func Prefill(ctx context.Context, lm LM, cache kvcache.Cache, tokens []int32, chunk int) ([]float32, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("llm: empty prompt")
	}
	if chunk <= 0 {
		chunk = DefaultChunk
	}
	var last []float32
	for i := 0; i < len(tokens); i += chunk {
		c := tokens[i:min(i+chunk, len(tokens))]
		var rows []int
		if i+len(c) == len(tokens) {
			rows = []int{len(c) - 1}
		}
		out, err := lm.Forward(ctx, cache, c, rows)
		if err != nil {
			return nil, err
		}
		if rows != nil {
			last = out[0]
		}
	}
	return last, nil
}

// Generate runs one request: prefill, then sample and feed one token at a
// time.
func (g *Generator) Generate(ctx context.Context, req Request) (*Result, error) {
	if err := g.sampler.Validate(); err != nil {
		return nil, err
	}
	if len(req.Prompt) > g.lm.MaxLen() {
		return nil, fmt.Errorf("llm: the prompt's %d tokens exceed the context length %d", len(req.Prompt), g.lm.MaxLen())
	}
	cache, err := g.newCache(g.lm.CacheSpec())
	if err != nil {
		return nil, err
	}
	res := &Result{Prompt: append([]int32{}, req.Prompt...), StopReason: "length"}
	t0 := time.Now()
	logits, err := Prefill(ctx, g.lm, cache, req.Prompt, g.chunk)
	if err != nil {
		return nil, err
	}
	res.PromptTime = time.Since(t0)
	sampler := NewSampler(g.sampler)
	history := append([]int32{}, req.Prompt...)
	stop := map[int32]bool{}
	for _, s := range req.Stop {
		stop[s] = true
	}
	t1 := time.Now()
	for len(res.Tokens) < req.MaxTokens {
		tok := sampler.Sample(logits, history)
		res.Tokens = append(res.Tokens, tok)
		history = append(history, tok)
		if req.OnToken != nil {
			if err := req.OnToken(tok); err != nil {
				return res, err
			}
		}
		if stop[tok] {
			res.StopReason = "stop"
			break
		}
		if len(res.Tokens) == req.MaxTokens {
			break
		}
		if len(history) >= g.lm.MaxLen() {
			res.StopReason = "context"
			break
		}
		out, err := g.lm.Forward(ctx, cache, []int32{tok}, []int{0})
		if err != nil {
			return res, err
		}
		logits = out[0]
		res.DecodeSteps++
	}
	res.GenTime = time.Since(t1)
	res.CacheBytes = cache.Bytes()
	return res, nil
}
