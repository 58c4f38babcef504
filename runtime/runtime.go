package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// Tensor is the tensor type of the public API.
type Tensor = ir.Tensor

// Model is an opened model ready to run.
type Model struct {
	path    string
	backend string
	graph   *ir.Graph
}

// Open loads a model. An .onnx file runs on the reference interpreter.
func Open(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("open %s: compiled bundles are not supported yet (only .onnx files)", path)
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

// Graph returns the model's IR graph.
func (m *Model) Graph() *ir.Graph { return m.graph }

// Backend names the backend that runs the model ("interp").
func (m *Model) Backend() string { return m.backend }

// Inputs returns the model's run-time inputs (constants excluded).
func (m *Model) Inputs() []*ir.Value { return m.graph.Inputs }

// Outputs returns the model's outputs.
func (m *Model) Outputs() []*ir.Value { return m.graph.Outputs }

// Run executes the model. Every input must be given with the declared
// dtype and a compatible shape; outputs are returned by name.
func (m *Model) Run(ctx context.Context, inputs map[string]*Tensor) (map[string]*Tensor, error) {
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
