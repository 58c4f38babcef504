package spec

import (
	"math"
	"time"
)

// Guard decodes plainly when speculation loses. It keeps the throughput
// of the last Window speculative rounds (tokens emitted over wall time:
// the rolling acceptance, through the tokens each round yields, weighed
// against what the rounds cost) and of plain steps; once MinRounds rounds
// are in the window (three, when it loses by more than half) and
// speculation falls below Margin times the plain rate, it switches to
// plain decoding for Backoff tokens (×4, up to MaxBackoff, each time
// speculation loses again right after), then measures speculation
// afresh. Every 8·Window speculative rounds one plain step re-times plain
// decoding. The first Warmup rounds after speculation starts or resumes
// are not measured. The Decoder leaves the native backend's one-off
// compilation out of every timing.
type Guard struct {
	Window     int     // speculative rounds in the rolling window (default 8)
	MinRounds  int     // rounds measured before a decision (default 6)
	Margin     float64 // speculation must reach Margin × plain speed (default 1)
	Probe      int     // plain steps timed before speculating (default 2)
	Backoff    int     // plain tokens after a switch, before scaling (default 64)
	MaxBackoff int     // (default 1024)
	// Warmup rounds are not measured when speculation starts or resumes
	// after a plain stretch (default 2): the first rounds of a
	// generation run slower, and the first after a plain stretch feeds
	// the draft every token it missed.
	Warmup int
}

// guardState is a Guard's state during one generation (nil: no guard).
type guardState struct {
	cfg        Guard
	plainLeft  int           // plain tokens to decode before speculating again
	plainTime  time.Duration // recent plain steps: time and tokens (decayed)
	plainToks  float64
	window     []guardRound
	backoff    int
	lostRecent bool // speculation lost on the last window
	sinceProbe int  // speculative rounds since the last plain step
	skip       int  // warm-up rounds still to leave unmeasured
}

type guardRound struct {
	toks int
	dur  time.Duration
}

func (g *Guard) start() *guardState {
	if g == nil {
		return nil
	}
	c := *g
	if c.Window <= 0 {
		c.Window = 8
	}
	if c.Margin <= 0 {
		c.Margin = 1
	}
	if c.Probe <= 0 {
		c.Probe = 2
	}
	if c.MinRounds <= 0 {
		// A round emits 1…K+1 tokens: three unlucky rounds at the start
		// of a generation (whose first passes are slower too) once
		// switched a 1.7× pair off for the whole generation.
		c.MinRounds = 6
	}
	c.MinRounds = min(c.MinRounds, c.Window)
	if c.Backoff <= 0 {
		c.Backoff = 64
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = max(1024, c.Backoff)
	}
	if c.Warmup <= 0 {
		c.Warmup = 2
	}
	return &guardState{cfg: c, plainLeft: c.Probe, backoff: c.Backoff, skip: c.Warmup}
}

// plain reports whether the next step decodes plainly.
func (g *guardState) plain() bool { return g != nil && g.plainLeft > 0 }

// observe records a step: plain or speculative, the tokens it emitted and
// its wall time.
func (g *guardState) observe(plain bool, toks int, d time.Duration, rounds, accepted int, st *Stats) {
	if g == nil {
		return
	}
	if plain {
		g.plainLeft--
		// Exponential decay keeps the plain rate current.
		g.plainTime = g.plainTime*3/4 + d
		g.plainToks = g.plainToks*0.75 + float64(toks)
		return
	}
	if rounds == 0 { // the strategy decoded plainly itself
		return
	}
	if g.skip > 0 {
		g.skip--
		return
	}
	// Re-time plain decoding now and then: its speed drifts with the
	// context length.
	if g.sinceProbe++; g.sinceProbe >= 8*g.cfg.Window {
		g.sinceProbe = 0
		g.plainLeft = 1
	}
	g.window = append(g.window, guardRound{toks, d})
	if len(g.window) > g.cfg.Window {
		g.window = g.window[1:]
	}
	if g.plainToks == 0 {
		return
	}
	var tk int
	var td time.Duration
	for _, r := range g.window {
		tk += r.toks
		td += r.dur
	}
	spec := float64(tk) / td.Seconds()
	plainRate := g.plainToks / g.plainTime.Seconds()
	switch {
	case spec < g.cfg.Margin*plainRate/2 && len(g.window) >= min(3, g.cfg.MinRounds):
		// Losing by more than half over three rounds or more: no need to
		// wait for MinRounds (fewer may be outliers: a cold cache, a
		// preempted thread, a few unlucky rejections).
	case len(g.window) < g.cfg.MinRounds:
		return
	case spec >= g.cfg.Margin*plainRate:
		g.lostRecent = false
		g.backoff = g.cfg.Backoff
		return
	}
	// Speculation loses: decode plainly for a while.
	g.sinceProbe = 0
	if g.lostRecent {
		g.backoff = min(4*g.backoff, g.cfg.MaxBackoff)
	}
	g.lostRecent = true
	// The worse speculation did, the longer it waits: the plain tokens
	// scale with the measured slowdown (up to 16×).
	g.plainLeft = min(g.cfg.MaxBackoff, g.backoff*int(math.Ceil(min(16, plainRate/spec))))
	g.window = g.window[:0]
	g.skip = g.cfg.Warmup
	st.GuardSwitches++
}
