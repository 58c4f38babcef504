package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/optc-dev/optc/bundle/build"
	"github.com/optc-dev/optc/codegen"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/passes"
	"github.com/optc-dev/optc/targets"
)

type compileFlags struct {
	target   string
	mcpu     string
	optLvl   int
	emit     string
	out      string
	shapes   []string
	threads  int
	name     string
	pipeline string
	quant    compileQuantFlags
}

func newCompileCmd() *cobra.Command {
	var f compileFlags
	cmd := &cobra.Command{
		Use:   "compile model.onnx -t x86_64|aarch64 [--mcpu CPU] [-O3] [--emit=STAGE] -o out/",
		Short: "Compile a model to native code: a bundle with a shared library, C header, weights and manifest",
		Long: `Compile a model to native code for a CPU target.

Shapes are static: symbolic input dims are fixed with --shape name=d0,d1,…
and otherwise bound to 1 (the manifest records which). Nodes codegen cannot
lower yet run on the interpreter; compile lists them, and such a bundle is
usable from Go (runtime.Open) only.

--emit stops the pipeline at a stage: llvm (<name>.ll), asm (<name>.s),
obj (<name>.o, lib<name>.a), lib (lib<name>.so, <name>.h) or bundle (lib +
weights.safetensors + manifest.json; the default).

Targets: x86_64 (--mcpu x86-64, x86-64-v2, x86-64-v3/avx2, x86-64-v4/avx512,
x86-64-v4-vnni/avx512vnni;
default: the best level of this machine's CPU) and aarch64 (NEON; --mcpu
generic, cortex-a72, neoverse-n1, …).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return compileModel(cmd, args[0], &f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.target, "target", "t", "", "target architecture: x86_64 or aarch64 (default: this machine)")
	fl.StringVar(&f.mcpu, "mcpu", "", "CPU level or model (default: the host's for the host architecture)")
	fl.IntVarP(&f.optLvl, "opt", "O", 3, "LLVM optimization level (0-3)")
	fl.StringVar(&f.emit, "emit", "bundle", "stop after: "+strings.Join(build.Stages, ", "))
	fl.StringVarP(&f.out, "out", "o", "", "output directory (required)")
	fl.StringArrayVar(&f.shapes, "shape", nil, "fix an input's shape, as name=d0,d1,… (repeatable)")
	fl.IntVar(&f.threads, "threads", 0, "default number of threads of the bundle (0: all cores)")
	fl.StringVar(&f.name, "name", "", "model name for the library and header (default: from the file name)")
	fl.StringVar(&f.pipeline, "pipeline", codegen.DefaultPipeline, "passes run before lowering (see DESIGN.md; \"\" for none)")
	addCompileQuantFlags(fl, &f.quant)
	return cmd
}

func compileModel(cmd *cobra.Command, path string, f *compileFlags) error {
	if f.out == "" {
		return fmt.Errorf("compile: -o out/ is required")
	}
	if f.optLvl < 0 || f.optLvl > 3 {
		return fmt.Errorf("compile: -O%d: want 0 to 3", f.optLvl)
	}
	if f.threads < 0 {
		return fmt.Errorf("compile: --threads %d: want >= 0", f.threads)
	}
	shapes, err := parseShapes(f.shapes)
	if err != nil {
		return err
	}
	t, err := targets.Lookup(f.target, f.mcpu)
	if err != nil {
		return err
	}
	tc, err := targets.FindToolchain(t)
	if err != nil {
		return err
	}
	tc.OptLevel = f.optLvl
	g, err := onnx.LoadFile(path)
	if err != nil {
		return err
	}
	pipeline, err := passes.ParsePipeline(f.pipeline)
	if err != nil {
		return err
	}
	if err := passes.Run(passes.NewContext(1), g, pipeline); err != nil {
		return fmt.Errorf("compile %s: %w", filepath.Base(path), err)
	}
	if g, err = compileQuantize(cmd, g, path, &f.quant); err != nil {
		return err
	}
	recipe := f.pipeline
	if f.quant.quant != "" {
		recipe += " + quant " + f.quant.quant
	}
	res, err := codegen.Compile(g, codegen.Options{Target: t, Shapes: shapes})
	if err != nil {
		return fmt.Errorf("compile %s: %w", filepath.Base(path), err)
	}
	if f.quant.quant != "" {
		errw := cmd.ErrOrStderr()
		if len(res.Decoded) == 0 {
			fmt.Fprintln(errw, "note: every quantized weight is stored and computed on as its codes")
		}
		for _, d := range res.Decoded {
			fmt.Fprintf(errw, "note: quantized weight %s (decoded at compile time, same values)\n", d)
		}
	}
	name := f.name
	if name == "" {
		name = build.SanitizeName(path)
	} else if build.SanitizeName(name) != name {
		return fmt.Errorf("compile: --name %q is not a lower-case C identifier (try %q)", name, build.SanitizeName(name))
	}
	out, err := build.Build(cmd.Context(), res, build.Options{
		Name: name, OutDir: f.out, Emit: f.emit, Version: version, Source: path, Toolchain: tc, Threads: f.threads, Pipeline: recipe,
	})
	if err != nil {
		return fmt.Errorf("compile %s: %w", filepath.Base(path), err)
	}
	return printCompile(cmd.OutOrStdout(), t, res, out)
}

func parseShapes(args []string) (map[string][]int64, error) {
	shapes := map[string][]int64{}
	for _, a := range args {
		name, dims, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--shape %q: want name=d0,d1,…", a)
		}
		var s []int64
		if dims != "" {
			for _, d := range strings.Split(dims, ",") {
				n, err := strconv.ParseInt(strings.TrimSpace(d), 10, 64)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("--shape %q: %q is not a size", a, d)
				}
				s = append(s, n)
			}
		}
		shapes[name] = s
	}
	return shapes, nil
}

func printCompile(w io.Writer, t *targets.Target, res *codegen.Result, out *build.Output) error {
	fmt.Fprintf(w, "target %s\n", t)
	for _, b := range res.Bindings {
		src := "--shape"
		if b.Default {
			src = "default"
		}
		p := b.Param
		if p == "" {
			p = "?"
		}
		fmt.Fprintf(w, "bound %s dim %d (%s) = %d (%s)\n", b.Input, b.Axis, p, b.Size, src)
	}
	fmt.Fprintf(w, "%d kernels, %d weight tensors (%d bytes)\n", len(res.Kernels), len(res.Weights), res.WeightBytes)
	if len(res.Fallback) == 0 {
		fmt.Fprintln(w, "all nodes compiled natively")
	} else {
		fmt.Fprintf(w, "%d nodes fall back to the interpreter:\n", len(res.Fallback))
		for _, fb := range res.Fallback {
			fmt.Fprintf(w, "  %s (%s): %s\n", fb.Node, fb.Op, fb.Reason)
		}
	}
	files := append([]string(nil), out.Files...)
	sort.Strings(files)
	for _, p := range files {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s (%d bytes)\n", p, st.Size())
	}
	return nil
}
