// Command kvtrain trains Locret retaining heads for optc's evicting KV
// cache and measures KV-cache compression on real text.
//
//	go run ./tools/kvtrain train -model testdata/models/lm-draft -text .cache/gocorpus/train.txt -o head.bin
//	go run ./tools/kvtrain eval -model testdata/models/lm-draft -text .cache/gocorpus/valid.txt -kv dense -kv gear:4
//	go run ./tools/kvtrain eval -model ../shared/llm/stories260K.gguf -golden ../shared/llm/golden/stories260K_greedy.json
//
// eval feeds each sequence through a fresh cache of every kind: a prompt
// prefilled in one pass, then one token per forward pass (teacher
// forcing), as generation reads the cache. It prints bits per byte (byte
// LMs; per token and perplexity for other vocabularies) and the cache's
// bytes at the end of each sequence next to what a dense f32 cache holds.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/locret"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kvtrain train|eval [flags] (-h for flags)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "eval":
		err = runEval(os.Args[2:])
	case "train":
		err = runTrain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (train or eval)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvtrain:", err)
		os.Exit(1)
	}
}

type kindList []string

func (k *kindList) String() string     { return strings.Join(*k, " ") }
func (k *kindList) Set(s string) error { *k = append(*k, s); return nil }

var defaultKinds = []string{"dense", "f16", "gear:4", "gear:4,kivi", "gear:2", "gear:2,kivi", "evict:25%"}

func runEval(args []string) error {
	fs := flag.NewFlagSet("eval", flag.ExitOnError)
	model := fs.String("model", "", "language model (checkpoint folder, .gguf or .onnx)")
	text := fs.String("text", "", "byte LM: text file cut into windows")
	windows := fs.Int("windows", 32, "byte LM: windows at evenly spaced offsets")
	ctxLen := fs.Int("ctx", 512, "byte LM: window length in bytes")
	prompt := fs.Int("prompt", 64, "tokens prefilled in one pass before token-by-token decoding")
	golden := fs.String("golden", "", "score the output tokens of a golden greedy file (stories260K_greedy.json)")
	samples := fs.Int("samples", 0, "score this many sequences sampled from the model itself (dense cache, temperature 1)")
	sampleLen := fs.Int("sample-len", 400, "tokens per sampled sequence")
	seed := fs.Uint64("seed", 1, "seed of the sampled sequences")
	jobs := fs.Int("jobs", runtime.GOMAXPROCS(0), "sequences scored in parallel")
	var kinds kindList
	fs.Var(&kinds, "kv", "cache kind (kvcache.ParseSpec syntax); repeat for several (default: "+strings.Join(defaultKinds, " ")+")")
	fs.Parse(args)
	if *model == "" {
		return fmt.Errorf("eval: -model is required")
	}
	if len(kinds) == 0 {
		kinds = defaultKinds
	}
	m, err := llm.Load(*model)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var seqs []evalSeq
	unit := "token"
	switch {
	case *text != "":
		data, err := os.ReadFile(*text)
		if err != nil {
			return err
		}
		if seqs, err = byteWindows(m, data, *windows, *ctxLen, *prompt); err != nil {
			return err
		}
		unit = "byte"
	case *golden != "":
		if seqs, err = goldenSeqs(*golden); err != nil {
			return err
		}
	case *samples > 0:
		if seqs, err = sampledSeqs(ctx, m, *samples, *sampleLen, *seed, *prompt); err != nil {
			return err
		}
	default:
		return fmt.Errorf("eval: give -text, -golden or -samples")
	}
	t0 := time.Now()
	res, err := evalKinds(ctx, m, kinds, seqs, *jobs, func(s string) { fmt.Fprintf(os.Stderr, "%s  (%s)\n", s, time.Since(t0).Round(time.Second)) })
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "kv\tbits/%s\tΔ vs first\tperplexity\tKV bytes (mean, end of sequence)\t%% of f32\ttokens/s\n", unit)
	base := res[0].bitsPerItem()
	for _, r := range res {
		b := r.bitsPerItem()
		fmt.Fprintf(tw, "%s\t%.4f\t%+.4f\t%.3f\t%d\t%.1f%%\t%.0f\n", r.kind, b, b-base, math.Exp2(b), r.bytes/int64(len(seqs)), 100*r.ratio(), float64(r.tokens)/r.elapsed.Seconds())
	}
	tw.Flush()
	fmt.Printf("%d sequences, %d predictions each kind, prompt %d tokens prefilled, the rest one token per pass; tokens/s over %d parallel jobs\n", len(seqs), res[0].scored, seqs[0].prompt, *jobs)
	return nil
}

// byteWindows cuts n windows of ctx bytes at evenly spaced offsets
// i·((len−ctx)/(n−1)); each is fed as [BOS, w0 … w(ctx−2)] and every byte
// is scored (the fixtures' protocol).
func byteWindows(m *llm.Model, data []byte, n, ctx, prompt int) ([]evalSeq, error) {
	if len(data) < ctx || n < 1 || prompt < 1 || prompt > ctx {
		return nil, fmt.Errorf("eval: %d bytes of text for %d windows of %d (prompt %d)", len(data), n, ctx, prompt)
	}
	bos := m.Tokenizer.Specials().BOS
	step := 0
	if n > 1 {
		step = (len(data) - ctx) / (n - 1)
	}
	var seqs []evalSeq
	for i := 0; i < n; i++ {
		w := data[i*step : i*step+ctx]
		toks := []int32{bos}
		for _, b := range w[:ctx-1] {
			toks = append(toks, int32(b))
		}
		if m.Tokenizer.VocabSize() < 256 || m.Tokenizer.Encode("A")[0] != 'A' {
			return nil, fmt.Errorf("eval: -text needs a byte-level model (token id = byte)")
		}
		seqs = append(seqs, evalSeq{tokens: toks, final: int32(w[ctx-1]), prompt: prompt})
	}
	return seqs, nil
}

// goldenSeqs reads golden greedy outputs: prompt tokens then the
// generated tokens, which are scored.
func goldenSeqs(path string) ([]evalSeq, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var g struct {
		Cases []struct {
			PromptTokens []int32 `json:"promptTokens"`
			OutTokens    []int32 `json:"outTokens"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, err
	}
	var seqs []evalSeq
	for _, c := range g.Cases {
		p := len(c.PromptTokens)
		toks := append(append([]int32{}, c.PromptTokens...), c.OutTokens...)
		seqs = append(seqs, evalSeq{tokens: toks[:len(toks)-1], final: toks[len(toks)-1], prompt: p, skip: p - 1})
	}
	if len(seqs) == 0 {
		return nil, fmt.Errorf("%s: no cases", path)
	}
	return seqs, nil
}

// sampledSeqs samples n sequences of length tokens from the model (BOS
// prompt, temperature 1, dense cache) and scores all but the first
// prompt ones.
func sampledSeqs(ctx context.Context, m *llm.Model, n, length int, seed uint64, prompt int) ([]evalSeq, error) {
	bos := m.Tokenizer.Specials().BOS
	var seqs []evalSeq
	for i := 0; i < n; i++ {
		gen := llm.NewGenerator(m, llm.WithSampler(llm.SamplerConfig{Temperature: 1, Seed: seed + uint64(i)}))
		res, err := gen.Generate(ctx, llm.Request{Prompt: []int32{bos}, MaxTokens: length})
		if err != nil {
			return nil, err
		}
		toks := append([]int32{bos}, res.Tokens...)
		seqs = append(seqs, evalSeq{tokens: toks[:len(toks)-1], final: toks[len(toks)-1], prompt: min(prompt, len(toks)-1)})
	}
	return seqs, nil
}

func runTrain(args []string) error {
	fs := flag.NewFlagSet("train", flag.ExitOnError)
	model := fs.String("model", "", "language model (checkpoint folder, .gguf or .onnx)")
	text := fs.String("text", "", "training text (a byte LM's train split)")
	windows := fs.Int("windows", 256, "windows drawn at random offsets")
	ctxLen := fs.Int("ctx", 512, "window length in tokens (BOS + bytes)")
	prompt := fs.Int("prompt", 384, "labelled prompt tokens per window; the rest are the answer whose attention labels them")
	gap := fs.Int("gap", 0, "tokens between the prompt and the answer whose queries label it (0: Locret's labels)")
	hidden := fs.Int("hidden", 256, "hidden width of each layer's head (the paper's is 1024, for 8B models)")
	steps := fs.Int("steps", 1500, "optimizer steps (one window each)")
	lr := fs.Float64("lr", 5e-4, "peak learning rate")
	seed := fs.Uint64("seed", 1, "seed of the windows and the initialization")
	out := fs.String("o", "", "output retaining-head file")
	jobs := fs.Int("jobs", runtime.GOMAXPROCS(0), "windows logged in parallel")
	fs.Parse(args)
	if *model == "" || *text == "" || *out == "" {
		return fmt.Errorf("train: -model, -text and -o are required")
	}
	m, err := llm.Load(*model)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(*text)
	if err != nil {
		return err
	}
	if len(data) < *ctxLen {
		return fmt.Errorf("train: %s is shorter than one window", *text)
	}
	bos := m.Tokenizer.Specials().BOS
	rng := rand.New(rand.NewPCG(*seed, 0))
	var wins [][]int32
	for i := 0; i < *windows; i++ {
		off := rng.IntN(len(data) - *ctxLen + 1)
		toks := []int32{bos}
		for _, b := range data[off : off+*ctxLen-1] {
			toks = append(toks, int32(b))
		}
		wins = append(wins, toks)
	}
	t0 := time.Now()
	ds, err := locret.Collect(context.Background(), m, locret.Geometry(m, *hidden), wins, *prompt, *gap, *jobs)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "logged %d windows (%d labelled tokens per layer) in %s\n", len(wins), len(wins)**prompt, time.Since(t0).Round(time.Second))
	cfg := locret.DefaultTrain()
	cfg.Steps, cfg.LR, cfg.Seed, cfg.Warmup = *steps, *lr, *seed, max(*steps/10, 1)
	cfg.Log = func(step int, train, valid float64) {
		fmt.Fprintf(os.Stderr, "step %d: train loss %.5f, valid %.5f (%s)\n", step, train, valid, time.Since(t0).Round(time.Second))
	}
	head, valid, err := locret.Train(ds, cfg)
	if err != nil {
		return err
	}
	head.Note = fmt.Sprintf("Locret retaining head for %s: %d windows of %d tokens from %s (seed %d), labels = max attention of the last %d tokens' queries on the first %d (gap %d); hidden %d, %d AdamW steps, lr %g; validation loss per layer %v",
		filepath.Base(*model), *windows, *ctxLen, filepath.Base(*text), *seed, *ctxLen-*prompt-*gap, *prompt, *gap, *hidden, *steps, *lr, valid)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if _, err := head.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %s\n", *out, head.Note)
	return nil
}
