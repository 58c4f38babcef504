package spec

import "time"

// Stats are the statistics every strategy reports.
type Stats struct {
	Strategy string `json:"strategy"`
	// Rounds is the number of speculative rounds (one verification
	// each); PlainSteps the tokens decoded plainly (by the guard, or when
	// the strategy has nothing to propose).
	Rounds     int `json:"rounds"`
	PlainSteps int `json:"plain_steps"`
	// Drafted counts proposed draft tokens (every tree node); Reached
	// the draft positions the verifier examined (a rejection ends a
	// round, so later positions are not examined); Accepted those it
	// accepted.
	Drafted  int `json:"drafted"`
	Reached  int `json:"reached"`
	Accepted int `json:"accepted"`
	// Emitted is the number of tokens speculative rounds produced
	// (accepted drafts plus the target's own token per round).
	Emitted int `json:"emitted"`
	// Positions[t] is draft position t+1: how often the verifier
	// examined it and accepted it.
	Positions []PosStat `json:"positions"`
	// Forward passes, tokens fed and time of the target and the draft.
	TargetCalls  int           `json:"target_calls"`
	TargetTokens int           `json:"target_tokens"`
	TargetTime   time.Duration `json:"target_ns"`
	DraftCalls   int           `json:"draft_calls"`
	DraftTokens  int           `json:"draft_tokens"`
	DraftTime    time.Duration `json:"draft_ns"`
	// GuardSwitches counts the guard's switches to plain decoding.
	GuardSwitches int `json:"guard_switches"`
}

// PosStat is the verification record of one draft position.
type PosStat struct {
	Reached  int `json:"reached"`
	Accepted int `json:"accepted"`
}

// Rate is Accepted/Reached (0 when never reached).
func (p PosStat) Rate() float64 { return ratio(p.Accepted, p.Reached) }

// AcceptanceRate is the fraction of examined draft tokens accepted: the
// per-token acceptance probability α of the speculative-decoding
// literature.
func (s *Stats) AcceptanceRate() float64 { return ratio(s.Accepted, s.Reached) }

// MeanAccepted is the mean number of accepted draft tokens per round.
func (s *Stats) MeanAccepted() float64 { return ratio(s.Accepted, s.Rounds) }

// TokensPerRound is the mean number of tokens a round emits (accepted
// drafts plus the target's token): the "mean accepted length" τ.
func (s *Stats) TokensPerRound() float64 { return ratio(s.Emitted, s.Rounds) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// round records one verification: the verifier examined draft positions
// 1…reached and accepted 1…accepted; the round proposed drafted tokens
// and emitted emitted.
func (s *Stats) round(drafted, reached, accepted, emitted int) {
	s.Rounds++
	s.Drafted += drafted
	s.Reached += reached
	s.Accepted += accepted
	s.Emitted += emitted
	for len(s.Positions) < reached {
		s.Positions = append(s.Positions, PosStat{})
	}
	for t := 0; t < reached; t++ {
		s.Positions[t].Reached++
		if t < accepted {
			s.Positions[t].Accepted++
		}
	}
}
