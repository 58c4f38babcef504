package llm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/optc-dev/optc/bundle"
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
// the context, RotaryEmbedding, …) run as interpreter steps of the
// bundle under the same context, so the cache, trees and rollback behave
// exactly as on the interpreter. The Attention steps run each block of
// keys and values on the bundle's native kernel (Model.AttnBlock of
// runtime/native, bound with interp.WithAttnBlock).
//
// Shapes: a forward pass of n tokens asking for r logit rows runs the
// bundle compiled for N tokens and R rows: N = n up to 8 tokens (the
// verify passes of speculative decoding), beyond that the power of two
// at or above n; R 1 for one row and N for more (NativeOptions.Exact: n
// and r themselves). Bundles are compiled on first use and kept until Close. The N-n
// padding tokens come after the real ones, so causal attention keeps the
// real rows exact; their keys and values are cut from the cache after
// the run. In a token tree the padding tokens are children of the
// prefix that no real token sees.

// NativeOptions configure NewNative.
type NativeOptions struct {
	// Threads is the number of threads native code runs on; 0 means 1.
	Threads int
	// Dir is where bundles are compiled; "" means a temporary directory
	// removed by Close. Bundles in Dir are kept and reused by later
	// models whose graph, shape, target and optc build are the same (a
	// fingerprint of them names the bundle's folder).
	Dir string
	// Exact compiles a bundle for every token and row count met, instead
	// of padding them to powers of two.
	Exact bool
	// Target is the code generation target; nil means the host.
	Target *targets.Target
	// InterpAttention runs the attention blocks on the interpreter's loop
	// instead of the bundle's native kernel (codegen.AttnKernelName), for
	// comparisons.
	InterpAttention bool
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
	// prints are the graphs' fingerprints (Dir set), by graph.
	prints map[*ir.Graph]string
	closed bool
	stats  NativeStats
	// attnBlocks counts the attention blocks run by the native kernel.
	attnBlocks atomic.Int64
	// prepNS is the time spent compiling or opening bundles (nanoseconds).
	prepNS atomic.Int64
	// weightFiles maps a weights file's SHA-256 to the first bundle file
	// with that content (shareWeights).
	weightFiles map[[sha256.Size]byte]string
}

// NativeStats describe the bundles a NativeModel compiled.
type NativeStats struct {
	Bundles     int           // bundles compiled
	Reused      int           // bundles found compiled in NativeOptions.Dir
	CompileTime time.Duration // total time compiling them
	// Fallback lists the ops that run on the interpreter inside the
	// bundles, with their node counts (from the last bundle compiled).
	Fallback map[string]int
	// AttnBlocks is the number of attention blocks (one kv head's block
	// of keys for one group of query rows) the bundles' native kernel
	// ran; the others ran on the interpreter's loop.
	AttnBlocks int64
}

type nativeKey struct {
	hidden       bool
	tokens, rows int
}

type nativeBundle struct {
	once sync.Once
	m    *native.Model
	err  error
	// attn is the bundle's attention block kernel, bound to the context
	// of its runs (nil: the interpreter's loop).
	attn interp.AttnBlockFunc
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

// Derive is Model.Derive on the native backend: the derived model (an
// auto-draft of m's graph) gets bundles of its own, compiled with the
// same options into its own directory (or a shared Dir, where its graph's
// fingerprint keeps them apart).
func (nm *NativeModel) Derive(name string, g *ir.Graph, cfg llama.Config, weightBytes int64) (*NativeModel, error) {
	opts := nm.opts
	opts.Target = nm.target
	return NewNative(nm.src.Derive(name, g, cfg, weightBytes), opts)
}

// Dir is the directory bundles are compiled in.
func (nm *NativeModel) Dir() string { return nm.dir }

// Source is the model the backend runs.
func (nm *NativeModel) Source() *Model { return nm.src }

// Stats reports the bundles compiled so far.
func (nm *NativeModel) Stats() NativeStats {
	nm.mu.Lock()
	defer nm.mu.Unlock()
	s := nm.stats
	s.AttnBlocks = nm.attnBlocks.Load()
	s.Fallback = map[string]int{}
	for k, v := range nm.stats.Fallback {
		s.Fallback[k] = v
	}
	return s
}

// PrepareTime is the time spent so far compiling or opening bundles, on
// the first pass of each token count: one-off work that throughput
// measurements during decoding (spec.Guard) leave out.
func (nm *NativeModel) PrepareTime() time.Duration { return time.Duration(nm.prepNS.Load()) }

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

// nativeExactUpTo is the largest token count compiled exactly: the
// passes of speculative verification (a few drafted tokens) run at their
// own size instead of the next power of two, so that verifying 5 tokens
// does not pay for 8 (a bundle per count; larger counts, prefill chunks
// and token trees, round up to powers of two).
const nativeExactUpTo = 8

// nativeBucket is the compiled size for a count n.
func (nm *NativeModel) nativeBucket(n int) int {
	if nm.opts.Exact || n <= nativeExactUpTo {
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
	start, room := 0, nm.src.Config.ContextLen
	if cache != nil {
		start = cache.Len(0)
		if l := cache.Spec().MaxLen; l > 0 {
			room = min(room, l)
		}
	}
	tokens := nm.nativeBucket(n)
	if start+tokens > room {
		tokens = n // padding would not fit the context or the cache
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
	if b.attn != nil {
		ctx = interp.WithAttnBlock(ctx, b.attn)
	}
	out, err := b.m.Run(ctx, feed)
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
func (nm *NativeModel) bundle(ctx context.Context, g *ir.Graph, key nativeKey) (*nativeBundle, error) {
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
		var reused bool
		b.m, fb, reused, b.err = nm.open(ctx, g, key)
		if b.err == nil && !nm.opts.InterpAttention {
			if f := b.m.AttnBlock(); f != nil {
				b.attn = func(a *interp.AttnBlock) { nm.attnBlocks.Add(1); f(a) }
			}
		}
		nm.prepNS.Add(int64(time.Since(t0)))
		nm.mu.Lock()
		if reused {
			nm.stats.Reused++
		} else {
			nm.stats.Bundles++
			nm.stats.CompileTime += time.Since(t0)
		}
		if fb != nil {
			nm.stats.Fallback = fb
		}
		nm.mu.Unlock()
	})
	if b.err != nil && ctx.Err() != nil {
		// Cancelled while compiling: the next pass compiles again.
		nm.mu.Lock()
		if nm.bundles[key] == b {
			delete(nm.bundles, key)
		}
		nm.mu.Unlock()
	}
	return b, b.err
}

// nativeBundleName names the bundle folder of key.
func nativeBundleName(key nativeKey) string {
	name := fmt.Sprintf("t%d_r%d", key.tokens, key.rows)
	if key.hidden {
		name += "_hidden"
	}
	return name
}

// open returns the bundle of g for key: found compiled under a
// user-given Dir, or compiled now.
func (nm *NativeModel) open(ctx context.Context, g *ir.Graph, key nativeKey) (*native.Model, map[string]int, bool, error) {
	if nm.ownDir {
		dir := filepath.Join(nm.dir, nativeBundleName(key))
		fb, err := nm.build(ctx, g, key, dir)
		if err != nil {
			return nil, nil, false, err
		}
		m, err := nm.openBundle(dir)
		return m, fb, false, err
	}
	fp, err := nm.fingerprint(g)
	if err != nil {
		return nil, nil, false, err
	}
	dir := filepath.Join(nm.dir, fp, nativeBundleName(key))
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		if m, err := nm.openBundle(dir); err == nil {
			return m, nil, true, nil
		}
	}
	// Compile beside the final folder and rename it into place, so that
	// another process never opens a half-written bundle.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, nil, false, fmt.Errorf("native backend: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-")
	if err != nil {
		return nil, nil, false, fmt.Errorf("native backend: %w", err)
	}
	defer os.RemoveAll(tmp)
	fb, err := nm.build(ctx, g, key, tmp)
	if err != nil {
		return nil, nil, false, err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return nil, nil, false, fmt.Errorf("native backend: %w", err)
	}
	m, err := nm.openBundle(dir)
	return m, fb, false, err
}

// openBundle opens a compiled bundle, its weights file shared with the
// model's other bundles first.
func (nm *NativeModel) openBundle(dir string) (*native.Model, error) {
	nm.shareWeights(dir)
	m, err := native.Open(dir, native.Options{Threads: nm.opts.Threads, ReuseBuffers: true})
	if err != nil {
		return nil, fmt.Errorf("native backend: %w", err)
	}
	return m, nil
}

// shareWeights replaces a bundle's weights file by a hard link to an
// identical file of another bundle of this model. Every token count's
// bundle carries the same packed weights, and each maps its file: linked,
// they map the same page-cache pages, so the weights are in memory (and
// in the CPU caches) once, not once per token count a decoder alternates
// between. Failing to link (another file system) only keeps the copy.
func (nm *NativeModel) shareWeights(dir string) {
	path := filepath.Join(dir, bundle.WeightsFile)
	f, err := os.Open(path)
	if err != nil {
		return
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	nm.mu.Lock()
	first, ok := nm.weightFiles[sum]
	if !ok {
		if nm.weightFiles == nil {
			nm.weightFiles = map[[sha256.Size]byte]string{}
		}
		nm.weightFiles[sum] = path
	}
	nm.mu.Unlock()
	if !ok {
		return
	}
	a, errA := os.Stat(first)
	b, errB := os.Stat(path)
	if errA != nil || errB != nil || os.SameFile(a, b) {
		return
	}
	// Link beside the file and rename over it: the bundle always has a
	// complete weights file.
	tmp := path + ".link"
	os.Remove(tmp)
	if os.Link(first, tmp) == nil && os.Rename(tmp, path) != nil {
		os.Remove(tmp)
	}
}

// fingerprint identifies g's bundles in a shared Dir: a hash of the
// graph (nodes, attributes, constants' values), the target, the thread
// count and the optc build.
func (nm *NativeModel) fingerprint(g *ir.Graph) (string, error) {
	nm.mu.Lock()
	defer nm.mu.Unlock()
	if fp, ok := nm.prints[g]; ok {
		return fp, nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "optc llm native 3\n%s %s %v\nthreads %d\n", nm.target.Name, nm.target.CPU, nm.target.Required, nm.opts.Threads)
	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintf(h, "%s %s", bi.Main.Path, bi.Main.Version)
		for _, kv := range bi.Settings {
			if strings.HasPrefix(kv.Key, "vcs.") {
				fmt.Fprintf(h, " %s=%s", kv.Key, kv.Value)
			}
		}
		if exe, err := os.Executable(); err == nil {
			if st, err := os.Stat(exe); err == nil {
				// A development build has no version: its binary's time
				// and size stand in.
				fmt.Fprintf(h, " exe %d %d", st.ModTime().UnixNano(), st.Size())
			}
		}
		fmt.Fprintln(h)
	}
	val := func(v *ir.Value) {
		if v == nil {
			fmt.Fprint(h, " -")
			return
		}
		fmt.Fprintf(h, " %q:%s", v.Name, v.Type)
	}
	for _, v := range g.Inputs {
		val(v)
	}
	fmt.Fprintln(h)
	for _, v := range g.Consts {
		val(v)
		c := v.Const
		if c.Data == nil {
			fmt.Fprintf(h, " %v\n", c.Enc)
			continue
		}
		if err := binary.Write(h, binary.LittleEndian, c.Data); err != nil {
			fmt.Fprintf(h, " %v\n", c.Data)
		}
	}
	for _, n := range g.Nodes {
		fmt.Fprintf(h, "%s.%s %q", n.Domain, n.Op, n.Name)
		for _, v := range n.Inputs {
			val(v)
		}
		fmt.Fprint(h, " ->")
		for _, v := range n.Outputs {
			val(v)
		}
		for _, a := range n.AttrNames() {
			fmt.Fprintf(h, " %s=%+v", a, *n.Attrs[a])
		}
		fmt.Fprintln(h)
	}
	for _, v := range g.Outputs {
		val(v)
	}
	fp := hex.EncodeToString(h.Sum(nil))[:20]
	if nm.prints == nil {
		nm.prints = map[*ir.Graph]string{}
	}
	nm.prints[g] = fp
	return fp, nil
}

// build compiles the bundle of g for key's shapes into dir and returns
// the ops left to the interpreter inside it, by count.
func (nm *NativeModel) build(ctx context.Context, g *ir.Graph, key nativeKey, dir string) (map[string]int, error) {
	cg := ir.CloneGraph(g) // codegen binds shapes in place
	if err := nativeRopeOps(cg); err != nil {
		return nil, fmt.Errorf("native backend: %s: %w", nm.src.Name, err)
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
		return nil, fmt.Errorf("native backend: %s: %w", nm.src.Name, err)
	}
	pl, err := passes.ParsePipeline(codegen.DefaultPipeline)
	if err != nil {
		return nil, err
	}
	if err := passes.Run(passes.NewContext(1), cg, pl); err != nil {
		return nil, fmt.Errorf("native backend: %s: %w", nm.src.Name, err)
	}
	res, err := codegen.Compile(cg, codegen.Options{Target: nm.target, Shapes: shapes})
	if err != nil {
		return nil, fmt.Errorf("native backend: compiling %s for %d tokens: %w", nm.src.Name, key.tokens, err)
	}
	fb := map[string]int{}
	for _, f := range res.Fallback {
		fb[f.Op]++
	}
	if _, err := build.Build(ctx, res, build.Options{Name: "lm", OutDir: dir, Version: "llm-native",
		Pipeline: codegen.DefaultPipeline, Toolchain: nm.tc, Threads: nm.opts.Threads}); err != nil {
		return nil, fmt.Errorf("native backend: building %s for %d tokens: %w", nm.src.Name, key.tokens, err)
	}
	return fb, nil
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
