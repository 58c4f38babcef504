package llm_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/optc-dev/optc/runtime/llm"
)

// The verify-pass benchmark: one native forward pass of k tokens asking
// for all k logit rows (what a speculative verifier runs) after 64
// cached tokens, for k = 1..8, on lm-target, its draft lm-draft and
// stories260K. It reports
// the process's CPU time per pass (cpu-ms/pass) beside Go's wall ns/op:
// the machine is shared, so CPU time is the steadier figure.
//
//	go test ./runtime/llm -run '^$' -bench NativeVerify -benchtime 200x
//
// OPTC_LLM_BENCH_DIR keeps the compiled bundles between runs of the same
// test binary (NativeOptions.Dir); OPTC_LLM_BENCH_EXACT=1 compiles every
// token count instead of padding to powers of two.

// The fixture pair, loaded as the speculative-decoding measurements load
// them: folders of safetensors and config.json, graphs by llama.Build.
var nativeBenchFixtureDirs = map[string]string{
	"lm-target": "../../testdata/models/lm-target",
	"lm-draft":  "../../testdata/models/lm-draft",
}

var (
	nativeBenchOnce   sync.Once
	nativeBenchModels map[string]*llm.NativeModel
	nativeBenchErr    error
)

// nativeBenchModel is the native backend of one of the two benchmark
// models, made once per test binary.
func nativeBenchModel(b *testing.B, name string) *llm.NativeModel {
	b.Helper()
	stories := stories(b)
	nativeBenchOnce.Do(func() {
		opts := llm.NativeOptions{Dir: os.Getenv("OPTC_LLM_BENCH_DIR"), Exact: os.Getenv("OPTC_LLM_BENCH_EXACT") == "1"}
		nativeBenchModels = map[string]*llm.NativeModel{}
		srcs := map[string]*llm.Model{"stories260K": stories}
		for n, dir := range nativeBenchFixtureDirs {
			if _, err := os.Stat(dir + "/config.json"); err == nil {
				if srcs[n], nativeBenchErr = llm.Load(dir); nativeBenchErr != nil {
					return
				}
			}
		}
		for n, m := range srcs {
			if nativeBenchModels[n], nativeBenchErr = llm.NewNative(m, opts); nativeBenchErr != nil {
				return
			}
		}
	})
	if nativeBenchErr != nil {
		b.Skipf("native backend: %v", nativeBenchErr)
	}
	nm := nativeBenchModels[name]
	if nm == nil {
		b.Skipf("%s is absent", name)
	}
	return nm
}

func nativeBenchCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkNativeVerify(b *testing.B) {
	for _, name := range []string{"lm-target", "lm-draft", "stories260K"} {
		for _, k := range []int{1, 2, 3, 4, 5, 6, 7, 8} {
			b.Run(fmt.Sprintf("%s/k=%d", name, k), func(b *testing.B) {
				nm := nativeBenchModel(b, name)
				ctx := context.Background()
				v := nm.VocabSize()
				cache, err := nm.NewCache()
				if err != nil {
					b.Fatal(err)
				}
				prompt := make([]int32, 64)
				for i := range prompt {
					prompt[i] = int32((7*i + 3) % v)
				}
				if _, err := llm.Prefill(ctx, nm, cache, prompt, llm.DefaultChunk); err != nil {
					b.Fatal(err)
				}
				toks := make([]int32, k)
				rows := make([]int, k)
				for i := range toks {
					toks[i], rows[i] = int32((5*i+1)%v), i
				}
				pass := func() {
					if _, err := nm.Forward(ctx, cache, toks, rows); err != nil {
						b.Fatal(err)
					}
					if err := cache.Truncate(64); err != nil {
						b.Fatal(err)
					}
				}
				for range 3 { // compile the bundle, warm the caches
					pass()
				}
				b.ResetTimer()
				c0 := nativeBenchCPU()
				for range b.N {
					pass()
				}
				b.ReportMetric(float64((nativeBenchCPU()-c0).Nanoseconds())/1e6/float64(b.N), "cpu-ms/pass")
			})
		}
	}
}
