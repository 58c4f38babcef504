package spec

import (
	"fmt"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes/quant"
	"github.com/optc-dev/optc/runtime/llm"
)

// DraftQuant describes a draft quantized by QuantizeDraft.
type DraftQuant struct {
	Scheme string `json:"scheme"`
	// Layers is the number of linear layers quantized; AvgBits their mean
	// bits per weight.
	Layers  int     `json:"layers"`
	AvgBits float64 `json:"avg_bits"`
	// WeightBytes of the quantized layers before and after; ModelBytes of
	// all the draft's constants before and after (the embedding stays
	// float32).
	FloatWeightBytes int64 `json:"weight_bytes_fp32"`
	WeightBytes      int64 `json:"weight_bytes"`
	FloatModelBytes  int64 `json:"model_bytes_fp32"`
	ModelBytes       int64 `json:"model_bytes"`
	// CalibWindows is the number of calibration windows used (0: the
	// scheme is data-free).
	CalibWindows int `json:"calib_windows,omitempty"`
}

// QuantizeDraft returns a copy of the draft m whose linear layers are
// quantized by passes/quant with a preset as optc quant-report --quant
// names it (int8, int8:w, int4, nupes:4:datafree, nupes:4:datafree:int …).
// A draft only proposes tokens and the verifier keeps every emitted token
// distributed as the target's, so a lower-precision draft trades
// acceptance for cheaper draft passes and never changes what is
// generated greedily. Schemes that quantize activations, or fit weights to
// data, calibrate on calib: token windows, each run as one forward pass
// from position 0 with no KV cache. Without calib a data-driven scheme
// falls back to its data-free method (as quant-report does), and an
// activation scheme is an error. m itself is not modified.
func QuantizeDraft(m *llm.Model, scheme string, calib [][]int32, logf func(string, ...any)) (*llm.Model, *DraftQuant, error) {
	args, err := quant.Preset(scheme)
	if err != nil {
		return nil, nil, fmt.Errorf("spec: draft quantization: %w", err)
	}
	if len(calib) == 0 && args["method"] == "datadriven" {
		args["method"] = "datafree"
	}
	args["seed"] = "1" // deterministic drafts
	opts, err := quant.ParseArgs(args)
	if err != nil {
		return nil, nil, fmt.Errorf("spec: draft quantization %s: %w", scheme, err)
	}
	if opts.Default.Act && len(calib) == 0 {
		return nil, nil, fmt.Errorf("spec: draft quantization %s quantizes activations and needs calibration text", scheme)
	}
	feeds, err := m.CalibrationFeeds(calib)
	if err != nil {
		return nil, nil, fmt.Errorf("spec: draft quantization %s: %w", scheme, err)
	}
	opts.Samples = len(feeds)
	if logf == nil {
		logf = func(string, ...any) {}
	}
	q := quant.NewQuantizer(m.Graph, opts, feeds, logf)
	if len(q.Layers()) == 0 {
		return nil, nil, fmt.Errorf("spec: draft quantization: %s has no quantizable layer", m.Name)
	}
	qg, results, err := q.Build(q.DefaultPlan())
	if err != nil {
		return nil, nil, fmt.Errorf("spec: draft quantization %s of %s: %w", scheme, m.Name, err)
	}
	if err := ir.Verify(qg); err != nil {
		return nil, nil, fmt.Errorf("spec: draft quantization %s of %s: internal error: the quantized graph does not verify: %w", scheme, m.Name, err)
	}
	info := &DraftQuant{Scheme: scheme, Layers: len(results), FloatModelBytes: constBytes(m.Graph), ModelBytes: constBytes(qg)}
	if opts.Default.Act || opts.Default.Method == "datadriven" {
		info.CalibWindows = len(feeds)
	}
	info.FloatWeightBytes, info.WeightBytes, info.AvgBits = quant.Summary(results)
	d := m.Derive(fmt.Sprintf("%s[%s]", m.Name, scheme), qg, m.Config, info.ModelBytes)
	return d, info, nil
}

// constBytes is the stored size of a graph's constants.
func constBytes(g *ir.Graph) int64 {
	var n int64
	for _, c := range g.Consts {
		n += c.Const.Bytes()
	}
	return n
}

// TextCalibration cuts text into n windows of size bytes at evenly spaced
// offsets (fewer when the text is short) and tokenizes each with m's
// tokenizer, BOS first when the model adds one: calibration windows for
// QuantizeDraft. Each window is cut to the model's context.
func TextCalibration(m *llm.Model, text []byte, n, size int) ([][]int32, error) {
	if n < 1 || size < 1 {
		return nil, fmt.Errorf("spec: calibration of %d windows of %d bytes", n, size)
	}
	if len(text) == 0 {
		return nil, fmt.Errorf("spec: the calibration text is empty")
	}
	size = min(size, len(text))
	n = min(n, len(text)/size)
	step := 0
	if n > 1 {
		step = (len(text) - size) / (n - 1)
	}
	sp := m.Tokenizer.Specials()
	var windows [][]int32
	for i := range n {
		toks := m.Tokenizer.Encode(string(text[i*step : i*step+size]))
		if sp.AddBOS && sp.BOS >= 0 {
			toks = append([]int32{sp.BOS}, toks...)
		}
		if len(toks) > m.MaxLen() {
			toks = toks[:m.MaxLen()]
		}
		if len(toks) > 0 {
			windows = append(windows, toks)
		}
	}
	return windows, nil
}
