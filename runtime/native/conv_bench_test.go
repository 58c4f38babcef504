package native_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/internal/ort"
	"github.com/optc-dev/optc/runtime/interp"
	"github.com/optc-dev/optc/runtime/native"
)

// convBench compares native, interpreter and ONNX Runtime latency (ns/op)
// on one model at the given input shape and thread counts.
// OPTC_BENCH_KERNELS=1 logs the bundle's kernels (which conv path each
// Conv took, with its tile).
func convBench(b *testing.B, path, input string, shape []int64, threads []int, skipInterp bool) {
	if _, err := os.Stat(path); err != nil {
		b.Skip("model not available:", err)
	}
	g, err := onnx.LoadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(b.TempDir(), "bundle")
	res := codegentest.Bundle(b, g, codegentest.Host(b), map[string][]int64{input: shape}, dir, "")
	b.Logf("%s %v: %d nodes on the interpreter", filepath.Base(path), shape, len(res.Fallback))
	if os.Getenv("OPTC_BENCH_KERNELS") != "" {
		for _, k := range res.Kernels {
			b.Log(k)
		}
	}
	in := codegentest.Inputs(b, g, 1)
	for _, th := range threads {
		b.Run(fmt.Sprintf("native/threads%d", th), func(b *testing.B) {
			m, err := native.Open(dir, native.Options{Threads: th})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			for b.Loop() {
				if _, err := m.Run(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("ort/threads%d", th), func(b *testing.B) {
			if _, ok := ort.Available(); !ok {
				b.Skip(ort.SkipReason())
			}
			s, err := ort.NewSession(path, ort.Options{Threads: th})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for b.Loop() {
				if _, err := s.Run(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if !skipInterp {
		b.Run("interp", func(b *testing.B) {
			iin := map[string]interp.Value{}
			for k, v := range in {
				iin[k] = v
			}
			for b.Loop() {
				if _, err := interp.Run(context.Background(), g, iin); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCNN: the Fashion-MNIST CNN fixture at batch 1 and 32.
func BenchmarkCNN(b *testing.B) {
	path := filepath.Join("..", "..", "testdata", "models", "fmnist-cnn", "model-op17.onnx")
	for _, batch := range []int64{1, 32} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			convBench(b, path, "input", []int64{batch, 1, 28, 28}, []int{1, 2}, false)
		})
	}
}

// BenchmarkPPOCRCls: PP-OCR mobile cls at its native input size.
func BenchmarkPPOCRCls(b *testing.B) {
	path := filepath.Join(ort.CacheDir(), "npm/ocr-models/package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx")
	convBench(b, path, "x", []int64{1, 3, 48, 192}, []int{1, 2}, false)
}

// BenchmarkPPOCRDet: PP-OCRv4 text detection at the real-model test's size
// (64x96) and at 320x320, where the 3x3 and 1x1 convs dominate.
func BenchmarkPPOCRDet(b *testing.B) {
	path := filepath.Join(ort.CacheDir(), "npm/ocr-models/package/assets/ch_PP-OCRv4_det_infer.onnx")
	for _, hw := range [][2]int64{{64, 96}, {320, 320}} {
		b.Run(fmt.Sprintf("%dx%d", hw[0], hw[1]), func(b *testing.B) {
			convBench(b, path, "x", []int64{1, 3, hw[0], hw[1]}, []int{1, 2}, true)
		})
	}
}
