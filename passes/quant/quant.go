package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"sort"
	"strings"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
)

// Spec is one layer's quantization choice.
type Spec struct {
	Scheme   string // uniform, nupes, adapt; "" = keep float
	Bits     int    // uniform/nupes bits (AdaPT: chosen per layer)
	Gran     string // tensor, channel, group
	Group    int    // group size for Gran == "group"
	Sym      bool   // uniform: symmetric (signed codes) or asymmetric (zero point)
	Act      bool   // also quantize the layer's input activation to 8 bits
	ActFixed bool   // with Act: the activation in AdaPT fixed point ⟨WL_a, FL_a⟩ ≤ 8 bits (adapt_act.go)
	Method   string // nupes: datafree or datadriven
	Exponent string // nupes: layer or channel
	IntTable bool   // nupes: integer decode table (ir.QuantPowerInt, nupes_int.go)
}

// Float reports whether the spec keeps the layer in float.
func (s Spec) Float() bool { return s.Scheme == "" || s.Scheme == "none" }

// String is a short label: "uniform:4/group64", "nupes:3/dd", "int8+act"…
func (s Spec) String() string {
	if s.Float() {
		return "fp32"
	}
	var b strings.Builder
	switch s.Scheme {
	case "adapt":
		b.WriteString("adapt")
	default:
		fmt.Fprintf(&b, "%s:%d", s.Scheme, s.Bits)
	}
	if s.Scheme != "adapt" {
		switch s.Gran {
		case "group":
			fmt.Fprintf(&b, "/g%d", s.Group)
		case "tensor":
			b.WriteString("/tensor")
		default:
			b.WriteString("/channel")
		}
	}
	if s.Scheme == "uniform" && !s.Sym {
		b.WriteString("/asym")
	}
	if s.Scheme == "nupes" {
		if s.Method == "datadriven" {
			b.WriteString("/dd")
		} else {
			b.WriteString("/df")
		}
		if s.Exponent == "channel" {
			b.WriteString("/a-ch")
		}
		if s.IntTable {
			b.WriteString("/int")
		}
	}
	if s.Act && s.ActFixed {
		b.WriteString("+actfx")
	} else if s.Act {
		b.WriteString("+act8")
	}
	return b.String()
}

// Options configure a quantization run: the default spec of every layer
// and the knobs of the calibrators and optimizers.
type Options struct {
	Default Spec
	Skip    []string // layer name patterns (path.Match) kept in float

	Calib      string  // activation calibrator: minmax, percentile, mse, kl
	Percentile float64 // for percentile
	ActSym     bool    // int8 symmetric activations (default: uint8 asymmetric)

	Samples   int     // calibration rows used by data-driven steps and SQNR
	MaxTokens int     // Gram-matrix tokens per layer (a seeded sample above)
	Damp      float64 // Gram diagonal damping, × mean diagonal
	Rounds    int     // NUPES data-driven: exponent/code rounds
	Sweeps    int     // NUPES data-driven: code sweeps per round

	KLEps    float64 // AdaPT: KL threshold
	KLBins   int     // AdaPT: histogram bins
	MinWL    int     // AdaPT: smallest word length tried
	MaxWL    int     // AdaPT: largest word length
	FineTune int     // AdaPT: fine-tuning steps per layer (0 = off)
	Window   int     // AdaPT: push-up look-back window

	Seed uint64 // seeds token sampling and stochastic rounding
}

// DefaultOptions returns the defaults documented on the quant pass.
func DefaultOptions() Options {
	return Options{
		Default:    Spec{Scheme: "uniform", Bits: 8, Gran: "channel", Group: 64, Sym: true, Method: "datafree", Exponent: "layer"},
		Calib:      "percentile",
		Percentile: 99.99,
		Samples:    512,
		MaxTokens:  4096,
		Damp:       0.01,
		Rounds:     2,
		Sweeps:     2,
		KLEps:      0.1,
		KLBins:     128,
		MinWL:      2,
		MaxWL:      16,
		Window:     10,
	}
}

// LayerResult is one row of the per-layer report.
type LayerResult struct {
	Layer      string    `json:"layer"`
	Op         string    `json:"op"`
	Spec       string    `json:"spec"`
	Scheme     string    `json:"scheme"`
	Bits       int       `json:"bits"`
	Params     int       `json:"params"`
	Bytes      int64     `json:"bytes"`
	FloatBytes int64     `json:"float_bytes"`
	SQNR       float64   `json:"sqnr_db"`
	Exponent   []float32 `json:"exponent,omitempty"`
	WL         int       `json:"wl,omitempty"`
	FL         int       `json:"fl,omitempty"`
	Act        string    `json:"act,omitempty"`
	ActWL      int       `json:"act_wl,omitempty"` // fixed-point activation format (act=fixed)
	ActFL      int       `json:"act_fl,omitempty"`
	Note       string    `json:"note,omitempty"`
	Drop       *float64  `json:"metric_drop,omitempty"` // sensitivity: metric change with only this layer quantized
}

// layerQuant is a cached layer result.
type layerQuant struct {
	enc *ir.Quantized
	res LayerResult
}

// Quantizer quantizes copies of one float graph under per-layer plans.
// Layer results are cached by (layer, spec), so re-planning (the budget
// loop) re-uses them; a data-driven layer keeps the result computed on the
// inputs of the plan in which it was first quantized.
type Quantizer struct {
	float  *ir.Graph
	layers []*layer
	opts   Options
	calib  []map[string]*ir.Tensor
	cache  map[string]*layerQuant
	acts   map[*ir.Value]*actStats
	log    func(format string, args ...any)
	fwd    *calibFwd // calibration forward state of the copy Build is quantizing

	// adaptActs holds sampled calibration values of the activations put
	// in AdaPT fixed point (adapt_act.go).
	adaptActs map[*ir.Value][]float32
}

// NewQuantizer prepares to quantize g (which it does not modify).
func NewQuantizer(g *ir.Graph, opts Options, calib []map[string]*ir.Tensor, logf func(string, ...any)) *Quantizer {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Quantizer{float: g, layers: findLayers(g), opts: opts, calib: calib, cache: map[string]*layerQuant{}, log: logf}
}

// Layers lists the quantizable layer names in program order.
func (q *Quantizer) Layers() []string {
	out := make([]string, len(q.layers))
	for i, l := range q.layers {
		out[i] = l.name
	}
	return out
}

// Plan is a spec per layer name (absent = float).
type Plan map[string]Spec

// DefaultPlan gives every layer the default spec, except skipped ones.
func (q *Quantizer) DefaultPlan() Plan {
	p := Plan{}
	for _, l := range q.layers {
		skip := false
		for _, pat := range q.opts.Skip {
			if ok, _ := path.Match(pat, l.name); ok || pat == l.name {
				skip = true
			}
		}
		if !skip {
			p[l.name] = q.opts.Default
		}
	}
	return p
}

// calibRows returns calibration batches totalling at most n rows.
func (q *Quantizer) calibRows(n int) []map[string]*ir.Tensor {
	var out []map[string]*ir.Tensor
	rows := 0
	for _, b := range q.calib {
		if rows >= n {
			break
		}
		out = append(out, b)
		for _, t := range b {
			if t.Rank() > 0 {
				rows += int(t.Shape[0])
			} else {
				rows++
			}
			break
		}
	}
	return out
}

// Build quantizes a copy of the float graph under plan and returns it
// with the per-layer results (SQNR measured on the calibration data).
func (q *Quantizer) Build(plan Plan) (*ir.Graph, []LayerResult, error) {
	for name := range plan {
		if q.layerByName(name) == nil {
			return nil, nil, fmt.Errorf("plan names layer %q, which is not a quantizable layer (have %s)", name, strings.Join(q.Layers(), ", "))
		}
	}
	vm := map[*ir.Value]*ir.Value{}
	g := ir.CloneGraphMap(q.float, vm)
	used := ir.NameSet{}
	var results []LayerResult
	dq := map[*ir.Value]*ir.Value{} // clone activation → its dequantized copy
	if err := q.ensureActStats(plan); err != nil {
		return nil, nil, err
	}
	for _, l := range q.layers {
		spec, ok := plan[l.name]
		cn := cloneNode(g, vm, l.node)
		if !ok || spec.Float() {
			results = append(results, LayerResult{Layer: l.name, Op: l.op, Spec: "fp32", Scheme: "fp32", Bits: 32,
				Params: l.params, Bytes: l.weight.Const.Bytes(), FloatBytes: l.weight.Const.Bytes()})
			continue
		}
		if err := q.checkSpec(spec); err != nil {
			return nil, nil, fmt.Errorf("layer %s: %w", l.name, err)
		}
		res := LayerResult{}
		if spec.Act && spec.ActFixed {
			f, err := q.insertFixedQDQ(g, used, dq, l, cn, vm[l.node.Inputs[l.aIdx]])
			if err != nil {
				return nil, nil, err
			}
			res.Act = f.String()
			res.ActWL, res.ActFL = f.wl, f.fl
		} else if spec.Act {
			a, err := q.insertQDQ(g, used, dq, l, cn, vm[l.node.Inputs[l.aIdx]])
			if err != nil {
				return nil, nil, err
			}
			res.Act = a.String()
		}
		key := l.name + "|" + spec.String()
		lq, ok := q.cache[key]
		if !ok {
			var err error
			if lq, err = q.quantizeLayer(g, l, cn, spec); err != nil {
				return nil, nil, fmt.Errorf("layer %s: %w", l.name, err)
			}
			q.cache[key] = lq
		}
		wv := vm[l.weight]
		wv.Const = &ir.Tensor{DType: ir.Float32, Shape: append([]int64{}, l.shape...), Enc: lq.enc}
		act, awl, afl := res.Act, res.ActWL, res.ActFL
		res = lq.res
		res.Act, res.ActWL, res.ActFL = act, awl, afl
		results = append(results, res)
	}
	if err := q.measureSQNR(g, vm, results); err != nil {
		return nil, nil, err
	}
	return g, results, nil
}

func (q *Quantizer) layerByName(name string) *layer {
	for _, l := range q.layers {
		if l.name == name {
			return l
		}
	}
	return nil
}

func cloneNode(g *ir.Graph, vm map[*ir.Value]*ir.Value, n *ir.Node) *ir.Node {
	out := vm[n.Outputs[0]]
	for _, cn := range g.Nodes {
		if len(cn.Outputs) > 0 && cn.Outputs[0] == out {
			return cn
		}
	}
	return nil
}

func (q *Quantizer) checkSpec(s Spec) error {
	switch s.Scheme {
	case "uniform":
		if s.Bits < 2 || s.Bits > 8 {
			return fmt.Errorf("uniform quantization takes 2..8 bits, not %d", s.Bits)
		}
	case "nupes":
		if s.Bits < 2 || s.Bits > 8 {
			return fmt.Errorf("NUPES takes 2..8 bits, not %d", s.Bits)
		}
		if s.Method != "datafree" && s.Method != "datadriven" {
			return fmt.Errorf("NUPES method %q (want datafree or datadriven)", s.Method)
		}
		if s.Exponent != "layer" && s.Exponent != "channel" {
			return fmt.Errorf("NUPES exponent %q (want layer or channel)", s.Exponent)
		}
	case "adapt":
	default:
		return fmt.Errorf("unknown scheme %q (want uniform, nupes or adapt)", s.Scheme)
	}
	switch s.Gran {
	case "tensor", "channel":
	case "group":
		if s.Group < 1 {
			return fmt.Errorf("group size %d", s.Group)
		}
	default:
		return fmt.Errorf("granularity %q (want tensor, channel or group)", s.Gran)
	}
	return nil
}

func (q *Quantizer) layout(l *layer, s Spec) (*qLayout, error) {
	switch s.Gran {
	case "tensor":
		return newLayout(l.shape, -1, 0)
	case "group":
		return newLayout(l.shape, l.axis, s.Group)
	}
	return newLayout(l.shape, l.axis, 0)
}

// gramOf accumulates the Gram matrix of layer l's input in graph g (the
// partially quantized copy) over the calibration rows.
func (q *Quantizer) gramOf(g *ir.Graph, l *layer, cn *ir.Node) (*gram, error) {
	calib := q.calibRows(q.opts.Samples)
	if len(calib) == 0 {
		return nil, fmt.Errorf("this step needs calibration data (none given)")
	}
	_, R := l.channels()
	gm := newGram(l.numInputGroups(), R)
	rng := rand.New(rand.NewPCG(q.opts.Seed, hashName(l.name)))
	// Spread the token budget over the batches.
	per := 0
	if q.opts.MaxTokens > 0 {
		per = max(1, q.opts.MaxTokens/len(calib))
	}
	x := cn.Inputs[l.aIdx]
	err := q.calibValues(g, calib, x, func(t *ir.Tensor) error {
		return l.tokens(t, per, rng, gm.add)
	})
	if err != nil {
		return nil, err
	}
	gm.finish(q.opts.Damp)
	return gm, nil
}

func hashName(s string) uint64 {
	h := uint64(1469598103934665603)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// quantizeLayer computes the encoded weight of one layer.
func (q *Quantizer) quantizeLayer(g *ir.Graph, l *layer, cn *ir.Node, s Spec) (*layerQuant, error) {
	w := l.weight.Const.Float32s()
	res := LayerResult{Layer: l.name, Op: l.op, Spec: s.String(), Scheme: s.Scheme, Bits: s.Bits, Params: l.params,
		FloatBytes: l.weight.Const.Bytes()}
	var enc *ir.Quantized
	switch s.Scheme {
	case "uniform":
		lo, err := q.layout(l, s)
		if err != nil {
			return nil, err
		}
		enc = encodeUniform(w, lo, s.Bits, s.Sym)
	case "nupes":
		lo, err := q.layout(l, s)
		if err != nil {
			return nil, err
		}
		exps, err := nupesDataFree(w, l.shape, lo, s.Bits, s.Exponent == "channel")
		if err != nil {
			return nil, err
		}
		var codes []int32
		if s.Method == "datadriven" {
			gm, err := q.gramOf(g, l, cn)
			if err != nil {
				return nil, err
			}
			var before, after float64
			codes, exps, before, after = nupesDataDriven(l, w, lo, s.Bits, exps, gm, q.opts.Rounds, q.opts.Sweeps)
			res.Note = fmt.Sprintf("output error %.3g -> %.3g (%d tokens)", before, after, gm.tokens)
		}
		if s.IntTable {
			enc = nupesIntEncode(w, lo, s.Bits, exps, codes)
			exps = enc.Exponent
		} else {
			enc = encodePower(w, lo, s.Bits, exps, codes)
		}
		if len(exps) <= 4 {
			res.Exponent = exps
		} else {
			res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" exponent per channel, mean %.3f", meanF32(exps)))
		}
	case "adapt":
		maxWL := q.opts.MaxWL
		if s.Act && s.ActFixed {
			maxWL = adaptActMaxWL(q.opts) // int8 × int8 layers
		}
		wl, fl, kls := adaptChoose(w, q.opts.KLEps, min(q.opts.MinWL, maxWL), maxWL, q.opts.KLBins)
		codes := fixedCodes(w, wl, fl)
		res.Note = fmt.Sprintf("KL %.3g", kls[len(kls)-1])
		if len(kls) > 1 {
			res.Note += fmt.Sprintf(" (WL %d: %.3g)", wl-1, kls[len(kls)-2])
		}
		if q.opts.FineTune > 0 {
			gm, err := q.gramOf(g, l, cn)
			if err != nil {
				return nil, err
			}
			rng := rand.New(rand.NewPCG(q.opts.Seed, hashName(l.name)^0xada))
			wl0 := wl
			var pushes int
			codes, wl, fl, pushes = adaptFinetune(l, w, wl, fl, maxWL, q.opts.FineTune, q.opts.Window, gm, rng)
			res.Note += fmt.Sprintf(", fine-tuned %d steps, WL %d -> %d (%d push-ups)", q.opts.FineTune, wl0, wl, pushes)
		}
		enc = encodeFixed(codes, wl, fl)
		res.Bits, res.WL, res.FL = wl, wl, fl
	}
	if err := enc.Validate(l.shape); err != nil {
		return nil, fmt.Errorf("internal error: %w", err)
	}
	res.Bytes = enc.StoredBytes()
	q.log("quant: %s %s -> %d bytes", l.name, res.Spec, res.Bytes)
	return &layerQuant{enc: enc, res: res}, nil
}

func meanF32(xs []float32) float64 {
	s := 0.0
	for _, x := range xs {
		s += float64(x)
	}
	return s / float64(len(xs))
}

// ensureActStats collects activation statistics (on the float graph) for
// every layer whose spec quantizes its input.
func (q *Quantizer) ensureActStats(plan Plan) error {
	var need []*ir.Value
	seen := map[*ir.Value]bool{}
	for _, l := range q.layers {
		s, ok := plan[l.name]
		x := l.node.Inputs[l.aIdx]
		if ok && !s.Float() && s.Act && (q.acts == nil || q.acts[x] == nil) && !seen[x] {
			need = append(need, x)
			seen[x] = true
		}
	}
	if len(need) == 0 {
		return nil
	}
	calib := q.calibRows(q.opts.Samples)
	if len(calib) == 0 {
		return fmt.Errorf("activation quantization needs calibration data (none given)")
	}
	if q.float.Opset("") < 13 {
		return fmt.Errorf("activation quantization inserts QuantizeLinear/DequantizeLinear and needs ONNX opset >= 13 (the model has %d)", q.float.Opset(""))
	}
	st, err := collectActStats(q.float, calib, need)
	if err != nil {
		return err
	}
	if q.acts == nil {
		q.acts = map[*ir.Value]*actStats{}
	}
	for k, v := range st {
		q.acts[k] = v
	}
	return nil
}

// insertQDQ puts QuantizeLinear → DequantizeLinear on the layer's input
// (shared when several layers read the same activation) and rewires the
// layer to read the dequantized value.
func (q *Quantizer) insertQDQ(g *ir.Graph, used ir.NameSet, dq map[*ir.Value]*ir.Value, l *layer, cn *ir.Node, x *ir.Value) (*actParams, error) {
	ap, err := calibrate(q.acts[l.node.Inputs[l.aIdx]], q.opts.Calib, q.opts.Percentile, q.opts.ActSym)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.name, err)
	}
	return ap, q.rewireQDQ(g, used, dq, l, cn, x, ap, nil)
}

// rewireQDQ inserts QuantizeLinear → DequantizeLinear with ap's scale and
// zero point on x (once per x and format; later layers reuse it) and points the
// layer at the dequantized value. clip, when set, is a [min, max] Clip
// put before the QuantizeLinear (AdaPT fixed point narrower than 8 bits).
func (q *Quantizer) rewireQDQ(g *ir.Graph, used ir.NameSet, dq map[*ir.Value]*ir.Value, l *layer, cn *ir.Node, x *ir.Value, ap *actParams, clip []float32) error {
	if d, ok := dq[x]; ok && qdqReusable(d, x, ap, clip) {
		cn.Inputs[l.aIdx] = d
		return nil
	}
	base := x.Name
	scale := &ir.Value{Name: uniqueName(g, used, base+"_scale"), Type: ir.TensorType(ir.Float32, ir.Shape{}), Const: ir.ScalarF32(ap.scale)}
	zdt := ir.Int8
	var zt *ir.Tensor
	if ap.unsigned {
		zdt = ir.Uint8
		zt = ir.FromSlice(ir.Uint8, []int64{}, []uint8{uint8(ap.zp)})
	} else {
		zt = ir.FromSlice(ir.Int8, []int64{}, []int8{int8(ap.zp)})
	}
	zp := &ir.Value{Name: uniqueName(g, used, base+"_zero_point"), Type: ir.TensorType(zdt, ir.Shape{}), Const: zt}
	g.Consts = append(g.Consts, scale, zp)
	qt := x.Type
	qt.DType = zdt
	qv := &ir.Value{Name: uniqueName(g, used, base+"_q"), Type: qt}
	dv := &ir.Value{Name: uniqueName(g, used, base+"_dq"), Type: x.Type}
	var pre []*ir.Node
	qin := x
	if clip != nil {
		lo := &ir.Value{Name: uniqueName(g, used, base+"_clip_min"), Type: ir.TensorType(ir.Float32, ir.Shape{}), Const: ir.ScalarF32(clip[0])}
		hi := &ir.Value{Name: uniqueName(g, used, base+"_clip_max"), Type: ir.TensorType(ir.Float32, ir.Shape{}), Const: ir.ScalarF32(clip[1])}
		g.Consts = append(g.Consts, lo, hi)
		qin = &ir.Value{Name: uniqueName(g, used, base+"_clip"), Type: x.Type}
		cl := &ir.Node{Op: "Clip", Name: l.name + "/act_clip", Inputs: []*ir.Value{x, lo, hi}, Outputs: []*ir.Value{qin}, Attrs: map[string]*ir.Attr{}}
		qin.Def = cl
		pre = append(pre, cl)
	}
	qn := &ir.Node{Op: "QuantizeLinear", Name: l.name + "/act_quant", Inputs: []*ir.Value{qin, scale, zp}, Outputs: []*ir.Value{qv}, Attrs: map[string]*ir.Attr{}}
	dn := &ir.Node{Op: "DequantizeLinear", Name: l.name + "/act_dequant", Inputs: []*ir.Value{qv, scale, zp}, Outputs: []*ir.Value{dv}, Attrs: map[string]*ir.Attr{}}
	qv.Def, dv.Def = qn, dn
	at := -1
	for i, n := range g.Nodes {
		if n == cn {
			at = i
		}
	}
	if at < 0 {
		return fmt.Errorf("layer %s: node not found in the copy", l.name)
	}
	g.Nodes = append(g.Nodes[:at], append(append(pre, qn, dn), g.Nodes[at:]...)...)
	cn.Inputs[l.aIdx] = dv
	dq[x] = dv
	return nil
}

// measureSQNR runs the float graph and the quantized copy on calibration
// data and sets each layer's output SQNR, 10·log10(Σy² / Σ(y−ŷ)²), with y
// the float model's layer output and ŷ the quantized model's (errors of
// earlier layers included).
func (q *Quantizer) measureSQNR(g *ir.Graph, vm map[*ir.Value]*ir.Value, results []LayerResult) error {
	calib := q.calibRows(min(q.opts.Samples, 256))
	if len(calib) == 0 {
		for i := range results {
			results[i].SQNR = math.NaN()
		}
		return nil
	}
	var fo, qo []*ir.Value
	for _, l := range q.layers {
		fo = append(fo, l.node.Outputs[0])
		qo = append(qo, vm[l.node.Outputs[0]])
	}
	sig, noise := make([]float64, len(fo)), make([]float64, len(fo))
	for bi, b := range calib {
		fv, err := runWith(bgCtx, q.float, b, fo)
		if err != nil {
			return fmt.Errorf("calibration batch %d (float): %w", bi, err)
		}
		qv, err := runWith(bgCtx, g, b, qo)
		if err != nil {
			return fmt.Errorf("calibration batch %d (quantized): %w", bi, err)
		}
		for i := range fo {
			a, c := fv[fo[i]].Float32s(), qv[qo[i]].Float32s()
			for k := range a {
				d := float64(a[k]) - float64(c[k])
				sig[i] += float64(a[k]) * float64(a[k])
				noise[i] += d * d
			}
		}
	}
	for i := range results {
		switch {
		case noise[i] == 0:
			results[i].SQNR = math.Inf(1)
		default:
			results[i].SQNR = 10 * math.Log10(sig[i]/noise[i])
		}
	}
	return nil
}

// Record writes the per-layer results into a pass report.
func Record(r *passes.Report, results []LayerResult) {
	for _, res := range results {
		f := map[string]any{
			"op": res.Op, "spec": res.Spec, "scheme": res.Scheme, "bits": res.Bits, "params": res.Params,
			"bytes": res.Bytes, "float_bytes": res.FloatBytes, "sqnr_db": jsonFloat(res.SQNR),
		}
		if res.Exponent != nil {
			f["exponent"] = res.Exponent
		}
		if res.WL > 0 {
			f["wl"], f["fl"] = res.WL, res.FL
		}
		if res.Act != "" {
			f["act"] = res.Act
		}
		if res.ActWL > 0 {
			f["act_wl"], f["act_fl"] = res.ActWL, res.ActFL
		}
		if res.Note != "" {
			f["note"] = res.Note
		}
		if res.Drop != nil {
			f["metric_drop"] = *res.Drop
		}
		r.Add("quant", res.Layer, f)
	}
}

// jsonFloat keeps ±Inf/NaN out of JSON (they are not representable).
func jsonFloat(x float64) any {
	switch {
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	case math.IsNaN(x):
		return nil
	}
	return x
}

// Summary totals a result table: weight bytes of the quantized layers
// before and after, and the parameter-weighted average bits.
func Summary(results []LayerResult) (floatBytes, bytes int64, avgBits float64) {
	var params int
	for _, r := range results {
		floatBytes += r.FloatBytes
		bytes += r.Bytes
		avgBits += float64(r.Bits) * float64(r.Params)
		params += r.Params
	}
	if params > 0 {
		avgBits /= float64(params)
	}
	return
}

// sortedLayerNames returns plan keys sorted (deterministic iteration).
func sortedLayerNames(p Plan) []string {
	out := make([]string, 0, len(p))
	for k := range p {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
