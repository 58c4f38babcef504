package realmodels

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/internal/ort"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/npy"
	"github.com/optc-dev/optc/runtime/interp"
)

var update = flag.Bool("update", false, "regenerate the golden files with ONNX Runtime")

// Tolerances for interpreter vs ONNX Runtime.
const (
	rmRTol = 1e-3
	rmATol = 1e-4
)

// rmExec runs a model once on named inputs.
type rmExec func(inputs map[string]*ir.Tensor) (map[string]*ir.Tensor, error)

// rmSpec describes one real model.
type rmSpec struct {
	name string // golden file testdata/<name>.npz
	rel  string // model path relative to the cache directory
	// gen makes the seeded stored inputs (golden keys "in.<k>").
	gen func() map[string]*ir.Tensor
	// run feeds the stored inputs to the model through exec, as many
	// times as the model's use needs, and returns the results to check
	// (golden keys "out.<k>").
	run func(stored map[string]*ir.Tensor, exec rmExec) (map[string]*ir.Tensor, error)
}

var rmSpecs = []rmSpec{
	{
		// DBNet text detector; H and W must be multiples of 32.
		name: "ppocrv4_det",
		rel:  "npm/ocr-models/package/assets/ch_PP-OCRv4_det_infer.onnx",
		gen:  func() map[string]*ir.Tensor { return rmPixels(1, 64, 96, 3) },
		run:  rmRunImage,
	},
	{
		// Text direction classifier (0° / 180°), fixed 48x192 input.
		name: "ppocr_mobile_cls",
		rel:  "npm/ocr-models/package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx",
		gen:  func() map[string]*ir.Tensor { return rmPixels(2, 48, 192, 1) },
		run:  rmRunImage,
	},
	{
		// Silero VAD (legacy, LSTM): two 512-sample chunks at 16 kHz, the
		// second one fed the state the first returned.
		name: "silero_vad_legacy",
		rel:  "npm/vad-web/package/dist/silero_vad_legacy.onnx",
		gen:  rmAudio,
		run:  rmRunVAD,
	},
}

// rmPixels makes a seeded 1x3xHxW uint8 image (what an application reads
// from a file before normalizing it) that looks like printed text: a light,
// slightly noisy page with lines of dark glyph-like blobs, so that the OCR
// models respond strongly (on pure noise the detector's output is ~0
// everywhere and would make the comparison vacuous).
func rmPixels(seed uint64, h, w int64, lines int) map[string]*ir.Tensor {
	r := rand.New(rand.NewPCG(seed, 0x0c7c))
	ink := make([]bool, h*w)
	lineH := h / int64(lines)
	glyphH := lineH * 2 / 3
	for l := range int64(lines) {
		top := l*lineH + (lineH-glyphH)/2
		for x := int64(2); x+4 < w-2; {
			gw := glyphH*2/3 + int64(r.IntN(3)) - 1
			if r.IntN(7) == 0 {
				x += gw // a space between words
				continue
			}
			// A glyph: a 5x7 grid of random cells, scaled to gw x glyphH.
			var cells [7][5]bool
			for i := range cells {
				for j := range cells[i] {
					cells[i][j] = r.IntN(2) == 0
				}
			}
			for y := range glyphH {
				for dx := range min(gw, w-2-x) {
					if cells[y*7/glyphH][dx*5/gw] {
						ink[(top+y)*w+x+dx] = true
					}
				}
			}
			x += gw + 1 + int64(r.IntN(2))
		}
	}
	px := make([]uint8, 3*h*w)
	for c := range int64(3) {
		for i, dark := range ink {
			v := 225 + r.IntN(25)
			if dark {
				v = 20 + r.IntN(50)
			}
			px[c*h*w+int64(i)] = uint8(v)
		}
	}
	return map[string]*ir.Tensor{"pixels": ir.FromSlice(ir.Uint8, []int64{1, 3, h, w}, px)}
}

// rmRunImage normalizes pixels as PaddleOCR does, (p/255 - 0.5) / 0.5, and
// runs the model on input "x".
func rmRunImage(stored map[string]*ir.Tensor, exec rmExec) (map[string]*ir.Tensor, error) {
	px := stored["in.pixels"]
	if px == nil || px.DType != ir.Uint8 {
		return nil, fmt.Errorf("golden has no uint8 in.pixels")
	}
	x := make([]float32, px.Len())
	for i, p := range px.Data.([]uint8) {
		x[i] = (float32(p)/255 - 0.5) / 0.5
	}
	return exec(map[string]*ir.Tensor{"x": ir.FromSlice(ir.Float32, px.Shape, x)})
}

const rmVADChunk = 512

// rmAudio is a synthetic voiced signal at 16 kHz: a 220 Hz tone with a
// 3 Hz envelope plus its third harmonic and a little seeded noise.
func rmAudio() map[string]*ir.Tensor {
	r := rand.New(rand.NewPCG(3, 0x0c7c))
	out := map[string]*ir.Tensor{}
	for c := range 2 {
		s := make([]float32, rmVADChunk)
		for i := range s {
			tm := float64(c*rmVADChunk+i) / 16000
			v := 0.5*math.Sin(2*math.Pi*220*tm)*(0.6+0.4*math.Sin(2*math.Pi*3*tm)) +
				0.15*math.Sin(2*math.Pi*660*tm) + 0.02*r.NormFloat64()
			s[i] = float32(v)
		}
		out[fmt.Sprintf("chunk%d", c)] = ir.FromSlice(ir.Float32, []int64{1, rmVADChunk}, s)
	}
	return out
}

func rmRunVAD(stored map[string]*ir.Tensor, exec rmExec) (map[string]*ir.Tensor, error) {
	sr := ir.FromSlice(ir.Int64, []int64{}, []int64{16000})
	h := ir.NewTensor(ir.Float32, 2, 1, 64)
	c := ir.NewTensor(ir.Float32, 2, 1, 64)
	res := map[string]*ir.Tensor{}
	for step := range 2 {
		chunk := stored[fmt.Sprintf("in.chunk%d", step)]
		if chunk == nil {
			return nil, fmt.Errorf("golden has no in.chunk%d", step)
		}
		out, err := exec(map[string]*ir.Tensor{"input": chunk, "sr": sr, "h": h, "c": c})
		if err != nil {
			return nil, fmt.Errorf("chunk %d: %w", step, err)
		}
		for _, k := range []string{"output", "hn", "cn"} {
			if out[k] == nil {
				return nil, fmt.Errorf("chunk %d: no output %q", step, k)
			}
			res[fmt.Sprintf("step%d.%s", step, k)] = out[k]
		}
		h, c = out["hn"], out["cn"]
	}
	return res, nil
}

// rmModelFile returns the cached model file and whether it exists.
func rmModelFile(s rmSpec) (string, bool) {
	p := filepath.Join(ort.CacheDir(), s.rel)
	_, err := os.Stat(p)
	return p, err == nil
}

// rmModelPath returns the cached model file or skips the test.
func rmModelPath(tb testing.TB, s rmSpec) string {
	p, ok := rmModelFile(s)
	if !ok {
		tb.Skipf("%s not in the cache (%s): run tools/fetch-models.sh", s.name, p)
	}
	return p
}

var (
	rmGraphMu sync.Mutex
	rmGraphs  = map[string]*ir.Graph{}
)

// rmGraph loads (once) a model with optc's frontend.
func rmGraph(path string) (*ir.Graph, error) {
	rmGraphMu.Lock()
	defer rmGraphMu.Unlock()
	if g, ok := rmGraphs[path]; ok {
		return g, nil
	}
	g, err := onnx.LoadFile(path)
	if err != nil {
		return nil, err
	}
	rmGraphs[path] = g
	return g, nil
}

// rmInterp runs a graph with the reference interpreter.
func rmInterp(g *ir.Graph) rmExec {
	return func(inputs map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
		in := make(map[string]interp.Value, len(inputs))
		for k, v := range inputs {
			in[k] = v
		}
		out, err := interp.Run(context.Background(), g, in)
		if err != nil {
			return nil, err
		}
		res := make(map[string]*ir.Tensor, len(out))
		for k, v := range out {
			t, ok := v.(*ir.Tensor)
			if !ok {
				return nil, fmt.Errorf("output %q is %T, not a tensor", k, v)
			}
			res[k] = t
		}
		return res, nil
	}
}

func rmGoldenPath(s rmSpec) string { return filepath.Join("testdata", s.name+".npz") }

// rmWriteGolden regenerates a golden file with ONNX Runtime (1 thread).
func rmWriteGolden(t *testing.T, s rmSpec, model string) {
	if _, ok := ort.Available(); !ok {
		t.Fatalf("-update needs ONNX Runtime: %s", ort.SkipReason())
	}
	sess, err := ort.NewSession(model, ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	stored := map[string]*ir.Tensor{}
	for k, v := range s.gen() {
		stored["in."+k] = v
	}
	res, err := s.run(stored, sess.Run)
	if err != nil {
		t.Fatalf("ONNX Runtime: %v", err)
	}
	golden := map[string]*ir.Tensor{}
	for k, v := range stored {
		golden[k] = v
	}
	for k, v := range res {
		golden["out."+k] = v
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteNPZCompressed(rmGoldenPath(s), golden); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", rmGoldenPath(s))
}

// rmReadGolden returns the stored inputs ("in.*" keys kept) and the
// expected results (keys without "out.").
func rmReadGolden(t *testing.T, s rmSpec) (stored, want map[string]*ir.Tensor) {
	stored, want, err := rmLoadGolden(s)
	if err != nil {
		t.Fatalf("%v (regenerate with go test ./tests/realmodels -update, which needs ONNX Runtime)", err)
	}
	return stored, want
}

func rmLoadGolden(s rmSpec) (stored, want map[string]*ir.Tensor, err error) {
	m, names, err := npy.ReadNPZ(rmGoldenPath(s))
	if err != nil {
		return nil, nil, err
	}
	stored, want = map[string]*ir.Tensor{}, map[string]*ir.Tensor{}
	for _, k := range names {
		switch {
		case strings.HasPrefix(k, "in."):
			stored[k] = m[k]
		case strings.HasPrefix(k, "out."):
			want[strings.TrimPrefix(k, "out.")] = m[k]
		}
	}
	return stored, want, nil
}

func TestRealModels(t *testing.T) {
	for _, s := range rmSpecs {
		t.Run(s.name, func(t *testing.T) {
			model := rmModelPath(t, s)
			if *update {
				rmWriteGolden(t, s, model)
			}
			stored, want := rmReadGolden(t, s)
			g, err := rmGraph(model)
			if err != nil {
				t.Fatalf("frontend: %v", err)
			}
			got, err := s.run(stored, rmInterp(g))
			if err != nil {
				t.Fatalf("interpreter: %v", err)
			}
			for _, d := range rmCompareAll(got, want) {
				t.Errorf("interpreter vs golden: %s", d)
			}
			t.Logf("interpreter vs golden: max |diff| %.3g", rmMaxDiff(got, want))
			if _, ok := ort.Available(); !ok {
				t.Logf("live comparison skipped: %s", ort.SkipReason())
				return
			}
			sess, err := ort.NewSession(model, ort.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			live, err := s.run(stored, sess.Run)
			if err != nil {
				t.Fatalf("ONNX Runtime: %v", err)
			}
			for _, d := range rmCompareAll(live, want) {
				t.Errorf("ONNX Runtime vs golden (has the library changed?): %s", d)
			}
			for _, d := range rmCompareAll(got, live) {
				t.Errorf("interpreter vs ONNX Runtime: %s", d)
			}
		})
	}
}

// rmCompareAll compares every expected result; it returns one line per
// mismatching or missing result, sorted by name.
func rmCompareAll(got, want map[string]*ir.Tensor) []string {
	names := make([]string, 0, len(want))
	for k := range want {
		names = append(names, k)
	}
	sort.Strings(names)
	var diffs []string
	for _, k := range names {
		if d := rmCompare(got[k], want[k]); d != "" {
			diffs = append(diffs, fmt.Sprintf("%s: %s", k, d))
		}
	}
	return diffs
}

// rmMaxDiff is the largest element difference over all expected results
// present in got with the expected shape.
func rmMaxDiff(got, want map[string]*ir.Tensor) float64 {
	m := 0.0
	for k, w := range want {
		g := got[k]
		if g == nil || g.Len() != w.Len() {
			continue
		}
		for i := range w.Len() {
			m = math.Max(m, math.Abs(g.Float64At(i)-w.Float64At(i)))
		}
	}
	return m
}

// rmCompare checks |got-want| <= atol + rtol*|want| element-wise and
// reports the count, the largest difference and the first mismatches.
func rmCompare(got, want *ir.Tensor) string {
	if got == nil {
		return "missing"
	}
	if got.DType != want.DType || fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Sprintf("got %s, want %s", got, want)
	}
	bad, maxDiff, maxAt := 0, 0.0, 0
	var first []string
	for i := range want.Len() {
		g, w := got.Float64At(i), want.Float64At(i)
		d := math.Abs(g - w)
		if math.IsNaN(g) != math.IsNaN(w) || (!math.IsNaN(w) && !(d <= rmATol+rmRTol*math.Abs(w))) {
			bad++
			if len(first) < 4 {
				first = append(first, fmt.Sprintf("[%d] got %.7g want %.7g", i, g, w))
			}
		}
		if d > maxDiff {
			maxDiff, maxAt = d, i
		}
	}
	if bad == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d elements differ beyond rtol %g, atol %g (max |diff| %.3g at %d); first: %s",
		bad, want.Len(), rmRTol, rmATol, maxDiff, maxAt, strings.Join(first, ", "))
}
