package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/npy"
	"github.com/optc-dev/optc/runtime"
)

type runFlags struct {
	inputs   []string
	dims     []string
	random   bool
	seed     uint64
	outDir   string
	asJSON   bool
	maxPrint int
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run model.onnx|bundle/ -i name=input.npy … [-o outdir/]",
		Short: "Run a model (interpreter) or a compiled bundle (native); inputs and outputs in NumPy .npy/.npz",
		Long: `Run a model: an .onnx file (or optc IR text) on the reference interpreter,
a bundle directory written by optc compile on its native code.

Inputs are given as -i name=file.npy (repeatable) or -i file.npz (every array
bound by its name). --random-inputs fills the inputs not given with seeded
random data (floats uniform in [0,1), integers in [0,10)); symbolic dims are
bound with --dim name=size and default to 1. Outputs are printed and, with
-o, written as outdir/<output name>.npy (all or nothing).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runModel(cmd, args[0], &f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.inputs, "input", "i", nil, "input as name=file.npy, or file.npz")
	fl.StringArrayVar(&f.dims, "dim", nil, "bind a symbolic dim for --random-inputs, as name=size")
	fl.BoolVar(&f.random, "random-inputs", false, "fill missing inputs with seeded random data")
	fl.Uint64Var(&f.seed, "seed", 1, "seed for --random-inputs")
	fl.StringVarP(&f.outDir, "out", "o", "", "directory to write outputs to as .npy files")
	fl.BoolVar(&f.asJSON, "json", false, "print a JSON summary of the outputs")
	fl.IntVar(&f.maxPrint, "print", 6, "number of leading values printed per output")
	return cmd
}

func runModel(cmd *cobra.Command, path string, f *runFlags) error {
	m, err := runtime.Open(path)
	if err != nil {
		return err
	}
	inputs, err := loadInputs(f.inputs)
	if err != nil {
		return err
	}
	if f.random {
		dims, err := parseDims(f.dims)
		if err != nil {
			return err
		}
		if err := fillRandomInputs(m.Inputs(), inputs, dims, f.seed); err != nil {
			return err
		}
	}
	start := time.Now()
	out, err := m.Run(context.Background(), inputs)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	names := make([]string, 0, len(out))
	for _, v := range m.Outputs() {
		names = append(names, v.Name)
	}
	if f.outDir != "" {
		if err := writeOutputs(f.outDir, names, out); err != nil {
			return err
		}
	}
	if f.asJSON {
		return printRunJSON(cmd.OutOrStdout(), m.Backend(), names, out, elapsed)
	}
	return printRun(cmd.OutOrStdout(), m.Backend(), names, out, elapsed, f.maxPrint)
}

// loadInputs reads -i arguments: name=file.npy or file.npz.
func loadInputs(args []string) (map[string]*ir.Tensor, error) {
	inputs := map[string]*ir.Tensor{}
	for _, a := range args {
		name, file, ok := strings.Cut(a, "=")
		if !ok {
			file = a
			if !strings.HasSuffix(strings.ToLower(file), ".npz") {
				return nil, fmt.Errorf("input %q: want name=file.npy or file.npz", a)
			}
			arrays, _, err := npy.ReadNPZ(file)
			if err != nil {
				return nil, err
			}
			for k, t := range arrays {
				inputs[k] = t
			}
			continue
		}
		t, err := npy.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", name, err)
		}
		inputs[name] = t
	}
	return inputs, nil
}

func parseDims(args []string) (map[string]int64, error) {
	dims := map[string]int64{}
	for _, a := range args {
		name, val, ok := strings.Cut(a, "=")
		n, err := strconv.ParseInt(val, 10, 64)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("--dim %q: want name=size with a non-negative size", a)
		}
		dims[name] = n
	}
	return dims, nil
}

// fillRandomInputs creates seeded random tensors for the inputs not given.
// Inputs are visited in declaration order so the data depends only on the
// seed and the model.
func fillRandomInputs(decl []*ir.Value, inputs map[string]*ir.Tensor, dims map[string]int64, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x6f707463))
	for _, v := range decl {
		if _, ok := inputs[v.Name]; ok {
			continue
		}
		if v.Type.Kind != ir.KindTensor || !v.Type.Ranked {
			return fmt.Errorf("input %q (%s): --random-inputs needs a ranked tensor type", v.Name, v.Type)
		}
		shape := make([]int64, len(v.Type.Shape))
		for i, d := range v.Type.Shape {
			switch {
			case d.Known():
				shape[i] = d.Size
			case d.Param != "" && dims[d.Param] > 0:
				shape[i] = dims[d.Param]
			default:
				shape[i] = 1
			}
		}
		t, err := randomTensor(v.Type.DType, shape, rng)
		if err != nil {
			return fmt.Errorf("input %q: %w", v.Name, err)
		}
		inputs[v.Name] = t
	}
	return nil
}

func randomTensor(d ir.DType, shape []int64, rng *rand.Rand) (*ir.Tensor, error) {
	if d == ir.String || d == ir.Undefined {
		return nil, fmt.Errorf("cannot make random data of dtype %s", d)
	}
	t := ir.NewTensor(d, shape...)
	for i := 0; i < t.Len(); i++ {
		switch {
		case d.IsFloat():
			t.SetFloat64(i, rng.Float64())
		case d == ir.Bool:
			t.SetFloat64(i, float64(rng.IntN(2)))
		default:
			t.SetFloat64(i, float64(rng.IntN(10)))
		}
	}
	return t, nil
}

// writeOutputs writes every output into a fresh temporary directory inside
// dir and moves the files into place only when all were written, so a
// failure leaves no partial output.
func writeOutputs(dir string, names []string, out map[string]*ir.Tensor) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".optc-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	files := map[string]string{}
	for _, name := range names {
		file := sanitizeFileName(name) + ".npy"
		if prev, dup := files[file]; dup {
			return fmt.Errorf("outputs %q and %q would both be written to %s", prev, name, file)
		}
		files[file] = name
		if err := npy.WriteFile(filepath.Join(tmp, file), out[name]); err != nil {
			return fmt.Errorf("write output %q: %w", name, err)
		}
	}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, file := range keys {
		if err := os.Rename(filepath.Join(tmp, file), filepath.Join(dir, file)); err != nil {
			return err
		}
	}
	return nil
}

func sanitizeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

type outputSummary struct {
	Name  string    `json:"name"`
	DType string    `json:"dtype"`
	Shape []int64   `json:"shape"`
	Min   *float64  `json:"min,omitempty"`
	Max   *float64  `json:"max,omitempty"`
	Mean  *float64  `json:"mean,omitempty"`
	Head  []float64 `json:"head,omitempty"`
}

func summarize(name string, t *ir.Tensor, head int) outputSummary {
	s := outputSummary{Name: name, DType: t.DType.String(), Shape: t.Shape}
	if t.DType == ir.String || t.Len() == 0 {
		return s
	}
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for i := 0; i < t.Len(); i++ {
		v := t.Float64At(i)
		lo, hi, sum = math.Min(lo, v), math.Max(hi, v), sum+v
		if i < head {
			s.Head = append(s.Head, v)
		}
	}
	mean := sum / float64(t.Len())
	s.Min, s.Max, s.Mean = finite(lo), finite(hi), finite(mean)
	return s
}

// finite drops NaN and ±Inf, which JSON cannot carry.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func printRun(w io.Writer, backend string, names []string, out map[string]*ir.Tensor, elapsed time.Duration, head int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "output\tdtype\tshape\tmin\tmax\tmean\tfirst values")
	for _, name := range names {
		s := summarize(name, out[name], head)
		vals := make([]string, len(s.Head))
		for i, v := range s.Head {
			vals[i] = strconv.FormatFloat(v, 'g', 6, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\t%s\n", s.Name, s.DType, s.Shape, fmtStat(s.Min), fmtStat(s.Max), fmtStat(s.Mean), strings.Join(vals, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "ran in %s (%s)\n", elapsed.Round(time.Microsecond), backendName(backend))
	return err
}

func fmtStat(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'g', 6, 64)
}

// backendName spells a backend out for people.
func backendName(b string) string {
	switch b {
	case "interp":
		return "interpreter"
	case "native":
		return "native code"
	}
	return b
}

func printRunJSON(w io.Writer, backend string, names []string, out map[string]*ir.Tensor, elapsed time.Duration) error {
	res := struct {
		Backend string          `json:"backend"`
		Seconds float64         `json:"seconds"`
		Outputs []outputSummary `json:"outputs"`
	}{Backend: backend, Seconds: elapsed.Seconds()}
	for _, name := range names {
		res.Outputs = append(res.Outputs, summarize(name, out[name], 6))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
