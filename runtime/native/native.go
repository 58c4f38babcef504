package native

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
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
	// ReuseBuffers keeps the buffers of the values the steps hand each
	// other (the outputs of native segments that are not outputs of the
	// model) after a run and writes the next run's values into them,
	// instead of allocating every value anew: for a model run many times,
	// as a language model's decoding steps are, this saves the allocation
	// and clearing of those buffers. The tensors Run returns are always
	// fresh (one that would share memory with a kept buffer, a view made
	// by an interpreter step, is copied), so callers may keep them.
	// Interpreter steps must not keep their input tensors past the run
	// (the interpreter's kernels do not; a KV cache copies what it
	// appends). Concurrent runs each get buffers of their own.
	ReuseBuffers bool
}

// Model is an opened bundle.
type Model struct {
	dir      string
	manifest *bundle.Manifest
	lib      *library
	graphs   map[int]*ir.Graph // interpreter steps by step index

	// With Options.ReuseBuffers: the model's output names, and the
	// buffers of runs not in progress.
	reuse    bool
	outNames map[string]bool
	arenaMu  sync.Mutex
	arenas   []*nativeArena
}

// nativeArena holds one run's reusable buffers: the output tensors of
// each native step (by step index) and the pointer slices of its call.
type nativeArena struct {
	outs     map[int][]*ir.Tensor
	ins, raw [][]byte
	env      map[string]*ir.Tensor // cleared after each run
	tensors  []*ir.Tensor
}

// getArena takes a free arena (nil without ReuseBuffers).
func (m *Model) getArena() *nativeArena {
	if !m.reuse {
		return nil
	}
	m.arenaMu.Lock()
	defer m.arenaMu.Unlock()
	if n := len(m.arenas); n > 0 {
		a := m.arenas[n-1]
		m.arenas = m.arenas[:n-1]
		return a
	}
	return &nativeArena{outs: map[int][]*ir.Tensor{}}
}

func (m *Model) putArena(a *nativeArena) {
	if a == nil {
		return
	}
	m.arenaMu.Lock()
	m.arenas = append(m.arenas, a)
	m.arenaMu.Unlock()
}

// owns reports whether t's elements lie in one of the arena's buffers.
func (a *nativeArena) owns(t *ir.Tensor) bool {
	if a == nil {
		return false
	}
	b, err := rawBytes(t)
	if err != nil || len(b) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(&b[0]))
	for _, ts := range a.outs {
		for _, o := range ts {
			if o == nil { // a model output: allocated each run
				continue
			}
			ob, _ := rawBytes(o)
			if len(ob) == 0 {
				continue
			}
			base := uintptr(unsafe.Pointer(&ob[0]))
			if p >= base && p < base+uintptr(cap(ob)) {
				return true
			}
		}
	}
	return false
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
	model := &Model{dir: dir, manifest: m, graphs: map[int]*ir.Graph{}, reuse: opts.ReuseBuffers, outNames: map[string]bool{}}
	for _, o := range m.Outputs {
		model.outNames[o.Name] = true
	}
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
	arena := m.getArena()
	defer m.putArena(arena)
	var env map[string]*ir.Tensor
	if arena != nil {
		if arena.env == nil {
			arena.env = map[string]*ir.Tensor{}
		}
		env = arena.env
		defer clear(env) // the arena must not keep the run's tensors alive
	} else {
		env = map[string]*ir.Tensor{}
	}
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
			if err := m.runNative(i, st, env, arena); err != nil {
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
		if arena.owns(t) {
			t = t.Clone() // a view of a kept buffer, which the next run overwrites
		}
		res[o.Name] = t
	}
	return res, nil
}

// runNative runs native step si; with an arena, the outputs that are not
// the model's are written into the arena's tensors of the step.
func (m *Model) runNative(si int, st bundle.Step, env map[string]*ir.Tensor, arena *nativeArena) error {
	var ins, outs [][]byte
	var kept []*ir.Tensor
	if arena != nil {
		ins, outs = nativeBytesSlice(&arena.ins, len(st.Inputs)), nativeBytesSlice(&arena.raw, len(st.Outputs))
		kept = arena.outs[si]
		if kept == nil {
			kept = make([]*ir.Tensor, len(st.Outputs))
			arena.outs[si] = kept
		}
	} else {
		ins, outs = make([][]byte, len(st.Inputs)), make([][]byte, len(st.Outputs))
	}
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
	var tensors []*ir.Tensor
	if arena != nil {
		if cap(arena.tensors) < len(st.Outputs) {
			arena.tensors = make([]*ir.Tensor, len(st.Outputs))
		}
		tensors = arena.tensors[:len(st.Outputs)]
		defer clear(tensors)
	} else {
		tensors = make([]*ir.Tensor, len(st.Outputs))
	}
	for i, io := range st.Outputs {
		t := (*ir.Tensor)(nil)
		if kept != nil && !m.outNames[io.Name] {
			t = kept[i]
		}
		if t == nil {
			d, err := ir.ParseDType(io.DType)
			if err != nil {
				return err
			}
			t = ir.NewTensor(d, io.Shape...)
			if kept != nil && !m.outNames[io.Name] {
				kept[i] = t
			}
		}
		tensors[i] = t
		var err error
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
	clear(ins)
	clear(outs)
	return nil
}

// nativeBytesSlice returns (*s)[:n], growing *s when it is shorter.
func nativeBytesSlice(s *[][]byte, n int) [][]byte {
	if cap(*s) < n {
		*s = make([][]byte, n)
	}
	return (*s)[:n]
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
