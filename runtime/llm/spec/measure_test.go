package spec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/llmtest"
)

// TestMeasureTable prints the note's table: tokens/s of plain decoding
// and of each strategy, side by side in the same run, with acceptance
// and tokens per round, for the fixture pair (lm-draft → lm-target, on
// held-out Go packages) and stories260K with auto-drafts; greedy and
// temperature 0.8. It is a benchmark, not a test: it runs only with
// OPTC_SPEC_MEASURE=1 (OPTC_SPEC_MEASURE_N tokens, default 96;
// OPTC_SPEC_MEASURE_RUNS runs, default 5; OPTC_SPEC_MEASURE_PAIRS and
// OPTC_SPEC_MEASURE_ONLY select pairs and strategies by comma-separated substrings).
// OPTC_SPEC_BACKEND=native runs target and draft on the native backend
// (llm.NewNative, OPTC_SPEC_THREADS threads, default 1) instead of the
// interpreter; OPTC_SPEC_GUARD=1 decodes under the default Guard;
// OPTC_SPEC_DRAFT=PATH loads the fixture pair's draft from PATH;
// OPTC_SPEC_DRAFT_QUANT=SCHEME quantizes every draft (QuantizeDraft).
func TestMeasureTable(t *testing.T) {
	if os.Getenv("OPTC_SPEC_MEASURE") == "" {
		t.Skip("set OPTC_SPEC_MEASURE=1 to measure (minutes)")
	}
	ctx := context.Background()
	n := 96
	fmt.Sscan(os.Getenv("OPTC_SPEC_MEASURE_N"), &n)
	only := os.Getenv("OPTC_SPEC_MEASURE_ONLY")
	pairs := os.Getenv("OPTC_SPEC_MEASURE_PAIRS")
	runs := 5
	fmt.Sscan(os.Getenv("OPTC_SPEC_MEASURE_RUNS"), &runs)
	backend := measureBackendName(t)
	guard := os.Getenv("OPTC_SPEC_GUARD") != "" // the default guard on every row
	type setup struct {
		name    string
		target  Model
		draft   Model
		prompts [][]int32
		heads   map[float32]*AcceptHead // SpecDec++ heads by temperature
	}
	var setups []setup
	// Fixture pair on held-out text.
	if _, err := os.Stat(filepath.Join(fixtureDir("lm-target"), "config.json")); err == nil {
		tg := loadModel(t, fixtureDir("lm-target"))
		// OPTC_SPEC_DRAFT replaces lm-draft (e.g. an int8 copy written by
		// optc quant-report -o FILE.txt with its config.json beside it).
		drPath := fixtureDir("lm-draft")
		if p := os.Getenv("OPTC_SPEC_DRAFT"); p != "" {
			drPath = p
		}
		dr := loadModel(t, drPath)
		var prompts [][]int32
		text, err := os.ReadFile(filepath.Join("..", "..", "..", ".cache", "gocorpus", "valid.txt"))
		if err != nil {
			text, _ = os.ReadFile(filepath.Join(fixtureDir("lm-draft"), "sample.txt"))
		}
		for i := range 3 {
			off := (i + 1) * len(text) / 4
			// Start the prompt at a line boundary.
			if j := strings.IndexByte(string(text[off:]), '\n'); j >= 0 {
				off += j + 1
			}
			prompts = append(prompts, encode(tg, string(text[off:off+96])))
		}
		heads := map[float32]*AcceptHead{}
		// OPTC_SPEC_HEADS=greedy.safetensors,t0.8.safetensors (optc train-accept-head).
		for i, p := range strings.Split(os.Getenv("OPTC_SPEC_HEADS"), ",") {
			if p == "" || i > 1 {
				continue
			}
			h, err := LoadAcceptHead(p)
			if err != nil {
				t.Fatal(err)
			}
			heads[[]float32{0, 0.8}[i]] = h
		}
		train, _ := os.ReadFile(filepath.Join("..", "..", "..", ".cache", "gocorpus", "train.txt"))
		if len(train) == 0 {
			train = text
		}
		dr, dname := measureDraftQuant(t, dr, train, nil)
		setups = append(setups, setup{"lm-target / lm-draft" + dname, measureOn(t, backend, tg), measureOn(t, backend, dr), prompts, heads})
	} else {
		t.Log("testdata/models/lm-target is not there yet: the fixture pair is skipped")
	}
	if _, ok := llmtest.Find(); ok {
		st := stories(t)
		var prompts [][]int32
		for _, p := range []string{"Once upon a time", "Lily and Tom went to the park", "The little dog was sad because"} {
			prompts = append(prompts, encode(st, p))
		}
		d, err := AutoDraft(st, 4)
		if err != nil {
			t.Fatal(err)
		}
		stb := measureOn(t, backend, st)
		d, dname := measureDraftQuant(t, d, nil, st)
		setups = append(setups, setup{"stories260K / auto:4" + dname, stb, measureOn(t, backend, d), prompts, nil})
		d3, _ := AutoDraft(st, 3)
		d3, dname = measureDraftQuant(t, d3, nil, st)
		setups = append(setups, setup{"stories260K / auto:3" + dname, stb, measureOn(t, backend, d3), prompts, nil})
	}
	fmt.Printf("backend %s, guard %v, GOMAXPROCS %d, %d tokens per prompt, %d runs after a warm-up (medians)\n\n", backend, guard, runtime.GOMAXPROCS(0), n, runs)
	wanted := func(name string) bool {
		return pairs == "" || slices.ContainsFunc(strings.Split(pairs, ","), func(p string) bool { return strings.Contains(name, p) })
	}
	for _, s := range setups {
		if !wanted(s.name) {
			continue
		}
		for _, m := range []Model{s.target, s.draft} {
			fc, err := MeasureForward(ctx, m, 64, []int{1, 2, 4, 8}, 9)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Printf("%s: %s forward CPU t(n) = %.3f + %.3f·n ms  %+v\n", s.name, modelName(m), fc.Fixed, fc.PerToken, fc.Points)
		}
	}
	fmt.Println()
	fmt.Println("| pair | strategy | temp | plain t/s (CPU) | spec t/s (CPU) | speedup (CPU) | speedup (wall) | acceptance | tokens/round | target passes | draft passes | greedy exact | acceptance at positions 1–4 |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range setups {
		if !wanted(s.name) {
			continue
		}
		d := s.draft
		for _, temp := range []float32{0, 0.8} {
			makers := []func() Strategy{
				func() Strategy { return NewFixed(d, 2) },
				func() Strategy { return NewFixed(d, 3) },
				func() Strategy { return NewFixed(d, 4) },
				func() Strategy { return NewFixed(d, 6) },
			}
			if h := s.heads[temp]; h != nil {
				makers = append(makers, func() Strategy { return NewSpecDecPP(d, h, 0.3, 2, 20) })
			}
			makers = append(makers,
				func() Strategy { return NewPearl(d, 0) },
				func() Strategy { return NewSpecTr(d, 2, 3) },
				func() Strategy { return NewRSD(d, []int{2, 1, 1}) },
				func() Strategy { return NewRecycle(1) },
				func() Strategy { return NewRecycle(4) },
				func() Strategy { return NewAdaptiveRecycle() },
				func() Strategy { return NewRecycle(0) },
			)
			for _, mk := range makers {
				name := mk().Name()
				if only != "" && !slices.ContainsFunc(strings.Split(only, ","), func(o string) bool { return strings.Contains(name, o) }) {
					continue
				}
				// A native bundle compiled during the measured runs (a
				// token count the warm-up did not meet) would count its
				// compile time as decoding time: measure again then.
				var compiled int
				cfg := BenchConfig{Prompts: s.prompts, GenTokens: n, Runs: runs, Sampler: llm.SamplerConfig{Temperature: temp, Seed: 1},
					AfterWarmup: func() { compiled = measureBundles(s.target, d) }}
				if guard {
					cfg.Guard = &Guard{}
				}
				r, err := Bench(ctx, s.target, mk, cfg)
				for try := 0; err == nil && try < 2 && measureBundles(s.target, d) != compiled; try++ {
					r, err = Bench(ctx, s.target, mk, cfg)
				}
				if err != nil {
					t.Fatal(err)
				}
				exact := "-"
				if temp == 0 {
					exact = fmt.Sprint(r.Exact)
				}
				st := &r.Stats
				fmt.Printf("| %s | %s | %g | %.0f | %.0f | %.2fx | %.2fx | %.3f | %.2f | %d | %d | %s | %s |\n", s.name, r.Strategy, temp,
					r.PlainCPUTokensPerS, r.SpecCPUTokensPerS, r.CPUSpeedup, r.Speedup, r.AcceptanceRate(), r.TokensPerRound(), st.TargetCalls, st.DraftCalls, exact,
					measurePositions(st.Positions, 4))
			}
		}
	}
}

func modelName(m Model) string {
	switch lm := m.(type) {
	case *llm.Model:
		return lm.Name
	case *llm.NativeModel:
		return lm.Source().Name + " (native)"
	}
	return "model"
}

// measureBundles counts the native bundles the models compiled so far.
func measureBundles(ms ...Model) int {
	n := 0
	for _, m := range ms {
		if nm, ok := m.(*llm.NativeModel); ok {
			n += nm.Stats().Bundles
		}
	}
	return n
}

// measureBackendName is the backend OPTC_SPEC_BACKEND names: interp
// (default) or native (OPTC_SPEC_THREADS threads, default 1).
func measureBackendName(t *testing.T) string {
	switch b := os.Getenv("OPTC_SPEC_BACKEND"); b {
	case "", "interp":
		return "interp"
	case "native":
		return "native"
	default:
		t.Fatalf("OPTC_SPEC_BACKEND=%q: want interp or native", b)
		return ""
	}
}

// measureOn binds m to the backend; native models are closed (their
// bundles removed) when the test ends.
func measureOn(t *testing.T, backend string, m *llm.Model) Model {
	if backend != "native" {
		return m
	}
	threads := 1
	fmt.Sscan(os.Getenv("OPTC_SPEC_THREADS"), &threads)
	nm, err := llm.NewNative(m, llm.NativeOptions{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st := nm.Stats()
		fmt.Printf("%s: %d native bundles compiled in %v; interpreted inside: %s\n", m.Name, st.Bundles, st.CompileTime.Round(time.Millisecond), st.FallbackSummary())
		if err := nm.Close(); err != nil {
			t.Error(err)
		}
	})
	return nm
}

// measurePositions is the acceptance rate of the first k draft positions,
// "0.95/0.90/…" ("-" for a position never examined).
func measurePositions(ps []PosStat, k int) string {
	var parts []string
	for i := range min(k, len(ps)) {
		if ps[i].Reached == 0 {
			parts = append(parts, "-")
			continue
		}
		parts = append(parts, fmt.Sprintf("%.2f", ps[i].Rate()))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "/")
}

// measureDraftQuant quantizes a measured draft as OPTC_SPEC_DRAFT_QUANT
// says (unchanged when unset), calibrating on 4 windows of 512 bytes of
// text, or, without text, on the target's greedy continuation of a short
// prompt (what optc generate does without --draft-calib). It returns the
// draft and a suffix for the pair's name.
func measureDraftQuant(t *testing.T, d *llm.Model, text []byte, target *llm.Model) (*llm.Model, string) {
	t.Helper()
	scheme := os.Getenv("OPTC_SPEC_DRAFT_QUANT")
	if scheme == "" {
		return d, ""
	}
	var calib [][]int32
	var err error
	if len(text) > 0 {
		if calib, err = TextCalibration(d, text, 4, 512); err != nil {
			t.Fatal(err)
		}
	} else {
		res, err := llm.NewGenerator(target).Generate(context.Background(), llm.Request{Prompt: encode(target, "Once upon a time"), MaxTokens: 64})
		if err != nil {
			t.Fatal(err)
		}
		calib = [][]int32{append(res.Prompt, res.Tokens...)}
	}
	q, info, err := QuantizeDraft(d, scheme, calib, nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s: %d layers at %.2f bits, model %d -> %d bytes, %d calibration windows\n", q.Name, info.Layers, info.AvgBits, info.FloatModelBytes, info.ModelBytes, len(calib))
	return q, "[" + scheme + "]"
}
