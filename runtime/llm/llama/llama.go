package llama

import (
	"fmt"
	"math"

	"github.com/optc-dev/optc/ir"
)

// Config holds the hyperparameters of a Llama model.
type Config struct {
	Vocab      int
	Dim        int // embedding width
	Hidden     int // feed-forward width
	Layers     int
	Heads      int
	KVHeads    int
	HeadDim    int
	ContextLen int // positions the rotary tables cover
	RMSEps     float32
	RopeTheta  float32 // frequency base
	RopeDim    int     // rotated channels per head (≤ HeadDim)
	// RopeInterleaved rotates adjacent channel pairs (x[2i], x[2i+1]) —
	// the layout of GGUF files, whose converters permute the Q and K rows
	// of Hugging Face checkpoints — instead of the halves (x[i],
	// x[i+d/2]) of Hugging Face's rotate_half.
	RopeInterleaved bool
	// Tied says the classifier is the token embedding.
	Tied bool
}

// Validate checks the hyperparameters for consistency.
func (c Config) Validate() error {
	switch {
	case c.Vocab <= 0 || c.Dim <= 0 || c.Hidden <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.HeadDim <= 0:
		return fmt.Errorf("llama: hyperparameters must be positive: %+v", c)
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("llama: %d attention heads are not a multiple of %d kv heads", c.Heads, c.KVHeads)
	case c.RopeDim <= 0 || c.RopeDim > c.HeadDim || c.RopeDim%2 != 0:
		return fmt.Errorf("llama: rotary dimension %d must be even and at most the head size %d", c.RopeDim, c.HeadDim)
	case c.ContextLen <= 0:
		return fmt.Errorf("llama: context length %d", c.ContextLen)
	case !(c.RopeTheta > 0) || !(c.RMSEps >= 0):
		return fmt.Errorf("llama: rope frequency base %v and RMS epsilon %v", c.RopeTheta, c.RMSEps)
	}
	return nil
}

// Weights returns a weight by name as a dense f32 tensor. Linear layers
// are [out, in]; norms are [Dim]; the embedding is [Vocab, Dim].
type Weights func(name string) (*ir.Tensor, error)

// The graph's interface.
const (
	// InputIDs: int64 [1, S] token ids.
	InputIDs = "input_ids"
	// PositionIDs: int64 [1, S] sequence positions of the tokens.
	PositionIDs = "position_ids"
	// LogitRows: int64 [K] indices (into the S tokens) of the rows to
	// compute logits for.
	LogitRows = "logit_rows"
	// Logits: f32 [1, K, Vocab].
	Logits = "logits"
)

// Shapes returns the expected shape of every weight, by name.
func (c Config) Shapes() map[string][]int64 {
	d, h, v := int64(c.Dim), int64(c.Hidden), int64(c.Vocab)
	q, kv := int64(c.Heads*c.HeadDim), int64(c.KVHeads*c.HeadDim)
	m := map[string][]int64{
		"token_embd.weight":  {v, d},
		"output_norm.weight": {d},
	}
	if !c.Tied {
		m["output.weight"] = []int64{v, d}
	}
	for l := 0; l < c.Layers; l++ {
		for k, s := range map[string][]int64{
			"attn_norm": {d}, "attn_q": {q, d}, "attn_k": {kv, d}, "attn_v": {kv, d}, "attn_output": {d, q},
			"ffn_norm": {d}, "ffn_gate": {h, d}, "ffn_up": {h, d}, "ffn_down": {d, h},
		} {
			m[fmt.Sprintf("blk.%d.%s.weight", l, k)] = s
		}
	}
	return m
}

// builder wraps ir.Builder with named values.
type builder struct {
	b   *ir.Builder
	cfg Config
	w   Weights
	err error
}

func (b *builder) op(name, op string, attrs map[string]*ir.Attr, in ...*ir.Value) *ir.Value {
	v := b.b.Op1(op, attrs, in...)
	v.Name = b.b.Unique(name)
	v.Def.Name = v.Name
	return v
}

func (b *builder) optc(name, op string, attrs map[string]*ir.Attr, in ...*ir.Value) *ir.Value {
	v := b.op(name, op, attrs, in...)
	v.Def.Domain = ir.DomainOptc
	return v
}

// weight loads a weight, checks its shape and adds it as a constant;
// linear weights are stored transposed ([in, out]) for MatMul.
func (b *builder) weight(name string, transpose bool) *ir.Value {
	if b.err != nil {
		return nil
	}
	want := b.cfg.Shapes()[name]
	t, err := b.w(name)
	if err != nil {
		b.err = err
		return nil
	}
	if t.DType != ir.Float32 || !sameShape(t.Shape, want) {
		b.err = fmt.Errorf("tensor %q is %s %v, but the hyperparameters give f32 %v", name, t.DType, t.Shape, want)
		return nil
	}
	if transpose {
		t = transpose2D(t)
	}
	return b.b.Const(name, t)
}

func sameShape(a, b []int64) bool {
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

func transpose2D(t *ir.Tensor) *ir.Tensor {
	r, c := int(t.Shape[0]), int(t.Shape[1])
	src := t.Data.([]float32)
	out := make([]float32, len(src))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = src[i*c+j]
		}
	}
	return ir.FromSlice(ir.Float32, []int64{int64(c), int64(r)}, out)
}

// rmsNorm is y = x · (1/√(mean(x²) + eps)) · w over the last axis, in the
// order llama.cpp computes it.
func (b *builder) rmsNorm(name string, x, w, eps *ir.Value) *ir.Value {
	sq := b.op(name+".sq", "Mul", nil, x, x)
	ms := b.op(name+".mean", "ReduceMean", map[string]*ir.Attr{"axes": ir.IntsAttr(-1), "keepdims": ir.IntAttr(1)}, sq)
	rs := b.op(name+".rsqrt", "Reciprocal", nil, b.op(name+".sqrt", "Sqrt", nil, b.op(name+".eps", "Add", nil, ms, eps)))
	return b.op(name, "Mul", nil, b.op(name+".scaled", "Mul", nil, x, rs), w)
}

// RopeTables returns the cos and sin tables [ContextLen, RopeDim/2] the
// way ggml computes them: θ starts at the position p and is multiplied by
// base^(−2/RopeDim) (in float32) from one channel pair to the next.
func (c Config) RopeTables() (cos, sin *ir.Tensor) {
	half := c.RopeDim / 2
	cs := make([]float32, c.ContextLen*half)
	sn := make([]float32, c.ContextLen*half)
	scale := float32(math.Pow(float64(c.RopeTheta), -2/float64(c.RopeDim)))
	for p := 0; p < c.ContextLen; p++ {
		theta := float32(p)
		for i := 0; i < half; i++ {
			cs[p*half+i] = float32(math.Cos(float64(theta)))
			sn[p*half+i] = float32(math.Sin(float64(theta)))
			theta *= scale
		}
	}
	shape := []int64{int64(c.ContextLen), int64(half)}
	return ir.FromSlice(ir.Float32, shape, cs), ir.FromSlice(ir.Float32, shape, sn)
}

// Build makes the graph. Its inputs are InputIDs, PositionIDs and
// LogitRows; its output Logits. Attention node l has kv_layer = l.
func Build(cfg Config, w Weights) (*ir.Graph, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	bb := ir.NewBuilder("llama")
	g := bb.Graph()
	g.Opsets[ir.DomainOptc] = 1
	b := &builder{b: bb, cfg: cfg, w: w}
	seq := ir.Sym("seq")
	ids := bb.Input(InputIDs, ir.TensorType(ir.Int64, ir.Shape{ir.D(1), seq}))
	pos := bb.Input(PositionIDs, ir.TensorType(ir.Int64, ir.Shape{ir.D(1), seq}))
	rows := bb.Input(LogitRows, ir.TensorType(ir.Int64, ir.Shape{ir.Sym("rows")}))

	eps := bb.Const("rms_eps", ir.ScalarF32(cfg.RMSEps))
	cosT, sinT := cfg.RopeTables()
	cos, sin := bb.Const("rope_cos", cosT), bb.Const("rope_sin", sinT)
	emb := b.weight("token_embd.weight", false)
	if b.err != nil {
		return nil, b.err
	}
	x := b.op("embed", "Gather", nil, emb, ids) // [1, S, Dim]
	ropeAttrs := func(heads int) map[string]*ir.Attr {
		il := int64(0)
		if cfg.RopeInterleaved {
			il = 1
		}
		return map[string]*ir.Attr{"interleaved": ir.IntAttr(il), "num_heads": ir.IntAttr(int64(heads)), "rotary_embedding_dim": ir.IntAttr(int64(cfg.RopeDim))}
	}
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		wt := func(n string) *ir.Value { return b.weight(p+n+".weight", true) }
		nw := func(n string) *ir.Value { return b.weight(p+n+".weight", false) }
		h := b.rmsNorm(p+"attn_norm", x, nw("attn_norm"), eps)
		q := b.op(p+"q", "MatMul", nil, h, wt("attn_q"))
		k := b.op(p+"k", "MatMul", nil, h, wt("attn_k"))
		v := b.op(p+"v", "MatMul", nil, h, wt("attn_v"))
		if b.err != nil {
			return nil, b.err
		}
		q = b.optc(p+"q_rope", "RotaryEmbedding", ropeAttrs(cfg.Heads), q, cos, sin, pos)
		k = b.optc(p+"k_rope", "RotaryEmbedding", ropeAttrs(cfg.KVHeads), k, cos, sin, pos)
		a := b.optc(p+"attn", "Attention", map[string]*ir.Attr{
			"is_causal": ir.IntAttr(1), "q_num_heads": ir.IntAttr(int64(cfg.Heads)), "kv_num_heads": ir.IntAttr(int64(cfg.KVHeads)),
			"scale": ir.FloatAttr(float32(1 / math.Sqrt(float64(cfg.HeadDim)))), "kv_layer": ir.IntAttr(int64(l)),
		}, q, k, v)
		x = b.op(p+"attn_residual", "Add", nil, x, b.op(p+"attn_out", "MatMul", nil, a, wt("attn_output")))
		h = b.rmsNorm(p+"ffn_norm", x, nw("ffn_norm"), eps)
		gate := b.op(p+"gate", "MatMul", nil, h, wt("ffn_gate"))
		up := b.op(p+"up", "MatMul", nil, h, wt("ffn_up"))
		if b.err != nil {
			return nil, b.err
		}
		silu := b.op(p+"silu", "Mul", nil, gate, b.op(p+"sigmoid", "Sigmoid", nil, gate))
		down := b.op(p+"down", "MatMul", nil, b.op(p+"swiglu", "Mul", nil, silu, up), wt("ffn_down"))
		x = b.op(p+"ffn_residual", "Add", nil, x, down)
	}
	x = b.rmsNorm("output_norm", x, b.weight("output_norm.weight", false), eps)
	sel := b.op("logit_hidden", "Gather", map[string]*ir.Attr{"axis": ir.IntAttr(1)}, x, rows) // [1, K, Dim]
	var cls *ir.Value
	if cfg.Tied {
		if b.err == nil {
			cls = bb.Const("output.weight", transpose2D(emb.Const))
		}
	} else {
		cls = b.weight("output.weight", true)
	}
	if b.err != nil {
		return nil, b.err
	}
	logits := b.op(Logits, "MatMul", nil, sel, cls)
	bb.Output(logits)
	if err := ir.InferShapes(g); err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	if err := ir.Verify(g); err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	return g, nil
}
