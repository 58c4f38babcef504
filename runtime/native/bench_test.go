package native_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	goruntime "runtime"
	"syscall"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/internal/ort"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
	"github.com/optc-dev/optc/runtime/native"
	"github.com/optc-dev/optc/targets"
)

// matmulModel writes an ONNX model y = x[M,K] · w[K,N] with w an
// initializer (seeded), so optc and ONNX Runtime run the same file.
func matmulModel(tb testing.TB, dir string, M, K, N int64) string {
	tb.Helper()
	rng := rand.New(rand.NewPCG(uint64(M*K*N), 2))
	w := make([]float32, K*N)
	for i := range w {
		w[i] = float32(rng.Float64() - 0.5)
	}
	vi := func(name string, dims ...int64) *onnxpb.ValueInfoProto {
		shape := &onnxpb.TensorShapeProto{}
		for _, d := range dims {
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: shape}}}}
	}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8), OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
		Graph: &onnxpb.GraphProto{
			Name:        proto.String("matmul"),
			Input:       []*onnxpb.ValueInfoProto{vi("x", M, K)},
			Output:      []*onnxpb.ValueInfoProto{vi("y", M, N)},
			Initializer: []*onnxpb.TensorProto{{Name: proto.String("w"), Dims: []int64{K, N}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: w}},
			Node:        []*onnxpb.NodeProto{{OpType: proto.String("MatMul"), Input: []string{"x", "w"}, Output: []string{"y"}}},
		}}
	b, err := proto.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, "matmul.onnx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// measure runs fn b.N times on one locked OS thread and reports GFLOP/s
// from wall time and from the best per-call CPU time of that thread: on a
// shared machine the CPU-time figure is the one that does not depend on
// what else runs (both optc and ONNX Runtime compute on the calling thread
// at one thread).
func measure(b *testing.B, flops float64, fn func() error) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	best := math.Inf(1)
	for i := 0; i < b.N; i++ {
		t0 := threadCPUTime()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		best = math.Min(best, threadCPUTime()-t0)
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(flops/best/1e9, "GFLOP/s-cpu")
}

// threadCPUTime is CLOCK_THREAD_CPUTIME_ID in seconds.
func threadCPUTime() float64 {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return float64(ts.Sec) + float64(ts.Nsec)*1e-9
}

// BenchmarkMatMul reports GFLOP/s of the GEMM micro-kernel on one thread
// (weights pre-packed at compile time), next to ONNX Runtime on the same
// model in the same run when its library is available. -target selects
// the --mcpu level (default: host).
func BenchmarkMatMul(b *testing.B) {
	for _, sz := range [][3]int64{{256, 256, 256}, {512, 512, 512}, {1, 2048, 2048}, {32, 2048, 2048}} {
		M, K, N := sz[0], sz[1], sz[2]
		flops := 2 * float64(M*K*N)
		dir := b.TempDir()
		path := matmulModel(b, dir, M, K, N)
		x := codegentest.Random(rand.New(rand.NewPCG(1, 1)), M, K)
		in := map[string]*ir.Tensor{"x": x}
		for _, mcpu := range []string{"", "x86-64-v3"} {
			name := fmt.Sprintf("%dx%dx%d/optc", M, K, N)
			if mcpu != "" {
				name += "-" + mcpu
			}
			b.Run(name, func(b *testing.B) {
				t, err := targets.Lookup("", mcpu)
				if err != nil {
					b.Skip(err)
				}
				if missing, _ := targets.MissingFeatures(t); len(missing) > 0 {
					b.Skip("CPU lacks", missing)
				}
				g, err := onnx.LoadFile(path)
				if err != nil {
					b.Fatal(err)
				}
				bdir := filepath.Join(b.TempDir(), "bundle")
				codegentest.Bundle(b, g, t, nil, bdir, "")
				m, err := native.Open(bdir, native.Options{Threads: 1})
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				ctx := context.Background()
				b.ResetTimer()
				measure(b, flops, func() error {
					_, err := m.Run(ctx, in)
					return err
				})
			})
		}
		b.Run(fmt.Sprintf("%dx%dx%d/ort", M, K, N), func(b *testing.B) {
			if _, ok := ort.Available(); !ok {
				b.Skip(ort.SkipReason())
			}
			s, err := ort.NewSession(path, ort.Options{Threads: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ResetTimer()
			measure(b, flops, func() error {
				_, err := s.Run(in)
				return err
			})
		})
	}
}

// BenchmarkMLP compares native, interpreter and ONNX Runtime latency on
// the Fashion-MNIST MLP fixture (784-512-256-10, Gemm+Relu) at batch 1 and
// 32, one thread.
func BenchmarkMLP(b *testing.B) {
	path := filepath.Join("..", "..", "testdata", "models", "fmnist-mlp", "model-op17.onnx")
	if _, err := os.Stat(path); err != nil {
		b.Skip("fixture not available:", err)
	}
	for _, batch := range []int64{1, 32} {
		g, err := onnx.LoadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		dir := filepath.Join(b.TempDir(), "bundle")
		codegentest.Bundle(b, g, codegentest.Host(b), map[string][]int64{"input": {batch, 1, 28, 28}}, dir, "")
		in := codegentest.Inputs(b, g, 1)
		flops := 2 * float64(batch) * 535818
		b.Run(fmt.Sprintf("batch%d/native", batch), func(b *testing.B) {
			m, err := native.Open(dir, native.Options{Threads: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			measure(b, flops, func() error {
				_, err := m.Run(context.Background(), in)
				return err
			})
		})
		b.Run(fmt.Sprintf("batch%d/interp", batch), func(b *testing.B) {
			iin := map[string]interp.Value{"input": in["input"]}
			measure(b, flops, func() error {
				_, err := interp.Run(context.Background(), g, iin)
				return err
			})
		})
		b.Run(fmt.Sprintf("batch%d/ort", batch), func(b *testing.B) {
			if _, ok := ort.Available(); !ok {
				b.Skip(ort.SkipReason())
			}
			s, err := ort.NewSession(path, ort.Options{Threads: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			measure(b, flops, func() error {
				_, err := s.Run(in)
				return err
			})
		})
	}
}
