package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
	"github.com/optc-dev/optc/runtime/llm/spec"
	"github.com/optc-dev/optc/runtime/llm/tokenizer"
)

type generateFlags struct {
	prompt        string
	n             int
	temp          float32
	topK          int
	topP          float32
	repeatPenalty float32
	repeatLastN   int
	seed          uint64
	chunk         int
	noBOS         bool
	ignoreEOS     bool
	asJSON        bool
	bench         bool
	pp, tg, runs  int
	threads       int
	// Speculative decoding and the KV cache.
	draft, spec string
	draftQuant  string // --draft-quant: passes/quant preset for the draft
	draftCalib  string // --draft-calib: calibration text for it
	acceptHead  string
	guard       bool
	kv          string
	backend     string // interp or native (generate_backend.go)
	nativeDir   string
}

func newGenerateCmd() *cobra.Command {
	var f generateFlags
	cmd := &cobra.Command{
		Use:   "generate model.gguf|model.onnx|checkpoint/ --prompt TEXT [-n N]",
		Short: "Generate text with a language model (streams tokens; --json, --bench)",
		Long: `Generate text with a decoder language model on the reference interpreter
(--backend interp, the default) or natively (--backend native: the graph is
compiled by optc's code generator for each token count a forward pass needs,
padded to powers of two, on first use; attention and rotary embedding run
on the interpreter inside the compiled bundles; native code runs on
--threads threads, 1 when not given; --native-dir keeps the bundles for
later runs).

The model is a GGUF file (Llama architecture; F32, F16, BF16, Q8_0, Q4_0 or
Q4_1 tensors) whose tokenizer is read from its metadata; a Hugging Face
Llama checkpoint folder (config.json, model.safetensors and a GPT-2 style or
byte tokenizer); or an ONNX decoder exported with Optimum's KV-cache
inputs/outputs (config.json beside it), whose attention optc fuses and binds
to its own cache. The prompt is
tokenized as llama.cpp does (BOS prepended unless --no-bos) and prefilled in
chunks of --chunk tokens through a KV cache; then -n tokens are sampled one
at a time and streamed to stdout. Timings go to stderr.

Sampling is greedy by default (--temp 0); with --temp > 0 the logits pass
through repetition penalty, top-k, top-p and temperature (llama.cpp's order)
and a draw seeded by --seed. Generation stops at EOS unless --ignore-eos.

--json prints one JSON object instead: prompt tokens, generated token ids,
text, stop reason, timing and KV-cache bytes.

--bench measures like llama-bench: pp (prompt processing of --pp random
tokens) and tg (--tg single-token steps), medians over --runs runs after a
warm-up; --threads sets GOMAXPROCS (1 for single-thread figures).

Speculative decoding (lossless: greedy output equals the target's greedy
output; sampled output is distributed as the target's):

  --draft MODEL         a draft model sharing the target's vocabulary
  --draft auto[:K]      a draft derived from the target by optc: its first K
                        decoder layers (auto: the depth with the best expected
                        speedup, measured on the prompt's continuation)
  --draft recycle       Token Recycling: no draft model; an adjacency matrix
                        of top-8 successors fills the paper's static tree,
                        verified with tree attention. --spec tree:auto (the
                        default) cuts the tree each round to the size with
                        the best expected tokens per verification cost (from
                        the target's measured forward cost and each node's
                        acceptance); tree:N keeps N nodes; tree:all all 80
  --draft none          plain decoding
  --draft-quant Q       quantize the draft (model or auto) with optc's
                        quantization presets (int8, int8:w, int4,
                        nupes:4:datafree, nupes:4:datafree:int, …, as
                        optc quant-report names them): cheaper draft passes
                        for some acceptance, never a different output.
                        Schemes with activations calibrate on --draft-calib
                        (a text file: 4 windows of 512 bytes), or else on
                        the prompt and the target's greedy continuation
  --spec fixed:K        K draft tokens per round (default fixed:4)
  --spec specdec++[:H]  adaptive length: stop when the acceptance head
                        (--accept-head, from optc train-accept-head) predicts
                        P(some draft rejected) > H (default 0.3), within [2, 20]
  --spec pearl[:G]      drafting and verification in parallel goroutines
                        (G: draft length; default: the measured cost ratio)
  --spec spectr[:KxL]   K i.i.d. drafts of length L, K-SEQ verification (3x4)
  --spec rsd[:B1-B2-…]  RSD-C draft tree with branching B1, B2, … (2-2-1-1)

--guard (on by default) decodes plainly while the rolling throughput of
speculation is below plain decoding's. With --draft, --bench generates -n
tokens (after --prompt) plainly and speculatively, alternately, --runs
times after a warm-up, and reports tokens/s of both and their ratio
(speedup), acceptance rate, tokens per round, acceptance per draft
position, forward-pass cost (fixed + per token) and KV bytes.

--kv chooses the KV cache:
` + kvcache.SpecSyntax,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runGenerate(cmd, args[0], &f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.prompt, "prompt", "p", "", "prompt text")
	fl.IntVarP(&f.n, "n", "n", 64, "number of tokens to generate")
	fl.Float32Var(&f.temp, "temp", 0, "sampling temperature (0 = greedy)")
	fl.IntVar(&f.topK, "top-k", 0, "keep the K most likely tokens (0 = off)")
	fl.Float32Var(&f.topP, "top-p", 0, "keep the most likely tokens up to probability P (0 or 1 = off)")
	fl.Float32Var(&f.repeatPenalty, "repeat-penalty", 1, "penalty for tokens in the last --repeat-last-n (1 = off)")
	fl.IntVar(&f.repeatLastN, "repeat-last-n", 64, "window of the repetition penalty")
	fl.Uint64Var(&f.seed, "seed", 1, "random seed of the sampler")
	fl.IntVar(&f.chunk, "chunk", llm.DefaultChunk, "prefill chunk size in tokens")
	fl.BoolVar(&f.noBOS, "no-bos", false, "do not prepend BOS to the prompt")
	fl.BoolVar(&f.ignoreEOS, "ignore-eos", false, "keep generating after EOS")
	fl.BoolVar(&f.asJSON, "json", false, "print a JSON object (tokens, text, timing) instead of streaming")
	fl.BoolVar(&f.bench, "bench", false, "measure prompt processing and generation tokens/s (llama-bench style)")
	fl.IntVar(&f.pp, "pp", 512, "--bench: prompt tokens")
	fl.IntVar(&f.tg, "tg", 128, "--bench: generated tokens")
	fl.IntVar(&f.runs, "runs", 5, "--bench: runs per test (median reported)")
	fl.IntVar(&f.threads, "threads", 0, "GOMAXPROCS for the run (0 = leave as is)")
	fl.StringVar(&f.draft, "draft", "", "speculative decoding draft: a model path, auto[:K], recycle or none")
	fl.StringVar(&f.spec, "spec", "", "speculative decoding strategy: fixed:K, specdec++[:H], pearl[:G], spectr[:KxL], rsd[:B1-B2-…], tree[:N|all|auto] (recycle)")
	fl.StringVar(&f.draftQuant, "draft-quant", "", "quantize the draft: int8, int8:w, int4, nupes:4:datafree[:int], … (see optc quant-report)")
	fl.StringVar(&f.draftCalib, "draft-calib", "", "--draft-quant: calibration text file (default: the prompt and the target's continuation)")
	fl.StringVar(&f.acceptHead, "accept-head", "", "SpecDec++ acceptance head (safetensors from optc train-accept-head)")
	fl.BoolVar(&f.guard, "guard", true, "decode plainly while speculation is slower than plain decoding")
	fl.StringVar(&f.backend, "backend", "interp", "backend: interp (reference interpreter) or native (compiled per token count; needs LLVM 14)")
	fl.StringVar(&f.nativeDir, "native-dir", "", "--backend native: keep compiled bundles in this folder and reuse them across runs (default: a temporary folder)")
	fl.StringVar(&f.kv, "kv", "dense", "KV cache: dense, f16, gear:B[,kivi], evict:N, locret:N,head=FILE (see the help)")
	return cmd
}

// generateReport is the --json output; the field names are stable for
// scripts.
type generateReport struct {
	Model        string  `json:"model"`
	Backend      string  `json:"backend"`
	Prompt       string  `json:"prompt"`
	PromptTokens []int32 `json:"prompt_tokens"`
	Tokens       []int32 `json:"tokens"`
	Text         string  `json:"text"`
	StopReason   string  `json:"stop_reason"`
	Timing       struct {
		PromptMS          float64 `json:"prompt_ms"`
		PromptTokensPerS  float64 `json:"prompt_tokens_per_s"`
		GenMS             float64 `json:"gen_ms"`
		GenTokensPerS     float64 `json:"gen_tokens_per_s"`
		DecodeSteps       int     `json:"decode_steps"`
		PrefillChunkToken int     `json:"prefill_chunk_tokens"`
	} `json:"timing"`
	KVCacheBytes    int64             `json:"kv_cache_bytes"`
	KVBytesPerToken int64             `json:"kv_bytes_per_token"`
	Sampler         llm.SamplerConfig `json:"sampler"`
	Native          *genNativeReport  `json:"native,omitempty"`
}

type benchReport struct {
	Model           string           `json:"model"`
	Backend         string           `json:"backend"`
	Threads         int              `json:"threads"`
	Params          int64            `json:"params"`
	WeightBytes     int64            `json:"weight_bytes"`
	KVBytesPerToken int64            `json:"kv_bytes_per_token"`
	Tests           []llm.BenchStat  `json:"tests"`
	Native          *genNativeReport `json:"native,omitempty"`
}

func runGenerate(cmd *cobra.Command, path string, f *generateFlags) error {
	if f.threads > 0 {
		defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(f.threads))
	}
	if f.n < 0 || f.chunk <= 0 {
		return fmt.Errorf("generate: -n must be ≥ 0 and --chunk > 0")
	}
	newCache, err := kvcache.ParseSpec(f.kv)
	if err != nil {
		return err
	}
	m, err := llm.Load(path)
	if err != nil {
		return err
	}
	be, err := newGenBackend(f)
	if err != nil {
		return err
	}
	defer be.Close()
	lm, err := be.open(m)
	if err != nil {
		return err
	}
	ctx := context.Background()
	out := cmd.OutOrStdout()
	speculative := f.draft != "" && f.draft != "none"
	if !speculative && f.spec != "" && f.spec != "none" {
		return fmt.Errorf("generate: --spec %s needs a --draft (a model, auto or recycle)", f.spec)
	}
	if f.draftCalib != "" && f.draftQuant == "" {
		return fmt.Errorf("generate: --draft-calib calibrates --draft-quant; give --draft-quant too")
	}
	if f.draftQuant != "" && (!speculative || f.draft == "recycle") {
		return fmt.Errorf("generate: --draft-quant quantizes a draft model: give --draft MODEL or --draft auto[:K]")
	}
	if f.bench && !speculative {
		return runBench(ctx, out, m, lm, be, f, newCache)
	}
	cfg := llm.SamplerConfig{Temperature: f.temp, TopK: f.topK, TopP: f.topP, RepeatPenalty: f.repeatPenalty, RepeatLastN: f.repeatLastN, Seed: f.seed}
	if err := cfg.Validate(); err != nil {
		return err
	}
	tok := m.Tokenizer
	prompt := tok.Encode(f.prompt)
	sp := tok.Specials()
	if !f.noBOS && sp.AddBOS && sp.BOS >= 0 {
		prompt = append([]int32{sp.BOS}, prompt...)
	}
	if len(prompt) == 0 {
		return fmt.Errorf("generate: the prompt is empty and the model adds no BOS (give --prompt)")
	}
	req := llm.Request{Prompt: prompt, MaxTokens: f.n}
	if !f.ignoreEOS && sp.EOS >= 0 {
		req.Stop = []int32{sp.EOS}
	}
	if speculative && f.bench {
		return runSpecBench(ctx, out, m, lm, be, f, cfg, prompt, newCache)
	}
	var mk func() spec.Strategy
	var info *draftInfo
	if speculative {
		if mk, info, err = buildStrategy(ctx, m, lm, be, f, cfg, prompt); err != nil {
			return err
		}
	}
	w := bufio.NewWriter(out)
	if !f.asJSON {
		// Stream: the prompt as given, then each token's piece as it comes.
		fmt.Fprint(w, f.prompt)
		w.Flush()
		req.OnToken = func(id int32) error {
			if !sp.IsEnd(id) {
				w.Write(tok.Piece(id))
			}
			return w.Flush()
		}
	}
	if speculative {
		return runSpeculative(ctx, cmd, m, lm, be, path, f, cfg, req, newCache, w, mk, info)
	}
	gen := llm.NewGenerator(lm, llm.WithSampler(cfg), llm.WithChunkSize(f.chunk), llm.WithCache(newCache))
	res, err := gen.Generate(ctx, req)
	if err != nil {
		return err
	}
	if f.asJSON {
		rep := generateReport{Model: filepath.Base(path), Backend: be.name, Prompt: f.prompt, PromptTokens: res.Prompt,
			Tokens: res.Tokens, Text: decodeGenerated(tok, res.Tokens), StopReason: res.StopReason,
			KVCacheBytes: res.CacheBytes, KVBytesPerToken: m.CacheSpec().TokenBytes(), Sampler: cfg}
		rep.Timing.PromptMS = ms(res.PromptTime.Seconds())
		rep.Timing.PromptTokensPerS = res.PromptTokensPerSec()
		rep.Timing.GenMS = ms(res.GenTime.Seconds())
		rep.Timing.GenTokensPerS = res.GenTokensPerSec()
		rep.Timing.DecodeSteps = res.DecodeSteps
		rep.Timing.PrefillChunkToken = f.chunk
		rep.Native = be.report()
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintln(w)
	w.Flush()
	fmt.Fprintf(cmd.ErrOrStderr(), "prompt: %d tokens in %.1f ms (%.1f tokens/s); generated %d tokens (%s), %d decode steps in %.1f ms (%.1f tokens/s); KV cache %d bytes (%d per token)\n",
		len(res.Prompt), ms(res.PromptTime.Seconds()), res.PromptTokensPerSec(), len(res.Tokens), res.StopReason,
		res.DecodeSteps, ms(res.GenTime.Seconds()), res.GenTokensPerSec(), res.CacheBytes, m.CacheSpec().TokenBytes())
	return nil
}

func ms(s float64) float64 { return s * 1000 }

// decodeGenerated is the text of generated tokens as llama.cpp's
// detokenizer gives it (EOS dropped).
func decodeGenerated(tok tokenizer.Tokenizer, ids []int32) string {
	sp := tok.Specials()
	if n := len(ids); n > 0 && sp.IsEnd(ids[n-1]) {
		ids = ids[:n-1]
	}
	return tok.Decode(ids)
}

func runBench(ctx context.Context, out io.Writer, m *llm.Model, lm llm.LM, be *genBackend, f *generateFlags, newCache kvcache.Constructor) error {
	stats, err := llm.Bench(ctx, lm, llm.BenchConfig{PromptTokens: f.pp, GenTokens: f.tg, Runs: f.runs, Chunk: f.chunk, Seed: f.seed},
		func() (kvcache.Cache, error) { return newCache(m.CacheSpec()) })
	if err != nil {
		return err
	}
	rep := benchReport{Model: m.Name, Backend: be.name, Threads: goruntime.GOMAXPROCS(0), WeightBytes: m.WeightBytes,
		Params: m.WeightBytes / 4, KVBytesPerToken: m.CacheSpec().TokenBytes(), Tests: stats, Native: be.report()}
	if f.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tparams\tbackend\tthreads\ttest\tt/s (median)\tmin\tmax\truns\tt/s of CPU time")
	for _, s := range stats {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.1f\t%.1f\t%.1f\t%d\t%.1f\n", rep.Model, humanCount(rep.Params), rep.Backend, rep.Threads,
			s.Test, s.Median, s.Min, s.Max, len(s.Samples), s.CPUMedian)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "KV cache: %d bytes per token (f32)\n", rep.KVBytesPerToken)
	return err
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f B", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f K", float64(n)/1e3)
	}
	return strings.TrimSpace(fmt.Sprint(n))
}

// draftInfo describes the draft side of speculative decoding.
type draftInfo struct {
	Kind        string `json:"kind"` // model, auto, recycle
	Name        string `json:"name,omitempty"`
	Params      int64  `json:"params,omitempty"`
	WeightBytes int64  `json:"weight_bytes,omitempty"`
	Layers      int    `json:"layers,omitempty"`
	// AutoCandidates are the depths --draft auto measured.
	AutoCandidates []spec.AutoDraftCandidate `json:"auto_candidates,omitempty"`
	// Quant is the draft's quantization (--draft-quant).
	Quant *spec.DraftQuant `json:"quant,omitempty"`
}

// quantizeDraft applies --draft-quant scheme to the draft of target m,
// calibrating (where the scheme needs data) on 4 windows of 512 bytes of
// the text file calibPath or, without one, on the single window fallback
// returns (nil: no fallback, schemes that need data fail).
func quantizeDraft(m, draft *llm.Model, scheme, calibPath string, fallback func() ([]int32, error)) (*llm.Model, *spec.DraftQuant, error) {
	var calib [][]int32
	switch {
	case calibPath != "":
		text, err := os.ReadFile(calibPath)
		if err != nil {
			return nil, nil, fmt.Errorf("--draft-calib: %w", err)
		}
		if calib, err = spec.TextCalibration(m, text, 4, 512); err != nil {
			return nil, nil, fmt.Errorf("--draft-calib %s: %w", calibPath, err)
		}
	case fallback != nil:
		seq, err := fallback()
		if err != nil {
			return nil, nil, err
		}
		calib = [][]int32{seq}
	}
	d, q, err := spec.QuantizeDraft(draft, scheme, calib, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("--draft-quant %s: %w", scheme, err)
	}
	return d, q, nil
}

// greedyContinuation is the prompt followed by the target's greedy
// continuation of up to 32 tokens: text to calibrate a draft on.
func greedyContinuation(ctx context.Context, m *llm.Model, lm spec.Model, prompt []int32) ([]int32, error) {
	n := min(32, m.MaxLen()-len(prompt))
	if n <= 0 {
		return prompt, nil
	}
	res, err := (&spec.Decoder{Target: lm}).Generate(ctx, llm.Request{Prompt: prompt, MaxTokens: n})
	if err != nil {
		return nil, err
	}
	return append(append([]int32{}, prompt...), res.Tokens...), nil
}

// buildStrategy turns --draft and --spec into a strategy maker.
func buildStrategy(ctx context.Context, m *llm.Model, lm spec.Model, be *genBackend, f *generateFlags, cfg llm.SamplerConfig, prompt []int32) (func() spec.Strategy, *draftInfo, error) {
	kind, arg, _ := strings.Cut(f.spec, ":")
	if f.draft == "recycle" {
		mk := spec.NewAdaptiveRecycle
		switch kind {
		case "", "tree", "recycle":
			if arg == "all" {
				mk = func() *spec.Recycle { return spec.NewRecycle(0) }
			} else if arg != "" && arg != "auto" {
				n, err := strconv.Atoi(arg)
				if err != nil || n < 1 {
					return nil, nil, fmt.Errorf("generate: --spec %s: want tree:N with N ≥ 1 nodes, tree:all or tree:auto", f.spec)
				}
				mk = func() *spec.Recycle { return spec.NewRecycle(n) }
			}
		default:
			return nil, nil, fmt.Errorf("generate: --draft recycle takes --spec tree[:N|all|auto], not %q", f.spec)
		}
		return func() spec.Strategy { return mk() }, &draftInfo{Kind: "recycle", Name: mk().Name()}, nil
	}
	if kind == "tree" {
		return nil, nil, fmt.Errorf("generate: --spec tree is Token Recycling's; use --draft recycle")
	}
	gamma := 4
	if kind == "fixed" && arg != "" {
		v, err := strconv.Atoi(arg)
		if err != nil || v < 1 {
			return nil, nil, fmt.Errorf("generate: --spec %s: want fixed:K with K ≥ 1", f.spec)
		}
		gamma = v
	}
	var draft *llm.Model
	info := &draftInfo{}
	// The prompt and the target's greedy continuation of it calibrate
	// --draft auto's depth and --draft-quant; computed once, when needed.
	var continuation []int32
	calib := func() ([]int32, error) {
		var err error
		if continuation == nil {
			continuation, err = greedyContinuation(ctx, m, lm, prompt)
		}
		return continuation, err
	}
	switch d := f.draft; {
	case d == "auto" || strings.HasPrefix(d, "auto:"):
		info.Kind = "auto"
		if k, ok := strings.CutPrefix(d, "auto:"); ok {
			layers, err := strconv.Atoi(k)
			if err != nil {
				return nil, nil, fmt.Errorf("generate: --draft %s: want auto:K (K decoder layers)", d)
			}
			if draft, err = spec.AutoDraft(m, layers); err != nil {
				return nil, nil, err
			}
		} else {
			seq, err := calib()
			if err != nil {
				return nil, nil, err
			}
			if draft, info.AutoCandidates, err = spec.SelectAutoDraft(ctx, m, seq, gamma); err != nil {
				return nil, nil, err
			}
		}
	default:
		var err error
		if draft, err = llm.Load(d); err != nil {
			return nil, nil, err
		}
		info.Kind = "model"
	}
	if draft.VocabSize() != m.VocabSize() {
		return nil, nil, fmt.Errorf("generate: the draft's vocabulary has %d tokens, the target's %d (they must share one)", draft.VocabSize(), m.VocabSize())
	}
	info.Params, info.Layers = draft.WeightBytes/4, draft.Config.Layers
	if f.draftQuant != "" {
		var err error
		if draft, info.Quant, err = quantizeDraft(m, draft, f.draftQuant, f.draftCalib, calib); err != nil {
			return nil, nil, fmt.Errorf("generate: %w", err)
		}
	}
	info.Name, info.WeightBytes = draft.Name, draft.WeightBytes
	dm, err := be.open(draft)
	if err != nil {
		return nil, nil, err
	}
	var mk func() spec.Strategy
	bad := func(want string) error { return fmt.Errorf("generate: --spec %s: want %s", f.spec, want) }
	switch kind {
	case "", "fixed":
		mk = func() spec.Strategy { return spec.NewFixed(dm, gamma) }
	case "specdec++":
		h := 0.3
		if arg != "" {
			v, err := strconv.ParseFloat(arg, 64)
			if err != nil || v <= 0 || v >= 1 {
				return nil, nil, bad("specdec++:H with a threshold 0 < H < 1")
			}
			h = v
		}
		if f.acceptHead == "" {
			return nil, nil, fmt.Errorf("generate: --spec specdec++ needs --accept-head (train one with optc train-accept-head)")
		}
		head, err := spec.LoadAcceptHead(f.acceptHead)
		if err != nil {
			return nil, nil, err
		}
		mk = func() spec.Strategy { return spec.NewSpecDecPP(dm, head, h, 2, 20) }
	case "pearl":
		g := 0
		if arg != "" {
			v, err := strconv.Atoi(arg)
			if err != nil || v < 1 {
				return nil, nil, bad("pearl:G with a draft length G ≥ 1")
			}
			g = v
		}
		mk = func() spec.Strategy { return spec.NewPearl(dm, g) }
	case "spectr":
		k, l := 3, 4
		if arg != "" {
			a, b, ok := strings.Cut(arg, "x")
			var e1, e2 error
			k, e1 = strconv.Atoi(a)
			l, e2 = strconv.Atoi(b)
			if !ok || e1 != nil || e2 != nil || k < 1 || l < 1 {
				return nil, nil, bad("spectr:KxL (K drafts of length L)")
			}
		}
		mk = func() spec.Strategy { return spec.NewSpecTr(dm, k, l) }
	case "rsd":
		branch := []int{2, 2, 1, 1}
		if arg != "" {
			branch = nil
			for _, x := range strings.Split(arg, "-") {
				v, err := strconv.Atoi(x)
				if err != nil || v < 1 {
					return nil, nil, bad("rsd:B1-B2-… (branching factors ≥ 1 per level)")
				}
				branch = append(branch, v)
			}
		}
		mk = func() spec.Strategy { return spec.NewRSD(dm, branch) }
	default:
		return nil, nil, bad("fixed:K, specdec++[:H], pearl[:G], spectr[:KxL] or rsd[:B1-B2-…]")
	}
	return mk, info, nil
}

func guardOf(f *generateFlags) *spec.Guard {
	if !f.guard {
		return nil
	}
	return &spec.Guard{}
}

// specReport is the --json output of speculative generation.
type specReport struct {
	generateReport
	Strategy        string     `json:"strategy"`
	Draft           *draftInfo `json:"draft"`
	Stats           spec.Stats `json:"stats"`
	AcceptanceRate  float64    `json:"acceptance_rate"`
	TokensPerRound  float64    `json:"tokens_per_round"`
	DraftCacheBytes int64      `json:"draft_kv_cache_bytes"`
}

func runSpeculative(ctx context.Context, cmd *cobra.Command, m *llm.Model, lm spec.Model, be *genBackend, path string, f *generateFlags, cfg llm.SamplerConfig, req llm.Request,
	newCache kvcache.Constructor, w *bufio.Writer, mk func() spec.Strategy, info *draftInfo) error {
	d := &spec.Decoder{Target: lm, Strategy: mk(), Sampler: cfg, NewCache: newCache, Chunk: f.chunk, Guard: guardOf(f)}
	res, err := d.Generate(ctx, req)
	if err != nil {
		return err
	}
	tok := m.Tokenizer
	genRate := rateOf(len(res.Tokens), res.GenTime.Seconds())
	st := &res.Stats
	if f.asJSON {
		rep := specReport{Strategy: st.Strategy, Draft: info, Stats: *st, AcceptanceRate: st.AcceptanceRate(), TokensPerRound: st.TokensPerRound(), DraftCacheBytes: res.DraftCacheBytes}
		rep.generateReport = generateReport{Model: filepath.Base(path), Backend: be.name, Native: be.report(), Prompt: f.prompt, PromptTokens: res.Prompt,
			Tokens: res.Tokens, Text: decodeGenerated(tok, res.Tokens), StopReason: res.StopReason,
			KVCacheBytes: res.CacheBytes, KVBytesPerToken: m.CacheSpec().TokenBytes(), Sampler: cfg}
		rep.Timing.PromptMS = ms(res.PromptTime.Seconds())
		rep.Timing.PromptTokensPerS = res.PromptTokensPerSec()
		rep.Timing.GenMS = ms(res.GenTime.Seconds())
		rep.Timing.GenTokensPerS = genRate
		rep.Timing.DecodeSteps = res.DecodeSteps
		rep.Timing.PrefillChunkToken = f.chunk
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintln(w)
	w.Flush()
	fmt.Fprintf(cmd.ErrOrStderr(), "prompt: %d tokens in %.1f ms; generated %d tokens (%s) in %.1f ms (%.1f tokens/s) with %s, draft %s: %d rounds, acceptance %.2f, %.2f tokens/round, %d plain steps; KV cache %d bytes (+%d draft)\n",
		len(res.Prompt), ms(res.PromptTime.Seconds()), len(res.Tokens), res.StopReason, ms(res.GenTime.Seconds()), genRate,
		st.Strategy, info.Kind, st.Rounds, st.AcceptanceRate(), st.TokensPerRound(), st.PlainSteps, res.CacheBytes, res.DraftCacheBytes)
	return nil
}

func rateOf(n int, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

// specBenchReport is the --bench output with a draft.
type specBenchReport struct {
	Model       string            `json:"model"`
	Backend     string            `json:"backend"`
	Threads     int               `json:"threads"`
	KV          string            `json:"kv"`
	Sampler     llm.SamplerConfig `json:"sampler"`
	GenTokens   int               `json:"gen_tokens"`
	Runs        int               `json:"runs"`
	Guard       bool              `json:"guard"`
	Draft       *draftInfo        `json:"draft"`
	Result      *spec.BenchResult `json:"result"`
	Acceptance  float64           `json:"acceptance_rate"`
	TokensRound float64           `json:"tokens_per_round"`
	// Forward-pass cost t(n) = fixed + per_token·n of the target and the
	// draft (after a context of the prompt's length), and the measured
	// draft/target cost ratio of one-token steps.
	TargetCost *spec.ForwardCost `json:"target_forward_cost"`
	DraftCost  *spec.ForwardCost `json:"draft_forward_cost,omitempty"`
	CostRatio  float64           `json:"cost_ratio,omitempty"`
	Native     *genNativeReport  `json:"native,omitempty"`
}

func runSpecBench(ctx context.Context, out io.Writer, m *llm.Model, lm spec.Model, be *genBackend, f *generateFlags, cfg llm.SamplerConfig, prompt []int32, newCache kvcache.Constructor) error {
	mk, info, err := buildStrategy(ctx, m, lm, be, f, cfg, prompt)
	if err != nil {
		return err
	}
	if f.n <= 0 {
		return fmt.Errorf("generate: --bench with --draft generates -n tokens (got %d)", f.n)
	}
	res, err := spec.Bench(ctx, lm, mk, spec.BenchConfig{Prompts: [][]int32{prompt}, GenTokens: f.n, Runs: f.runs, Sampler: cfg, NewCache: newCache, Chunk: f.chunk, Guard: guardOf(f)})
	if err != nil {
		return err
	}
	rep := specBenchReport{Model: m.Name, Backend: be.name, Threads: goruntime.GOMAXPROCS(0), KV: f.kv, Sampler: cfg, GenTokens: f.n, Runs: f.runs,
		Guard: f.guard, Draft: info, Result: res, Acceptance: res.AcceptanceRate(), TokensRound: res.TokensPerRound()}
	sizes := []int{1, 2, 4, 8}
	if rep.TargetCost, err = spec.MeasureForward(ctx, lm, len(prompt), sizes, 5); err != nil {
		return err
	}
	if info.Kind != "recycle" {
		var dm spec.Model
		if st, ok := mk().(interface{ DraftModel() spec.Model }); ok {
			dm = st.DraftModel()
		}
		if dm != nil {
			if rep.DraftCost, err = spec.MeasureForward(ctx, dm, len(prompt), sizes, 5); err != nil {
				return err
			}
			if t1 := rep.TargetCost.Points[0].MS; t1 > 0 {
				rep.CostRatio = rep.DraftCost.Points[0].MS / t1
			}
		}
	}
	if f.asJSON {
		rep.Native = be.report()
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tstrategy\tdraft\tthreads\ttemp\tplain t/s\tspec t/s\tspeedup\tacceptance\ttokens/round\tgreedy exact")
	exact := "-"
	if cfg.Temperature <= 0 {
		exact = strconv.FormatBool(res.Exact)
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%g\t%.1f\t%.1f\t%.2fx\t%.3f\t%.2f\t%s\n", m.Name, res.Strategy, info.Name, rep.Threads, cfg.Temperature,
		res.PlainTokensPerS, res.SpecTokensPerS, res.Speedup, rep.Acceptance, rep.TokensRound, exact)
	if err := tw.Flush(); err != nil {
		return err
	}
	st := &res.Stats
	fmt.Fprintf(out, "rounds %d, plain steps %d, drafted %d, accepted %d; target %d passes (%d tokens), draft %d passes (%d tokens); guard switches %d\n",
		st.Rounds, st.PlainSteps, st.Drafted, st.Accepted, st.TargetCalls, st.TargetTokens, st.DraftCalls, st.DraftTokens, st.GuardSwitches)
	fmt.Fprint(out, "acceptance per draft position:")
	for i, p := range st.Positions {
		fmt.Fprintf(out, " %d:%.2f(%d)", i+1, p.Rate(), p.Reached)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "target forward: %.3f ms + %.3f ms/token", rep.TargetCost.Fixed, rep.TargetCost.PerToken)
	if rep.DraftCost != nil {
		fmt.Fprintf(out, "; draft forward: %.3f ms + %.3f ms/token; draft/target cost ratio %.2f", rep.DraftCost.Fixed, rep.DraftCost.PerToken, rep.CostRatio)
	}
	fmt.Fprintln(out)
	if info.Kind != "recycle" {
		fmt.Fprintf(out, "draft: %s, %s params, %d weight bytes, %d layers\n", info.Name, humanCount(info.Params), info.WeightBytes, info.Layers)
	}
	for _, c := range info.AutoCandidates {
		fmt.Fprintf(out, "  auto-draft %d layers: agreement %.2f, cost ratio %.2f, expected speedup %.2fx\n", c.Layers, c.Agreement, c.CostRatio, c.Speedup)
	}
	_, err = fmt.Fprintf(out, "KV cache (%s): target %d bytes, draft %d bytes\n", f.kv, res.TargetKVBytes, res.DraftKVBytes)
	return err
}
