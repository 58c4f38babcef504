package capi_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/optc-dev/optc/bundle/build"
	"github.com/optc-dev/optc/codegen"
	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
	"github.com/optc-dev/optc/targets"
)

// Tolerance against the interpreter, as in runtime/native's tests.
const atol, rtol = 1e-4, 1e-4

// capiTarget is a target whose toolchain (and, when cross, qemu) exists.
func capiTarget(t *testing.T, arch string) *targets.Toolchain {
	t.Helper()
	tg, err := targets.Lookup(arch, "")
	if err != nil {
		t.Fatal(err)
	}
	tc := codegentest.Toolchain(t, tg)
	if err := tc.CheckRunner(); err != nil {
		t.Skip(err)
	}
	return tc
}

// modelCase is a graph to run through the C ABI.
type modelCase struct {
	name   string
	graph  func(t *testing.T) *ir.Graph
	shapes map[string][]int64
}

func fileCase(name, path string, shapes map[string][]int64) modelCase {
	return modelCase{name: name, shapes: shapes, graph: func(t *testing.T) *ir.Graph {
		if _, err := os.Stat(path); err != nil {
			t.Skipf("model not available: %v", err)
		}
		g, err := onnx.LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}}
}

func cases() []modelCase {
	var cs []modelCase
	all := append(codegentest.Cases(), codegentest.ConvCases()...)
	all = append(all, codegentest.QuantCases()...)   // weight-only quantized GEMM
	all = append(all, codegentest.I8Cases()...)      // int8 weight+activation layers
	all = append(all, codegentest.NupesI8Cases()...) // integer-only NUPES layers
	all = append(all, codegentest.I8GroupCases()...) // grouped/depthwise int8 Conv
	all = append(all, codegentest.I8AxisCases()...)  // per-axis QuantizeLinear/DequantizeLinear
	for _, c := range all {
		if c.Partitioned {
			continue // the C ABI runs fully native models only
		}
		cs = append(cs, modelCase{name: c.Name, shapes: c.Shapes, graph: func(*testing.T) *ir.Graph { return c.Build() }})
	}
	const data = "/usr/share/libonnx-testdata/data"
	repo := filepath.Join("..", "..", "testdata", "models")
	return append(cs,
		fileCase("pytorch_Linear", data+"/pytorch-converted/test_Linear/model.onnx", nil),
		fileCase("pytorch_Linear_no_bias", data+"/pytorch-converted/test_Linear_no_bias/model.onnx", nil),
		fileCase("node_gemm_all_attributes", data+"/node/test_gemm_all_attributes/model.onnx", nil),
		fileCase("node_softmax_large_number", data+"/node/test_softmax_large_number/model.onnx", nil),
		fileCase("fmnist_mlp_batch1", filepath.Join(repo, "fmnist-mlp", "model-op17.onnx"), nil),
		fileCase("fmnist_mlp_batch32", filepath.Join(repo, "fmnist-mlp", "model-op13.onnx"), map[string][]int64{"input": {32, 1, 28, 28}}),
		fileCase("fmnist_cnn_batch1", filepath.Join(repo, "fmnist-cnn", "model-op17.onnx"), nil),
		fileCase("fmnist_cnn_batch32", filepath.Join(repo, "fmnist-cnn", "model-op13.onnx"), map[string][]int64{"input": {32, 1, 28, 28}}),
	)
}

func TestCABI(t *testing.T) {
	for _, arch := range []string{"x86_64", "aarch64"} {
		t.Run(arch, func(t *testing.T) {
			tc := capiTarget(t, arch)
			for _, c := range cases() {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					g := c.graph(t)
					dir := t.TempDir()
					res := codegentest.Bundle(t, g, tc.Target, c.shapes, dir, "")
					if !res.FullyNative() {
						t.Fatalf("not fully native: %v", res.Fallback)
					}
					prog := buildProgram(t, tc, dir)
					in := codegentest.Inputs(t, g, 3)
					got, _, err := runProgram(t, tc, prog, dir, "weights.safetensors", 2, g, in)
					if err != nil {
						t.Fatal(err)
					}
					want := reference(t, g, in)
					for _, o := range g.Outputs {
						if err := codegentest.Close(got[o.Name], want[o.Name], atol, rtol); err != nil {
							t.Errorf("output %q: %v", o.Name, err)
						}
					}
				})
			}
		})
	}
}

// TestCABIErrors checks the shim's errors through the C ABI: weights of
// another model, and a missing weights file.
func TestCABIErrors(t *testing.T) {
	tc := capiTarget(t, targets.HostArch())
	mk := func(c codegentest.Case) (string, *ir.Graph) {
		g := c.Build()
		dir := t.TempDir()
		codegentest.Bundle(t, g, tc.Target, c.Shapes, dir, "")
		return dir, g
	}
	all := codegentest.Cases()
	a, ga := mk(all[0])
	b, _ := mk(all[3])
	prog := buildProgram(t, tc, a)
	in := codegentest.Inputs(t, ga, 1)
	_, stderr, err := runProgram(t, tc, prog, a, filepath.Join(b, "weights.safetensors"), 1, ga, in)
	if err == nil || !strings.Contains(stderr, "open:") || !strings.Contains(stderr, "not this model's weights file") && !strings.Contains(stderr, "header differs") {
		t.Errorf("weights of another model: err %v, stderr %q", err, stderr)
	}
	_, stderr, err = runProgram(t, tc, prog, a, filepath.Join(a, "nosuch.safetensors"), 1, ga, in)
	if err == nil || !strings.Contains(stderr, "nosuch.safetensors") {
		t.Errorf("missing weights: err %v, stderr %q", err, stderr)
	}
}

// buildProgram compiles capi.c against the bundle in dir.
func buildProgram(t *testing.T, tc *targets.Toolchain, dir string) string {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("testdata", "capi.c"))
	if err != nil {
		t.Fatal(err)
	}
	absDir, _ := filepath.Abs(dir)
	prog := filepath.Join(absDir, "capi")
	err = tc.LinkExecutable(context.Background(), prog, "-std=c11", "-Wall", "-Werror",
		"-include", filepath.Join(absDir, "model.h"), src, "-L"+absDir, "-lmodel", "-Wl,-rpath,"+absDir)
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// runProgram writes the inputs, runs the program and reads the outputs.
func runProgram(t *testing.T, tc *targets.Toolchain, prog, dir, weights string, threads int, g *ir.Graph, in map[string]*ir.Tensor) (map[string]*ir.Tensor, string, error) {
	t.Helper()
	if !filepath.IsAbs(weights) {
		weights = filepath.Join(dir, weights)
	}
	args := []string{weights, fmt.Sprint(threads)}
	for i, v := range g.Inputs {
		p := filepath.Join(dir, fmt.Sprintf("in%d.bin", i))
		if err := os.WriteFile(p, capiTensorBytes(t, in[v.Name]), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	for i := range g.Outputs {
		args = append(args, filepath.Join(dir, fmt.Sprintf("out%d.bin", i)))
	}
	cmd := tc.Command(context.Background(), prog, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String(), fmt.Errorf("%s: %v: %s", filepath.Base(prog), err, stderr.String())
	}
	out := map[string]*ir.Tensor{}
	for i, v := range g.Outputs {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out%d.bin", i)))
		if err != nil {
			t.Fatal(err)
		}
		shape, _ := v.Type.Shape.Concrete()
		out[v.Name] = capiTensorFromBytes(t, b, v.Type.DType, shape)
	}
	return out, stderr.String(), nil
}

func reference(t *testing.T, g *ir.Graph, in map[string]*ir.Tensor) map[string]*ir.Tensor {
	t.Helper()
	iin := map[string]interp.Value{}
	for k, v := range in {
		iin[k] = v
	}
	out, err := interp.Run(context.Background(), g, iin)
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]*ir.Tensor{}
	for k, v := range out {
		res[k] = v.(*ir.Tensor)
	}
	return res
}

func f32Bytes(t *ir.Tensor) []byte {
	d := t.Data.([]float32)
	b := make([]byte, 4*len(d))
	for i, x := range d {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func fromF32Bytes(b []byte, shape []int64) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	d := t.Data.([]float32)
	for i := range d {
		if 4*i+4 <= len(b) {
			d[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	return t
}

// TestTwoBundles links two bundles into one C program (testdata/two.c):
// each runs through its own names and gives its own results, so the
// optc_* names both libraries export do not interpose.
func TestTwoBundles(t *testing.T) {
	for _, arch := range []string{"x86_64", "aarch64"} {
		t.Run(arch, func(t *testing.T) {
			tc := capiTarget(t, arch)
			dir := t.TempDir()
			var graphs []*ir.Graph
			var args []string
			for i, pick := range []string{"mlp_batch1", "softmax_rows"} {
				name := []string{"first", "second"}[i]
				var c codegentest.Case
				for _, cc := range codegentest.Cases() {
					if cc.Name == pick {
						c = cc
					}
				}
				g := c.Build()
				sub := filepath.Join(dir, name)
				res, err := codegen.Compile(g, codegen.Options{Target: tc.Target, Shapes: c.Shapes})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := build.Build(context.Background(), res, build.Options{Name: name, OutDir: sub, Version: "test", Toolchain: tc}); err != nil {
					t.Fatal(err)
				}
				in := codegentest.Inputs(t, g, uint64(i+1))
				inFile := filepath.Join(dir, name+".in")
				if err := os.WriteFile(inFile, f32Bytes(in[g.Inputs[0].Name]), 0o644); err != nil {
					t.Fatal(err)
				}
				graphs = append(graphs, g)
				args = append(args, filepath.Join(sub, bundleWeights), inFile, filepath.Join(dir, name+".out"))
			}
			src, _ := filepath.Abs(filepath.Join("testdata", "two.c"))
			prog := filepath.Join(dir, "two")
			first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
			if err := tc.LinkExecutable(context.Background(), prog, "-std=c11", "-Wall", "-Werror", "-I"+first, "-I"+second, src,
				"-L"+first, "-lfirst", "-L"+second, "-lsecond", "-Wl,-rpath,"+first+":"+second); err != nil {
				t.Fatal(err)
			}
			cmd := tc.Command(context.Background(), prog, args...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			for i, g := range graphs {
				name := []string{"first", "second"}[i]
				in := codegentest.Inputs(t, g, uint64(i+1))
				want := reference(t, g, in)[g.Outputs[0].Name]
				b, err := os.ReadFile(filepath.Join(dir, name+".out"))
				if err != nil {
					t.Fatal(err)
				}
				if err := codegentest.Close(fromF32Bytes(b, want.Shape), want, atol, rtol); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		})
	}
}

const bundleWeights = "weights.safetensors"
