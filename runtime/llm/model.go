package llm

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/optc-dev/optc/gguf"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
	"github.com/optc-dev/optc/runtime/llm/llama"
	"github.com/optc-dev/optc/runtime/llm/tokenizer"
)

// LM is a decoder language model bound to a backend.
type LM interface {
	// CacheSpec is the geometry of the KV cache Forward needs.
	CacheSpec() kvcache.Spec
	// VocabSize is the number of logits per position.
	VocabSize() int
	// MaxLen is the longest sequence the model handles.
	MaxLen() int
	// Forward appends tokens to the sequence held by cache (positions
	// cache.Len(0)…) and returns the logits of the requested rows
	// (indices into tokens). On error the cache is as before the call. A
	// nil cache runs the tokens alone, as positions 0…len-1, uncached.
	Forward(ctx context.Context, cache kvcache.Cache, tokens []int32, rows []int) ([][]float32, error)
}

// Model is a language model loaded into optc's IR, run on the reference
// interpreter.
type Model struct {
	Name      string
	Arch      string
	Config    llama.Config
	Graph     *ir.Graph
	Tokenizer tokenizer.Tokenizer
	// WeightBytes is the size of the weights as loaded (f32), and
	// FileTypes counts the file's tensors per stored type.
	WeightBytes int64
	FileTypes   map[string]int

	// hidden is Graph with the final hidden state as a second output
	// (made on first use by ForwardWith).
	hidden    *ir.Graph
	hiddenErr error
	hiddenMu  sync.Mutex

	// rowsInput says the graph takes llama.LogitRows (else it returns the
	// logits of every position); posInput that it takes position ids.
	rowsInput, posInput bool
}

var _ LM = (*Model)(nil)

// CacheSpec implements LM.
func (m *Model) CacheSpec() kvcache.Spec {
	c := m.Config
	return kvcache.Spec{Layers: c.Layers, KVHeads: c.KVHeads, HeadDim: c.HeadDim, ValDim: c.HeadDim, MaxLen: c.ContextLen}
}

// VocabSize implements LM.
func (m *Model) VocabSize() int { return m.Config.Vocab }

// MaxLen implements LM.
func (m *Model) MaxLen() int { return m.Config.ContextLen }

// NewCache makes an empty dense cache for the model.
func (m *Model) NewCache() (kvcache.Cache, error) { return kvcache.NewDense(m.CacheSpec(), 0) }

// Forward implements LM on the interpreter.
func (m *Model) Forward(ctx context.Context, cache kvcache.Cache, tokens []int32, rows []int) ([][]float32, error) {
	r, err := m.ForwardWith(ctx, cache, tokens, rows, ForwardOptions{})
	if err != nil {
		return nil, err
	}
	return r.Logits, nil
}

// ForwardWith is Forward with the options speculative decoding needs.
func (m *Model) ForwardWith(ctx context.Context, cache kvcache.Cache, tokens []int32, rows []int, opt ForwardOptions) (*ForwardResult, error) {
	return m.forwardRun(ctx, cache, tokens, rows, opt, interp.Run)
}

// graphRunner runs one of the model's graphs (Graph, or the graph with
// the hidden state) on its inputs, under a context that carries the KV
// cache and tree: interp.Run, or a native backend's runner.
type graphRunner func(ctx context.Context, g *ir.Graph, in map[string]interp.Value) (map[string]interp.Value, error)

// forwardRun is ForwardWith with the graph run by run.
func (m *Model) forwardRun(ctx context.Context, cache kvcache.Cache, tokens []int32, rows []int, opt ForwardOptions, run graphRunner) (*ForwardResult, error) {
	n := len(tokens)
	if n == 0 {
		return nil, fmt.Errorf("llm: forward of no tokens")
	}
	start := 0
	if cache != nil {
		start = cache.Len(0)
		ctx = kvcache.NewContext(ctx, cache)
	}
	depth := make([]int, n)
	for i := range depth {
		depth[i] = i
	}
	if t := opt.Tree; t != nil {
		if cache == nil {
			return nil, fmt.Errorf("llm: a token tree needs a KV cache")
		}
		if !m.posInput {
			return nil, fmt.Errorf("llm: the graph takes no position ids, so it cannot run a token tree")
		}
		if err := t.Check(start, n); err != nil {
			return nil, fmt.Errorf("llm: %w", err)
		}
		d := t.Depths()[len(t.Parents)-n:]
		for i := range depth {
			depth[i] = t.Base - start + d[i]
		}
		ctx = kvcache.WithTree(ctx, t)
	}
	if start+n > m.Config.ContextLen {
		return nil, fmt.Errorf("llm: %d + %d tokens exceed the context length %d", start, n, m.Config.ContextLen)
	}
	ids := make([]int64, n)
	pos := make([]int64, n)
	for i, t := range tokens {
		if t < 0 || int(t) >= m.Config.Vocab {
			return nil, fmt.Errorf("llm: token id %d outside the vocabulary of %d", t, m.Config.Vocab)
		}
		ids[i], pos[i] = int64(t), int64(start+depth[i])
	}
	rs := make([]int64, len(rows))
	for i, r := range rows {
		if r < 0 || r >= n {
			return nil, fmt.Errorf("llm: logit row %d outside the %d tokens", r, n)
		}
		rs[i] = int64(r)
	}
	if len(rows) == 0 {
		rs = []int64{int64(n - 1)} // the graph always computes a row; it is not returned
	}
	g := m.Graph
	if opt.Hidden {
		var err error
		if g, err = m.hiddenGraph(); err != nil {
			return nil, err
		}
	}
	out, err := run(ctx, g, m.inputs(ids, pos, rs))
	if err != nil {
		if cache != nil {
			if terr := cache.Truncate(start); terr != nil {
				return nil, fmt.Errorf("llm: %v (and restoring the cache failed: %v)", err, terr)
			}
		}
		return nil, fmt.Errorf("llm: %w", err)
	}
	res := &ForwardResult{}
	if res.Logits, err = m.outputRows(out[llama.Logits], "logits", m.Config.Vocab, n, rows); err != nil {
		return nil, err
	}
	if opt.Hidden {
		if res.Hidden, err = m.outputRows(out[HiddenOutput], "hidden states", m.HiddenSize(), n, rows); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// inputs is the graph's feed for the token ids at positions pos, asking
// for the logit rows rs (where the graph takes them).
func (m *Model) inputs(ids, pos, rs []int64) map[string]interp.Value {
	n := int64(len(ids))
	in := map[string]interp.Value{llama.InputIDs: ir.FromSlice(ir.Int64, []int64{1, n}, ids)}
	if m.posInput {
		in[llama.PositionIDs] = ir.FromSlice(ir.Int64, []int64{1, n}, pos)
	}
	if m.rowsInput {
		in[llama.LogitRows] = ir.FromSlice(ir.Int64, []int64{int64(len(rs))}, rs)
	}
	return in
}

// CalibrationFeeds returns the graph inputs that run each window of
// tokens as one forward pass from position 0 with no KV cache (Attention
// then attends within the window) and every logit row computed: the
// calibration data passes/quant runs m.Graph on.
func (m *Model) CalibrationFeeds(windows [][]int32) ([]map[string]*ir.Tensor, error) {
	var feeds []map[string]*ir.Tensor
	for w, toks := range windows {
		if len(toks) == 0 || len(toks) > m.Config.ContextLen {
			return nil, fmt.Errorf("llm: calibration window %d has %d tokens (want 1…%d)", w, len(toks), m.Config.ContextLen)
		}
		ids, pos := make([]int64, len(toks)), make([]int64, len(toks))
		for i, t := range toks {
			if t < 0 || int(t) >= m.Config.Vocab {
				return nil, fmt.Errorf("llm: calibration window %d: token id %d outside the vocabulary of %d", w, t, m.Config.Vocab)
			}
			ids[i], pos[i] = int64(t), int64(i)
		}
		feed := map[string]*ir.Tensor{}
		for name, v := range m.inputs(ids, pos, pos) {
			feed[name] = v.(*ir.Tensor)
		}
		feeds = append(feeds, feed)
	}
	return feeds, nil
}

// outputRows splits a [1, rows or tokens, width] output into the rows
// asked for.
func (m *Model) outputRows(v interp.Value, what string, width, n int, rows []int) ([][]float32, error) {
	lt, ok := v.(*ir.Tensor)
	if !ok || lt.DType != ir.Float32 || len(lt.Shape) != 3 {
		return nil, fmt.Errorf("llm: the graph returned %s %v", what, v)
	}
	data := lt.Data.([]float32)
	want := int64(n)
	if m.rowsInput {
		want = int64(max(len(rows), 1))
	}
	if lt.Shape[2] != int64(width) || lt.Shape[1] != want {
		return nil, fmt.Errorf("llm: the graph returned %s of shape %v", what, lt.Shape)
	}
	res := make([][]float32, len(rows))
	for i := range res {
		r := i
		if !m.rowsInput {
			r = rows[i]
		}
		res[i] = data[r*width : (r+1)*width : (r+1)*width]
	}
	return res, nil
}

// LoadGGUF loads a GGUF model (architecture "llama"; tensors F32, F16,
// BF16, Q8_0, Q4_0 or Q4_1, dequantized to f32 for the interpreter) with
// its tokenizer.
func LoadGGUF(path string) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := fromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("llm: %s: %w", filepath.Base(path), err)
	}
	return m, nil
}

// ggufConfig reads Llama hyperparameters from GGUF metadata.
func ggufConfig(f *gguf.File) (llama.Config, error) {
	var c llama.Config
	arch, err := f.String("general.architecture")
	if err != nil {
		return c, err
	}
	if arch != "llama" {
		return c, fmt.Errorf("architecture %q is not supported (optc builds \"llama\" models from GGUF)", arch)
	}
	u := func(key string, def uint64, dst *int) {
		if err != nil {
			return
		}
		var v uint64
		if def == 0 {
			v, err = f.Uint(arch + "." + key)
		} else {
			v, err = f.UintOr(arch+"."+key, def)
		}
		if err == nil && v > 1<<31 {
			err = fmt.Errorf("%s.%s = %d is out of range", arch, key, v)
		}
		*dst = int(v)
	}
	u("embedding_length", 0, &c.Dim)
	u("feed_forward_length", 0, &c.Hidden)
	u("block_count", 0, &c.Layers)
	u("attention.head_count", 0, &c.Heads)
	if err != nil {
		return c, err
	}
	if c.Heads == 0 {
		return c, fmt.Errorf("%s.attention.head_count is 0", arch)
	}
	u("attention.head_count_kv", uint64(c.Heads), &c.KVHeads)
	u("attention.key_length", uint64(max(c.Dim/c.Heads, 1)), &c.HeadDim)
	u("context_length", 2048, &c.ContextLen)
	u("rope.dimension_count", uint64(c.HeadDim), &c.RopeDim)
	if err != nil {
		return c, err
	}
	if vl, ok := f.Lookup(arch + ".attention.value_length"); ok {
		if n, _ := vl.Uint(); int(n) != c.HeadDim {
			return c, fmt.Errorf("value head size %d differs from the key head size %d (not supported)", n, c.HeadDim)
		}
	}
	if st, ok := f.Lookup(arch + ".rope.scaling.type"); ok {
		if s, _ := st.Data.(string); s != "none" && s != "" {
			return c, fmt.Errorf("rope scaling %q is not supported", s)
		}
	}
	eps, err := f.FloatOr(arch+".attention.layer_norm_rms_epsilon", 1e-5)
	if err != nil {
		return c, err
	}
	theta, err := f.FloatOr(arch+".rope.freq_base", 10000)
	if err != nil {
		return c, err
	}
	c.RMSEps, c.RopeTheta = float32(eps), float32(theta)
	c.RopeInterleaved = true // GGUF llama: Q/K rows permuted for adjacent-pair rotation
	if ti, ok := f.Info("token_embd.weight"); ok && len(ti.Dims) == 2 {
		c.Vocab = int(ti.Dims[1])
	}
	if n, ok := f.Lookup(arch + ".vocab_size"); ok {
		if v, _ := n.Uint(); int(v) != c.Vocab {
			return c, fmt.Errorf("%s.vocab_size %d disagrees with token_embd.weight's %d rows", arch, v, c.Vocab)
		}
	}
	_, hasOut := f.Info("output.weight")
	c.Tied = !hasOut
	return c, nil
}

func fromGGUF(f *gguf.File) (*Model, error) {
	cfg, err := ggufConfig(f)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() != cfg.Vocab {
		return nil, fmt.Errorf("the tokenizer has %d tokens but token_embd.weight has %d rows", tok.VocabSize(), cfg.Vocab)
	}
	m := &Model{Name: f.Name, Arch: "llama", Config: cfg, Tokenizer: tok, FileTypes: map[string]int{}, rowsInput: true, posInput: true}
	for _, ti := range f.Tensors {
		m.FileTypes[ti.Type.String()]++
	}
	shapes := cfg.Shapes()
	weights := func(name string) (*ir.Tensor, error) {
		ti, ok := f.Info(name)
		if !ok {
			return nil, fmt.Errorf("tensor %q is missing", name)
		}
		if want := shapes[name]; !sameDims(ti.Shape(), want) {
			return nil, fmt.Errorf("tensor %q has shape %v, but the hyperparameters give %v", name, ti.Shape(), want)
		}
		t, err := f.Float32(name)
		if err != nil {
			return nil, err
		}
		m.WeightBytes += t.Bytes()
		return t, nil
	}
	if m.Graph, err = llama.Build(cfg, weights); err != nil {
		return nil, err
	}
	return m, nil
}

func sameDims(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
