package native_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"testing"

	"github.com/optc-dev/optc/bundle/build"
	"github.com/optc-dev/optc/codegen"
	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/native"
	"github.com/optc-dev/optc/targets"
)

const conformanceData = "/usr/share/libonnx-testdata/data"

// Conformance tolerances: ONNX's rtol 1e-3, with atol 1e-5 instead of
// 1e-7 because the polynomial exp/tanh carry about 1e-7 relative error
// that shows as absolute error around values of order 100.
const confATol, confRTol = 1e-5, 1e-3

// TestNativeConformance runs every ONNX conformance model (node,
// pytorch-converted, pytorch-operator, simple) that codegen lowers
// completely as a native bundle against the test's expected outputs.
func TestNativeConformance(t *testing.T) {
	if _, err := os.Stat(conformanceData); err != nil {
		t.Skipf("needs Debian's libonnx-testdata: %v", err)
	}
	host := codegentest.Host(t)
	codegentest.Toolchain(t, host)
	var cases []*confCase
	for _, suite := range []string{"node", "pytorch-converted", "pytorch-operator", "simple"} {
		dirs, _ := filepath.Glob(filepath.Join(conformanceData, suite, "test_*"))
		for _, dir := range dirs {
			g, err := onnx.LoadFile(filepath.Join(dir, "model.onnx"))
			if err != nil {
				continue // the frontend's own tests cover load errors
			}
			res, err := codegen.Compile(g, codegen.Options{Target: host})
			if err != nil {
				t.Errorf("%s/%s: compile: %v", suite, filepath.Base(dir), err)
				continue
			}
			if res.FullyNative() && len(res.Kernels) > 0 {
				cases = append(cases, &confCase{name: suite + "/" + filepath.Base(dir), dir: dir})
			}
		}
	}
	if len(cases) < 100 {
		t.Errorf("only %d conformance models are fully native (expected >= 100)", len(cases))
	}
	// The toolchain runs as subprocesses: build the bundles with more
	// workers than cores, then run each case.
	work := make(chan *confCase)
	var wg sync.WaitGroup
	for w := 0; w < 3*goruntime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				c.bundle = filepath.Join(t.TempDir(), "b")
				c.err = c.build(host)
			}
		}()
	}
	for _, c := range cases {
		work <- c
	}
	close(work)
	wg.Wait()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.err != nil {
				t.Fatal(c.err)
			}
			c.run(t)
		})
	}
}

// confCase is one conformance model: its data sets and its bundle.
type confCase struct {
	name, dir, bundle string
	inputs, wants     []map[string]*ir.Tensor
	err               error
}

// build reads the data sets and compiles the model for the shapes of the
// first one.
func (c *confCase) build(host *targets.Target) error {
	g, err := onnx.LoadFile(filepath.Join(c.dir, "model.onnx"))
	if err != nil {
		return err
	}
	sets, _ := filepath.Glob(filepath.Join(c.dir, "test_data_set_*"))
	if len(sets) == 0 {
		return fmt.Errorf("no test data")
	}
	inputs := make([]map[string]*ir.Tensor, len(sets))
	wants := make([]map[string]*ir.Tensor, len(sets))
	for si, set := range sets {
		inputs[si], wants[si] = map[string]*ir.Tensor{}, map[string]*ir.Tensor{}
		for i, v := range g.Inputs {
			tv, err := onnx.ReadTestData(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)), v.Type)
			if err != nil {
				return err
			}
			inputs[si][v.Name] = tv.Tensor
		}
		for i, v := range g.Outputs {
			tv, err := onnx.ReadTestData(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)), v.Type)
			if err != nil {
				return err
			}
			wants[si][v.Name] = tv.Tensor
		}
	}
	shapes := map[string][]int64{}
	for k, v := range inputs[0] {
		shapes[k] = v.Shape
	}
	c.inputs, c.wants = inputs, wants
	res, err := codegen.Compile(g, codegen.Options{Target: host, Shapes: shapes})
	if err != nil {
		return err
	}
	tc, err := targets.FindToolchain(host)
	if err != nil {
		return err
	}
	_, err = build.Build(context.Background(), res, build.Options{Name: "model", OutDir: c.bundle, Version: "test", Toolchain: tc})
	return err
}

func (c *confCase) run(t *testing.T) {
	m, err := native.Open(c.bundle, native.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for si := range c.inputs {
		got, err := m.Run(context.Background(), c.inputs[si])
		if err != nil {
			t.Fatalf("data set %d: %v", si, err)
		}
		for name, want := range c.wants[si] {
			if err := codegentest.Close(got[name], want, confATol, confRTol); err != nil {
				t.Errorf("data set %d output %q: %v", si, name, err)
			}
		}
	}
}
