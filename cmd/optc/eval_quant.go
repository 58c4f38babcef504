package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime"
	"github.com/optc-dev/optc/runtime/eval"
)

// evalQuantFlags are optc eval's quantization flags: the model is
// quantized in memory by quant-report's path (quantizeGraph) and the
// quantized graph is measured on the interpreter.
type evalQuantFlags struct {
	quant, calib string
	samples      int
	seed         uint64
}

func addEvalQuantFlags(fl *pflag.FlagSet, f *evalQuantFlags) {
	fl.StringVar(&f.quant, "quant", "", "measure the model quantized: int8 | int8:w | int4 | int4:gN | nupes:B[:datafree][:int] | adapt[:act] (see optc quant-report)")
	fl.StringVar(&f.calib, "calib", "", "calibration data for --quant: .npz with x (classifier) or a text file (byte LM: windows of 512 bytes)")
	fl.IntVar(&f.samples, "calib-samples", 0, "calibration rows (classifier, default 512) or 512-byte windows (LM, default 16) used by --quant")
	fl.Uint64Var(&f.seed, "seed", 0, "seed for --quant's sampling and stochastic rounding")
}

// evalQuantSummary is what eval reports of the quantization (a subset of
// quant-report's JSON).
type evalQuantSummary struct {
	Quant           string  `json:"quant"`
	Calib           string  `json:"calib,omitempty"`
	FloatBytes      int64   `json:"weight_bytes_fp32"`
	Bytes           int64   `json:"weight_bytes"`
	AvgBits         float64 `json:"avg_bits"`
	AvgActBits      float64 `json:"avg_act_bits,omitempty"`
	ModelFloatBytes int64   `json:"model_bytes_fp32"`
	ModelBytes      int64   `json:"model_bytes"`
}

// evalQuantLM tells whether g is a byte LM with the Optimum decoder
// interface (an input_ids input): its calibration data is text.
func evalQuantLM(g *ir.Graph) bool {
	for _, v := range g.Inputs {
		if v.Name == "input_ids" {
			return true
		}
	}
	return false
}

// evalQuantLMWindow is the window length of LM calibration data in bytes.
const evalQuantLMWindow = 512

// quantCalib reads --calib for quantizeGraph: text for a byte LM (see
// calibLMBatches), else an .npz (calibBatches).
func quantCalib(g *ir.Graph, model string, f *quantFlags) ([]map[string]*ir.Tensor, error) {
	if f.calib != "" && evalQuantLM(g) {
		return calibLMBatches(g, model, f.calib, f.samples, f.batch)
	}
	return calibBatches(g, f.calib, f.samples, f.batch)
}

// calibLMBatches reads a text file as the calibration data of the byte LM
// at model: rows windows of evalQuantLMWindow bytes at evenly spaced
// offsets (all of the text's whole windows if rows <= 0), at most
// min(batch, 4) per run, fed as optc eval --text feeds them (<bos> from
// config.json beside the model).
func calibLMBatches(g *ir.Graph, model, path string, rows, batch int) ([]map[string]*ir.Tensor, error) {
	if strings.EqualFold(filepath.Ext(path), ".npz") {
		return nil, fmt.Errorf("--calib %s: %s is a language model (input_ids); give a text file, not an .npz", path, model)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--calib: %w", err)
	}
	if rows > 0 {
		text = eval.SpacedWindows(text, rows, evalQuantLMWindow)
		text = text[:min(len(text), rows*evalQuantLMWindow)]
	}
	b, err := eval.LMCalibration(g, text, evalQuantLMWindow, min(max(batch, 1), 4), evalConfigBOS(model))
	if err != nil {
		return nil, fmt.Errorf("--calib %s: %w", path, err)
	}
	return b, nil
}

// evalQuantize loads the model at path and quantizes it as f says; the
// per-layer table goes to stderr unless quiet.
func evalQuantize(cmd *cobra.Command, path string, f *evalQuantFlags, quiet bool) (*runtime.Model, *evalQuantSummary, error) {
	g, err := loadGraph(path)
	if err != nil {
		return nil, nil, err
	}
	samples := f.samples
	if samples <= 0 {
		samples = 512
		if evalQuantLM(g) {
			samples = 16
		}
	}
	qf := &quantFlags{quant: f.quant, calib: f.calib, samples: samples, batch: 64, seed: f.seed, quiet: quiet, asJSON: true}
	var buf bytes.Buffer
	sub := &cobra.Command{}
	sub.SetOut(&buf)
	sub.SetErr(cmd.ErrOrStderr())
	if quiet {
		sub.SetErr(io.Discard)
	}
	qg, err := quantizeGraph(sub, g, path, qf)
	if err != nil {
		return nil, nil, fmt.Errorf("eval --quant: %w", err)
	}
	var sum evalQuantSummary
	if err := json.Unmarshal(buf.Bytes(), &sum); err != nil {
		return nil, nil, fmt.Errorf("eval --quant: internal error: reading the quantization report: %w", err)
	}
	return runtime.FromGraph(qg, path), &sum, nil
}

// evalPrintQuant adds the quantization lines to eval's table.
func evalPrintQuant(w io.Writer, s *evalQuantSummary) {
	if s == nil {
		return
	}
	fmt.Fprintf(w, "quant\t%s (calib %s)\n", s.Quant, evalOrDash(s.Calib))
	fmt.Fprintf(w, "weights\t%d -> %d bytes (%.2f bits/param average)\n", s.FloatBytes, s.Bytes, s.AvgBits)
	if s.AvgActBits > 0 {
		fmt.Fprintf(w, "activations\tfixed point, %.2f bits average\n", s.AvgActBits)
	}
	fmt.Fprintf(w, "model\t%d -> %d bytes (all constants)\n", s.ModelFloatBytes, s.ModelBytes)
}

func evalOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
