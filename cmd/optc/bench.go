package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/optc-dev/optc/bundle"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/internal/ort"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime"
)

type benchFlags struct {
	vs      string
	interp  bool
	threads string
	batch   int64
	runs    int
	warmup  int
	seed    uint64
	asJSON  bool
	shapes  []string
	model   string
	tol     float64
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench <bundle dir | model.onnx> [--vs onnxruntime] [--interp] [--threads 1,2] [--batch N] [--runs N] [--warmup N] [--seed S] [--json]",
		Short: "Measure latency of optc native against the interpreter and ONNX Runtime on the same inputs",
		Long: `Measure the latency of a model on optc's native backend, next to the
reference interpreter (--interp) and ONNX Runtime (--vs onnxruntime), on the
same seeded random inputs in the same run.

Given a bundle directory, native runs the bundle and the interpreter and ONNX
Runtime run the model it was compiled from (the manifest's source path, or
--model; its sha256 must match the manifest's). Given an .onnx file, bench
first compiles it into a temporary bundle with the defaults of optc compile
(host target and CPU, -O3, the default pipeline); --batch N fixes a symbolic
leading dim of every input and --shape name=d0,d1,… fixes a whole input.

Before timing, every backend's outputs are compared with the reference
(ONNX Runtime when asked for, else the interpreter, which always runs once
for this check) and the max abs difference is printed; a difference above
--tol × max(1, max |reference|) is an error. Each backend is then run
--warmup times untimed and --runs times timed per thread count; the table
gives median, min and max latency, the latency relative to ONNX Runtime
(this/ORT, lower is faster) and the speedup over the interpreter
(interp/this). The interpreter's thread count is GOMAXPROCS. ONNX Runtime is
loaded only with --vs onnxruntime (from $OPTC_ORT_LIB or the cache that
tools/fetch-models.sh fills). Progress goes to stderr.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return benchModel(cmd, args[0], &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.vs, "vs", "", "also run a reference runtime: onnxruntime")
	fl.BoolVar(&f.interp, "interp", false, "also time the reference interpreter")
	fl.StringVar(&f.threads, "threads", "", "comma-separated thread counts (default: 1 and all cores)")
	fl.Int64Var(&f.batch, "batch", 0, "batch size: fixes the symbolic leading dim of the inputs (.onnx) or checks the bundle's")
	fl.IntVar(&f.runs, "runs", 20, "timed runs per backend and thread count")
	fl.IntVar(&f.warmup, "warmup", 3, "untimed runs before timing")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the random inputs")
	fl.BoolVar(&f.asJSON, "json", false, "print the results as JSON")
	fl.StringArrayVar(&f.shapes, "shape", nil, "fix an input's shape when compiling an .onnx, as name=d0,d1,… (repeatable)")
	fl.StringVar(&f.model, "model", "", "source .onnx of a bundle (default: the path its manifest records)")
	fl.Float64Var(&f.tol, "tol", 1e-3, "largest accepted output difference, relative to max(1, max |reference|)")
	return cmd
}

// benchRow is one line of the table.
type benchRow struct {
	Backend  string   `json:"backend"`
	Threads  int      `json:"threads"`
	Batch    int64    `json:"batch"`
	MedianMS float64  `json:"median_ms"`
	MinMS    float64  `json:"min_ms"`
	MaxMS    float64  `json:"max_ms"`
	Runs     int      `json:"runs"`
	VsORT    *float64 `json:"latency_vs_onnxruntime,omitempty"`
	VsInterp *float64 `json:"speedup_vs_interp,omitempty"`
}

// benchCheck is one output compared between a backend and the reference.
type benchCheck struct {
	Backend    string  `json:"backend"`
	Reference  string  `json:"reference"`
	Output     string  `json:"output"`
	MaxAbsDiff float64 `json:"max_abs_diff"`
	Limit      float64 `json:"limit"`
	OK         bool    `json:"ok"`
}

type modelBenchReport struct {
	Model      string       `json:"model"`
	Source     string       `json:"source"`
	Bundle     string       `json:"bundle,omitempty"`
	Compiled   bool         `json:"compiled_on_the_fly"`
	Target     string       `json:"target"`
	Fallback   int          `json:"fallback_nodes"`
	Inputs     []string     `json:"inputs"`
	Seed       uint64       `json:"seed"`
	ORTVersion string       `json:"onnxruntime_version,omitempty"`
	Checks     []benchCheck `json:"checks"`
	Rows       []benchRow   `json:"rows"`
}

func benchModel(cmd *cobra.Command, path string, f *benchFlags) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	progress := cmd.ErrOrStderr()
	if f.vs != "" && f.vs != "onnxruntime" {
		return fmt.Errorf("bench: --vs %q: the only reference runtime is onnxruntime", f.vs)
	}
	if f.runs < 1 || f.warmup < 0 || f.batch < 0 {
		return fmt.Errorf("bench: want --runs >= 1, --warmup >= 0 and --batch >= 0")
	}
	threads, err := benchParseThreads(f.threads)
	if err != nil {
		return err
	}
	rep := &modelBenchReport{Model: path, Seed: f.seed}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	dir := path
	if st.IsDir() {
		if len(f.shapes) > 0 {
			return fmt.Errorf("bench: --shape applies to an .onnx model; bundle %s has fixed shapes (recompile it)", path)
		}
		man, err := bundle.ReadManifest(dir)
		if err != nil {
			return err
		}
		if rep.Source, err = benchBundleSource(dir, man, f.model); err != nil {
			return err
		}
		rep.Bundle = dir
	} else {
		if f.model != "" {
			return fmt.Errorf("bench: --model applies to a bundle directory")
		}
		tmp, err := os.MkdirTemp("", "optc-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		fmt.Fprintf(progress, "bench: compiling %s into a temporary bundle with optc compile's defaults\n", path)
		if err := benchCompile(ctx, progress, path, tmp, f); err != nil {
			return err
		}
		dir, rep.Source, rep.Compiled = tmp, path, true
	}

	nm, err := runtime.Open(dir)
	if err != nil {
		return err
	}
	defer nm.Close()
	man := nm.Native().Manifest()
	rep.Target = man.Target.Arch + " " + man.Target.CPU
	rep.Fallback = len(man.Fallback)
	batch := int64(0)
	if ins := nm.Inputs(); len(ins) > 0 && len(ins[0].Type.Shape) > 0 {
		batch = ins[0].Type.Shape[0].Size
	}
	if f.batch > 0 && batch != f.batch {
		return fmt.Errorf("bench: bundle %s is compiled for batch %d, not --batch %d (bench the .onnx or recompile with --shape)", dir, batch, f.batch)
	}
	inputs := map[string]*ir.Tensor{}
	if err := fillRandomInputs(nm.Inputs(), inputs, nil, f.seed); err != nil {
		return err
	}
	for _, v := range nm.Inputs() {
		t := inputs[v.Name]
		rep.Inputs = append(rep.Inputs, fmt.Sprintf("%s %s%s", v.Name, t.DType, benchDims(t.Shape)))
	}

	im, err := runtime.Open(rep.Source)
	if err != nil {
		return err
	}
	var sessions map[int]*ort.Session
	if f.vs == "onnxruntime" {
		sessions = map[int]*ort.Session{}
		defer func() {
			for _, s := range sessions {
				s.Close()
			}
		}()
		for _, t := range threads {
			s, err := ort.NewSession(rep.Source, ort.Options{Threads: t})
			if err != nil {
				return fmt.Errorf("bench --vs onnxruntime: %w", err)
			}
			sessions[t] = s
		}
		if rep.ORTVersion, err = ort.Version(); err != nil {
			return err
		}
	}

	// Correctness first: one run of each backend on the same inputs.
	fmt.Fprintln(progress, "bench: checking outputs")
	outNames := make([]string, 0, len(nm.Outputs()))
	for _, v := range nm.Outputs() {
		outNames = append(outNames, v.Name)
	}
	results := map[string]map[string]*ir.Tensor{}
	if results["native"], err = nm.Run(ctx, inputs); err != nil {
		return err
	}
	if results["interp"], err = im.Run(ctx, inputs); err != nil {
		return err
	}
	ref, others := "interp", []string{"native"}
	if sessions != nil {
		if results["onnxruntime"], err = sessions[threads[0]].Run(inputs); err != nil {
			return err
		}
		ref, others = "onnxruntime", []string{"native", "interp"}
	}
	bad := false
	for _, b := range others {
		for _, name := range outNames {
			c, err := benchCompare(b, ref, name, results[b][name], results[ref][name], f.tol)
			if err != nil {
				return err
			}
			bad = bad || !c.OK
			rep.Checks = append(rep.Checks, c)
		}
	}
	if bad {
		printBenchHeader(cmd.OutOrStdout(), rep)
		return fmt.Errorf("bench: outputs disagree beyond --tol %g; not timing a wrong result", f.tol)
	}

	// Timing.
	for _, t := range threads {
		if err := nm.SetThreads(t); err != nil {
			return err
		}
		row, err := benchTime(ctx, progress, "native", t, batch, f, func() error {
			_, err := nm.Run(ctx, inputs)
			return err
		})
		if err != nil {
			return err
		}
		rep.Rows = append(rep.Rows, row)
		if f.interp {
			prev := goruntime.GOMAXPROCS(t)
			row, err := benchTime(ctx, progress, "interp", t, batch, f, func() error {
				_, err := im.Run(ctx, inputs)
				return err
			})
			goruntime.GOMAXPROCS(prev)
			if err != nil {
				return err
			}
			rep.Rows = append(rep.Rows, row)
		}
		if s := sessions[t]; s != nil {
			row, err := benchTime(ctx, progress, "onnxruntime", t, batch, f, func() error {
				_, err := s.Run(inputs)
				return err
			})
			if err != nil {
				return err
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
	benchRatios(rep.Rows)
	if f.asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printBench(cmd.OutOrStdout(), rep)
}

// benchParseThreads parses "1,2,8"; empty means 1 and all cores.
func benchParseThreads(s string) ([]int, error) {
	if s == "" {
		ts := []int{1}
		if n := goruntime.NumCPU(); n > 1 {
			ts = append(ts, n)
		}
		return ts, nil
	}
	var ts []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bench: --threads %q: want comma-separated counts >= 1", s)
		}
		if !slices.Contains(ts, n) {
			ts = append(ts, n)
		}
	}
	return ts, nil
}

// benchBundleSource finds the model a bundle was compiled from and checks
// it against the manifest's hash.
func benchBundleSource(dir string, man *bundle.Manifest, override string) (string, error) {
	src := override
	if src == "" {
		if man.Source == nil || man.Source.Path == "" {
			return "", fmt.Errorf("bench: bundle %s does not record its source model's path (compiled by an older optc): give it with --model model.onnx", dir)
		}
		src = man.Source.Path
	}
	if man.Source != nil && man.Source.SHA256 != "" {
		sum, err := bundle.HashFile(src)
		if err != nil {
			return "", fmt.Errorf("bench: source model of bundle %s: %w (give it with --model)", dir, err)
		}
		if sum != man.Source.SHA256 {
			return "", fmt.Errorf("bench: %s is not the model bundle %s was compiled from (sha256 %.12s…, manifest says %.12s…)", src, dir, sum, man.Source.SHA256)
		}
	}
	return src, nil
}

// benchCompile runs optc compile (its flags and defaults) on path into
// dir, fixing the batch dim from --batch and whole shapes from --shape.
// The compile report goes to stderr.
func benchCompile(ctx context.Context, progress io.Writer, path, dir string, f *benchFlags) error {
	args := []string{path, "-o", dir}
	for _, s := range f.shapes {
		args = append(args, "--shape", s)
	}
	if f.batch > 0 {
		g, err := onnx.LoadFile(path)
		if err != nil {
			return err
		}
		given, err := parseShapes(f.shapes)
		if err != nil {
			return err
		}
		for _, v := range g.Inputs {
			if _, ok := given[v.Name]; ok || !v.Type.Ranked || len(v.Type.Shape) == 0 {
				continue
			}
			d0 := v.Type.Shape[0]
			if d0.Known() {
				if d0.Size != f.batch {
					return fmt.Errorf("bench: input %q has a fixed batch of %d, not --batch %d", v.Name, d0.Size, f.batch)
				}
				continue
			}
			dims := []string{strconv.FormatInt(f.batch, 10)}
			for _, d := range v.Type.Shape[1:] {
				n := int64(1) // optc compile's default for a symbolic dim
				if d.Known() {
					n = d.Size
				}
				dims = append(dims, strconv.FormatInt(n, 10))
			}
			args = append(args, "--shape", v.Name+"="+strings.Join(dims, ","))
		}
	}
	var buf bytes.Buffer
	c := newCompileCmd()
	c.SetArgs(args)
	c.SetOut(&buf)
	c.SetErr(&buf)
	err := c.ExecuteContext(ctx)
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line != "" && !strings.HasPrefix(line, "wrote ") {
			fmt.Fprintln(progress, "bench: compile:", line)
		}
	}
	return err
}

// benchCompare compares one output of a backend with the reference.
func benchCompare(backend, ref, name string, got, want *ir.Tensor, tol float64) (benchCheck, error) {
	c := benchCheck{Backend: backend, Reference: ref, Output: name}
	if got == nil || want == nil {
		return c, fmt.Errorf("bench: output %q missing from %s or %s", name, backend, ref)
	}
	if !slices.Equal(got.Shape, want.Shape) {
		return c, fmt.Errorf("bench: output %q has shape %v on %s but %v on %s", name, got.Shape, backend, want.Shape, ref)
	}
	if got.DType == ir.String || want.DType == ir.String {
		return c, fmt.Errorf("bench: output %q is a string tensor; bench compares numbers", name)
	}
	scale := 1.0
	for i := 0; i < want.Len(); i++ {
		scale = math.Max(scale, math.Abs(want.Float64At(i)))
	}
	for i := 0; i < got.Len(); i++ {
		d := math.Abs(got.Float64At(i) - want.Float64At(i))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		c.MaxAbsDiff = math.Max(c.MaxAbsDiff, d)
	}
	c.Limit = tol * scale
	c.OK = c.MaxAbsDiff <= c.Limit
	if math.IsInf(c.MaxAbsDiff, 0) {
		c.MaxAbsDiff = math.MaxFloat64 // JSON cannot carry Inf
	}
	return c, nil
}

// benchTime runs fn warmup times untimed and runs times timed.
func benchTime(ctx context.Context, progress io.Writer, backend string, threads int, batch int64, f *benchFlags, fn func() error) (benchRow, error) {
	fmt.Fprintf(progress, "bench: %s, %d thread(s): %d warmup + %d runs\n", backend, threads, f.warmup, f.runs)
	row := benchRow{Backend: backend, Threads: threads, Batch: batch, Runs: f.runs}
	for range f.warmup {
		if err := fn(); err != nil {
			return row, err
		}
	}
	ds := make([]time.Duration, f.runs)
	last := time.Now()
	for i := range ds {
		if err := ctx.Err(); err != nil {
			return row, err
		}
		start := time.Now()
		if err := fn(); err != nil {
			return row, err
		}
		ds[i] = time.Since(start)
		if time.Since(last) > 5*time.Second {
			fmt.Fprintf(progress, "bench: %s, %d thread(s): %d/%d runs\n", backend, threads, i+1, f.runs)
			last = time.Now()
		}
	}
	slices.Sort(ds)
	med := ds[len(ds)/2]
	if len(ds)%2 == 0 {
		med = (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	row.MedianMS, row.MinMS, row.MaxMS = ms(med), ms(ds[0]), ms(ds[len(ds)-1])
	return row, nil
}

// benchRatios fills each row's latency relative to ONNX Runtime and
// speedup over the interpreter at the same thread count.
func benchRatios(rows []benchRow) {
	find := func(backend string, threads int) *benchRow {
		for i := range rows {
			if rows[i].Backend == backend && rows[i].Threads == threads {
				return &rows[i]
			}
		}
		return nil
	}
	for i := range rows {
		r := &rows[i]
		if o := find("onnxruntime", r.Threads); o != nil && o.MedianMS > 0 {
			v := r.MedianMS / o.MedianMS
			r.VsORT = &v
		}
		if o := find("interp", r.Threads); o != nil && r.MedianMS > 0 {
			v := o.MedianMS / r.MedianMS
			r.VsInterp = &v
		}
	}
}

func printBenchHeader(w io.Writer, rep *modelBenchReport) {
	how := "bundle " + rep.Bundle
	if rep.Compiled {
		how = "compiled on the fly with optc compile's defaults"
	}
	fmt.Fprintf(w, "model    %s (%s)\n", rep.Model, how)
	if rep.Bundle != "" {
		fmt.Fprintf(w, "source   %s\n", rep.Source)
	}
	fb := "all nodes native"
	if rep.Fallback > 0 {
		fb = fmt.Sprintf("%d nodes fall back to the interpreter", rep.Fallback)
	}
	fmt.Fprintf(w, "target   %s; %s\n", rep.Target, fb)
	fmt.Fprintf(w, "inputs   %s (seed %d)\n", strings.Join(rep.Inputs, ", "), rep.Seed)
	if rep.ORTVersion != "" {
		fmt.Fprintf(w, "ort      ONNX Runtime %s\n", rep.ORTVersion)
	}
	for _, c := range rep.Checks {
		verdict := "ok"
		if !c.OK {
			verdict = fmt.Sprintf("MISMATCH (limit %.3g)", c.Limit)
		}
		fmt.Fprintf(w, "check    %s vs %s, output %s: max abs diff %.3g %s\n", c.Backend, c.Reference, c.Output, c.MaxAbsDiff, verdict)
	}
}

func printBench(w io.Writer, rep *modelBenchReport) error {
	printBenchHeader(w, rep)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tthreads\tbatch\tmedian ms\tmin ms\tmax ms\truns\tvs ort\tvs interp\t")
	ratio := func(v *float64, suffix string) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(*v, 'f', 2, 64) + suffix
	}
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%d\t%s\t%s\t\n", r.Backend, r.Threads, r.Batch, r.MedianMS, r.MinMS, r.MaxMS, r.Runs,
			ratio(r.VsORT, "x"), ratio(r.VsInterp, "x"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "vs ort: latency / ONNX Runtime's (lower is faster); vs interp: speedup over the interpreter")
	return err
}

// benchDims formats a shape as [d0,d1,…].
func benchDims(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
