package spec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// Strategy proposes tokens and verifies them against the target, one
// round at a time.
type Strategy interface {
	// Name identifies the strategy in reports ("fixed:4", "recycle", …).
	Name() string
	// Start prepares one generation once the prompt is in s.Seq: draft
	// caches (prefilled here), tables.
	Start(ctx context.Context, s *Session) error
	// Round emits at least one token continuing s.Seq, each distributed
	// as the target's next token (greedy: the target's argmax), and
	// records the round in s.Stats.
	Round(ctx context.Context, s *Session) ([]int32, error)
}

// draftUser is a strategy with a draft model whose costs are reported.
type draftUser interface {
	draft() *seqState
}

// Session is the state of one generation that strategies work on.
type Session struct {
	// Seq is the prompt and the tokens emitted so far.
	Seq []int32
	// Stats receives each round's record.
	Stats *Stats

	target *seqState
	cfg    llm.SamplerConfig
	warper *llm.Sampler // target-side warping (no random numbers)
	rng    *rand.Rand
	want   int // tokens still wanted
	newC   func(kvcache.Spec) (kvcache.Cache, error)
	chunk  int
}

// Greedy reports whether decoding is greedy (temperature ≤ 0): drafts
// are then argmax tokens and verification matches argmaxes.
func (s *Session) Greedy() bool { return s.cfg.Temperature <= 0 }

// Sampler is the sampling configuration of the generation.
func (s *Session) Sampler() llm.SamplerConfig { return s.cfg }

// room is the most draft tokens worth proposing along one path: beyond
// want-1 they cannot be emitted, and the target's context must hold them.
func (s *Session) room() int {
	return max(0, min(s.want-1, s.target.m.MaxLen()-len(s.Seq)))
}

// draftRoom is room further limited by a draft model's context: drafting
// n tokens feeds the draft up to position len(Seq)+n-2.
func (s *Session) draftRoom(m Model) int {
	return max(0, min(s.room(), m.MaxLen()-len(s.Seq)))
}

// treeCap is the most tree nodes one round may propose: a tree occupies
// one cache slot per node in the target's cache (and, while it is
// drafted, in the draft's, when draft is not nil).
func (s *Session) treeCap(draft Model) int {
	c := s.target.m.MaxLen() - len(s.Seq)
	if draft != nil {
		c = min(c, draft.MaxLen()-len(s.Seq))
	}
	return max(0, c)
}

// dist is the target's warped distribution after history, in a new slice.
func (s *Session) dist(logits []float32, history []int32) []float64 {
	return s.warper.Probs(logits, history, nil)
}

// newDraft makes the state of a draft model for this generation.
func (s *Session) newDraft(m Model) (*seqState, error) {
	if m.VocabSize() != s.target.m.VocabSize() {
		return nil, fmt.Errorf("spec: the draft's vocabulary has %d tokens, the target's %d (they must share one)", m.VocabSize(), s.target.m.VocabSize())
	}
	return newSeqState(m, s.newC, s.chunk)
}

// warm feeds all but the last token of seq into a state.
func warm(ctx context.Context, st *seqState, seq []int32) error {
	pending, err := st.sync(seq)
	if err != nil {
		return err
	}
	for len(pending) > 1 {
		c := pending[:min(st.chunk, len(pending)-1)]
		if _, err := st.run(ctx, c, nil, llm.ForwardOptions{}); err != nil {
			return err
		}
		st.held = append(st.held, c...)
		pending = pending[len(c):]
	}
	return nil
}

// PlainRound decodes one token with the target alone.
func (s *Session) PlainRound(ctx context.Context) ([]int32, error) {
	r, err := s.target.step(ctx, s.Seq, nil, false)
	if err != nil {
		return nil, err
	}
	s.Stats.PlainSteps++
	return []int32{draw(s.rng, s.dist(r.Logits[0], s.Seq))}, nil
}

// Plain is decoding without speculation, through the same loop.
type Plain struct{}

func (Plain) Name() string                                           { return "none" }
func (Plain) Start(context.Context, *Session) error                  { return nil }
func (Plain) Round(ctx context.Context, s *Session) ([]int32, error) { return s.PlainRound(ctx) }

// Decoder generates with a target model and a strategy.
type Decoder struct {
	Target   Model
	Strategy Strategy // nil: plain decoding
	Sampler  llm.SamplerConfig
	// NewCache makes the KV caches (target and draft); nil: dense f32.
	NewCache func(kvcache.Spec) (kvcache.Cache, error)
	Chunk    int    // prefill chunk (default llm.DefaultChunk)
	Guard    *Guard // nil: always speculate
}

// Result is a finished generation with its statistics.
type Result struct {
	llm.Result
	Stats Stats
	// DraftCacheBytes is the draft's KV cache size at the end (0 without
	// a draft model).
	DraftCacheBytes int64
	// GenCPU is the process's CPU time during decoding (GenTime is wall
	// time).
	GenCPU time.Duration
}

// Generate runs one request. The returned Result's DecodeSteps counts
// target forward passes after the prompt (rounds and plain steps).
func (d *Decoder) Generate(ctx context.Context, req llm.Request) (*Result, error) {
	if err := d.Sampler.Validate(); err != nil {
		return nil, err
	}
	if len(req.Prompt) == 0 {
		return nil, fmt.Errorf("spec: empty prompt")
	}
	if len(req.Prompt) > d.Target.MaxLen() {
		return nil, fmt.Errorf("spec: the prompt's %d tokens exceed the context length %d", len(req.Prompt), d.Target.MaxLen())
	}
	newC := d.NewCache
	if newC == nil {
		newC = func(s kvcache.Spec) (kvcache.Cache, error) { return kvcache.NewDense(s, 0) }
	}
	strat := d.Strategy
	if strat == nil {
		strat = Plain{}
	}
	target, err := newSeqState(d.Target, newC, d.Chunk)
	if err != nil {
		return nil, err
	}
	s := &Session{
		Seq: append([]int32{}, req.Prompt...), Stats: &Stats{Strategy: strat.Name()},
		target: target, cfg: d.Sampler, warper: llm.NewSampler(d.Sampler),
		rng:  rand.New(rand.NewPCG(d.Sampler.Seed, 0x5bd1e995)),
		want: req.MaxTokens, newC: newC, chunk: target.chunk,
	}
	res := &Result{Result: llm.Result{Prompt: append([]int32{}, req.Prompt...), StopReason: "length"}}
	stop := map[int32]bool{}
	for _, t := range req.Stop {
		stop[t] = true
	}
	t0 := time.Now()
	if err := warm(ctx, target, s.Seq); err != nil {
		return nil, err
	}
	if err := strat.Start(ctx, s); err != nil {
		return nil, err
	}
	res.PromptTime = time.Since(t0)
	tc, tn, tt := target.calls, target.fed, target.dur
	var dc, dn int
	var dt time.Duration
	var ds *seqState
	if du, ok := strat.(draftUser); ok && du.draft() != nil {
		ds = du.draft()
		dc, dn, dt = ds.calls, ds.fed, ds.dur
	}
	g := d.Guard.start()
	t1, c1 := time.Now(), processCPU()
	done := false
	for !done && len(res.Tokens) < req.MaxTokens {
		if len(s.Seq) >= d.Target.MaxLen() {
			res.StopReason = "context"
			break
		}
		s.want = req.MaxTokens - len(res.Tokens)
		plain := g.plain()
		r0, a0 := s.Stats.Rounds, s.Stats.Accepted
		tr, p0 := time.Now(), prepareTime(target, ds)
		var toks []int32
		if plain {
			toks, err = s.PlainRound(ctx)
		} else {
			toks, err = strat.Round(ctx, s)
		}
		if err != nil {
			return res, err
		}
		if len(toks) == 0 {
			return res, fmt.Errorf("spec: %s emitted no token", strat.Name())
		}
		// One-off compilation is not the round's cost: left in, the first
		// rounds of a fresh native model would switch speculation off.
		g.observe(plain, len(toks), time.Since(tr)-(prepareTime(target, ds)-p0), s.Stats.Rounds-r0, s.Stats.Accepted-a0, s.Stats)
		res.DecodeSteps++
		for _, t := range toks {
			if len(res.Tokens) == req.MaxTokens || len(s.Seq) >= d.Target.MaxLen() {
				break
			}
			res.Tokens = append(res.Tokens, t)
			s.Seq = append(s.Seq, t)
			if req.OnToken != nil {
				if err := req.OnToken(t); err != nil {
					return res, err
				}
			}
			if stop[t] {
				res.StopReason = "stop"
				done = true
				break
			}
		}
	}
	res.GenTime, res.GenCPU = time.Since(t1), processCPU()-c1
	res.CacheBytes = target.cache.Bytes()
	st := s.Stats
	st.TargetCalls, st.TargetTokens, st.TargetTime = target.calls-tc, target.fed-tn, target.dur-tt
	if ds != nil {
		st.DraftCalls, st.DraftTokens, st.DraftTime = ds.calls-dc, ds.fed-dn, ds.dur-dt
		res.DraftCacheBytes = ds.cache.Bytes()
	}
	res.Stats = *st
	return res, nil
}

// preparer is a model that compiles code on first use of a shape (the
// native backend) and reports the time spent so far.
type preparer interface{ PrepareTime() time.Duration }

// prepareTime is the compile time spent so far by the target's and the
// draft's models (ds may be nil).
func prepareTime(target, ds *seqState) time.Duration {
	var d time.Duration
	for _, st := range []*seqState{target, ds} {
		if st == nil {
			continue
		}
		if p, ok := st.m.(preparer); ok {
			d += p.PrepareTime()
		}
	}
	return d
}
