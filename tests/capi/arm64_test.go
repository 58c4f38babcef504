package capi_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/internal/ort"
	"github.com/optc-dev/optc/ir"
)

// armModel is a whole model run through the C ABI on each target.
type armModel struct {
	name, path string
	shapes     map[string][]int64
	// extra are inputs that are not uniform f32 noise (a sample rate, token
	// ids); the others get seeded values in [-1, 1).
	extra map[string]*ir.Tensor
	// atol, rtol: the tolerance against the interpreter.
	atol, rtol float64
	// long marks the models too slow under qemu for -short (PP-OCR det).
	long bool
}

// armModels are every fixture model of testdata/models and the three real
// models of the foundation issue (fetched by tools/fetch-models.sh),
// compiled whole. fmnist-mlp and fmnist-cnn at batch 1 and 32 are also in
// TestCABI's cases; here they run at a second small batch with the op13
// export. Shapes are small because qemu runs ARM64 code about 20-50 times
// slower than the host would.
//
// Tolerances: the fixtures use TestCABI's 1e-4 + 1e-4·|x|; the real models
// (up to ~100 layers, sums reassociated across vector lanes and FMA
// contraction on both targets) use runtime/native's 1e-4 + 1e-3·|x|.
func armModels() []armModel {
	repo := filepath.Join("..", "..", "testdata", "models")
	cache := ort.CacheDir()
	lm := func(name string, layers, kvHeads int64) armModel {
		// input_ids [1,2], position_ids [1,2] after a past of length 1:
		// token ids below the 259-token byte vocabulary, positions 1 and 2
		// (layers and key/value heads as in the model's config.json; head_dim 64).
		shapes := map[string][]int64{"input_ids": {1, 2}, "position_ids": {1, 2}}
		for i := range layers {
			shapes[fmt.Sprintf("past_key_values.%d.key", i)] = []int64{1, kvHeads, 1, 64}
			shapes[fmt.Sprintf("past_key_values.%d.value", i)] = []int64{1, kvHeads, 1, 64}
		}
		return armModel{name: name, path: filepath.Join(repo, name, "model.onnx"), shapes: shapes,
			extra: map[string]*ir.Tensor{
				"input_ids":    ir.FromSlice(ir.Int64, []int64{1, 2}, []int64{72, 105}),
				"position_ids": ir.FromSlice(ir.Int64, []int64{1, 2}, []int64{1, 2}),
			}, atol: 1e-4, rtol: 1e-3}
	}
	batch := func(n int64) map[string][]int64 { return map[string][]int64{"input": {n, 1, 28, 28}} }
	fix := func(model, file string, n int64) armModel {
		return armModel{name: fmt.Sprintf("%s_%s_batch%d", model, strings.TrimSuffix(strings.TrimPrefix(file, "model-"), ".onnx"), n),
			path: filepath.Join(repo, model, file), shapes: batch(n), atol: 1e-4, rtol: 1e-4}
	}
	return []armModel{
		fix("fmnist-mlp", "model-op13.onnx", 3),
		fix("fmnist-cnn", "model-op13.onnx", 3),
		fix("fmnist-vit", "model-op17.onnx", 1),
		fix("fmnist-vit", "model-op13.onnx", 3),
		lm("lm-draft", 2, 1),
		lm("lm-target", 4, 2),
		{name: "ppocr_mobile_cls", path: filepath.Join(cache, "npm/ocr-models/package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
			shapes: map[string][]int64{"x": {1, 3, 48, 192}}, atol: 1e-4, rtol: 1e-3},
		{name: "ppocrv4_det", path: filepath.Join(cache, "npm/ocr-models/package/assets/ch_PP-OCRv4_det_infer.onnx"),
			shapes: map[string][]int64{"x": {1, 3, 64, 64}}, atol: 1e-4, rtol: 1e-3, long: true},
		{name: "silero_vad_legacy", path: filepath.Join(cache, "npm/vad-web/package/dist/silero_vad_legacy.onnx"),
			shapes: map[string][]int64{"input": {1, 512}, "h": {2, 1, 64}, "c": {2, 1, 64}},
			extra:  map[string]*ir.Tensor{"sr": ir.ScalarI64(16000)}, atol: 1e-4, rtol: 1e-3},
	}
}

// TestModelsCABI compiles each whole model for x86-64 and ARM64, runs it
// through the C ABI program (testdata/capi.c; ARM64 under qemu-aarch64)
// and compares every output with the interpreter's on the same inputs.
//
// A model that codegen does not lower completely cannot run in a plain C
// program (its interpreter steps need the Go runtime): the subtest skips,
// naming the nodes that fall back, and starts running by itself once
// codegen lowers them. At the time of writing that is the two LMs
// (run-time shape arithmetic: Shape, Range, Slice with run-time bounds;
// Sin, Cos); Silero VAD runs since LSTM and If are lowered. -short skips
// PP-OCR det under qemu (about half a minute on a loaded 2-core machine).
func TestModelsCABI(t *testing.T) {
	for _, arch := range []string{"x86_64", "aarch64"} {
		t.Run(arch, func(t *testing.T) {
			tc := capiTarget(t, arch)
			for _, mc := range armModels() {
				t.Run(mc.name, func(t *testing.T) {
					t.Parallel()
					if mc.long && testing.Short() && arch == "aarch64" {
						t.Skip("-short: this model takes about a minute under qemu")
					}
					if _, err := os.Stat(mc.path); err != nil {
						t.Skipf("model not available (tools/fetch-models.sh fetches the real models): %v", err)
					}
					// What falls back is known before the (slow) build.
					probe := codegentest.Compile(t, fileCase(mc.name, mc.path, nil).graph(t), tc.Target, mc.shapes)
					if !probe.FullyNative() {
						var fb []string
						for _, f := range probe.Fallback {
							fb = append(fb, fmt.Sprintf("%s (%s)", f.Node, f.Op))
						}
						t.Skipf("not fully native, so not runnable through the plain C ABI: %d nodes fall back to the interpreter: %s", len(fb), armFirst(fb, 8))
					}
					g := fileCase(mc.name, mc.path, nil).graph(t)
					dir := t.TempDir()
					codegentest.Bundle(t, g, tc.Target, mc.shapes, dir, "")
					in := armInputs(t, g, mc.extra)
					prog := buildProgram(t, tc, dir)
					got, _, err := runProgram(t, tc, prog, dir, "weights.safetensors", 2, g, in)
					if err != nil {
						t.Fatal(err)
					}
					want := reference(t, g, in)
					for _, o := range g.Outputs {
						if err := codegentest.Close(got[o.Name], want[o.Name], mc.atol, mc.rtol); err != nil {
							t.Errorf("output %q: %v", o.Name, err)
						}
					}
				})
			}
		})
	}
}

func armFirst(s []string, n int) string {
	if len(s) > n {
		return strings.Join(s[:n], ", ") + fmt.Sprintf(", … (%d more)", len(s)-n)
	}
	return strings.Join(s, ", ")
}

// armInputs are g's (bound) inputs: extra where given, else seeded f32
// noise in [-1, 1).
func armInputs(t *testing.T, g *ir.Graph, extra map[string]*ir.Tensor) map[string]*ir.Tensor {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 1))
	in := map[string]*ir.Tensor{}
	for _, v := range g.Inputs {
		if x, ok := extra[v.Name]; ok {
			in[v.Name] = x
			continue
		}
		shape, ok := v.Type.Shape.Concrete()
		if !ok || v.Type.DType != ir.Float32 {
			t.Fatalf("input %s: need a bound f32 tensor or an extra value, have %s", v.Name, v.Type)
		}
		in[v.Name] = codegentest.Random(rng, shape...)
	}
	return in
}

// capiTensorBytes is a dense tensor's elements as little-endian bytes (any
// fixed-size element type: f32 inputs, i64 token ids or sample rates).
func capiTensorBytes(tb testing.TB, t *ir.Tensor) []byte {
	tb.Helper()
	if _, ok := t.Data.([]float32); ok {
		return f32Bytes(t)
	}
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, t.Data); err != nil {
		tb.Fatalf("a %s tensor cannot be passed to the C program: %v", t.DType, err)
	}
	return b.Bytes()
}

// TestOpCasesCABI runs the case tables of the ConvTranspose attributes,
// Gather with run-time indices, Resize and the typed elementwise ops
// (codegentest) through the C program on x86-64 and ARM64 (qemu), against
// the interpreter (float outputs with TestCABI's tolerance, integer ones
// exactly: float-to-int conversions differ between the two ISAs unless
// the kernels pin them down).
func TestOpCasesCABI(t *testing.T) {
	var cases []codegentest.InputCase
	for _, c := range codegentest.ConvTransposeCases() {
		cases = append(cases, codegentest.InputCase{Case: c})
	}
	cases = append(cases, codegentest.GatherCases()...)
	cases = append(cases, codegentest.ResizeCases()...)
	cases = append(cases, codegentest.EWIntCases()...)
	for _, arch := range []string{"x86_64", "aarch64"} {
		t.Run(arch, func(t *testing.T) {
			tc := capiTarget(t, arch)
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					t.Parallel()
					g := c.Build()
					dir := t.TempDir()
					res := codegentest.Bundle(t, g, tc.Target, c.Shapes, dir, "")
					if !res.FullyNative() {
						t.Fatalf("not fully native: %v", res.Fallback)
					}
					in := codegentest.CaseInputs(g, c.Fixed, 3)
					got, _, err := runProgram(t, tc, buildProgram(t, tc, dir), dir, "weights.safetensors", 2, g, in)
					if err != nil {
						t.Fatal(err)
					}
					want := reference(t, g, in)
					for _, o := range g.Outputs {
						if err := codegentest.Same(got[o.Name], want[o.Name], atol, rtol); err != nil {
							t.Errorf("output %q: %v", o.Name, err)
						}
					}
				})
			}
		})
	}
}

// TestGatherOutOfRangeCABI: an out-of-range run-time Gather index fails the
// C program's run with the shim's message (exit status 3), on both
// targets, instead of reading outside the data.
func TestGatherOutOfRangeCABI(t *testing.T) {
	c := codegentest.GatherCases()[0] // x f32[5,7], i i64[2,3], axis 0
	for _, arch := range []string{"x86_64", "aarch64"} {
		t.Run(arch, func(t *testing.T) {
			tc := capiTarget(t, arch)
			g := c.Build()
			dir := t.TempDir()
			codegentest.Bundle(t, g, tc.Target, c.Shapes, dir, "")
			bad := map[string]*ir.Tensor{"i": ir.FromSlice(ir.Int64, []int64{2, 3}, []int64{0, 1, 2, 3, 4, 1 << 40})}
			_, stderr, err := runProgram(t, tc, buildProgram(t, tc, dir), dir, "weights.safetensors", 2, g, codegentest.CaseInputs(g, bad, 1))
			if err == nil || !strings.Contains(stderr, "a Gather index is outside") {
				t.Errorf("err %v, stderr %q: want the run to fail naming the Gather index", err, stderr)
			}
		})
	}
}

// capiTensorFromBytes decodes a C program's output of dtype d (the
// inverse of capiTensorBytes).
func capiTensorFromBytes(tb testing.TB, b []byte, d ir.DType, shape []int64) *ir.Tensor {
	tb.Helper()
	if d == ir.Float32 {
		return fromF32Bytes(b, shape)
	}
	t := ir.NewTensor(d, shape...)
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, t.Data); err != nil {
		tb.Fatalf("output of %s%v from %d bytes: %v", d, shape, len(b), err)
	}
	return t
}
