package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
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
}

func newGenerateCmd() *cobra.Command {
	var f generateFlags
	cmd := &cobra.Command{
		Use:   "generate model.gguf|model.onnx|checkpoint/ --prompt TEXT [-n N]",
		Short: "Generate text with a language model (streams tokens; --json, --bench)",
		Long: `Generate text with a decoder language model on the reference interpreter.

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
warm-up; --threads sets GOMAXPROCS (1 for single-thread figures).`,
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
}

type benchReport struct {
	Model           string          `json:"model"`
	Backend         string          `json:"backend"`
	Threads         int             `json:"threads"`
	Params          int64           `json:"params"`
	WeightBytes     int64           `json:"weight_bytes"`
	KVBytesPerToken int64           `json:"kv_bytes_per_token"`
	Tests           []llm.BenchStat `json:"tests"`
}

func runGenerate(cmd *cobra.Command, path string, f *generateFlags) error {
	if f.threads > 0 {
		defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(f.threads))
	}
	if f.n < 0 || f.chunk <= 0 {
		return fmt.Errorf("generate: -n must be ≥ 0 and --chunk > 0")
	}
	m, err := llm.Load(path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	out := cmd.OutOrStdout()
	if f.bench {
		return runBench(ctx, out, m, f)
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
	gen := llm.NewGenerator(m, llm.WithSampler(cfg), llm.WithChunkSize(f.chunk))
	res, err := gen.Generate(ctx, req)
	if err != nil {
		return err
	}
	if f.asJSON {
		rep := generateReport{Model: filepath.Base(path), Backend: "interp", Prompt: f.prompt, PromptTokens: res.Prompt,
			Tokens: res.Tokens, Text: decodeGenerated(tok, res.Tokens), StopReason: res.StopReason,
			KVCacheBytes: res.CacheBytes, KVBytesPerToken: m.CacheSpec().TokenBytes(), Sampler: cfg}
		rep.Timing.PromptMS = ms(res.PromptTime.Seconds())
		rep.Timing.PromptTokensPerS = res.PromptTokensPerSec()
		rep.Timing.GenMS = ms(res.GenTime.Seconds())
		rep.Timing.GenTokensPerS = res.GenTokensPerSec()
		rep.Timing.DecodeSteps = res.DecodeSteps
		rep.Timing.PrefillChunkToken = f.chunk
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

func runBench(ctx context.Context, out io.Writer, m *llm.Model, f *generateFlags) error {
	stats, err := llm.Bench(ctx, m, llm.BenchConfig{PromptTokens: f.pp, GenTokens: f.tg, Runs: f.runs, Chunk: f.chunk, Seed: f.seed},
		func() (kvcache.Cache, error) { return m.NewCache() })
	if err != nil {
		return err
	}
	rep := benchReport{Model: m.Name, Backend: "interp", Threads: goruntime.GOMAXPROCS(0), WeightBytes: m.WeightBytes,
		Params: m.WeightBytes / 4, KVBytesPerToken: m.CacheSpec().TokenBytes(), Tests: stats}
	if f.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tparams\tbackend\tthreads\ttest\tt/s (median)\tmin\tmax\truns")
	for _, s := range stats {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.1f\t%.1f\t%.1f\t%d\n", rep.Model, humanCount(rep.Params), rep.Backend, rep.Threads,
			s.Test, s.Median, s.Min, s.Max, len(s.Samples))
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
