package native_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes/quant"
	"github.com/optc-dev/optc/runtime/native"
	"github.com/optc-dev/optc/targets"
)

// Weight-only quantized GEMM: native code on the packed codes equals the
// interpreter, which runs the encoding's reference Decode, and the bundle
// stores the codes (1 or ½ byte per weight), not a float32 copy.
func TestNativeQuantMatchesInterpreter(t *testing.T) {
	host := codegentest.Host(t)
	for _, c := range codegentest.QuantCases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Build()
			var codeBytes, elems int64
			for _, v := range g.Consts {
				if q, ok := v.Const.Enc.(*ir.Quantized); ok {
					codeBytes += int64(len(q.Codes))
					elems += ir.NumElements(v.Const.Shape)
				}
			}
			dir := t.TempDir()
			res := codegentest.Bundle(t, g, host, c.Shapes, dir, "")
			if !res.FullyNative() || len(res.Decoded) != 0 {
				t.Fatalf("fully native %v, decoded %v", res.FullyNative(), res.Decoded)
			}
			var raw, quantKernels int64
			for _, w := range res.Weights {
				if w.Raw != nil {
					raw += int64(len(w.Raw))
				} else if strings.HasPrefix(w.Encoding, "packed_b(") {
					t.Errorf("fp32 packed copy of %s in the weights", w.Of)
				}
			}
			for _, k := range res.Kernels {
				if strings.Contains(k, "packed int") {
					quantKernels++
				}
			}
			if quantKernels == 0 {
				t.Fatalf("no quantized GEMM kernel: %v", res.Kernels)
			}
			// Codes are stored once, padded to panels of nr columns and 64 bytes
			// per tensor; never 4 bytes per weight (checked where the
			// padding does not dominate).
			if raw < codeBytes || (elems >= 1024 && raw >= 2*elems) {
				t.Errorf("stored codes %d bytes for %d weights (%d code bytes)", raw, elems, codeBytes)
			}
			quantOpenCompare(t, g, dir, 1)
		})
	}
}

// The other encodings (per-group scales, zero points, NUPES decode tables
// per layer and per column, fixed point of 6, 12 and 16 bits): native
// equals the interpreter within atol/rtol on every schedule (M = 1 decodes
// in registers, M = 7 and 32 once per slice), and no encoded weight is
// stored as float32.
func TestNativeQuantEncodings(t *testing.T) {
	host := codegentest.Host(t)
	for _, c := range codegentest.QuantEncodingCases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Build()
			dir := t.TempDir()
			res := codegentest.Bundle(t, g, host, nil, dir, "")
			if !res.FullyNative() || len(res.Decoded) != 0 {
				t.Fatalf("fully native %v, decoded %v", res.FullyNative(), res.Decoded)
			}
			// M = 1 is one row tile on every target, M = 32 several.
			sched := "packed int"
			switch {
			case strings.Contains(c.Name, "qmatmulA_"):
				sched = "decoded per task"
			case strings.Contains(c.Name, "_1x"):
				sched = "decoded in registers"
			case strings.Contains(c.Name, "_32x"):
				sched = "decoded once per kc x nr slice"
			}
			if !slices.ContainsFunc(res.Kernels, func(k string) bool { return strings.Contains(k, sched) }) {
				t.Fatalf("no quantized GEMM %s: %v", sched, res.Kernels)
			}
			quantOpenCompare(t, g, dir, 1)
		})
	}
}

// TestNativeQuantDecodeExact: fed the identity (or unit rows), the
// quantized GEMM outputs B's decoded weights, which equal
// ir.Quantized.Decode (the interpreter's reference) exactly, float32 for
// float32: the code (or table entry, minus the zero point) times 1 plus
// zeros is exact, and the one rounding is the scale's multiply, the same
// product Decode rounds. Both schedules: M = K (decode per slice) and
// M = 1 (in registers), every unit row. On an x86-64 host also for the
// lower levels that run here: x86-64-v3 (8 lanes: the table through
// vpermps on |k| and the sign bit) and x86-64 (4 lanes: the portable
// select chain, the aarch64 code path).
func TestNativeQuantDecodeExact(t *testing.T) {
	host := codegentest.Host(t)
	tgs := []*targets.Target{host}
	if host.Name == "x86_64" {
		for _, mcpu := range []string{"x86-64-v3", "x86-64"} {
			tg, err := targets.Lookup("x86_64", mcpu)
			if err != nil {
				t.Fatal(err)
			}
			tgs = append(tgs, tg)
		}
	}
	const K, N = 70, 37
	for _, s := range codegentest.QuantEncodingSpecs() {
		for ti, tg := range tgs {
			for _, trans := range []bool{false, true} {
				if ti > 0 && trans {
					continue // the transposed packing is target independent
				}
				host := tg
				c := codegentest.QuantDecodeCase(s, K, N, trans)
				t.Run(c.Name+"/"+tg.CPU, func(t *testing.T) {
					t.Parallel()
					for _, M := range []int64{K, 1} {
						g := c.Build()
						var w *ir.Value
						for _, v := range g.Consts {
							if _, ok := v.Const.Enc.(*ir.Quantized); ok {
								w = v
							}
						}
						want, err := w.Const.Dense() // Quantized.Decode
						if err != nil {
							t.Fatal(err)
						}
						wd := want.Data.([]float32)
						dir := t.TempDir()
						res := codegentest.Bundle(t, g, host, map[string][]int64{"x": {M, K}}, dir, "")
						if !res.FullyNative() || len(res.Decoded) != 0 {
							t.Fatalf("fully native %v, decoded %v", res.FullyNative(), res.Decoded)
						}
						m := quantOpen(t, dir)
						for r0 := int64(0); r0 < K; r0 += M {
							x := make([]float32, M*K)
							for i := int64(0); i < M; i++ {
								x[i*K+r0+i] = 1
							}
							out, err := m.Run(context.Background(), map[string]*ir.Tensor{"x": ir.FromSlice(ir.Float32, []int64{M, K}, x)})
							if err != nil {
								t.Fatal(err)
							}
							got := out[g.Outputs[0].Name].Data.([]float32)
							for i := int64(0); i < M; i++ {
								for n := int64(0); n < N; n++ {
									kk := r0 + i
									ref := wd[kk*N+n]
									if trans {
										ref = wd[n*K+kk]
									}
									if got[i*N+n] != ref {
										t.Fatalf("M=%d: weight (k=%d, n=%d) decoded %g natively, %g by Decode", M, kk, n, got[i*N+n], ref)
									}
								}
							}
						}
						m.Close()
					}
				})
			}
		}
	}
}

// TestNativeQuantDecodeExactA: the same for a quantized left operand
// (decoded per task into a stack buffer): W · I = W exactly.
func TestNativeQuantDecodeExactA(t *testing.T) {
	host := codegentest.Host(t)
	const M, K = 37, 70
	for _, s := range codegentest.QuantEncodingSpecs() {
		c := codegentest.QuantDecodeCaseA(s, M, K)
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			eye := make([]float32, K*K)
			for i := range K {
				eye[i*K+i] = 1
			}
			got, want := quantDecodeRun(t, c.Build(), host, ir.FromSlice(ir.Float32, []int64{K, K}, eye))
			for i, w := range want {
				if got[i] != w {
					t.Fatalf("weight (%d, %d) decoded %g natively, %g by Decode", i/K, i%K, got[i], w)
				}
			}
		})
	}
}

// TestNativeQuantConv: Conv with a quantized filter equals the
// interpreter (which runs ir.Quantized.Decode) for every encoding on the
// direct kernel and, for 4-bit codes, on the direct kernel's other
// layouts and the im2col GEMM, with the filter stored as codes (decoded
// per task); grouped and depthwise filters are decoded at compile time,
// with a note saying so.
func TestNativeQuantConv(t *testing.T) {
	host := codegentest.Host(t)
	for _, c := range codegentest.QuantConvCases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Build()
			dir := t.TempDir()
			res := codegentest.Bundle(t, g, host, nil, dir, "")
			if !res.FullyNative() {
				t.Fatalf("not fully native: %v", res.Kernels)
			}
			var raw int64
			for _, w := range res.Weights {
				if w.Raw != nil {
					raw += int64(len(w.Raw))
				}
			}
			switch c.Kind {
			case "grouped", "depthwise":
				if len(res.Decoded) != 1 || !strings.Contains(res.Decoded[0], c.Kind) || raw != 0 {
					t.Fatalf("decoded %v (want one %s note), %d bytes of codes", res.Decoded, c.Kind, raw)
				}
			default:
				want := "direct"
				if c.Kind == "im2col" {
					want = "im2col-gemm"
				}
				if len(res.Decoded) != 0 || raw == 0 || !slices.ContainsFunc(res.Kernels, func(k string) bool {
					return strings.Contains(k, want) && strings.Contains(k, "weights packed int") && strings.Contains(k, "decoded per task")
				}) {
					t.Fatalf("decoded %v, %d bytes of codes, kernels %v (want a %s conv on codes)", res.Decoded, raw, res.Kernels, want)
				}
			}
			quantOpenCompare(t, g, dir, 1)
		})
	}
}

// TestNativeQuantConvDecodeExact: convolutions whose output is their
// filter (a 1x1 over the identity, tasks of one row tile; a 3x3 over
// one-hot images, one task decoding every row tile) output exactly
// ir.Quantized.Decode's weights, for every encoding.
func TestNativeQuantConvDecodeExact(t *testing.T) {
	host := codegentest.Host(t)
	for _, s := range codegentest.QuantEncodingSpecs() {
		for _, c := range codegentest.QuantConvDecodeCases(s) {
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				got, wd := quantDecodeRun(t, c.Build(), host, c.X)
				if len(got) != len(wd) {
					t.Fatalf("%d outputs for %d weights", len(got), len(wd))
				}
				for i, x := range got {
					if ref := wd[c.Want(i)]; x != ref {
						t.Fatalf("weight %d decoded %g natively, %g by Decode", c.Want(i), x, ref)
					}
				}
			})
		}
	}
}

// TestNativeQuantFixtures: the Fashion-MNIST fixtures quantized by
// passes/quant (data-free NUPES 4 and 3 bits, int4 groups of 32 with zero
// points, AdaPT) compile with every Gemm/MatMul weight kept as codes —
// weights.safetensors well under the float32 size — and the native logits
// agree with the interpreter running the same quantized graph. Conv
// filters (the CNN's, the ViT's patch embedding) are kept as codes too
// (decoded per task). All four presets on the MLP, one each on the CNN
// and the ViT (slow to interpret).
func TestNativeQuantFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: quantizes and compiles three models")
	}
	host := codegentest.Host(t)
	presets := []string{"nupes:4:datafree", "nupes:3:datafree", "scheme=uniform,bits=4,sym=false,granularity=group,group=32", "adapt"}
	for _, model := range []string{"fmnist-mlp", "fmnist-cnn", "fmnist-vit"} {
		for pi, preset := range presets {
			if model != "fmnist-mlp" && pi != 0 {
				continue
			}
			t.Run(fmt.Sprintf("%s/%d", model, pi), func(t *testing.T) {
				t.Parallel()
				g, err := onnx.LoadFile(filepath.Join("..", "..", "testdata", "models", model, "model-op17.onnx"))
				if err != nil {
					t.Fatal(err)
				}
				var fp32 int64
				for _, v := range g.Consts {
					fp32 += 4 * ir.NumElements(v.Const.Shape)
				}
				args, err := quant.Preset(preset)
				if err != nil {
					t.Fatal(err)
				}
				opts, err := quant.ParseArgs(args)
				if err != nil {
					t.Fatal(err)
				}
				if err := (&quant.Pass{Opts: opts}).Run(nil, g); err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				res := codegentest.Bundle(t, g, host, map[string][]int64{g.Inputs[0].Name: {4, 1, 28, 28}}, dir, "")
				if len(res.Decoded) != 0 {
					t.Errorf("decoded to float32: %v", res.Decoded)
				}
				st, err := os.Stat(filepath.Join(dir, "weights.safetensors"))
				if err != nil {
					t.Fatal(err)
				}
				// 4-bit codes (3-bit NUPES is stored in nibbles) or AdaPT's
				// ≤ 8-bit words, plus float biases, norms and scales.
				limit := fp32 * 35 / 100
				if st.Size() >= limit {
					t.Errorf("weights.safetensors %d bytes, float32 constants %d (want < %d)", st.Size(), fp32, limit)
				}
				quantOpenCompare(t, g, dir, 3)
			})
		}
	}
}

// quantOpen opens the bundle in dir on two threads.
func quantOpen(t *testing.T, dir string) *native.Model {
	t.Helper()
	m, err := native.Open(dir, native.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// quantOpenCompare runs the bundle in dir, built from g, and the
// interpreter on g on the same seeded inputs.
func quantOpenCompare(t *testing.T, g *ir.Graph, dir string, seed uint64) {
	t.Helper()
	m := quantOpen(t, dir)
	defer m.Close()
	compare(t, g, m, codegentest.Inputs(t, g, seed))
}

// quantDecodeRun bundles g (whose one constant is a quantized weight, all
// of it native and none decoded at compile time), runs it on x and
// returns its output and the weight as ir.Quantized.Decode gives it.
func quantDecodeRun(t *testing.T, g *ir.Graph, host *targets.Target, x *ir.Tensor) (got, want []float32) {
	t.Helper()
	w, err := g.Consts[0].Const.Dense() // Quantized.Decode
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res := codegentest.Bundle(t, g, host, nil, dir, "")
	if !res.FullyNative() || len(res.Decoded) != 0 {
		t.Fatalf("fully native %v, decoded %v", res.FullyNative(), res.Decoded)
	}
	m := quantOpen(t, dir)
	defer m.Close()
	out, err := m.Run(context.Background(), map[string]*ir.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	return out[g.Outputs[0].Name].Data.([]float32), w.Data.([]float32)
}
