package spec

import (
	"testing"
	"time"
)

// The guard switches to plain decoding when speculation keeps losing; a
// warm-up round and one or two slow rounds (a cold cache, a preempted
// thread) decide nothing.
func TestGuardSwitches(t *testing.T) {
	ms := time.Millisecond
	type step struct {
		plain bool
		toks  int
		d     time.Duration
	}
	for _, c := range []struct {
		name     string
		steps    []step
		switches bool
	}{
		// One round 7× slower than plain.
		{"one slow round", []step{{false, 3, 20 * ms}}, false},
		// Winning rounds.
		{"winning", []step{{false, 3, 2 * ms}, {false, 3, 2 * ms}, {false, 3, 2 * ms}, {false, 2, 2 * ms}}, false},
		// Two slow rounds decide nothing yet; three losing by more than
		// half switch before MinRounds.
		{"two slow rounds", []step{{false, 3, 20 * ms}, {false, 3, 20 * ms}}, false},
		{"three slow rounds", []step{{false, 3, 20 * ms}, {false, 3, 20 * ms}, {false, 3, 20 * ms}}, true},
		// Losing by less than half: switch once MinRounds rounds are in.
		{"steady loss, 5 rounds", []step{{false, 2, 3 * ms}, {false, 2, 3 * ms}, {false, 2, 3 * ms}, {false, 2, 3 * ms}, {false, 2, 3 * ms}}, false},
		{"steady loss, 6 rounds", []step{{false, 2, 3 * ms}, {false, 2, 3 * ms}, {false, 2, 3 * ms}, {false, 2, 3 * ms}, {false, 2, 3 * ms}, {false, 2, 3 * ms}}, true},
	} {
		g := (&Guard{Warmup: 1}).start()
		st := &Stats{}
		// Two plain probe steps at 1 token per ms, then one warm-up round
		// far slower than anything, which is not measured.
		steps := append([]step{{true, 1, ms}, {true, 1, ms}, {false, 1, 100 * ms}}, c.steps...)
		for _, s := range steps {
			if s.plain != g.plain() {
				t.Fatalf("%s: the guard wants plain=%v, the step is plain=%v", c.name, g.plain(), s.plain)
			}
			rounds := 1
			if s.plain {
				rounds = 0
			}
			g.observe(s.plain, s.toks, s.d, rounds, s.toks-1, st)
		}
		if got := st.GuardSwitches > 0; got != c.switches {
			t.Errorf("%s: switched %v, want %v", c.name, got, c.switches)
		}
	}
}
