package native_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
	"github.com/optc-dev/optc/runtime/native"
	"github.com/optc-dev/optc/targets"
	"github.com/optc-dev/optc/tests/ort"
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
				for i := 0; i < b.N; i++ {
					if _, err := m.Run(ctx, in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
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
			for i := 0; i < b.N; i++ {
				if _, err := s.Run(in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkMLP compares native and interpreter latency on the 784-128-64-10
// MLP (MatMul+Add+Relu, Softmax) at batch 1 and 32, one thread.
func BenchmarkMLP(b *testing.B) {
	for _, batch := range []int64{1, 32} {
		var mlp codegentest.Case
		for _, c := range codegentest.Cases() {
			if c.Name == "mlp_batch1" {
				mlp = c
			}
		}
		g := mlp.Build()
		dir := filepath.Join(b.TempDir(), "bundle")
		codegentest.Bundle(b, g, codegentest.Host(b), map[string][]int64{"x": {batch, 784}}, dir, "")
		in := codegentest.Inputs(b, g, 1)
		b.Run(fmt.Sprintf("batch%d/native", batch), func(b *testing.B) {
			m, err := native.Open(dir, native.Options{Threads: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			for i := 0; i < b.N; i++ {
				if _, err := m.Run(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("batch%d/interp", batch), func(b *testing.B) {
			iin := map[string]interp.Value{"x": in["x"]}
			for i := 0; i < b.N; i++ {
				if _, err := interp.Run(context.Background(), g, iin); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
