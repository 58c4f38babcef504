package spec

import (
	"math"
	"time"
)

// Guard decodes plainly when speculation loses. It keeps the throughput
// of the last Window speculative rounds (tokens emitted over wall time:
// the rolling acceptance, through the tokens each round yields, weighed
// against what the rounds cost) and of plain steps; once MinRounds rounds
// are in the window (two, when it loses by more than half) and
// speculation falls below Margin times the plain rate, it switches to plain decoding for Backoff tokens (×4, up to
// MaxBackoff, each time speculation loses again right after), then
// measures speculation afresh. Every 8·Window speculative rounds one
// plain step re-times plain decoding. The Decoder leaves the native
// backend's one-off compilation out of every timing.
type Guard struct {
	Window     int     // speculative rounds in the rolling window (default 8)
	MinRounds  int     // rounds measured before a decision (default 3)
	Margin     float64 // speculation must reach Margin × plain speed (default 1)
	Probe      int     // plain steps timed before speculating (default 2)
	Backoff    int     // plain tokens after a switch, before scaling (default 64)
	MaxBackoff int     // (default 1024)
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
		c.MinRounds = 3
	}
	c.MinRounds = min(c.MinRounds, c.Window)
	if c.Backoff <= 0 {
		c.Backoff = 64
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = max(1024, c.Backoff)
	}
	return &guardState{cfg: c, plainLeft: c.Probe, backoff: c.Backoff}
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
	case spec < g.cfg.Margin*plainRate/2 && len(g.window) >= 2:
		// Losing by more than half over two rounds or more: no need to
		// wait for MinRounds (one round alone may be an outlier: a cold
		// cache, a preempted thread).
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
	st.GuardSwitches++
}
