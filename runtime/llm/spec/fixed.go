package spec

import (
	"context"
	"fmt"

	"github.com/optc-dev/optc/runtime/llm"
)

// Fixed is classic speculative decoding: a draft model proposes a chain
// of tokens, the target verifies them in one forward pass with the
// lossless verifier and emits the accepted ones plus one of its own.
// The chain has K tokens, or, with an acceptance head (SpecDec++), as
// many as the head's stopping rule allows.
type Fixed struct {
	Draft Model
	K     int
	// Head, when set, makes this SpecDec++: after drafting step s the
	// head predicts, from the draft's hidden state at the token drafted
	// before, the probability a_s that that token is accepted (a_1 = 1);
	// drafting stops once 1 − Π a_s exceeds Threshold, never before
	// MinLen tokens and always at MaxLen.
	Head           *AcceptHead
	Threshold      float64
	MinLen, MaxLen int

	st    *seqState
	qwarp *llm.Sampler
	buf   []int32
}

// NewFixed is fixed-length speculative decoding with K draft tokens.
func NewFixed(draft Model, k int) *Fixed { return &Fixed{Draft: draft, K: k} }

// NewSpecDecPP is SpecDec++ with the paper's defaults (threshold 0.3,
// bounds [2, 20]) unless given.
func NewSpecDecPP(draft Model, head *AcceptHead, threshold float64, minLen, maxLen int) *Fixed {
	if threshold <= 0 {
		threshold = 0.3
	}
	if minLen <= 0 {
		minLen = 2
	}
	if maxLen <= 0 {
		maxLen = 20
	}
	return &Fixed{Draft: draft, Head: head, Threshold: threshold, MinLen: minLen, MaxLen: max(minLen, maxLen)}
}

func (f *Fixed) Name() string {
	if f.Head != nil {
		return fmt.Sprintf("specdec++:%g", f.Threshold)
	}
	return fmt.Sprintf("fixed:%d", f.K)
}

func (f *Fixed) draft() *seqState { return f.st }

func (f *Fixed) Start(ctx context.Context, s *Session) error {
	if f.Head == nil && f.K <= 0 {
		return fmt.Errorf("spec: fixed draft length %d (want ≥ 1)", f.K)
	}
	if f.Head != nil && f.Head.Hidden != hiddenSize(f.Draft) {
		return fmt.Errorf("spec: the acceptance head reads hidden states of width %d, the draft's are %d", f.Head.Hidden, hiddenSize(f.Draft))
	}
	var err error
	if f.st, err = s.newDraft(f.Draft); err != nil {
		return err
	}
	f.qwarp = llm.NewSampler(s.cfg)
	return warm(ctx, f.st, s.Seq)
}

// hiddenSize is a model's hidden width when it reports one.
func hiddenSize(m Model) int {
	if h, ok := m.(interface{ HiddenSize() int }); ok {
		return h.HiddenSize()
	}
	return 0
}

// maxDraft is the longest chain the round may draft.
func (f *Fixed) maxDraft(s *Session) int {
	k := f.K
	if f.Head != nil {
		k = f.MaxLen
	}
	return min(k, s.draftRoom(f.Draft))
}

// propose drafts up to n tokens from s.Seq, returning them and the
// draft's distributions they were drawn from.
func (f *Fixed) propose(ctx context.Context, s *Session, n int) ([]int32, [][]float64, error) {
	seq := append(f.buf[:0], s.Seq...)
	var drafts []int32
	var qs [][]float64
	cum := 1.0
	for step := 1; step <= n; step++ {
		r, err := f.st.step(ctx, seq, nil, f.Head != nil)
		if err != nil {
			return nil, nil, err
		}
		q := f.qwarp.Probs(r.Logits[0], seq, nil)
		d := draw(s.rng, q)
		drafts, qs, seq = append(drafts, d), append(qs, q), append(seq, d)
		if f.Head != nil {
			// The hidden state is that of the token fed last: the
			// previous draft (step ≥ 2), whose acceptance it predicts.
			if step > 1 {
				cum *= f.Head.AcceptProb(r.Hidden[0])
			}
			if step >= f.MinLen && 1-cum > f.Threshold {
				break
			}
		}
	}
	f.buf = seq
	return drafts, qs, nil
}

func (f *Fixed) Round(ctx context.Context, s *Session) ([]int32, error) {
	n := f.maxDraft(s)
	if n == 0 {
		return s.PlainRound(ctx)
	}
	drafts, qs, err := f.propose(ctx, s, n)
	if err != nil {
		return nil, err
	}
	return verifyDrafts(ctx, s, drafts, qs)
}

// verifyDrafts runs the target on a chain of drafts and applies the
// lossless verifier, recording the round.
func verifyDrafts(ctx context.Context, s *Session, drafts []int32, qs [][]float64) ([]int32, error) {
	r, err := s.target.step(ctx, s.Seq, drafts, false)
	if err != nil {
		return nil, err
	}
	hist := append(append([]int32{}, s.Seq...), drafts...)
	ps := make([][]float64, len(r.Logits))
	for t := range ps {
		ps[t] = s.dist(r.Logits[t], hist[:len(s.Seq)+t])
	}
	n, next := verifyChain(s.rng, ps, qs, drafts)
	out := append(append([]int32{}, drafts[:n]...), next)
	s.Stats.round(len(drafts), min(n+1, len(drafts)), n, len(out))
	return out, nil
}

// DraftModel is the draft model.
func (f *Fixed) DraftModel() Model { return f.Draft }
