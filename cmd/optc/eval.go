package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/optc-dev/optc/data"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/npy"
	"github.com/optc-dev/optc/runtime"
	"github.com/optc-dev/optc/runtime/eval"
)

type evalFlags struct {
	data, text    string
	xKey, yKey    string
	input, output string
	limit, batch  int
	ctxLen, bos   int
	windows       int
	asJSON, quiet bool
	q             evalQuantFlags
}

func newEvalCmd() *cobra.Command {
	var f evalFlags
	cmd := &cobra.Command{
		Use:   "eval model.onnx (--data test.npz | --text file)",
		Short: "Measure a model on real data: top-1 accuracy (classifier) or bits per byte (byte LM)",
		Long: `Measure a model's quality on real data.

Classifiers: --data file.npz holds x (the inputs, batched along dim 0) and
y (integer labels); --data fashion-mnist[:test|:train] reads Debian's
Fashion-MNIST directly (float32 [N,1,28,28] in [0,1], as in the test.npz
that tools/fixtures/mkdata writes). Top-1 accuracy of the argmax of the
first output is printed, overall and per label. --limit N takes the first N
rows.

Byte-level language models with the Hugging Face Optimum decoder interface
(input_ids, position_ids, past_key_values.{i}.key/.value in; logits and
present.{i}.key/.value out): --text file is cut into consecutive windows of
--ctx bytes; each window is fed as [<bos>, w[0], ..., w[n-2]] at positions
0..n-1 with an empty KV cache (past tensors of length 0) and every byte is
scored. Bits per byte and per-byte perplexity (2^bits) are printed. --limit
N scores only the first N bytes; --windows N only N windows at the evenly
spaced offsets i*((len-ctx)/(N-1)) (how the fixtures' held-out numbers are
sampled). <bos> is --bos, else config.json's
bos_token_id beside the model, else 256.

--quant SPEC measures the model quantized as optc quant-report --quant
SPEC would (int8, int8:w, int4, int4:gN, nupes:B[:datafree][:int], adapt, …;
run on the interpreter); --calib gives its calibration data: an .npz with
x for a classifier, a text file for a byte LM (--calib-samples windows of
512 bytes at evenly spaced offsets, default 16). The weight and model
bytes are printed with the result.

Progress goes to stderr (--quiet turns it off); --json prints a JSON result.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return evalModel(cmd, args[0], &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", "", "classifier data: .npz with inputs and labels, or fashion-mnist[:split]")
	fl.StringVar(&f.text, "text", "", "language model data: a text file")
	fl.StringVar(&f.xKey, "x", "x", "npz array holding the inputs")
	fl.StringVar(&f.yKey, "y", "y", "npz array holding the labels")
	fl.StringVar(&f.input, "input", "", "model input fed with the data (default: the only input)")
	fl.StringVar(&f.output, "output", "", "model output holding the scores (default: the first)")
	fl.IntVar(&f.limit, "limit", 0, "evaluate only the first N samples (classifier) or bytes (LM); 0 = all")
	fl.IntVar(&f.batch, "batch", 0, "samples (classifier, default 64) or windows (LM, default 4) per run")
	fl.IntVar(&f.ctxLen, "ctx", 512, "LM window length in bytes")
	fl.IntVar(&f.windows, "windows", 0, "LM: score only N windows of --ctx bytes at evenly spaced offsets of the text")
	fl.IntVar(&f.bos, "bos", -1, "LM <bos> token id (-1: from config.json, else 256)")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
	addEvalQuantFlags(fl, &f.q)
	return cmd
}

func evalModel(cmd *cobra.Command, path string, f *evalFlags) error {
	if (f.data == "") == (f.text == "") {
		return fmt.Errorf("eval: give exactly one of --data (classifier) or --text (language model)")
	}
	var m *runtime.Model
	var qs *evalQuantSummary
	var err error
	switch {
	case f.q.quant != "":
		m, qs, err = evalQuantize(cmd, path, &f.q, f.quiet)
	case f.q.calib != "":
		err = fmt.Errorf("eval: --calib needs --quant")
	default:
		m, err = runtime.Open(path)
	}
	if err != nil {
		return err
	}
	progress := evalProgress(cmd.ErrOrStderr(), f.quiet)
	ctx := context.Background()
	out := cmd.OutOrStdout()
	if f.data != "" {
		x, y, err := evalLoadData(f)
		if err != nil {
			return err
		}
		r, err := eval.Classifier(ctx, m, x, y, eval.ClassifierOptions{
			Input: f.input, Output: f.output, Batch: f.batch, Limit: f.limit, Progress: progress("samples"),
		})
		if err != nil {
			return err
		}
		if f.asJSON {
			return evalJSON(out, map[string]any{"model": path, "backend": m.Backend(), "data": f.data, "task": "classification", "result": r, "quant": qs})
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "model\t%s (%s)\n", path, m.Backend())
		fmt.Fprintf(tw, "data\t%s\n", f.data)
		evalPrintQuant(tw, qs)
		fmt.Fprintf(tw, "top-1\t%.2f%% (%d/%d)\n", 100*r.Top1, r.Correct, r.Samples)
		fmt.Fprintf(tw, "time\t%s (%.0f samples/s)\n", r.Elapsed.Round(time.Millisecond), float64(r.Samples)/max(r.Seconds, 1e-9))
		fmt.Fprintf(tw, "\nlabel\tsamples\tcorrect\ttop-1\n")
		for _, c := range r.PerClass {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%.2f%%\n", c.Label, c.Samples, c.Correct, 100*c.Top1)
		}
		return tw.Flush()
	}
	text, err := os.ReadFile(f.text)
	if err != nil {
		return err
	}
	if f.limit > 0 && f.limit < len(text) {
		text = text[:f.limit]
	}
	if f.windows > 0 {
		text = eval.SpacedWindows(text, f.windows, f.ctxLen)
	}
	bos := f.bos
	if bos < 0 {
		bos = evalConfigBOS(path)
	}
	r, err := eval.ByteLM(ctx, m, text, eval.LMOptions{Ctx: f.ctxLen, Batch: f.batch, BOS: bos, Progress: progress("windows")})
	if err != nil {
		return err
	}
	if f.asJSON {
		return evalJSON(out, map[string]any{"model": path, "backend": m.Backend(), "text": f.text, "task": "language-model", "bos": bos, "result": r, "quant": qs})
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%s)\n", path, m.Backend())
	fmt.Fprintf(tw, "text\t%s (%d bytes, %d windows of %d)\n", f.text, r.Bytes, r.Windows, r.Ctx)
	evalPrintQuant(tw, qs)
	fmt.Fprintf(tw, "bits/byte\t%.4f\n", r.BitsPerByte)
	fmt.Fprintf(tw, "perplexity\t%.4f (per byte)\n", r.Perplexity)
	fmt.Fprintf(tw, "time\t%s (%.0f bytes/s)\n", r.Elapsed.Round(time.Millisecond), float64(r.Bytes)/max(r.Seconds, 1e-9))
	return tw.Flush()
}

// evalLoadData reads --data: an .npz file, or "fashion-mnist[:test|:train]"
// for Debian's Fashion-MNIST IDX files, scaled like tools/fixtures/mkdata.
func evalLoadData(f *evalFlags) (x, y *ir.Tensor, err error) {
	if name, split, _ := strings.Cut(f.data, ":"); name == "fashion-mnist" {
		if split == "" {
			split = "test"
		}
		img, lab, err := data.LoadFashionMNIST(data.FashionMNISTDir, split)
		if err != nil {
			return nil, nil, err
		}
		x, y = data.Normalize(img, lab, nil)
		return x, y, nil
	}
	arrays, _, err := npy.ReadNPZ(f.data)
	if err != nil {
		return nil, nil, err
	}
	x, y = arrays[f.xKey], arrays[f.yKey]
	if x == nil || y == nil {
		return nil, nil, fmt.Errorf("eval: %s needs arrays %q (inputs) and %q (labels)", f.data, f.xKey, f.yKey)
	}
	return x, y, nil
}

// evalConfigBOS reads bos_token_id from a Hugging Face config.json beside
// the model; 256 (the byte vocabulary's first special) if there is none.
func evalConfigBOS(model string) int {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(model), "config.json"))
	if err != nil {
		return 256
	}
	var c struct {
		BOS *int `json:"bos_token_id"`
	}
	if json.Unmarshal(b, &c) != nil || c.BOS == nil {
		return 256
	}
	return *c.BOS
}

func evalJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// evalProgress returns a progress reporter factory: a line on stderr at
// most every two seconds (and at the end, if any line was printed).
func evalProgress(w io.Writer, quiet bool) func(unit string) eval.Progress {
	return func(unit string) eval.Progress {
		if quiet {
			return nil
		}
		start := time.Now()
		last := start
		printed := false
		return func(done, total int) {
			now := time.Now()
			if now.Sub(last) < 2*time.Second && (done < total || !printed) {
				return
			}
			last, printed = now, true
			el := now.Sub(start).Seconds()
			fmt.Fprintf(w, "eval: %d/%d %s, %.0f/s, %s\n", done, total, unit, float64(done)/max(el, 1e-9), now.Sub(start).Round(time.Second))
		}
	}
}
