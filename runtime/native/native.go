package native

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/optc-dev/optc/bundle"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// Options configure Open.
type Options struct {
	// Threads is the number of threads native code uses; 0 means all
	// cores (or $OPTC_NUM_THREADS).
	Threads int
}

// Model is an opened bundle.
type Model struct {
	dir      string
	manifest *bundle.Manifest
	lib      *library
	graphs   map[int]*ir.Graph // interpreter steps by step index
}

// Open opens the bundle in dir.
func Open(dir string, opts Options) (*Model, error) {
	m, err := bundle.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if m.Emit != "bundle" {
		return nil, fmt.Errorf("open bundle %s: it was emitted with --emit=%s; only --emit=bundle output can be run", dir, m.Emit)
	}
	if err := m.CheckHost(); err != nil {
		return nil, err
	}
	if err := m.Verify(dir); err != nil {
		return nil, err
	}
	model := &Model{dir: dir, manifest: m, graphs: map[int]*ir.Graph{}}
	for i, st := range m.Steps {
		if st.Kind != "interp" {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, st.Graph))
		if err != nil {
			return nil, fmt.Errorf("open bundle %s: step %d: %w", dir, i, err)
		}
		g, err := ir.Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("open bundle %s: step %d graph %s: %w", dir, i, st.Graph, err)
		}
		model.graphs[i] = g
	}
	lib, err := openLibrary(filepath.Join(dir, m.Files["lib"].Path), filepath.Join(dir, m.Files["weights"].Path))
	if err != nil {
		return nil, fmt.Errorf("open bundle %s: %w", dir, err)
	}
	model.lib = lib
	if opts.Threads > 0 {
		if err := lib.setThreads(opts.Threads); err != nil {
			lib.close()
			return nil, err
		}
	}
	return model, nil
}

// Manifest returns the bundle's manifest.
func (m *Model) Manifest() *bundle.Manifest { return m.manifest }

// SetThreads changes the number of threads native code uses.
func (m *Model) SetThreads(n int) error { return m.lib.setThreads(n) }

// Threads reports the number of threads native code uses.
func (m *Model) Threads() int { return m.lib.threads() }

// Close releases the library's model handle. The shared library itself
// stays loaded (dlclose of code that may still be referenced is unsafe).
func (m *Model) Close() error {
	if m.lib != nil {
		m.lib.close()
		m.lib = nil
	}
	return nil
}

// Run executes the model on named inputs and returns its outputs by name.
func (m *Model) Run(ctx context.Context, inputs map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	if m.lib == nil {
		return nil, fmt.Errorf("run %s: model is closed", m.manifest.Name)
	}
	env := map[string]*ir.Tensor{}
	for _, in := range m.manifest.Inputs {
		t, ok := inputs[in.Name]
		if !ok {
			return nil, fmt.Errorf("run %s: missing input %q (%s%v)", m.manifest.Name, in.Name, in.DType, in.Shape)
		}
		if err := checkTensor(t, in); err != nil {
			return nil, fmt.Errorf("run %s: input %q: %w", m.manifest.Name, in.Name, err)
		}
		env[in.Name] = t
	}
	for name := range inputs {
		if _, ok := env[name]; !ok {
			return nil, fmt.Errorf("run %s: unknown input %q", m.manifest.Name, name)
		}
	}
	for i, st := range m.manifest.Steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if st.Kind == "native" {
			if err := m.runNative(st, env); err != nil {
				return nil, fmt.Errorf("run %s: step %d: %w", m.manifest.Name, i, err)
			}
			continue
		}
		g := m.graphs[i]
		in := make(map[string]interp.Value, len(g.Inputs))
		for _, v := range g.Inputs {
			in[v.Name] = env[v.Name]
		}
		out, err := interp.Run(ctx, g, in)
		if err != nil {
			return nil, fmt.Errorf("run %s: step %d (interpreter): %w", m.manifest.Name, i, err)
		}
		for k, v := range out {
			t, ok := v.(*ir.Tensor)
			if !ok {
				return nil, fmt.Errorf("run %s: step %d: value %q is a %T, not a tensor", m.manifest.Name, i, k, v)
			}
			env[k] = t
		}
	}
	res := make(map[string]*ir.Tensor, len(m.manifest.Outputs))
	for _, o := range m.manifest.Outputs {
		t, ok := env[o.Name]
		if !ok {
			return nil, fmt.Errorf("run %s: output %q was not produced", m.manifest.Name, o.Name)
		}
		res[o.Name] = t
	}
	return res, nil
}

func (m *Model) runNative(st bundle.Step, env map[string]*ir.Tensor) error {
	ins := make([][]byte, len(st.Inputs))
	for i, io := range st.Inputs {
		t, ok := env[io.Name]
		if !ok {
			return fmt.Errorf("value %q is not available", io.Name)
		}
		if err := checkTensor(t, io); err != nil {
			return fmt.Errorf("value %q: %w", io.Name, err)
		}
		b, err := rawBytes(t)
		if err != nil {
			return fmt.Errorf("value %q: %w", io.Name, err)
		}
		ins[i] = b
	}
	outs := make([][]byte, len(st.Outputs))
	tensors := make([]*ir.Tensor, len(st.Outputs))
	for i, io := range st.Outputs {
		d, err := ir.ParseDType(io.DType)
		if err != nil {
			return err
		}
		t := ir.NewTensor(d, io.Shape...)
		tensors[i] = t
		if outs[i], err = rawBytes(t); err != nil {
			return fmt.Errorf("value %q: %w", io.Name, err)
		}
	}
	run := m.lib.run
	if canaryBytes > 0 {
		run = func(seg int, ins, outs [][]byte) error {
			return runCanary(m.lib, seg, ins, outs, func(in bool, i int) string {
				if in {
					return st.Inputs[i].Name
				}
				return st.Outputs[i].Name
			})
		}
	}
	if err := run(st.Index, ins, outs); err != nil {
		return err
	}
	for i, io := range st.Outputs {
		env[io.Name] = tensors[i]
	}
	return nil
}

// checkTensor checks a tensor passed to native code against its
// signature: dense f32 with exactly the compiled shape.
func checkTensor(t *ir.Tensor, io bundle.IO) error {
	if t == nil {
		return fmt.Errorf("nil tensor")
	}
	if t.DType.String() != io.DType {
		return fmt.Errorf("dtype %s, the model was compiled for %s", t.DType, io.DType)
	}
	if len(t.Shape) != len(io.Shape) {
		return fmt.Errorf("shape %v, the model was compiled for %v", t.Shape, io.Shape)
	}
	for i := range t.Shape {
		if t.Shape[i] != io.Shape[i] {
			return fmt.Errorf("shape %v, the model was compiled for %v (recompile with --shape to change it)", t.Shape, io.Shape)
		}
	}
	if !t.IsDense() {
		return fmt.Errorf("tensor is not dense")
	}
	if t.Len() != int(ir.NumElements(io.Shape)) {
		return fmt.Errorf("data holds %d elements, the shape %v needs %d", t.Len(), io.Shape, ir.NumElements(io.Shape))
	}
	return nil
}

// rawBytes is the memory of a dense tensor's elements (no copy).
func rawBytes(t *ir.Tensor) ([]byte, error) {
	switch d := t.Data.(type) {
	case []float32:
		return sliceBytes(d), nil
	case []float64:
		return sliceBytes(d), nil
	case []int8:
		return sliceBytes(d), nil
	case []uint8:
		return d, nil
	case []int16:
		return sliceBytes(d), nil
	case []uint16:
		return sliceBytes(d), nil
	case []int32:
		return sliceBytes(d), nil
	case []uint32:
		return sliceBytes(d), nil
	case []int64:
		return sliceBytes(d), nil
	case []uint64:
		return sliceBytes(d), nil
	case []bool:
		return sliceBytes(d), nil
	}
	return nil, fmt.Errorf("dtype %s cannot be passed to native code", t.DType)
}

func sliceBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(z)))
}
