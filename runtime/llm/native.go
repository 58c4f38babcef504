package llm

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/optc-dev/optc/bundle/build"
	"github.com/optc-dev/optc/codegen"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
	"github.com/optc-dev/optc/runtime/interp"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
	"github.com/optc-dev/optc/runtime/llm/llama"
	"github.com/optc-dev/optc/runtime/native"
	"github.com/optc-dev/optc/targets"
)

// The native backend: a Model's graph compiled by codegen into bundles,
// one per input shape, run by runtime/native. The nodes codegen does not
// lower (optc.Attention, which reads and appends the KV cache found in
// the context, RotaryEmbedding, the embedding Gather, …) run as
// interpreter steps of the bundle under the same context, so the cache,
// trees and rollback behave exactly as on the interpreter.
//
// Shapes: a forward pass of n tokens asking for r logit rows runs the
// bundle compiled for N tokens and R rows: N the power of two at or
// above n, R 1 for one row and N for more (NativeOptions.Exact: n and r
// themselves). Bundles are compiled on first use and kept until Close. The N-n
// padding tokens come after the real ones, so causal attention keeps the
// real rows exact; their keys and values are cut from the cache after
// the run. In a token tree the padding tokens are children of the
// prefix that no real token sees.

// NativeOptions configure NewNative.
type NativeOptions struct {
	// Threads is the number of threads native code runs on; 0 means 1.
	Threads int
	// Dir is where bundles are compiled (kept after Close); "" means a
	// temporary directory removed by Close.
	Dir string
	// Exact compiles a bundle for every token and row count met, instead
	// of padding them to powers of two.
	Exact bool
	// Target is the code generation target; nil means the host.
	Target *targets.Target
}

// NativeModel runs a Model's graphs natively. It implements LM and the
// ForwardWith hooks of speculative decoding; it is safe for concurrent
// use (bundles are compiled once, under a lock).
type NativeModel struct {
	src    *Model
	opts   NativeOptions
	target *targets.Target
	tc     *targets.Toolchain
	dir    string
	ownDir bool

	mu      sync.Mutex
	bundles map[nativeKey]*nativeBundle
	closed  bool
	stats   NativeStats
}

// NativeStats describe the bundles a NativeModel compiled.
type NativeStats struct {
	Bundles     int           // bundles compiled
	CompileTime time.Duration // total time compiling them
	// Fallback lists the ops that run on the interpreter inside the
	// bundles, with their node counts (from the last bundle compiled).
	Fallback map[string]int
}

type nativeKey struct {
	hidden       bool
	tokens, rows int
}

type nativeBundle struct {
	once sync.Once
	m    *native.Model
	err  error
}

var _ LM = (*NativeModel)(nil)

// NewNative prepares m for the native backend. Nothing is compiled until
// a forward pass needs a shape. It fails when the toolchain (LLVM 14's
// llc-14/opt-14 and a C compiler) is missing, with the Debian package to
// install.
func NewNative(m *Model, opts NativeOptions) (*NativeModel, error) {
	if opts.Threads < 0 {
		return nil, fmt.Errorf("llm: native backend: %d threads: want >= 0", opts.Threads)
	}
	if opts.Threads == 0 {
		opts.Threads = 1
	}
	t := opts.Target
	if t == nil {
		var err error
		if t, err = targets.Host(); err != nil {
			return nil, fmt.Errorf("llm: native backend: %w", err)
		}
	}
	tc, err := targets.FindToolchain(t)
	if err != nil {
		return nil, fmt.Errorf("llm: native backend for %s: %w", m.Name, err)
	}
	nm := &NativeModel{src: m, opts: opts, target: t, tc: tc, bundles: map[nativeKey]*nativeBundle{}}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("llm: native backend: %w", err)
		}
		nm.dir = opts.Dir
	} else {
		if nm.dir, err = os.MkdirTemp("", "optc-llm-native-"); err != nil {
			return nil, fmt.Errorf("llm: native backend: %w", err)
		}
		nm.ownDir = true
	}
	return nm, nil
}

// Source is the model the backend runs.
func (nm *NativeModel) Source() *Model { return nm.src }

// Stats reports the bundles compiled so far.
func (nm *NativeModel) Stats() NativeStats {
	nm.mu.Lock()
	defer nm.mu.Unlock()
	s := nm.stats
	s.Fallback = map[string]int{}
	for k, v := range nm.stats.Fallback {
		s.Fallback[k] = v
	}
	return s
}

// Close releases the bundles and removes the compile directory when the
// model made it.
func (nm *NativeModel) Close() error {
	nm.mu.Lock()
	defer nm.mu.Unlock()
	if nm.closed {
		return nil
	}
	nm.closed = true
	for _, b := range nm.bundles {
		if b.m != nil {
			b.m.Close()
		}
	}
	nm.bundles = nil
	if nm.ownDir {
		return os.RemoveAll(nm.dir)
	}
	return nil
}

// CacheSpec implements LM.
func (nm *NativeModel) CacheSpec() kvcache.Spec { return nm.src.CacheSpec() }

// VocabSize implements LM.
func (nm *NativeModel) VocabSize() int { return nm.src.VocabSize() }

// MaxLen implements LM.
func (nm *NativeModel) MaxLen() int { return nm.src.MaxLen() }

// NewCache makes an empty dense cache for the model.
func (nm *NativeModel) NewCache() (kvcache.Cache, error) { return nm.src.NewCache() }

// HiddenSize is the width of the hidden state ForwardWith returns.
func (nm *NativeModel) HiddenSize() int { return nm.src.HiddenSize() }

// Forward implements LM natively.
func (nm *NativeModel) Forward(ctx context.Context, cache kvcache.Cache, tokens []int32, rows []int) ([][]float32, error) {
	r, err := nm.ForwardWith(ctx, cache, tokens, rows, ForwardOptions{})
	if err != nil {
		return nil, err
	}
	return r.Logits, nil
}

// ForwardWith is Model.ForwardWith, run natively.
func (nm *NativeModel) ForwardWith(ctx context.Context, cache kvcache.Cache, tokens []int32, rows []int, opt ForwardOptions) (*ForwardResult, error) {
	return nm.src.forwardRun(ctx, cache, tokens, rows, opt, nm.run)
}

// nativeBucket is the compiled size for a count n.
func (nm *NativeModel) nativeBucket(n int) int {
	if nm.opts.Exact || n <= 1 {
		return n
	}
	b := 1
	for b < n {
		b <<= 1
	}
	return b
}

// nativeRowBucket is the compiled logit-row count for r rows of a pass
// compiled for tokens tokens: one row (prefill, decoding) or, for more,
// as many rows as tokens (verifying drafts), so that each token count
// needs at most two bundles.
func (nm *NativeModel) nativeRowBucket(r, tokens int) int {
	if nm.opts.Exact || r <= 1 {
		return r
	}
	return max(tokens, nm.nativeBucket(r))
}

// run is the graphRunner of the native backend: it pads the inputs to the
// bundle's shape, runs it and cuts the padding from the outputs and the
// cache.
func (nm *NativeModel) run(ctx context.Context, g *ir.Graph, in map[string]interp.Value) (map[string]interp.Value, error) {
	ids, ok := in[llama.InputIDs].(*ir.Tensor)
	if !ok || len(ids.Shape) != 2 {
		return nil, fmt.Errorf("native backend: input %s is %v, want [1, tokens]", llama.InputIDs, in[llama.InputIDs])
	}
	n := int(ids.Shape[1])
	cache := kvcache.FromContext(ctx)
	start := 0
	if cache != nil {
		start = cache.Len(0)
	}
	tokens := nm.nativeBucket(n)
	if start+tokens > nm.src.Config.ContextLen {
		tokens = n // padding would not fit the context
	}
	key := nativeKey{hidden: g != nm.src.Graph, tokens: tokens}
	feed := map[string]*ir.Tensor{}
	for name, v := range in {
		t, ok := v.(*ir.Tensor)
		if !ok {
			return nil, fmt.Errorf("native backend: input %s is a %T", name, v)
		}
		switch name {
		case llama.InputIDs, llama.PositionIDs:
			t = nativePadLast(t, 1, tokens)
		case llama.LogitRows:
			key.rows = nm.nativeRowBucket(int(t.Shape[0]), tokens)
			t = nativePadLast(t, 0, key.rows)
		}
		feed[name] = t
	}
	if t := kvcache.TreeFromContext(ctx); t != nil && tokens > n {
		pad := &kvcache.Tree{Base: t.Base, Parents: slices.Clone(t.Parents)}
		for range tokens - n {
			pad.Parents = append(pad.Parents, -1)
		}
		ctx = kvcache.WithTree(ctx, pad)
	}
	b, err := nm.bundle(ctx, g, key)
	if err != nil {
		return nil, err
	}
	out, err := b.Run(ctx, feed)
	if err != nil {
		return nil, err
	}
	if cache != nil && tokens > n {
		if err := cache.Truncate(start + n); err != nil {
			return nil, fmt.Errorf("native backend: cutting the padding from the cache: %w", err)
		}
	}
	res := make(map[string]interp.Value, len(out))
	for name, t := range out {
		// Rows beyond the real ones belong to padding: [1, padded, width]
		// outputs keep their first rows.
		if len(t.Shape) == 3 && t.Shape[0] == 1 {
			switch {
			case tokens > n && t.Shape[1] == int64(tokens) && !nm.src.rowsInput:
				t = nativeRows(t, n)
			case nm.src.rowsInput && key.rows > 0:
				if r := in[llama.LogitRows].(*ir.Tensor).Shape[0]; t.Shape[1] == int64(key.rows) && r < int64(key.rows) {
					t = nativeRows(t, int(r))
				}
			}
		}
		res[name] = t
	}
	return res, nil
}

// nativePadLast pads an int64 tensor along axis (the last one) to size by
// repeating its last element.
func nativePadLast(t *ir.Tensor, axis, size int) *ir.Tensor {
	have := int(t.Shape[axis])
	if have >= size || have == 0 || axis != len(t.Shape)-1 {
		return t
	}
	src := t.Data.([]int64)
	data := make([]int64, 0, size*len(src)/have)
	for i := 0; i < len(src); i += have {
		row := src[i : i+have]
		data = append(data, row...)
		for range size - have {
			data = append(data, row[have-1])
		}
	}
	shape := slices.Clone(t.Shape)
	shape[axis] = int64(size)
	return ir.FromSlice(ir.Int64, shape, data)
}

// nativeRows keeps the first rows of a [1, rows, width] float32 tensor.
func nativeRows(t *ir.Tensor, rows int) *ir.Tensor {
	w := t.Shape[2]
	data := t.Data.([]float32)[:int64(rows)*w]
	return ir.FromSlice(ir.Float32, []int64{1, int64(rows), w}, data)
}

// bundle returns the compiled bundle for key, compiling it on first use.
func (nm *NativeModel) bundle(ctx context.Context, g *ir.Graph, key nativeKey) (*native.Model, error) {
	nm.mu.Lock()
	if nm.closed {
		nm.mu.Unlock()
		return nil, fmt.Errorf("native backend: %s is closed", nm.src.Name)
	}
	b := nm.bundles[key]
	if b == nil {
		b = &nativeBundle{}
		nm.bundles[key] = b
	}
	nm.mu.Unlock()
	b.once.Do(func() {
		t0 := time.Now()
		var fb map[string]int
		b.m, fb, b.err = nm.compile(ctx, g, key)
		nm.mu.Lock()
		nm.stats.Bundles++
		nm.stats.CompileTime += time.Since(t0)
		if fb != nil {
			nm.stats.Fallback = fb
		}
		nm.mu.Unlock()
	})
	return b.m, b.err
}

// compile builds the bundle of g for key's shapes.
func (nm *NativeModel) compile(ctx context.Context, g *ir.Graph, key nativeKey) (*native.Model, map[string]int, error) {
	cg, err := nativeCloneGraph(g)
	if err != nil {
		return nil, nil, fmt.Errorf("native backend: %s: %w", nm.src.Name, err)
	}
	shapes := map[string][]int64{}
	for _, v := range cg.Inputs {
		switch v.Name {
		case llama.InputIDs, llama.PositionIDs:
			shapes[v.Name] = []int64{1, int64(key.tokens)}
		case llama.LogitRows:
			shapes[v.Name] = []int64{int64(key.rows)}
		}
	}
	if err := nativeBindInputs(cg, shapes); err != nil {
		return nil, nil, fmt.Errorf("native backend: %s: %w", nm.src.Name, err)
	}
	pl, err := passes.ParsePipeline(codegen.DefaultPipeline)
	if err != nil {
		return nil, nil, err
	}
	if err := passes.Run(passes.NewContext(1), cg, pl); err != nil {
		return nil, nil, fmt.Errorf("native backend: %s: %w", nm.src.Name, err)
	}
	res, err := codegen.Compile(cg, codegen.Options{Target: nm.target, Shapes: shapes})
	if err != nil {
		return nil, nil, fmt.Errorf("native backend: compiling %s for %d tokens: %w", nm.src.Name, key.tokens, err)
	}
	fb := map[string]int{}
	for _, f := range res.Fallback {
		fb[f.Op]++
	}
	name := fmt.Sprintf("t%d_r%d", key.tokens, key.rows)
	if key.hidden {
		name += "_hidden"
	}
	dir := filepath.Join(nm.dir, name)
	if _, err := build.Build(ctx, res, build.Options{Name: "lm", OutDir: dir, Version: "llm-native", Source: nm.src.Name,
		Pipeline: codegen.DefaultPipeline, Toolchain: nm.tc, Threads: nm.opts.Threads}); err != nil {
		return nil, nil, fmt.Errorf("native backend: building %s for %d tokens: %w", nm.src.Name, key.tokens, err)
	}
	m, err := native.Open(dir, native.Options{Threads: nm.opts.Threads})
	if err != nil {
		return nil, nil, fmt.Errorf("native backend: %w", err)
	}
	return m, fb, nil
}

// FallbackSummary lists the interpreted ops as "op×count", sorted.
func (s NativeStats) FallbackSummary() string {
	ops := make([]string, 0, len(s.Fallback))
	for op, c := range s.Fallback {
		ops = append(ops, fmt.Sprintf("%s×%d", op, c))
	}
	sort.Strings(ops)
	return strings.Join(ops, " ")
}

// nativeCloneGraph copies g's nodes and values (codegen binds shapes in
// place); constants' tensors and attributes are shared, not copied.
func nativeCloneGraph(g *ir.Graph) (*ir.Graph, error) {
	vals := map[*ir.Value]*ir.Value{}
	val := func(v *ir.Value) *ir.Value {
		if v == nil {
			return nil
		}
		if c, ok := vals[v]; ok {
			return c
		}
		c := &ir.Value{Name: v.Name, Type: v.Type, Const: v.Const}
		c.Type.Shape = slices.Clone(v.Type.Shape)
		vals[v] = c
		return c
	}
	out := &ir.Graph{Name: g.Name, Opsets: g.Opsets}
	for _, v := range g.Inputs {
		out.Inputs = append(out.Inputs, val(v))
	}
	for _, v := range g.Consts {
		out.Consts = append(out.Consts, val(v))
	}
	for _, n := range g.Nodes {
		if len(n.Subgraphs()) > 0 {
			return nil, fmt.Errorf("%s has subgraphs, which the native backend does not copy", n.Describe())
		}
		c := &ir.Node{Op: n.Op, Domain: n.Domain, Name: n.Name, Attrs: maps.Clone(n.Attrs)}
		for _, v := range n.Inputs {
			c.Inputs = append(c.Inputs, val(v))
		}
		for _, v := range n.Outputs {
			o := val(v)
			if o != nil {
				o.Def = c
			}
			c.Outputs = append(c.Outputs, o)
		}
		out.Nodes = append(out.Nodes, c)
	}
	for _, v := range g.Outputs {
		out.Outputs = append(out.Outputs, val(v))
	}
	return out, nil
}

// nativeBindInputs fixes the inputs' shapes and infers the rest, before
// the passes run, so that shape arithmetic on the token count (Shape,
// Gather, Unsqueeze, Cast, Slice, the rotary tables of an ONNX export)
// folds to constants instead of running on the interpreter. Types with a
// dim left unknown are cleared for inference to fill.
func nativeBindInputs(g *ir.Graph, shapes map[string][]int64) error {
	for _, v := range g.Inputs {
		if s, ok := shapes[v.Name]; ok {
			v.Type = ir.TensorType(v.Type.DType, ir.ShapeOf(s...))
		}
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == nil || o.Type.Kind != ir.KindTensor || !o.Type.Ranked {
				continue
			}
			if _, known := o.Type.Shape.Concrete(); !known {
				o.Type = ir.Type{Kind: ir.KindTensor, DType: o.Type.DType}
			}
		}
	}
	return ir.InferShapes(g)
}
