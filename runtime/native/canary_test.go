package native_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/native"
)

// TestNativeStaysInBounds runs every codegentest case (not with -short) and the Fashion-MNIST
// fixtures (batch 1 and 32) at 1 and 2 threads with each native step's
// buffers between guard bytes: a kernel that writes past (or before) an
// input or output buffer, or into an input, fails here instead of
// corrupting the Go heap next to the buffer (which showed up in optc bench
// as "fatal error: found bad pointer in Go heap" long after the write).
func TestNativeStaysInBounds(t *testing.T) {
	native.SetCanaryBytes(256)
	defer native.SetCanaryBytes(0)
	type tc struct {
		name   string
		build  func(t *testing.T) *ir.Graph
		shapes map[string][]int64
	}
	var cs []tc
	if !testing.Short() {
		for _, c := range append(codegentest.Cases(), codegentest.ConvCases()...) {
			cs = append(cs, tc{c.Name, func(*testing.T) *ir.Graph { return c.Build() }, c.Shapes})
		}
	}
	for _, m := range []string{"fmnist-mlp", "fmnist-cnn", "fmnist-vit"} {
		path := filepath.Join("..", "..", "testdata", "models", m, "model-op17.onnx")
		for _, b := range []int64{1, 32} {
			cs = append(cs, tc{fmt.Sprintf("%s_batch%d", m, b), func(t *testing.T) *ir.Graph {
				if _, err := os.Stat(path); err != nil {
					t.Skipf("model not available: %v", err)
				}
				g, err := onnx.LoadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				return g
			}, map[string][]int64{"input": {b, 1, 28, 28}}})
		}
	}
	host := codegentest.Host(t)
	for _, c := range cs {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := c.build(t)
			dir := t.TempDir()
			codegentest.Bundle(t, g, host, c.shapes, dir, "")
			m, err := native.Open(dir, native.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			in := codegentest.Inputs(t, g, 3)
			for _, threads := range []int{1, 2} {
				if err := m.SetThreads(threads); err != nil {
					t.Fatal(err)
				}
				for range 2 {
					if _, err := m.Run(context.Background(), in); err != nil {
						t.Fatalf("%d threads: %v", threads, err)
					}
				}
			}
		})
	}
}
