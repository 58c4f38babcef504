// Command benchtable runs `optc bench --json` over the models of the CPU
// codegen issue (the Fashion-MNIST fixtures at batch 1 and 32, PP-OCR det
// and cls, silero VAD) and prints one Markdown table of median latencies
// for optc native, the interpreter and ONNX Runtime, with the ratios and
// their geometric means per thread count. It is `make bench-table`; it
// times things, so it never runs in the tests.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// benchCase is one row group: a model and the flags that fix its inputs.
type benchCase struct {
	label, model string
	args         []string
}

type benchRow struct {
	Backend  string  `json:"backend"`
	Threads  int     `json:"threads"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
}

type benchReport struct {
	Fallback int        `json:"fallback_nodes"`
	Rows     []benchRow `json:"rows"`
}

func main() {
	optc := flag.String("optc", "optc", "the optc binary")
	cache := flag.String("cache", ".cache", "the cache `make fetch` fills")
	runs := flag.Int("runs", 20, "timed runs per backend and thread count")
	threads := flag.String("threads", "1,2", "thread counts")
	only := flag.String("only", "", "run only the cases whose label contains this")
	flag.Parse()

	ocr := filepath.Join(*cache, "npm/ocr-models/package/assets")
	var cases []benchCase
	for _, m := range []string{"mlp", "cnn", "vit"} {
		for _, b := range []string{"1", "32"} {
			cases = append(cases, benchCase{"fmnist-" + m + " b" + b, "testdata/models/fmnist-" + m + "/model-op13.onnx", []string{"--batch", b}})
		}
	}
	cases = append(cases,
		benchCase{"PP-OCRv4 det 1×3×64×96", filepath.Join(ocr, "ch_PP-OCRv4_det_infer.onnx"), []string{"--shape", "x=1,3,64,96"}},
		benchCase{"PP-OCRv4 det 1×3×320×320", filepath.Join(ocr, "ch_PP-OCRv4_det_infer.onnx"), []string{"--shape", "x=1,3,320,320"}},
		benchCase{"PP-OCR cls 1×3×48×192", filepath.Join(ocr, "ch_ppocr_mobile_v2.0_cls_infer.onnx"), []string{"--shape", "x=1,3,48,192"}},
		benchCase{"silero VAD 1×512", filepath.Join(*cache, "npm/vad-web/package/dist/silero_vad_legacy.onnx"), []string{"--shape", "input=1,512"}},
	)

	fmt.Println("| model | threads | native ms | interp ms | ORT ms | native/ORT | interp/native | fallback nodes |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	logs := map[int][2][]float64{} // threads → (native/ORT, interp/native) ratios
	failed := false
	for _, c := range cases {
		if *only != "" && !strings.Contains(c.label, *only) {
			continue
		}
		args := append([]string{"bench", c.model, "--vs", "onnxruntime", "--interp", "--json", "--runs", fmt.Sprint(*runs), "--threads", *threads}, c.args...)
		cmd := exec.Command(*optc, args...)
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "benchtable: %s: %v\n", c.label, err)
			failed = true
			continue
		}
		var rep benchReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			fmt.Fprintf(os.Stderr, "benchtable: %s: reading optc bench's JSON: %v\n", c.label, err)
			failed = true
			continue
		}
		byThreads := map[int]map[string]benchRow{}
		for _, r := range rep.Rows {
			if byThreads[r.Threads] == nil {
				byThreads[r.Threads] = map[string]benchRow{}
			}
			byThreads[r.Threads][r.Backend] = r
		}
		var ts []int
		for t := range byThreads {
			ts = append(ts, t)
		}
		sort.Ints(ts)
		for _, t := range ts {
			n, i, o := byThreads[t]["native"], byThreads[t]["interp"], byThreads[t]["onnxruntime"]
			vsORT, vsInterp := n.MedianMS/o.MedianMS, i.MedianMS/n.MedianMS
			fmt.Printf("| %s | %d | %.3f | %.3f | %.3f | %.2f× | %.1f× | %d |\n", c.label, t, n.MedianMS, i.MedianMS, o.MedianMS, vsORT, vsInterp, rep.Fallback)
			l := logs[t]
			l[0] = append(l[0], math.Log(vsORT))
			l[1] = append(l[1], math.Log(vsInterp))
			logs[t] = l
		}
	}
	var ts []int
	for t := range logs {
		ts = append(ts, t)
	}
	sort.Ints(ts)
	for _, t := range ts {
		l := logs[t]
		fmt.Printf("\ngeometric mean over %d rows at %d thread(s): native/ORT %.2f×, interp/native %.1f×\n", len(l[0]), t, math.Exp(mean(l[0])), math.Exp(mean(l[1])))
	}
	if failed {
		os.Exit(1)
	}
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
