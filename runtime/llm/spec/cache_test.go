package spec

import (
	"context"
	"slices"
	"testing"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// Every strategy runs over the compressed and evicting caches (target
// and draft caches both), trees included. Where the cache's contents do
// not depend on how tokens are grouped into forward passes and rolled
// back — f16 (each token rounded on its own) and eviction with a budget
// above the sequence length (nothing is evicted: it equals the dense
// cache) — greedy speculative decoding must reproduce greedy plain
// decoding over the same kind of cache token for token. GEAR compresses
// whatever its streaming buffer holds when it fills (a verify pass may
// overfill it, moving block boundaries) and eviction scores include the
// attention of drafts later rejected, so there the tokens may
// legitimately differ from plain decoding's; those runs must still
// finish, emit every token and report sane statistics (agreement is
// logged).
func TestStrategiesOverCompressedCaches(t *testing.T) {
	ctx := context.Background()
	target := loadModel(t, fixtureDir("lm-draft"))
	draft, err := AutoDraft(target, 1)
	if err != nil {
		t.Fatal(err)
	}
	prompt := encode(target, "func (s *Server) Close() error {\n\ts.mu.Lock()\n\tdefer s.mu.Unlock()\n\t")
	const n = 80 // with the prompt, beyond GEAR's 64-token buffer and the small eviction budget
	for _, c := range []struct {
		kv    string
		exact bool
	}{
		{"f16", true},
		{"evict:512", true},
		{"gear:4", false},
		{"gear:2,kivi", false},
		{"evict:48,recent=4", false}, // fewer recent tokens than a draft tree: tree tokens may be evicted
	} {
		newCache, err := kvcache.ParseSpec(c.kv)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := (&Decoder{Target: target, NewCache: newCache}).Generate(ctx, llm.Request{Prompt: prompt, MaxTokens: n})
		if err != nil {
			t.Fatalf("%s plain: %v", c.kv, err)
		}
		if len(ref.Tokens) != n {
			t.Fatalf("%s plain: %d tokens, want %d", c.kv, len(ref.Tokens), n)
		}
		for _, s := range strategiesFor(draft) {
			res, err := (&Decoder{Target: target, Strategy: s, NewCache: newCache}).Generate(ctx, llm.Request{Prompt: prompt, MaxTokens: n})
			if err != nil {
				t.Errorf("%s %s: %v", c.kv, s.Name(), err)
				continue
			}
			st := &res.Stats
			switch {
			case len(res.Tokens) != n:
				t.Errorf("%s %s: %d tokens, want %d", c.kv, s.Name(), len(res.Tokens), n)
			case st.Rounds == 0 || st.Accepted > st.Reached || st.Emitted > st.Accepted+st.Rounds || st.Emitted+st.PlainSteps < n:
				t.Errorf("%s %s: inconsistent statistics %+v", c.kv, s.Name(), *st)
			case c.exact && !slices.Equal(res.Tokens, ref.Tokens):
				t.Errorf("%s %s: greedy tokens\n%v\nwant plain decoding's over the same cache\n%v", c.kv, s.Name(), res.Tokens, ref.Tokens)
			}
			same := 0
			for same < n && res.Tokens[same] == ref.Tokens[same] {
				same++
			}
			t.Logf("%-18s %-14s acceptance %.2f, %.2f tokens/round, first %d of %d tokens as plain decoding", c.kv, s.Name(), st.AcceptanceRate(), st.TokensPerRound(), same, n)
		}
	}
}
