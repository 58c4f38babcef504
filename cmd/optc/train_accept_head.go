package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/spec"
)

type trainHeadFlags struct {
	draft, text, out        string
	draftQuant, draftCalib  string
	prompts, promptTokens   int
	genTokens               int
	temp                    float32
	blocks, epochs, batch   int
	lr, weightRejected, mix float64
	seed                    uint64
	asJSON                  bool
}

func newTrainAcceptHeadCmd() *cobra.Command {
	var f trainHeadFlags
	cmd := &cobra.Command{
		Use:   "train-accept-head TARGET --draft DRAFT|auto:K -o head.safetensors [--text FILE]",
		Short: "Train SpecDec++'s acceptance-prediction head for a draft/target pair",
		Long: `Train the acceptance-prediction head of SpecDec++ (optc generate --spec
specdec++ --accept-head FILE) from logged draft/target runs, in Go.

Prompts are --prompts windows of --prompt-tokens tokens taken at evenly
spaced offsets of --text (without --text: sequences the target samples from
BOS). After each prompt the target generates --gen-tokens tokens (--temp);
at every position a draft token is sampled from the draft and labelled
with its acceptance probability min(1, p/q) (greedy: 1 if it is the
target's argmax). The head (--blocks residual blocks x + SiLU(Wx + b), then
a linear layer to accept/reject) reads the draft's final hidden state where
the draft token is the input; 15% of the input tokens are the target's
(--mix). Training: soft-label cross-entropy with weight --weight-rejected on
the rejected class, Adam, cosine schedule with 3% warm-up, --epochs epochs;
10% of the examples are held out and the held-out loss is reported next to
the best constant prediction's.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runTrainAcceptHead(cmd, args[0], &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.draft, "draft", "", "draft model path, or auto:K (the target's first K layers)")
	fl.StringVar(&f.draftQuant, "draft-quant", "", "quantize the draft as optc generate --draft-quant does (train the head for the draft you will run)")
	fl.StringVar(&f.draftCalib, "draft-calib", "", "--draft-quant: calibration text file (default: --text)")
	fl.StringVar(&f.text, "text", "", "text to take prompts from (default: the target's own samples)")
	fl.StringVarP(&f.out, "output", "o", "", "where to write the head (safetensors)")
	fl.IntVar(&f.prompts, "prompts", 48, "number of prompts")
	fl.IntVar(&f.promptTokens, "prompt-tokens", 32, "tokens per prompt")
	fl.IntVar(&f.genTokens, "gen-tokens", 48, "tokens the target generates per prompt")
	fl.Float32Var(&f.temp, "temp", 0, "sampling temperature of the target and the draft (0 = greedy)")
	fl.IntVar(&f.blocks, "blocks", 3, "residual blocks of the head")
	fl.IntVar(&f.epochs, "epochs", 3, "training epochs")
	fl.IntVar(&f.batch, "batch", 32, "batch size")
	fl.Float64Var(&f.lr, "lr", 1e-3, "peak learning rate (Adam)")
	fl.Float64Var(&f.weightRejected, "weight-rejected", 6, "class weight of rejected tokens")
	fl.Float64Var(&f.mix, "mix", 0.15, "fraction of target tokens among the head's inputs")
	fl.Uint64Var(&f.seed, "seed", 1, "random seed")
	fl.BoolVar(&f.asJSON, "json", false, "print the training report as JSON")
	return cmd
}

// trainHeadReport is the --json output.
type trainHeadReport struct {
	Target  string           `json:"target"`
	Draft   string           `json:"draft"`
	Output  string           `json:"output"`
	Prompts int              `json:"prompts"`
	Report  spec.TrainReport `json:"report"`
}

func runTrainAcceptHead(cmd *cobra.Command, targetPath string, f *trainHeadFlags) error {
	if f.out == "" {
		return fmt.Errorf("train-accept-head: give -o FILE for the head")
	}
	if f.draft == "" {
		return fmt.Errorf("train-accept-head: give --draft (a model path or auto:K)")
	}
	if f.prompts <= 0 || f.promptTokens <= 0 || f.genTokens <= 0 {
		return fmt.Errorf("train-accept-head: --prompts, --prompt-tokens and --gen-tokens must be > 0")
	}
	ctx := context.Background()
	target, err := llm.Load(targetPath)
	if err != nil {
		return err
	}
	var draft *llm.Model
	if k, ok := strings.CutPrefix(f.draft, "auto:"); ok {
		layers, err := strconv.Atoi(k)
		if err != nil {
			return fmt.Errorf("train-accept-head: --draft %s: want auto:K", f.draft)
		}
		if draft, err = spec.AutoDraft(target, layers); err != nil {
			return err
		}
	} else if draft, err = llm.Load(f.draft); err != nil {
		return err
	}
	if f.draftQuant != "" {
		calib := f.draftCalib
		if calib == "" {
			calib = f.text
		}
		if draft, _, err = quantizeDraft(target, draft, f.draftQuant, calib, nil); err != nil {
			return fmt.Errorf("train-accept-head: %w", err)
		}
	} else if f.draftCalib != "" {
		return fmt.Errorf("train-accept-head: --draft-calib calibrates --draft-quant; give --draft-quant too")
	}
	prompts, err := headPrompts(ctx, target, f)
	if err != nil {
		return err
	}
	cfg := llm.SamplerConfig{Temperature: f.temp, Seed: f.seed}
	ex, err := spec.CollectAcceptData(ctx, target, draft, spec.AcceptDataConfig{Prompts: prompts, GenTokens: f.genTokens, Sampler: cfg, MixRatio: f.mix, Seed: f.seed})
	if err != nil {
		return err
	}
	head, rep, err := spec.TrainAcceptHead(ex, draft.HiddenSize(), spec.TrainConfig{Blocks: f.blocks, Epochs: f.epochs, Batch: f.batch, LR: f.lr, WeightRejected: f.weightRejected, Seed: f.seed})
	if err != nil {
		return err
	}
	meta := map[string]string{"target": filepath.Base(targetPath), "draft": draft.Name, "temperature": strconv.FormatFloat(float64(f.temp), 'g', -1, 32)}
	if err := head.Save(f.out, meta); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(trainHeadReport{Target: targetPath, Draft: draft.Name, Output: f.out, Prompts: len(prompts), Report: rep})
	}
	_, err = fmt.Fprintf(out, "acceptance head for %s → %s: %d examples (%d held out) from %d prompts, mean acceptance %.3f\nheld-out weighted loss %.4f → %.4f (best constant %.4f), KL %.4f\nwrote %s\n",
		draft.Name, filepath.Base(targetPath), rep.Examples, rep.Holdout, len(prompts), rep.MeanLabel, rep.LossStart, rep.LossEnd, rep.LossConstant, rep.KL, f.out)
	return err
}

// headPrompts cuts prompts from --text, or samples them from the target.
func headPrompts(ctx context.Context, m *llm.Model, f *trainHeadFlags) ([][]int32, error) {
	sp := m.Tokenizer.Specials()
	bos := func(p []int32) []int32 {
		if sp.AddBOS && sp.BOS >= 0 {
			return append([]int32{sp.BOS}, p...)
		}
		return p
	}
	var prompts [][]int32
	if f.text == "" {
		if sp.BOS < 0 {
			return nil, fmt.Errorf("train-accept-head: the model has no BOS to sample prompts from; give --text")
		}
		for i := range f.prompts {
			res, err := (&spec.Decoder{Target: m, Sampler: llm.SamplerConfig{Temperature: 1, Seed: f.seed + uint64(i)}}).Generate(ctx, llm.Request{Prompt: []int32{sp.BOS}, MaxTokens: f.promptTokens})
			if err != nil {
				return nil, err
			}
			prompts = append(prompts, append([]int32{sp.BOS}, res.Tokens...))
		}
		return prompts, nil
	}
	text, err := os.ReadFile(f.text)
	if err != nil {
		return nil, err
	}
	window := 8 * f.promptTokens // bytes; enough for any tokenizer's tokens
	if len(text) < window {
		return nil, fmt.Errorf("train-accept-head: %s has %d bytes, fewer than a %d-byte prompt window", f.text, len(text), window)
	}
	step := (len(text) - window) / max(1, f.prompts-1)
	for i := range f.prompts {
		ids := m.Tokenizer.Encode(string(text[i*step : i*step+window]))
		if len(ids) > f.promptTokens {
			ids = ids[:f.promptTokens]
		}
		prompts = append(prompts, bos(ids))
	}
	return prompts, nil
}
