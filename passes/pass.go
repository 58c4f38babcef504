package passes

import (
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/optc-dev/optc/ir"
)

// Pass rewrites a graph in place.
type Pass interface {
	Name() string
	Run(ctx *Context, g *ir.Graph) error
}

// Context is shared by the passes of one pipeline run.
type Context struct {
	// Calib holds calibration inputs: one map of graph-input tensors per
	// sample. Passes that need data fail clearly when it is empty.
	Calib []map[string]*ir.Tensor
	// RNG is the seeded generator every randomized pass draws from.
	RNG *rand.Rand
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Report collects per-layer records of what the passes did.
	Report *Report
	// Verify runs ir.Verify after every pass.
	Verify bool
}

// NewContext returns a context with a generator seeded by seed and an
// empty report.
func NewContext(seed uint64) *Context {
	return &Context{RNG: rand.New(rand.NewPCG(seed, 0x70617373)), Report: &Report{}, Verify: true}
}

// Logf writes a progress line when a log writer is set.
func (c *Context) Logf(format string, args ...any) {
	if c != nil && c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Record is one line of a pass report: what Pass did to Layer. Fields are
// free-form values (bits, scheme, sqnr_db, bytes, …).
type Record struct {
	Pass   string         `json:"pass"`
	Layer  string         `json:"layer"`
	Fields map[string]any `json:"fields"`
}

// Report is the sink passes write their per-layer records to.
type Report struct {
	Records []Record `json:"records"`
}

// Add appends a record.
func (r *Report) Add(pass, layer string, fields map[string]any) {
	if r == nil {
		return
	}
	r.Records = append(r.Records, Record{Pass: pass, Layer: layer, Fields: fields})
}

// Constructor builds a pass from its pipeline arguments.
type Constructor func(args Args) (Pass, error)

var constructors = map[string]Constructor{}

// Register makes a pass available to pipelines under name. Registering a
// name twice panics (a programming error caught at init).
func Register(name string, c Constructor) {
	if _, dup := constructors[name]; dup {
		panic("passes: registered twice: " + name)
	}
	constructors[name] = c
}

// Names lists the registered passes, sorted.
func Names() []string {
	out := make([]string, 0, len(constructors))
	for k := range constructors {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Run applies the passes in order. With ctx.Verify it checks the graph
// after each pass and names the pass that broke it.
func Run(ctx *Context, g *ir.Graph, pipeline []Pass) error {
	if ctx == nil {
		ctx = NewContext(0)
	}
	for _, p := range pipeline {
		ctx.Logf("pass %s", p.Name())
		if err := p.Run(ctx, g); err != nil {
			return fmt.Errorf("pass %s: %w", p.Name(), err)
		}
		if ctx.Verify {
			if err := ir.Verify(g); err != nil {
				return fmt.Errorf("pass %s produced an invalid graph: %w", p.Name(), err)
			}
		}
	}
	return nil
}

// Args are the key=value arguments of one pipeline element.
type Args map[string]string

// String returns an argument or def when absent.
func (a Args) String(key, def string) string {
	if v, ok := a[key]; ok {
		return v
	}
	return def
}

// Int returns an integer argument or def when absent.
func (a Args) Int(key string, def int) (int, error) {
	v, ok := a[key]
	if !ok {
		return def, nil
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil {
		return 0, fmt.Errorf("argument %s=%q: want an integer", key, v)
	}
	return n, nil
}

// Float returns a float argument or def when absent.
func (a Args) Float(key string, def float64) (float64, error) {
	v, ok := a[key]
	if !ok {
		return def, nil
	}
	var f float64
	if _, err := fmt.Sscan(v, &f); err != nil {
		return 0, fmt.Errorf("argument %s=%q: want a number", key, v)
	}
	return f, nil
}

// Only rejects arguments other than the allowed keys, so a typo in a
// pipeline is an error rather than silently ignored.
func (a Args) Only(allowed ...string) error {
	var bad []string
	for k := range a {
		found := false
		for _, ok := range allowed {
			found = found || k == ok
		}
		if !found {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("unknown argument(s) %s (allowed: %s)", strings.Join(bad, ", "), strings.Join(allowed, ", "))
	}
	return nil
}
