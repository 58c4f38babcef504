package kvcache

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Constructor makes an empty cache of a geometry (llm.WithCache takes
// one).
type Constructor func(Spec) (Cache, error)

// SpecSyntax documents ParseSpec's strings (for command-line help).
const SpecSyntax = `dense | f32                  f32 keys and values (the default)
f16                          half-precision keys and values
gear:B[,kivi][,OPT…]         GEAR, B-bit: v1 layout (one min/max per block) or KIVI's
                             (keys per channel, values per token); options group=64,
                             buffer=N (n_b; v1 20, kivi 64), outliers=0.02,
                             rank=4/2 (prefill/decode), loop=3, seed=1
evict:N | evict:P%[,OPT…]    keep N tokens (or P% of the model's context) per layer and
                             kv head, scored by accumulated attention mass; options
                             sink=4, recent=N (default half the budget, as H2O splits it)
locret:N | locret:P%,head=FILE[,OPT…]
                             the same budget, scored by a trained retaining head (Locret)`

// ParseSpec parses a cache description (see SpecSyntax) into a
// constructor. Files it names (a retaining head) are read now.
func ParseSpec(spec string) (Constructor, error) {
	fields := strings.Split(strings.TrimSpace(spec), ",")
	kind, arg, hasArg := strings.Cut(fields[0], ":")
	opts := map[string]string{}
	var flags []string
	for _, f := range fields[1:] {
		f = strings.TrimSpace(f)
		if k, v, ok := strings.Cut(f, "="); ok {
			if _, dup := opts[k]; dup {
				return nil, fmt.Errorf("kvcache: %q: option %s given twice", spec, k)
			}
			opts[k] = v
		} else if f != "" {
			flags = append(flags, f)
		}
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("kvcache: %q: %s", spec, fmt.Sprintf(format, a...))
	}
	noOpts := func() error {
		if len(opts) > 0 || len(flags) > 0 || hasArg {
			return bad("%s takes no argument or options", kind)
		}
		return nil
	}
	switch kind {
	case "dense", "f32":
		if err := noOpts(); err != nil {
			return nil, err
		}
		return func(s Spec) (Cache, error) { return NewDense(s, 0) }, nil
	case "f16":
		if err := noOpts(); err != nil {
			return nil, err
		}
		return func(s Spec) (Cache, error) { return NewF16(s) }, nil
	case "gear":
		bits, err := strconv.Atoi(arg)
		if err != nil {
			return nil, bad("gear wants a bit width, as in gear:4")
		}
		kivi := false
		for _, f := range flags {
			switch f {
			case "kivi":
				kivi = true
			case "uniform", "v1":
				kivi = false
			default:
				return nil, bad("unknown gear flag %q (kivi or uniform)", f)
			}
		}
		cfg := DefaultGEAR(bits, kivi)
		for k, v := range opts {
			var err error
			switch k {
			case "group":
				cfg.Group, err = strconv.Atoi(v)
			case "buffer":
				cfg.Buffer, err = strconv.Atoi(v)
			case "outliers":
				cfg.Outliers, err = strconv.ParseFloat(v, 64)
			case "loop":
				cfg.Loop, err = strconv.Atoi(v)
			case "seed":
				cfg.Seed, err = strconv.ParseUint(v, 10, 64)
			case "rank":
				p, d, two := strings.Cut(v, "/")
				if cfg.PrefillRank, err = strconv.Atoi(p); err == nil {
					cfg.DecodeRank = cfg.PrefillRank
					if two {
						cfg.DecodeRank, err = strconv.Atoi(d)
					}
				}
			default:
				return nil, bad("unknown gear option %q", k)
			}
			if err != nil {
				return nil, bad("gear option %s=%s: %v", k, v, err)
			}
		}
		if err := cfg.validate(); err != nil {
			return nil, bad("%s", strings.TrimPrefix(err.Error(), "kvcache: "))
		}
		return func(s Spec) (Cache, error) { return NewGEAR(s, cfg) }, nil
	case "evict", "locret":
		budget, frac, err := parseBudget(arg)
		if err != nil || !hasArg {
			return nil, bad("%s wants a budget: a token count (%s:128) or a percentage of the context (%s:25%%)", kind, kind, kind)
		}
		if len(flags) > 0 {
			return nil, bad("unknown %s flag %q", kind, flags[0])
		}
		sink, recent := -1, -1
		var head *RetainingHead
		for k, v := range opts {
			var err error
			switch {
			case k == "sink":
				sink, err = strconv.Atoi(v)
			case k == "recent":
				recent, err = strconv.Atoi(v)
			case k == "head" && kind == "locret":
				head, err = LoadRetainingHead(v)
			default:
				return nil, bad("unknown %s option %q", kind, k)
			}
			if err != nil {
				return nil, bad("%s option %s: %v", kind, k, err)
			}
		}
		if kind == "locret" && head == nil {
			return nil, bad("locret needs head=FILE (a retaining head trained for the model: go run ./tools/kvtrain train)")
		}
		return func(s Spec) (Cache, error) {
			b := budget
			if frac > 0 {
				if s.MaxLen <= 0 {
					return nil, fmt.Errorf("kvcache: %q: a budget in percent needs the model's context length", spec)
				}
				b = int(math.Ceil(frac * float64(s.MaxLen)))
			}
			// Defaults: half the budget recent (H2O's split of heavy
			// hitters and recent tokens; Locret's stabilizers are 40% of
			// its budget), 4 sinks (fewer when the budget is tiny); given
			// values are checked as they are.
			r, sk := recent, sink
			if r < 0 {
				r = b / 2
			}
			if sk < 0 {
				sk = min(4, max(b-r, 0))
			}
			return NewEvict(s, EvictConfig{Budget: b, Sink: sk, Recent: r, Head: head})
		}, nil
	}
	return nil, fmt.Errorf("kvcache: unknown cache %q; want one of:\n%s", spec, SpecSyntax)
}

// parseBudget reads "N" (tokens) or "P%" (a fraction of the context).
func parseBudget(s string) (tokens int, frac float64, err error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || !(f > 0 && f <= 100) {
			return 0, 0, fmt.Errorf("bad percentage %q", s)
		}
		return 0, f / 100, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, 0, fmt.Errorf("bad token count %q", s)
	}
	return n, 0, nil
}
