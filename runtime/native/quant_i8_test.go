package native_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/data"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes/quant"
	"github.com/optc-dev/optc/runtime/native"
)

// int8 kernels (codegen/gemm_i8.go, conv_i8.go). The test graphs use
// power-of-two scales and biases on a 2^-10 grid, so the interpreter's
// float32 QDQ arithmetic is exact: it equals the int32 accumulators
// scaled, and native code must match it bit for bit (atol = rtol = 0).
func TestNativeI8Exact(t *testing.T) {
	// The pmaddwd path (no VNNI) on AVX2 and AVX-512, where this CPU
	// runs them.
	for _, tg := range i8ExactTargets(t, "x86-64-v3", "x86-64-v4") {
		for _, c := range codegentest.I8Cases() {
			t.Run(tg.CPU+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				want := 1
				switch {
				case strings.Contains(c.Name, "shared"):
					want = 2 // the third MatMul's activation is also read by an Add
				case strings.Contains(c.Name, "float"):
					want = 0 // depthwise Conv, 4-bit weights: float layers
				}
				i8ExactBundle(t, tg, c, want, i8CheckVNNI(tg))
			})
		}
	}
}

// QuantizeLinear's native rounding equals the interpreter's: ties to
// even, saturation, NaN → 0, infinities, for uint8 and int8 codes and a
// scale that is not a power of two, over vector bodies and scalar tails.
func TestNativeI8QuantizeLinear(t *testing.T) {
	host := codegentest.Host(t)
	b := ir.NewBuilder("i8ql")
	const n = 16*5 + 7
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(1, n)))
	b.Output(codegentest.I8QDQ(b, x, 2, 7, false), codegentest.I8QDQ(b, x, 2, -3, true))
	s := b.Const("s", ir.ScalarF32(0.1))
	z := b.Const("z", ir.FromSlice(ir.Uint8, []int64{}, []uint8{100}))
	b.Output(b.Op1("DequantizeLinear", nil, b.Op1("QuantizeLinear", nil, x, s, z), s, z))
	g := b.Graph()
	in := make([]float32, n)
	special := []float32{0.125, 0.375, -0.125, -0.375, 0.625, 1000, -1000, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		0.05, 0.15, -0.05, 25.45, -10.05, 31.75, 32, -32, -32.125, -33}
	rng := codegentest.Random(rand.New(rand.NewPCG(3, 3)), n).Data.([]float32)
	for i := range in {
		in[i] = rng[i] * 40
		if i < len(special) {
			in[i] = special[i]
		}
	}
	inputs := map[string]*ir.Tensor{"x": ir.FromSlice(ir.Float32, []int64{1, n}, in)}
	dir := t.TempDir()
	res := codegentest.Bundle(t, g, host, nil, dir, "")
	if !res.FullyNative() {
		t.Fatalf("fallback %v", res.Fallback)
	}
	i8Exactly(t, g, i8RunBundle(t, dir, 1, inputs), inputs)
}

// i8RunBundle runs the bundle in dir once.
func i8RunBundle(t *testing.T, dir string, threads int, in map[string]*ir.Tensor) map[string]*ir.Tensor {
	t.Helper()
	m, err := native.Open(dir, native.Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out, err := m.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// i8Exactly checks every output of g against the interpreter, bit for bit.
func i8Exactly(t *testing.T, g *ir.Graph, got, in map[string]*ir.Tensor) {
	t.Helper()
	want := interpRun(t, g, in)
	for _, o := range g.Outputs {
		if err := codegentest.Close(got[o.Name], want[o.Name], 0, 0); err != nil {
			t.Errorf("output %q: %v", o.Name, err)
		}
	}
}

// The three Fashion-MNIST fixtures quantized with --quant int8 compile
// fully native with every Conv/Gemm/MatMul layer on the int8 kernels, and
// agree with the interpreter running the same quantized graph: the same
// top-1 class on at least 97% of the images and logits within 5% of the
// largest. (Not bit for bit: float32 sums in a different order can move a
// later QuantizeLinear across a rounding boundary by one code.)
func TestNativeI8Fixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: quantizes three models")
	}
	rows := fmnistTestRows(t)
	const batch = 32
	host := codegentest.Host(t)
	vnni := strings.Contains(host.Features, "+avx512vnni")
	for _, model := range []string{"fmnist-mlp", "fmnist-cnn", "fmnist-vit"} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("../../testdata/models", model, "model-op17.onnx")
			g, err := onnx.LoadFile(path)
			if err != nil {
				t.Skipf("fixture %s: %v", path, err)
			}
			qg, q, _ := i8Quantize(t, g, "int8", rows)
			layers := len(q.Layers())
			in := map[string]*ir.Tensor{qg.Inputs[0].Name: rows(0, batch)}
			want := interpRun(t, qg, in)[qg.Outputs[0].Name]
			dir := t.TempDir()
			res := codegentest.Bundle(t, qg, host, map[string][]int64{qg.Inputs[0].Name: in[qg.Inputs[0].Name].Shape}, dir, "")
			if !res.FullyNative() {
				t.Fatalf("fallback %v", res.Fallback)
			}
			i8 := 0
			for _, k := range res.Kernels {
				if i8Kernel.MatchString(k) && (!vnni || strings.Contains(k, "vpdpbusd")) {
					i8++
				}
			}
			if i8 != layers {
				t.Errorf("%d int8 kernels for %d quantized layers: %v", i8, layers, res.Kernels)
			}
			got := i8RunBundle(t, dir, 2, in)[qg.Outputs[0].Name]
			gs, ws := got.Float32s(), want.Float32s()
			classes := len(ws) / batch
			var big float64
			for _, v := range ws {
				big = max(big, math.Abs(float64(v)))
			}
			agree := 0
			for i := 0; i < batch; i++ {
				if argmax(gs[i*classes:(i+1)*classes]) == argmax(ws[i*classes:(i+1)*classes]) {
					agree++
				}
			}
			if err := codegentest.Close(got, want, 0.05*big, 0); err != nil {
				t.Errorf("logits: %v", err)
			}
			if agree*100 < 97*batch {
				t.Errorf("top-1 agrees on %d of %d images", agree, batch)
			}
		})
	}
}

// i8Kernel matches the description of an int8 GEMM or Conv kernel.
var i8Kernel = regexp.MustCompile(`: (gemm|conv) i8 `)

func argmax(xs []float32) int {
	best := 0
	for i, v := range xs {
		if v > xs[best] {
			best = i
		}
	}
	return best
}

// fmnistTestRows loads Debian's Fashion-MNIST test images, normalized as
// the fixtures were trained, and returns rows(from, n): images from…from+n
// as one [n,1,28,28] tensor. It skips when the dataset is not installed.
func fmnistTestRows(t *testing.T) func(from, n int) *ir.Tensor {
	t.Helper()
	if _, err := os.Stat(data.FashionMNISTDir); err != nil {
		t.Skipf("Debian's dataset-fashion-mnist is not installed (%s)", data.FashionMNISTDir)
	}
	img, lab, err := data.LoadFashionMNIST(data.FashionMNISTDir, "test")
	if err != nil {
		t.Fatal(err)
	}
	x, _ := data.Normalize(img, lab, nil)
	row := x.Len() / int(x.Shape[0])
	xs := x.Data.([]float32)
	return func(from, n int) *ir.Tensor {
		return ir.FromSlice(ir.Float32, append([]int64{int64(n)}, x.Shape[1:]...), xs[from*row:(from+n)*row])
	}
}

// i8Quantize quantizes g with a --quant preset, calibrated on 64 test
// images from 9000 on (the comparisons run images 0…).
func i8Quantize(t *testing.T, g *ir.Graph, preset string, rows func(from, n int) *ir.Tensor) (*ir.Graph, *quant.Quantizer, []quant.LayerResult) {
	t.Helper()
	const calibRows = 64
	a, err := quant.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	o, err := quant.ParseArgs(a)
	if err != nil {
		t.Fatal(err)
	}
	o.Samples = calibRows
	q := quant.NewQuantizer(g, o, []map[string]*ir.Tensor{{g.Inputs[0].Name: rows(9000, calibRows)}}, nil)
	qg, res, err := q.Build(q.DefaultPlan())
	if err != nil {
		t.Fatal(err)
	}
	return qg, q, res
}
