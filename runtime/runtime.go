package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/optc-dev/optc/bundle"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
	"github.com/optc-dev/optc/runtime/native"
)

// Tensor is the tensor type of the public API.
type Tensor = ir.Tensor

// Model is an opened model ready to run.
type Model struct {
	path    string
	backend string
	graph   *ir.Graph
	native  *native.Model // a compiled bundle (backend "native")
	inputs  []*ir.Value
	outputs []*ir.Value
}

// Open loads a model. An .onnx file runs on the reference interpreter.
func Open(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return openBundle(path)
	}
	if strings.EqualFold(filepath.Ext(path), ".txt") {
		return openText(path)
	}
	if ext := strings.ToLower(filepath.Ext(path)); ext != ".onnx" {
		return nil, fmt.Errorf("open %s: unknown model format %q (want .onnx)", path, ext)
	}
	g, err := onnx.LoadFile(path)
	if err != nil {
		return nil, err
	}
	return &Model{path: path, backend: "interp", graph: g}, nil
}

// openBundle opens a directory written by optc compile on the native
// backend (all cores; see native.Open for the checks it makes).
func openBundle(dir string) (*Model, error) {
	nm, err := native.Open(dir, native.Options{})
	if err != nil {
		return nil, err
	}
	m := &Model{path: dir, backend: "native", native: nm}
	man := nm.Manifest()
	if m.inputs, err = bundleValues(man.Inputs); err == nil {
		m.outputs, err = bundleValues(man.Outputs)
	}
	if err != nil {
		nm.Close()
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return m, nil
}

// Native returns the native backend's model, or nil for the interpreter.
func (m *Model) Native() *native.Model { return m.native }

// SetThreads sets the number of threads of the native backend.
func (m *Model) SetThreads(n int) error {
	if m.native == nil {
		return nil
	}
	return m.native.SetThreads(n)
}

// Close releases native resources (a no-op for the interpreter).
func (m *Model) Close() error {
	if m.native == nil {
		return nil
	}
	return m.native.Close()
}

// Graph returns the model's IR graph.
func (m *Model) Graph() *ir.Graph { return m.graph }

// Backend names the backend that runs the model ("interp" or "native").
func (m *Model) Backend() string { return m.backend }

// Inputs returns the model's run-time inputs (constants excluded).
func (m *Model) Inputs() []*ir.Value {
	if m.native != nil {
		return m.inputs
	}
	return m.graph.Inputs
}

// Outputs returns the model's outputs.
func (m *Model) Outputs() []*ir.Value {
	if m.native != nil {
		return m.outputs
	}
	return m.graph.Outputs
}

// Run executes the model. Every input must be given with the declared
// dtype and a compatible shape; outputs are returned by name.
func (m *Model) Run(ctx context.Context, inputs map[string]*Tensor) (map[string]*Tensor, error) {
	if m.native != nil {
		return m.native.Run(ctx, inputs)
	}
	in := make(map[string]interp.Value, len(inputs))
	for k, v := range inputs {
		in[k] = v
	}
	out, err := interp.Run(ctx, m.graph, in)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", filepath.Base(m.path), err)
	}
	res := make(map[string]*Tensor, len(out))
	for k, v := range out {
		t, ok := v.(*ir.Tensor)
		if !ok {
			return nil, fmt.Errorf("run %s: output %q is a %T, not a tensor (sequence/optional outputs are not supported by this API)", filepath.Base(m.path), k, v)
		}
		res[k] = t
	}
	return res, nil
}

// bundleValues describes a bundle's inputs or outputs as IR values.
func bundleValues(ios []bundle.IO) ([]*ir.Value, error) {
	vals := make([]*ir.Value, 0, len(ios))
	for _, io := range ios {
		d, err := ir.ParseDType(io.DType)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", io.Name, err)
		}
		vals = append(vals, &ir.Value{Name: io.Name, Type: ir.TensorType(d, ir.ShapeOf(io.Shape...))})
	}
	return vals, nil
}
