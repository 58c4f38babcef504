package native_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/native"
)

// TestNativeReuseBuffers: a model opened with ReuseBuffers (the
// intermediate values between its steps kept and rewritten by each run)
// gives, run after run on changing inputs, exactly the outputs of the
// same bundle opened without it (a fresh buffer for every value), and
// the interpreter's within the native tolerance; the outputs of earlier
// runs, kept by the caller, stay as they were; concurrent runs each get
// buffers of their own. The graph is codegentest's "partitioned" case:
// a native MatMul, an interpreter step (Atan) reading its output, a
// native MatMul and Relu.
func TestNativeReuseBuffers(t *testing.T) {
	host := codegentest.Host(t)
	var g *ir.Graph
	var shapes map[string][]int64
	for _, c := range codegentest.Cases() {
		if c.Name == "partitioned" {
			g, shapes = c.Build(), c.Shapes
		}
	}
	if g == nil {
		t.Fatal(`codegentest has no "partitioned" case`)
	}
	dir := t.TempDir()
	if res := codegentest.Bundle(t, g, host, shapes, dir, ""); res.FullyNative() {
		t.Fatalf("the case compiled fully native: no intermediate value to reuse")
	}
	open := func(reuse bool) *native.Model {
		m, err := native.Open(dir, native.Options{Threads: 1, ReuseBuffers: reuse})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	reused, fresh := open(true), open(false)
	ctx := context.Background()
	run := func(m *native.Model, in map[string]*ir.Tensor) map[string]*ir.Tensor {
		out, err := m.Run(ctx, in)
		if err != nil {
			t.Error(err)
		}
		return out
	}
	type kept struct {
		out  map[string]*ir.Tensor
		copy map[string][]float32
	}
	var runs []kept
	for seed := uint64(1); seed <= 4; seed++ {
		in := codegentest.Inputs(t, g, seed)
		got, want := run(reused, in), run(fresh, in)
		compare(t, g, reused, in) // against the interpreter
		k := kept{out: got, copy: map[string][]float32{}}
		for _, o := range g.Outputs {
			gd, wd := got[o.Name].Data.([]float32), want[o.Name].Data.([]float32)
			if !slices.Equal(gd, wd) {
				t.Errorf("run %d, output %q: reused buffers give %v, fresh ones %v", seed, o.Name, gd, wd)
			}
			k.copy[o.Name] = slices.Clone(gd)
		}
		runs = append(runs, k)
	}
	for i, k := range runs {
		for name, c := range k.copy {
			if !slices.Equal(k.out[name].Data.([]float32), c) {
				t.Errorf("output %q of run %d changed after later runs", name, i+1)
			}
		}
	}

	// Concurrent runs on different inputs.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := codegentest.Inputs(t, g, uint64(10+w))
			for range 20 {
				got, err := reused.Run(ctx, in)
				if err != nil {
					errs[w] = err
					return
				}
				want, err := fresh.Run(ctx, in)
				if err != nil {
					errs[w] = err
					return
				}
				for _, o := range g.Outputs {
					if !slices.Equal(got[o.Name].Data.([]float32), want[o.Name].Data.([]float32)) {
						errs[w] = fmt.Errorf("worker %d: output %q differs from a fresh run's", w, o.Name)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
