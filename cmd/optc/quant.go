package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/npy"
	"github.com/optc-dev/optc/passes"
	"github.com/optc-dev/optc/passes/quant"
	"github.com/optc-dev/optc/runtime"
	"github.com/optc-dev/optc/runtime/eval"
)

type quantFlags struct {
	quant, calib, data string
	out                string
	maxDrop            string
	limit, samples     int
	batch              int
	seed               uint64
	sensitivity        bool
	asJSON, quiet      bool
}

func newQuantReportCmd() *cobra.Command {
	var f quantFlags
	cmd := &cobra.Command{
		Use:   "quant-report model.onnx --quant SPEC --calib calib.npz [--data test.npz] [--max-drop 1%] [-o model.q.txt]",
		Short: "Quantize a model and print the per-layer table (scheme, bits, SQNR, bytes)",
		Long: `Quantize a model's Gemm/MatMul/Conv weights (and, for int8, their input
activations) and print one row per layer: spec, bits, stored bytes and the
SQNR of the layer's output on the calibration data (quantized vs float
model).

--quant: int8 (uniform per-channel weights + int8 activations, static
calibration), int8:w (weights only), int4 (per-channel, weight-only),
int4:gN (groups of N), nupes:B (NUPES B-bit, data-driven when --calib is
given), nupes:B:datafree, nupes:B[:datafree]:int (NUPES with an int8 decode
table and int8 activations: integer-only layers on the native int8
kernels), adapt (AdaPT fixed-point weights), adapt:STEPS
(with STEPS of layer-wise fine-tuning), adapt:act or adapt:STEPS:act
(fixed-point weights and input activations, each layer's own <WL,FL> of at
most 8 bits, run integer-only on the native int8 kernels; the act column
shows fx<WL,FL>), or quant pass arguments such as
"scheme=uniform,bits=4,granularity=group,group=32,sym=false".

--calib file.npz (array x) gives the calibration inputs; for a byte LM
(an input_ids input) a text file, scored as optc eval --text feeds it in
--calib-samples windows of 512 bytes at evenly spaced offsets. --data file.npz
(x, y) measures top-1 accuracy of the float and the quantized model
(--limit N: the first N rows). --max-drop 1% (absolute top-1 points, or a
fraction 0.01) falls back the most sensitive layers to higher precision
until the drop on --data fits; --sensitivity also measures each layer's
own drop. -o writes the quantized model in optc's IR text format (run it
with optc eval / optc run).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return quantReport(cmd, args[0], &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.quant, "quant", "", "int8 | int8:w | int4 | int4:gN | nupes:B[:datafree|:datadriven][:int] | adapt[:STEPS][:act] | k=v,…")
	fl.StringVar(&f.calib, "calib", "", "calibration data: .npz with array x")
	fl.StringVar(&f.data, "data", "", "validation data: .npz with x and y (top-1 accuracy)")
	fl.StringVarP(&f.out, "out", "o", "", "write the quantized model (IR text format, .txt)")
	fl.StringVar(&f.maxDrop, "max-drop", "", "accuracy budget, e.g. 1% or 0.01 (needs --data)")
	fl.IntVar(&f.limit, "limit", 0, "use only the first N rows of --data")
	fl.IntVar(&f.samples, "calib-samples", 512, "calibration rows used")
	fl.IntVar(&f.batch, "batch", 64, "rows per calibration/evaluation run")
	fl.Uint64Var(&f.seed, "seed", 0, "seed for sampling and stochastic rounding")
	fl.BoolVar(&f.sensitivity, "sensitivity", false, "measure each layer's own metric drop (needs --data)")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
	return cmd
}

// parseDrop reads "1%" (percentage points) or "0.01" (a fraction).
func parseDrop(s string) (float64, error) {
	v, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) {
		return 0, fmt.Errorf("--max-drop %q: want a percentage like 1%% or a fraction like 0.01", s)
	}
	if pct {
		f /= 100
	}
	return f, nil
}

func loadGraph(path string) (*ir.Graph, error) {
	if strings.EqualFold(filepath.Ext(path), ".txt") {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return ir.Parse(string(src))
	}
	return onnx.LoadFile(path)
}

// calibBatches reads --calib and cuts its x array into batches bound to
// the model's only input.
func calibBatches(g *ir.Graph, path string, rows, batch int) ([]map[string]*ir.Tensor, error) {
	if path == "" {
		return nil, nil
	}
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("--calib: the model has %d inputs; calibration supports single-input models", len(g.Inputs))
	}
	ef := &evalFlags{data: path, xKey: "x", yKey: "y"}
	x, err := loadX(ef)
	if err != nil {
		return nil, err
	}
	if x.DType != ir.Float32 || x.Rank() < 1 {
		return nil, fmt.Errorf("--calib %s: x must be float32 with a batch dim, got %s", path, x)
	}
	n := int(x.Shape[0])
	if rows > 0 && rows < n {
		n = rows
	}
	row := x.Len() / max(int(x.Shape[0]), 1)
	src := x.Data.([]float32)
	var out []map[string]*ir.Tensor
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		shape := append([]int64{int64(hi - lo)}, x.Shape[1:]...)
		out = append(out, map[string]*ir.Tensor{g.Inputs[0].Name: ir.FromSlice(ir.Float32, shape, append([]float32{}, src[lo*row:hi*row]...))})
	}
	return out, nil
}

// loadX reads only the inputs of an npz (labels are optional for --calib).
func loadX(f *evalFlags) (*ir.Tensor, error) {
	x, _, err := evalLoadData(f)
	if err == nil {
		return x, nil
	}
	arrays, _, err2 := npy.ReadNPZ(f.data)
	if err2 != nil {
		return nil, err
	}
	if x, ok := arrays[f.xKey]; ok {
		return x, nil
	}
	return nil, err
}

func quantReport(cmd *cobra.Command, path string, f *quantFlags) error {
	if f.quant == "" {
		return fmt.Errorf("quant-report: --quant is required (int8, int4, nupes:4, nupes:3, adapt, …)")
	}
	g, err := loadGraph(path)
	if err != nil {
		return err
	}
	_, err = quantizeGraph(cmd, g, path, f)
	return err
}

// quantizeGraph quantizes g as f says, prints the per-layer report (text
// or JSON) to cmd's output, writes -o, and returns the quantized graph.
func quantizeGraph(cmd *cobra.Command, g *ir.Graph, path string, f *quantFlags) (qg *ir.Graph, err error) {
	if f.quant == "" {
		return nil, fmt.Errorf("--quant is required (int8, int4, nupes:4, nupes:3, adapt, …)")
	}
	if f.batch < 1 {
		return nil, fmt.Errorf("quant-report: --batch %d: want >= 1", f.batch)
	}
	args, err := quant.Preset(f.quant)
	if err != nil {
		return nil, err
	}
	if f.calib == "" && args["method"] == "datadriven" && !strings.Contains(f.quant, "datadriven") {
		args["method"] = "datafree"
	}
	args["seed"] = strconv.FormatUint(f.seed, 10)
	opts, err := quant.ParseArgs(args)
	if err != nil {
		return nil, fmt.Errorf("--quant %s: %w", f.quant, err)
	}
	maxDrop := -1.0
	if f.maxDrop != "" {
		if maxDrop, err = parseDrop(f.maxDrop); err != nil {
			return nil, err
		}
		if f.data == "" {
			return nil, fmt.Errorf("quant-report: --max-drop needs --data to measure the drop on")
		}
	}
	if f.sensitivity && f.data == "" {
		return nil, fmt.Errorf("quant-report: --sensitivity needs --data")
	}
	calib, err := quantCalib(g, path, f)
	if err != nil {
		return nil, err
	}
	opts.Samples = f.samples
	errw := cmd.ErrOrStderr()
	logf := func(format string, a ...any) {
		if !f.quiet {
			fmt.Fprintf(errw, format+"\n", a...)
		}
	}
	q := quant.NewQuantizer(g, opts, calib, logf)
	if len(q.Layers()) == 0 {
		return nil, fmt.Errorf("quant-report: %s has no quantizable layer (Gemm/MatMul/Conv with a float32 constant weight)", path)
	}
	var metric quant.Metric
	if f.data != "" {
		x, y, err := evalLoadData(&evalFlags{data: f.data, xKey: "x", yKey: "y"})
		if err != nil {
			return nil, err
		}
		metric = func(mg *ir.Graph) (float64, error) {
			r, err := eval.Classifier(context.Background(), runtime.FromGraph(mg, filepath.Base(path)), x, y,
				eval.ClassifierOptions{Batch: f.batch, Limit: f.limit})
			if err != nil {
				return 0, err
			}
			return r.Top1, nil
		}
	}
	plan := q.DefaultPlan()
	rep := &quantReportOut{Model: path, Quant: f.quant, Calib: f.calib, Data: f.data, Limit: f.limit}
	var results []quant.LayerResult
	if maxDrop >= 0 {
		var br *quant.BudgetResult
		if qg, results, br, err = q.Budget(plan, metric, maxDrop); err != nil {
			return nil, err
		}
		rep.Budget = br
		rep.FloatMetric, rep.Metric = &br.Base, &br.Metric
	} else {
		if qg, results, err = q.Build(plan); err != nil {
			return nil, err
		}
		if metric != nil {
			base, err := metric(g)
			if err != nil {
				return nil, err
			}
			m, err := metric(qg)
			if err != nil {
				return nil, err
			}
			rep.FloatMetric, rep.Metric = &base, &m
			if f.sensitivity {
				_, drops, err := q.Sensitivity(plan, metric)
				if err != nil {
					return nil, err
				}
				for i := range results {
					if d, ok := drops[results[i].Layer]; ok {
						d := d
						results[i].Drop = &d
					}
				}
			}
		}
	}
	if err := ir.Verify(qg); err != nil {
		return nil, fmt.Errorf("quant-report: internal error: the quantized graph does not verify: %w", err)
	}
	rep.Layers = results
	rep.FloatBytes, rep.Bytes, rep.AvgBits = quant.Summary(results)
	rep.AvgActBits, _ = quant.ActSummary(results)
	rep.ModelFloatBytes, rep.ModelBytes = graphBytes(g), graphBytes(qg)
	report := &passes.Report{}
	quant.Record(report, results)
	rep.Report = report
	if f.out != "" {
		if err := writeGraphText(f.out, qg); err != nil {
			return nil, err
		}
		rep.Output = f.out
	}
	if f.asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return qg, enc.Encode(rep)
	}
	return qg, printQuantReport(cmd.OutOrStdout(), rep)
}

type quantReportOut struct {
	Model           string              `json:"model"`
	Quant           string              `json:"quant"`
	Calib           string              `json:"calib,omitempty"`
	Data            string              `json:"data,omitempty"`
	Limit           int                 `json:"limit,omitempty"`
	Layers          []quant.LayerResult `json:"-"`
	Report          *passes.Report      `json:"report"`
	FloatBytes      int64               `json:"weight_bytes_fp32"`
	Bytes           int64               `json:"weight_bytes"`
	AvgBits         float64             `json:"avg_bits"`
	AvgActBits      float64             `json:"avg_act_bits,omitempty"` // fixed-point activations (adapt:act): mean WL_a
	ModelFloatBytes int64               `json:"model_bytes_fp32"`
	ModelBytes      int64               `json:"model_bytes"`
	FloatMetric     *float64            `json:"top1_fp32,omitempty"`
	Metric          *float64            `json:"top1,omitempty"`
	Budget          *quant.BudgetResult `json:"budget,omitempty"`
	Output          string              `json:"output,omitempty"`
}

// graphBytes is the stored size of all constants.
func graphBytes(g *ir.Graph) int64 {
	var n int64
	for _, c := range g.Consts {
		n += c.Const.Bytes()
	}
	return n
}

func writeGraphText(path string, g *ir.Graph) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := ir.Print(fh, g); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func printQuantReport(w io.Writer, r *quantReportOut) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s\n", r.Model)
	fmt.Fprintf(tw, "quant\t%s\n\n", r.Quant)
	showDrop := false
	for _, l := range r.Layers {
		showDrop = showDrop || l.Drop != nil
	}
	fmt.Fprint(tw, "layer\top\tscheme\tbits\tparams\tbytes\tSQNR dB\tact")
	if showDrop {
		fmt.Fprint(tw, "\tdrop alone")
	}
	fmt.Fprint(tw, "\tnote\n")
	for _, l := range r.Layers {
		sq := "-"
		if !math.IsNaN(l.SQNR) {
			sq = fmt.Sprintf("%.1f", l.SQNR)
		}
		act := l.Act
		if act == "" {
			act = "-"
		}
		note := l.Note
		if len(l.Exponent) > 0 {
			note = strings.TrimSpace(fmt.Sprintf("a=%v %s", fmtExps(l.Exponent), note))
		}
		if l.WL > 0 {
			note = strings.TrimSpace(fmt.Sprintf("<%d,%d> %s", l.WL, l.FL, note))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s", l.Layer, l.Op, l.Spec, l.Bits, l.Params, l.Bytes, sq, act)
		if showDrop {
			d := "-"
			if l.Drop != nil {
				d = fmt.Sprintf("%+.2f", -100**l.Drop)
			}
			fmt.Fprintf(tw, "\t%s", d)
		}
		fmt.Fprintf(tw, "\t%s\n", note)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "weights\t%d -> %d bytes (%.2fx), %.2f bits/param average\n", r.FloatBytes, r.Bytes,
		float64(r.FloatBytes)/math.Max(float64(r.Bytes), 1), r.AvgBits)
	if a, n := quant.ActSummary(r.Layers); n > 0 {
		fmt.Fprintf(tw, "activations\tfixed point in %d layers, %.2f bits average\n", n, a)
	}
	fmt.Fprintf(tw, "model\t%d -> %d bytes (all constants)\n", r.ModelFloatBytes, r.ModelBytes)
	if r.FloatMetric != nil {
		fmt.Fprintf(tw, "top-1\t%.2f%% fp32, %.2f%% quantized (drop %.2f points)\n", 100**r.FloatMetric, 100**r.Metric, 100*(*r.FloatMetric-*r.Metric))
	}
	if b := r.Budget; b != nil {
		fmt.Fprintf(tw, "budget\tmax drop %.2f points: %d fallback step(s)\n", 100*b.MaxDrop, len(b.Steps)-1)
		for _, s := range b.Steps[1:] {
			fmt.Fprintf(tw, "\t%s %s -> %s: top-1 %.2f%% (drop %.2f)\n", s.Layer, s.From, s.To, 100*s.Metric, 100*s.Drop)
		}
	}
	if r.Output != "" {
		fmt.Fprintf(tw, "wrote\t%s\n", r.Output)
	}
	return tw.Flush()
}

func fmtExps(e []float32) string {
	parts := make([]string, len(e))
	for i, v := range e {
		parts[i] = strconv.FormatFloat(float64(v), 'f', 3, 32)
	}
	return strings.Join(parts, ",")
}

// compileQuantFlags are optc compile's quantization flags.
type compileQuantFlags struct {
	quant, calib, data, maxDrop string
	samples, limit              int
}

func addCompileQuantFlags(fl *pflag.FlagSet, f *compileQuantFlags) {
	fl.StringVar(&f.quant, "quant", "", "quantize first: int8 | int8:w | int4 | int4:gN | nupes:B[:int] | adapt[:act] (see optc quant-report)")
	fl.StringVar(&f.calib, "calib", "", "calibration data for --quant (.npz with x)")
	fl.StringVar(&f.data, "data", "", "validation data for --max-drop (.npz with x, y)")
	fl.StringVar(&f.maxDrop, "max-drop", "", "accuracy budget for --quant, e.g. 1% (needs --data)")
	fl.IntVar(&f.samples, "calib-samples", 512, "calibration rows used by --quant")
	fl.IntVar(&f.limit, "data-limit", 0, "use only the first N rows of --data")
}

// compileQuantize runs the quantization pipeline before codegen. Encoded
// weights stay encoded: the native GEMM stores and computes on the codes
// of the encodings it supports, and codegen decodes the others to float32
// (compileModel lists them from codegen's Result.Decoded);
// QuantizeLinear/DequantizeLinear nodes run wherever codegen places them.
// All of it is said on stderr, never silently.
func compileQuantize(cmd *cobra.Command, g *ir.Graph, path string, f *compileQuantFlags) (*ir.Graph, error) {
	if f.quant == "" {
		if f.calib != "" || f.maxDrop != "" || f.data != "" {
			return nil, fmt.Errorf("compile: --calib/--data/--max-drop need --quant")
		}
		return g, nil
	}
	qf := &quantFlags{quant: f.quant, calib: f.calib, data: f.data, maxDrop: f.maxDrop, samples: f.samples,
		limit: f.limit, batch: 64, quiet: true}
	var buf strings.Builder
	sub := &cobra.Command{}
	sub.SetOut(&buf)
	sub.SetErr(cmd.ErrOrStderr())
	qg, err := quantizeGraph(sub, g, path, qf)
	if err != nil {
		return nil, err
	}
	errw := cmd.ErrOrStderr()
	fmt.Fprint(errw, buf.String())
	encoded, qdq := 0, 0
	for _, c := range qg.Consts {
		if c.Const.Enc != nil {
			encoded++
		}
	}
	for _, n := range qg.Nodes {
		if n.Op == "QuantizeLinear" || n.Op == "DequantizeLinear" {
			qdq++
		}
	}
	fmt.Fprintf(errw, "note: --quant %s: %d quantized weight tensors; the native GEMM computes on uniform (per tensor, channel or group; zero points), NUPES (up to 4 bits) and fixed-point codes, any other is decoded to float32 at compile time (listed below)", f.quant, encoded)
	if qdq > 0 {
		fmt.Fprintf(errw, "; %d QuantizeLinear/DequantizeLinear nodes: layers the int8 kernels take (\"gemm i8\"/\"conv i8\" in the plan) compute on the 8-bit codes in int32, any other layer on the dequantized values in float32", qdq)
	}
	fmt.Fprintln(errw)
	return qg, nil
}
