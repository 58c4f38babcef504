package spec

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/llmtest"
)

// fixtureDir is the committed fixture LMs' folder.
func fixtureDir(name string) string {
	return filepath.Join("..", "..", "..", "testdata", "models", name)
}

func loadModel(t *testing.T, path string) *llm.Model {
	t.Helper()
	m, err := llm.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func stories(t *testing.T) *llm.Model {
	return loadModel(t, llmtest.Path(t, "stories260K.gguf"))
}

func encode(m *llm.Model, text string) []int32 {
	p := m.Tokenizer.Encode(text)
	if sp := m.Tokenizer.Specials(); sp.AddBOS && sp.BOS >= 0 {
		p = append([]int32{sp.BOS}, p...)
	}
	return p
}

// A token tree's logits equal those of each node's path run as a chain:
// exactly for the leading first-child chain (same keys at the same cache
// places), to float rounding for the other branches.
func TestTreeForwardMatchesChains(t *testing.T) {
	ctx := context.Background()
	m := stories(t)
	prompt := encode(m, "Once upon a time")
	rng := rand.New(rand.NewPCG(3, 4))
	tr := &draftTree{}
	for i := range 12 {
		par := -1
		if i > 0 {
			par = i - 1 // the leading chain …
			if i > 4 {
				par = rng.IntN(i+1) - 1 // … then random branches
			}
		}
		tr.add(int32(3+rng.IntN(500)), par)
	}
	st, err := newSeqState(m, nil2dense, 64)
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.extend(ctx, prompt, tr.tok, tr.parent, false)
	if err != nil {
		t.Fatal(err)
	}
	lead := leadingChain(tr.parent)
	if want := append(slices.Clone(prompt), tr.tok[:lead]...); !slices.Equal(st.held, want) || st.cache.Len(0) != len(want) {
		t.Fatalf("after the tree the cache holds %d tokens %v, want the prompt and the leading chain (%d)", st.cache.Len(0), st.held, len(want))
	}
	for i := range tr.tok {
		path := tr.history(prompt, i)
		c, _ := m.NewCache()
		want, err := llm.Prefill(ctx, m, c, path, 64)
		if err != nil {
			t.Fatal(err)
		}
		got := r.Logits[i+1]
		var diff float64
		for j := range got {
			diff = max(diff, math.Abs(float64(got[j]-want[j])))
		}
		if i < lead && diff != 0 {
			t.Errorf("leading-chain node %d: logits differ from the chain's by %g (want exactly equal)", i, diff)
		}
		if diff > 1e-4 {
			t.Errorf("node %d (depth %d): logits differ from the chain's by %g", i, tr.depth(i), diff)
		}
	}
}

// strategiesFor is every strategy with draft as the draft model.
func strategiesFor(draft Model) []Strategy {
	return []Strategy{
		NewFixed(draft, 1), NewFixed(draft, 4),
		NewSpecDecPP(draft, NewAcceptHead(hiddenSize(draft), 1, 7), 0.3, 1, 6),
		NewPearl(draft, 3), NewPearl(draft, 0),
		NewRSD(draft, []int{3, 2, 1}),
		NewSpecTr(draft, 3, 3),
		NewRecycle(0), NewRecycle(12), NewAdaptiveRecycle(),
	}
}

// Greedy speculative decoding reproduces greedy decoding of the target
// token for token, for every strategy (and with the guard switching to
// plain decoding and back).
func TestGreedyMatchesTarget(t *testing.T) {
	ctx := context.Background()
	type pair struct {
		name   string
		target *llm.Model
		draft  func(*llm.Model) (*llm.Model, error)
		prompt string
		guard  bool // also run every strategy under a guard that keeps switching
	}
	pairs := []pair{
		{"stories260K/auto:2", nil, func(m *llm.Model) (*llm.Model, error) { return AutoDraft(m, 2) }, "Once upon a time, there was a", true},
	}
	if _, ok := llmtest.Find(); !ok {
		pairs = nil
	}
	lmDraft := loadModel(t, fixtureDir("lm-draft"))
	pairs = append(pairs, pair{"lm-draft/auto:1", lmDraft, func(m *llm.Model) (*llm.Model, error) { return AutoDraft(m, 1) }, "func main() {\n\tfmt.", true})
	// A quantized draft (int8 weights and activations, calibrated).
	pairs = append(pairs, pair{"lm-draft/auto:1[int8]", lmDraft, func(m *llm.Model) (*llm.Model, error) {
		d, err := AutoDraft(m, 1)
		if err != nil {
			return nil, err
		}
		text, err := os.ReadFile(filepath.Join(fixtureDir("lm-draft"), "sample.txt"))
		if err != nil {
			return nil, err
		}
		calib, err := TextCalibration(m, text, 2, 256)
		if err != nil {
			return nil, err
		}
		d, _, err = QuantizeDraft(d, "int8", calib, nil)
		return d, err
	}, "func main() {\n\tfmt.", false})
	if _, err := os.Stat(filepath.Join(fixtureDir("lm-target"), "config.json")); err == nil {
		pairs = append(pairs, pair{"lm-target/lm-draft", loadModel(t, fixtureDir("lm-target")), func(*llm.Model) (*llm.Model, error) { return lmDraft, nil },
			"\tif err != nil {\n\t\treturn ", false})
	} else {
		t.Log("testdata/models/lm-target is absent: the fixture pair is not checked")
	}
	for _, p := range pairs {
		target := p.target
		if target == nil {
			target = stories(t)
		}
		draft, err := p.draft(target)
		if err != nil {
			t.Fatal(err)
		}
		prompt := encode(target, p.prompt)
		const n = 40
		ref, err := llm.NewGenerator(target).Generate(ctx, llm.Request{Prompt: prompt, MaxTokens: n})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range append(strategiesFor(draft), Plain{}) {
			guards := []*Guard{nil}
			if p.guard {
				guards = append(guards, &Guard{Window: 2, Margin: 1e9, Probe: 1, Backoff: 3})
			}
			for _, guard := range guards {
				d := &Decoder{Target: target, Strategy: s, Guard: guard}
				res, err := d.Generate(ctx, llm.Request{Prompt: prompt, MaxTokens: n})
				if err != nil {
					t.Fatalf("%s %s: %v", p.name, s.Name(), err)
				}
				if !slices.Equal(res.Tokens, ref.Tokens) {
					t.Errorf("%s %s (guard %v): greedy tokens\n%v\nwant the target's\n%v", p.name, s.Name(), guard != nil, res.Tokens, ref.Tokens)
				}
				if guard != nil && s.Name() != "none" && res.Stats.GuardSwitches == 0 {
					t.Errorf("%s %s: a guard that never lets speculation win did not switch", p.name, s.Name())
				}
				if guard == nil {
					t.Logf("%s %-14s acceptance %.2f, %.2f tokens/round, %d target passes for %d tokens", p.name, s.Name(),
						res.Stats.AcceptanceRate(), res.Stats.TokensPerRound(), res.Stats.TargetCalls, len(res.Tokens))
				}
			}
		}
	}
}

// Every strategy stops at the end of the target's context like plain
// decoding, with a draft whose context is shorter still.
func TestContextLimit(t *testing.T) {
	target, draft := fakePair()
	target.maxLen, draft.maxLen = 14, 11
	ctx := context.Background()
	req := llm.Request{Prompt: []int32{1, 2, 0}, MaxTokens: 30}
	ref, err := (&Decoder{Target: target}).Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if ref.StopReason != "context" || len(ref.Prompt)+len(ref.Tokens) != 14 {
		t.Fatalf("plain decoding stopped with %q after %d tokens", ref.StopReason, len(ref.Tokens))
	}
	for _, s := range strategiesFor(draft) {
		res, err := (&Decoder{Target: target, Strategy: s}).Generate(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", s.Name(), err)
		}
		if !slices.Equal(res.Tokens, ref.Tokens) || res.StopReason != "context" {
			t.Errorf("%s: %v (%s), want %v (context)", s.Name(), res.Tokens, res.StopReason, ref.Tokens)
		}
	}
}
