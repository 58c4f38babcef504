package realmodels

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/optc-dev/optc/internal/ort"
	"github.com/optc-dev/optc/ir"
)

// rmRunner names one way of running a model.
type rmRunner struct {
	name string
	open func(model string) (exec rmExec, close func(), err error)
}

func rmRunners() []rmRunner {
	rs := []rmRunner{{"interp", func(model string) (rmExec, func(), error) {
		g, err := rmGraph(model)
		if err != nil {
			return nil, nil, err
		}
		return rmInterp(g), func() {}, nil
	}}}
	if _, ok := ort.Available(); !ok {
		return rs
	}
	for _, th := range []struct {
		name    string
		threads int
	}{{"ort-1thread", 1}, {"ort-default", 0}} {
		rs = append(rs, rmRunner{th.name, func(model string) (rmExec, func(), error) {
			s, err := ort.NewSession(model, ort.Options{Threads: th.threads})
			if err != nil {
				return nil, nil, err
			}
			return s.Run, func() { s.Close() }, nil
		}})
	}
	return rs
}

// rmBenchInputs returns the stored inputs of a model's golden file, or
// freshly generated ones when there is no golden yet.
func rmBenchInputs(tb testing.TB, s rmSpec) map[string]*ir.Tensor {
	if _, err := os.Stat(rmGoldenPath(s)); err == nil {
		stored, _, err := rmLoadGolden(s)
		if err != nil {
			tb.Fatal(err)
		}
		return stored
	}
	stored := map[string]*ir.Tensor{}
	for k, v := range s.gen() {
		stored["in."+k] = v
	}
	return stored
}

// BenchmarkRealModels times one use of each model (one image; two VAD
// chunks) with the interpreter and ONNX Runtime (1 thread, default threads).
func BenchmarkRealModels(b *testing.B) {
	for _, s := range rmSpecs {
		model, ok := rmModelFile(s)
		if !ok {
			b.Logf("%s not in the cache (%s): run tools/fetch-models.sh", s.name, model)
			continue
		}
		stored := rmBenchInputs(b, s)
		for _, r := range rmRunners() {
			b.Run(s.name+"/"+r.name, func(b *testing.B) {
				exec, closeFn, err := r.open(model)
				if err != nil {
					b.Fatal(err)
				}
				defer closeFn()
				if _, err := s.run(stored, exec); err != nil { // warm up
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					if _, err := s.run(stored, exec); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestLatencyTable prints median latencies of the interpreter and ONNX
// Runtime side by side. It runs only with OPTC_REALMODELS_LATENCY=1 (it is
// a measurement, not a check); OPTC_REALMODELS_ITERS sets the timed runs
// per cell (default 10).
func TestLatencyTable(t *testing.T) {
	if os.Getenv("OPTC_REALMODELS_LATENCY") == "" {
		t.Skip("set OPTC_REALMODELS_LATENCY=1 to measure latencies")
	}
	iters := 10
	if s := os.Getenv("OPTC_REALMODELS_ITERS"); s != "" {
		if _, err := fmt.Sscan(s, &iters); err != nil || iters < 1 {
			t.Fatalf("OPTC_REALMODELS_ITERS=%q: want a positive integer", s)
		}
	}
	runners := rmRunners()
	var sb strings.Builder
	fmt.Fprintf(&sb, "median latency over %d runs (one image; VAD: two 512-sample chunks)\n", iters)
	fmt.Fprintf(&sb, "%-20s", "model")
	for _, r := range runners {
		fmt.Fprintf(&sb, " %14s", r.name)
	}
	if len(runners) > 1 {
		fmt.Fprintf(&sb, " %12s %12s", "interp/ort1", "interp/ortN")
	}
	sb.WriteString("\n")
	for _, s := range rmSpecs {
		model := rmModelPath(t, s)
		stored := rmBenchInputs(t, s)
		fmt.Fprintf(&sb, "%-20s", s.name)
		ds := make([]time.Duration, len(runners))
		for i, r := range runners {
			exec, closeFn, err := r.open(model)
			if err != nil {
				t.Fatal(err)
			}
			d, err := ort.MedianLatency(1, iters, func() error {
				_, err := s.run(stored, exec)
				return err
			})
			closeFn()
			if err != nil {
				fmt.Fprintf(&sb, " %14s", "error")
				t.Errorf("%s on %s: %v", r.name, s.name, err)
				continue
			}
			ds[i] = d
			fmt.Fprintf(&sb, " %14s", d.Round(time.Microsecond))
		}
		for i := 1; i < len(runners); i++ {
			if ds[0] > 0 && ds[i] > 0 {
				fmt.Fprintf(&sb, " %11.1fx", float64(ds[0])/float64(ds[i]))
			} else {
				fmt.Fprintf(&sb, " %12s", "-")
			}
		}
		sb.WriteString("\n")
	}
	fmt.Print(sb.String())
}
