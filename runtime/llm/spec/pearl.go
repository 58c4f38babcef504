package spec

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/optc-dev/optc/runtime/llm"
)

// Pearl is PEARL (Liu et al., ICLR 2025): drafting and verification run
// at the same time on two goroutines. Each round the target verifies the
// provisional drafts left by the previous round while the draft, assuming
// they will be accepted, drafts the next γ tokens after them. The round
// then verifies the provisional drafts and the first new draft in order:
//
//   - pre-verify (no provisional drafts: the start, or after a
//     rejection): the target scores the prefix alone and only the first
//     new draft is verified; if accepted, the other γ−1 become
//     provisional;
//   - post-verify: all accepted → the first new draft is emitted too and
//     the remaining γ−1 become provisional; a rejection emits the residual
//     sample and returns to pre-verify.
//
// The accept rule is the lossless verifier's, so PEARL is lossless. γ is
// Gamma, or (Gamma 0) the measured cost ratio of a target pass to a draft
// step, so that drafting γ tokens takes about one target pass.
type Pearl struct {
	Draft Model
	Gamma int

	st    *seqState
	qwarp *llm.Sampler
	drng  *rand.Rand
	prov  []int32
	provQ [][]float64
	after int // len(Seq) the provisional drafts follow

	// Measured mean time of a target pass and of a draft step.
	tTarget, tDraft time.Duration
}

// NewPearl is PEARL with draft length gamma (0: adaptive).
func NewPearl(draft Model, gamma int) *Pearl { return &Pearl{Draft: draft, Gamma: gamma} }

func (p *Pearl) Name() string {
	if p.Gamma > 0 {
		return fmt.Sprintf("pearl:%d", p.Gamma)
	}
	return "pearl"
}

func (p *Pearl) draft() *seqState { return p.st }

func (p *Pearl) Start(ctx context.Context, s *Session) error {
	var err error
	if p.st, err = s.newDraft(p.Draft); err != nil {
		return err
	}
	p.qwarp = llm.NewSampler(s.cfg)
	p.drng = rand.New(rand.NewPCG(s.cfg.Seed, 0x9ea71))
	p.prov, p.provQ = nil, nil
	p.tTarget, p.tDraft = 0, 0
	return warm(ctx, p.st, s.Seq)
}

// gamma is the draft length of the next round.
func (p *Pearl) gamma() int {
	if p.Gamma > 0 {
		return p.Gamma
	}
	if p.tTarget == 0 || p.tDraft == 0 {
		return 4
	}
	return min(12, max(1, int(math.Round(float64(p.tTarget)/float64(p.tDraft)))))
}

// propose drafts n tokens after base on the draft goroutine.
func (p *Pearl) propose(ctx context.Context, s *Session, base []int32, n int) ([]int32, [][]float64, error) {
	seq := append([]int32{}, base...)
	var drafts []int32
	var qs [][]float64
	for range n {
		r, err := p.st.step(ctx, seq, nil, false)
		if err != nil {
			return nil, nil, err
		}
		q := p.qwarp.Probs(r.Logits[0], seq, nil)
		var d int32
		if s.Greedy() {
			d = argmax(q)
		} else {
			d = draw(p.drng, q)
		}
		drafts, qs, seq = append(drafts, d), append(qs, q), append(seq, d)
	}
	return drafts, qs, nil
}

func ema(old, x time.Duration) time.Duration {
	if old == 0 {
		return x
	}
	return (3*old + x) / 4
}

func (p *Pearl) Round(ctx context.Context, s *Session) ([]int32, error) {
	if p.after != len(s.Seq) {
		p.prov, p.provQ = nil, nil // the sequence moved on without us (guard, or a truncated round)
	}
	room := s.draftRoom(p.Draft)
	if room == 0 {
		p.prov, p.provQ = nil, nil
		return s.PlainRound(ctx)
	}
	if len(p.prov) >= room {
		// Near the end: verify what is provisional, plainly.
		p.prov, p.provQ = p.prov[:room], p.provQ[:room]
		out, err := verifyDrafts(ctx, s, p.prov, p.provQ)
		p.prov, p.provQ = nil, nil
		return out, err
	}
	base := append(append([]int32{}, s.Seq...), p.prov...)
	g := min(p.gamma(), p.Draft.MaxLen()-len(base)+1) // the draft's context holds base and g-1 drafts
	if g < 1 {
		out, err := verifyDrafts(ctx, s, p.prov, p.provQ)
		p.prov, p.provQ = nil, nil
		return out, err
	}
	type drafted struct {
		toks []int32
		qs   [][]float64
		err  error
		dur  time.Duration
	}
	ch := make(chan drafted, 1)
	go func() {
		t0 := time.Now()
		d, q, err := p.propose(ctx, s, base, g)
		ch <- drafted{d, q, err, time.Since(t0)}
	}()
	t0 := time.Now()
	r, err := s.target.step(ctx, s.Seq, p.prov, false)
	tt := time.Since(t0)
	dr := <-ch
	if err != nil {
		return nil, err
	}
	if dr.err != nil {
		return nil, dr.err
	}
	p.tTarget = ema(p.tTarget, tt)
	p.tDraft = ema(p.tDraft, dr.dur/time.Duration(g))

	chain := append(append([]int32{}, p.prov...), dr.toks[0])
	qs := append(append([][]float64{}, p.provQ...), dr.qs[0])
	hist := append(append([]int32{}, s.Seq...), chain...)
	var out []int32
	for t, d := range chain {
		pt := s.dist(r.Logits[t], hist[:len(s.Seq)+t])
		if accept(s.rng, pt[d], qs[t][d]) {
			out = append(out, d)
			continue
		}
		out = append(out, draw(s.rng, residual(nil, pt, qs[t])))
		s.Stats.round(g, t+1, t, len(out))
		p.prov, p.provQ = nil, nil // back to pre-verify
		return out, nil
	}
	// Everything verified: the rest of the new drafts is provisional.
	s.Stats.round(g, len(chain), len(chain), len(out))
	p.prov, p.provQ = dr.toks[1:], dr.qs[1:]
	p.after = len(s.Seq) + len(out)
	return out, nil
}

// DraftModel is the draft model.
func (p *Pearl) DraftModel() Model { return p.Draft }
