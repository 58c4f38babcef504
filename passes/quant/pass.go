package quant

import (
	"fmt"
	"strings"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
)

func init() {
	passes.Register("quant", func(a passes.Args) (passes.Pass, error) {
		o, err := ParseArgs(a)
		if err != nil {
			return nil, err
		}
		return &Pass{Opts: o}, nil
	})
}

// Pass is the pipeline pass quant(...): it quantizes every quantizable
// layer with Opts.Default (Opts.Skip excepted) and records the per-layer
// table in the context's report.
type Pass struct {
	Opts Options
	// Results holds the last run's per-layer table.
	Results []LayerResult
}

func (*Pass) Name() string { return "quant" }

// Run quantizes g in place.
func (p *Pass) Run(ctx *passes.Context, g *ir.Graph) error {
	var calib []map[string]*ir.Tensor
	logf := func(string, ...any) {}
	if ctx != nil {
		calib = ctx.Calib
		logf = ctx.Logf
	}
	q := NewQuantizer(g, p.Opts, calib, logf)
	out, res, err := q.Build(q.DefaultPlan())
	if err != nil {
		return err
	}
	*g = *out
	p.Results = res
	if ctx != nil {
		Record(ctx.Report, res)
	}
	return nil
}

// argKeys are the arguments quant(...) accepts.
var argKeys = []string{"scheme", "bits", "granularity", "group", "sym", "mode", "calib", "percentile", "act-sym",
	"method", "exponent", "samples", "tokens", "damp", "rounds", "sweeps", "kl-eps", "kl-bins", "min-wl", "max-wl",
	"finetune", "window", "skip", "seed", "act", "table"}

// ParseArgs reads quant(...) pipeline arguments:
//
//	scheme=uniform|nupes|adapt   bits=8      granularity=channel|group|tensor
//	group=64  sym=true|false     mode=weight|weight+act
//	act=int8|fixed (activations of mode=weight+act: uniform int8 from the
//	  calibrator, or AdaPT fixed point ⟨WL_a, FL_a⟩ ≤ 8 bits; default fixed
//	  for scheme=adapt, int8 otherwise)
//	calib=percentile|minmax|mse|kl   percentile=99.99   act-sym=false
//	method=datafree|datadriven (nupes)   exponent=layer|channel (nupes)
//	table=float|int (nupes: int = the int8 decode table of nupes_int.go)
//	samples=512 tokens=4096 damp=0.01 rounds=2 sweeps=2 (data-driven)
//	kl-eps=0.1 kl-bins=128 min-wl=2 max-wl=16 finetune=0 window=10 (adapt)
//	skip=name;name2 (path.Match patterns)   seed=0
func ParseArgs(a passes.Args) (Options, error) {
	o := DefaultOptions()
	if err := a.Only(argKeys...); err != nil {
		return o, err
	}
	s := &o.Default
	s.Scheme = a.String("scheme", "uniform")
	defBits := 8
	if s.Scheme == "nupes" {
		defBits = 4
	}
	var err error
	ints := []struct {
		key string
		dst *int
		def int
	}{
		{"bits", &s.Bits, defBits}, {"group", &s.Group, 64}, {"samples", &o.Samples, o.Samples},
		{"tokens", &o.MaxTokens, o.MaxTokens}, {"rounds", &o.Rounds, o.Rounds}, {"sweeps", &o.Sweeps, o.Sweeps},
		{"kl-bins", &o.KLBins, o.KLBins}, {"min-wl", &o.MinWL, o.MinWL}, {"max-wl", &o.MaxWL, o.MaxWL},
		{"finetune", &o.FineTune, o.FineTune}, {"window", &o.Window, o.Window},
	}
	for _, f := range ints {
		if *f.dst, err = a.Int(f.key, f.def); err != nil {
			return o, err
		}
	}
	floats := []struct {
		key string
		dst *float64
	}{{"percentile", &o.Percentile}, {"damp", &o.Damp}, {"kl-eps", &o.KLEps}}
	for _, f := range floats {
		if *f.dst, err = a.Float(f.key, *f.dst); err != nil {
			return o, err
		}
	}
	seed, err := a.Int("seed", 0)
	if err != nil {
		return o, err
	}
	o.Seed = uint64(seed)
	bools := []struct {
		key string
		dst *bool
		def bool
	}{{"sym", &s.Sym, true}, {"act-sym", &o.ActSym, false}}
	for _, f := range bools {
		switch v := a.String(f.key, fmt.Sprint(f.def)); v {
		case "true":
			*f.dst = true
		case "false":
			*f.dst = false
		default:
			return o, fmt.Errorf("argument %s=%q: want true or false", f.key, v)
		}
	}
	s.Gran = a.String("granularity", "channel")
	s.Method = a.String("method", "datafree")
	s.Exponent = a.String("exponent", "layer")
	o.Calib = a.String("calib", o.Calib)
	switch m := a.String("mode", "weight"); m {
	case "weight":
	case "weight+act":
		s.Act = true
	default:
		return o, fmt.Errorf("mode=%q: want weight or weight+act", m)
	}
	defAct := "int8"
	if s.Scheme == "adapt" {
		defAct = "fixed"
	}
	switch v := a.String("act", defAct); v {
	case "int8":
	case "fixed":
		s.ActFixed = s.Act
	default:
		return o, fmt.Errorf("act=%q: want int8 or fixed", v)
	}
	switch v := a.String("table", "float"); v {
	case "float":
	case "int":
		if s.Scheme != "nupes" {
			return o, fmt.Errorf("table=int is for scheme=nupes, not %s", s.Scheme)
		}
		s.IntTable = true
	default:
		return o, fmt.Errorf("table=%q: want float or int", v)
	}
	if v := a.String("skip", ""); v != "" {
		o.Skip = strings.Split(v, ";")
	}
	switch o.Calib {
	case "minmax", "percentile", "mse", "kl":
	default:
		return o, fmt.Errorf("calib=%q: want minmax, percentile, mse or kl", o.Calib)
	}
	if o.Percentile <= 50 || o.Percentile > 100 {
		return o, fmt.Errorf("percentile=%v: want (50, 100]", o.Percentile)
	}
	if o.MinWL < 2 || o.MaxWL > 16 || o.MinWL > o.MaxWL {
		return o, fmt.Errorf("word lengths min-wl=%d max-wl=%d: want 2 <= min <= max <= 16", o.MinWL, o.MaxWL)
	}
	if o.Window < 1 {
		return o, fmt.Errorf("window=%d: want >= 1", o.Window)
	}
	if err := (&Quantizer{}).checkSpec(*s); err != nil {
		return o, err
	}
	return o, nil
}

// Preset maps the CLI's --quant names to pass arguments: int8 (uniform
// per-channel weights + int8 activations), int4 (uniform per-channel
// weight-only), int4:gN (per-group), nupes:B[:datafree|:datadriven][:int]
// (int: integer decode table and int8 activations, integer-only layers),
// adapt[:STEPS][:act] (act: AdaPT fixed-point activations too, see
// adapt_act.go). Anything else is taken as quant(...) arguments
// ("scheme=uniform,bits=4,...").
func Preset(name string) (passes.Args, error) {
	a := passes.Args{}
	parts := strings.Split(name, ":")
	switch parts[0] {
	case "int8":
		a["scheme"], a["bits"], a["mode"] = "uniform", "8", "weight+act"
		if len(parts) > 1 {
			if parts[1] != "w" {
				return nil, fmt.Errorf("--quant %s: want int8 or int8:w (weight only)", name)
			}
			a["mode"] = "weight"
		}
	case "int4":
		a["scheme"], a["bits"] = "uniform", "4"
		if len(parts) > 1 {
			if !strings.HasPrefix(parts[1], "g") {
				return nil, fmt.Errorf("--quant %s: want int4 or int4:gN (groups of N)", name)
			}
			a["granularity"], a["group"] = "group", parts[1][1:]
		}
	case "nupes":
		if len(parts) < 2 {
			return nil, fmt.Errorf("--quant %s: want nupes:BITS[:datafree|:datadriven][:int]", name)
		}
		a["scheme"], a["bits"], a["method"] = "nupes", parts[1], "datadriven"
		for _, p := range parts[2:] {
			if p == "int" { // integer-only: int8 table + int8 activations (nupes_int.go)
				a["table"], a["mode"] = "int", "weight+act"
				continue
			}
			a["method"] = p
		}
	case "adapt":
		a["scheme"] = "adapt"
		for _, p := range parts[1:] {
			if p == "act" {
				a["mode"], a["act"] = "weight+act", "fixed"
				continue
			}
			if _, ok := a["finetune"]; ok || p == "" || strings.Trim(p, "0123456789") != "" {
				return nil, fmt.Errorf("--quant %s: want adapt[:STEPS][:act]", name)
			}
			a["finetune"] = p
		}
	default:
		if !strings.Contains(name, "=") {
			return nil, fmt.Errorf("--quant %q: want int8, int8:w, int4, int4:gN, nupes:B[:datafree|:datadriven], adapt[:STEPS][:act] or quant arguments k=v,...", name)
		}
		for _, kv := range strings.Split(name, ",") {
			k, v, _ := strings.Cut(kv, "=")
			a[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return a, nil
}
