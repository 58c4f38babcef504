package llm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/llm/llama"
	"github.com/optc-dev/optc/runtime/llm/tokenizer"
	"github.com/optc-dev/optc/safetensors"
)

// Load opens a language model: a .gguf file, an ONNX decoder with
// Optimum-style KV inputs/outputs, or a folder holding a Hugging Face
// checkpoint (config.json and model.safetensors).
func Load(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return LoadHF(path)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".gguf":
		return LoadGGUF(path)
	case ".onnx":
		return LoadONNX(path)
	case ".txt":
		return LoadText(path)
	}
	return nil, fmt.Errorf("llm: %s: unknown language-model format (want a .gguf file, an .onnx decoder with past_key_values inputs or its optc IR .txt, or a folder with config.json and model.safetensors)", path)
}

// hfConfig is the part of a Hugging Face config.json the Llama loader
// reads. Pointers distinguish absent fields from zero.
type hfConfig struct {
	ModelType        string          `json:"model_type"`
	Architectures    []string        `json:"architectures"`
	VocabSize        int             `json:"vocab_size"`
	HiddenSize       int             `json:"hidden_size"`
	Intermediate     int             `json:"intermediate_size"`
	Layers           int             `json:"num_hidden_layers"`
	Heads            int             `json:"num_attention_heads"`
	KVHeads          *int            `json:"num_key_value_heads"`
	HeadDim          *int            `json:"head_dim"`
	MaxPositions     int             `json:"max_position_embeddings"`
	RMSEps           *float64        `json:"rms_norm_eps"`
	RopeTheta        *float64        `json:"rope_theta"`
	RopeScaling      json.RawMessage `json:"rope_scaling"`
	Tie              *bool           `json:"tie_word_embeddings"`
	HiddenAct        string          `json:"hidden_act"`
	AttentionBias    bool            `json:"attention_bias"`
	MLPBias          bool            `json:"mlp_bias"`
	BOS              *int            `json:"bos_token_id"`
	EOS              json.RawMessage `json:"eos_token_id"` // an id or a list
	PAD              *int            `json:"pad_token_id"`
	OptcTokenizer    string          `json:"optc_tokenizer"`
	PartialRotary    *float64        `json:"partial_rotary_factor"`
	AttentionDropout float64         `json:"attention_dropout"`
}

// llamaConfig validates a Hugging Face config and converts it.
func (h *hfConfig) llamaConfig() (llama.Config, error) {
	var c llama.Config
	if h.ModelType != "llama" {
		return c, fmt.Errorf("model_type %q is not supported (optc builds \"llama\" checkpoints)", h.ModelType)
	}
	switch {
	case h.AttentionBias || h.MLPBias:
		return c, fmt.Errorf("attention_bias/mlp_bias are not supported")
	case h.HiddenAct != "" && h.HiddenAct != "silu":
		return c, fmt.Errorf("hidden_act %q is not supported (Llama uses silu)", h.HiddenAct)
	case len(h.RopeScaling) > 0 && string(h.RopeScaling) != "null":
		return c, fmt.Errorf("rope_scaling %s is not supported", h.RopeScaling)
	case h.Heads <= 0:
		return c, fmt.Errorf("num_attention_heads %d", h.Heads)
	}
	c = llama.Config{Vocab: h.VocabSize, Dim: h.HiddenSize, Hidden: h.Intermediate, Layers: h.Layers, Heads: h.Heads,
		KVHeads: h.Heads, HeadDim: h.HiddenSize / h.Heads, ContextLen: h.MaxPositions, RMSEps: 1e-6, RopeTheta: 10000}
	if h.KVHeads != nil {
		c.KVHeads = *h.KVHeads
	}
	if h.HeadDim != nil {
		c.HeadDim = *h.HeadDim
	}
	if h.RMSEps != nil {
		c.RMSEps = float32(*h.RMSEps)
	}
	if h.RopeTheta != nil {
		c.RopeTheta = float32(*h.RopeTheta)
	}
	c.RopeDim = c.HeadDim
	if h.PartialRotary != nil {
		c.RopeDim = int(float64(c.HeadDim) * *h.PartialRotary)
	}
	c.Tied = h.Tie != nil && *h.Tie
	c.RopeInterleaved = false // Hugging Face's rotate_half layout
	return c, c.Validate()
}

// hfNames maps optc's (GGUF) weight names to Hugging Face Llama names.
func hfName(name string) string {
	var l int
	var rest string
	if _, err := fmt.Sscanf(name, "blk.%d.%s", &l, &rest); err == nil {
		p := fmt.Sprintf("model.layers.%d.", l)
		m := map[string]string{
			"attn_norm.weight": "input_layernorm.weight", "attn_q.weight": "self_attn.q_proj.weight",
			"attn_k.weight": "self_attn.k_proj.weight", "attn_v.weight": "self_attn.v_proj.weight",
			"attn_output.weight": "self_attn.o_proj.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
			"ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight",
		}
		if s, ok := m[rest]; ok {
			return p + s
		}
	}
	return map[string]string{
		"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight", "output.weight": "lm_head.weight",
	}[name]
}

// LoadHF loads a Hugging Face Llama checkpoint from a folder: config.json,
// model.safetensors (F32, F16 or BF16 weights) and a tokenizer — GPT-2
// style vocab.json + merges.txt (or encoder.json + vocab.bpe), or bytes
// when config.json's optc_tokenizer says so (optc's fixture LMs).
func LoadHF(dir string) (*Model, error) {
	m, err := loadHF(dir)
	if err != nil {
		return nil, fmt.Errorf("llm: %s: %w", dir, err)
	}
	return m, nil
}

func loadHF(dir string) (*Model, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var h hfConfig
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	cfg, err := h.llamaConfig()
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	tok, err := hfTokenizer(dir, &h)
	if err != nil {
		return nil, err
	}
	st, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if _, ok := st.Lookup("lm_head.weight"); !ok && h.Tie == nil {
		cfg.Tied = true // no classifier stored: it is the embedding
	}
	m := &Model{Name: filepath.Base(dir), Arch: "llama", Config: cfg, Tokenizer: tok, FileTypes: map[string]int{}, rowsInput: true, posInput: true}
	for _, t := range st.Tensors {
		m.FileTypes[t.DType]++
	}
	shapes := cfg.Shapes()
	weights := func(name string) (*ir.Tensor, error) {
		hn := hfName(name)
		t, ok := st.Lookup(hn)
		if !ok {
			return nil, fmt.Errorf("tensor %q is missing", hn)
		}
		if want := shapes[name]; !sameDims(t.Shape, want) {
			return nil, fmt.Errorf("tensor %q has shape %v, but config.json gives %v", hn, t.Shape, want)
		}
		b, err := st.Bytes(hn)
		if err != nil {
			return nil, err
		}
		x, err := hfFloat32(t, b)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", hn, err)
		}
		m.WeightBytes += x.Bytes()
		return x, nil
	}
	if m.Graph, err = llama.Build(cfg, weights); err != nil {
		return nil, err
	}
	if tok.VocabSize() > cfg.Vocab {
		return nil, fmt.Errorf("the tokenizer has %d tokens, the model %d", tok.VocabSize(), cfg.Vocab)
	}
	return m, nil
}

// hfFloat32 decodes F32, F16 or BF16 little-endian data to an f32 tensor.
func hfFloat32(t safetensors.Tensor, b []byte) (*ir.Tensor, error) {
	n := int(ir.NumElements(t.Shape))
	out := make([]float32, n)
	switch t.DType {
	case "F32":
		if len(b) != 4*n {
			return nil, fmt.Errorf("%d bytes for %d F32 values", len(b), n)
		}
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "F16", "BF16":
		if len(b) != 2*n {
			return nil, fmt.Errorf("%d bytes for %d %s values", len(b), n, t.DType)
		}
		for i := range out {
			bits := uint16(b[2*i]) | uint16(b[2*i+1])<<8
			if t.DType == "F16" {
				out[i] = ir.F16ToF32(bits)
			} else {
				out[i] = ir.BF16ToF32(bits)
			}
		}
	default:
		return nil, fmt.Errorf("dtype %s is not supported (want F32, F16 or BF16)", t.DType)
	}
	return ir.FromSlice(ir.Float32, t.Shape, out), nil
}

// hfTokenizer finds the checkpoint's tokenizer.
func hfTokenizer(dir string, h *hfConfig) (tokenizer.Tokenizer, error) {
	sp := tokenizer.NoSpecials
	if h.BOS != nil {
		sp.BOS = int32(*h.BOS)
	}
	var eos int
	if json.Unmarshal(h.EOS, &eos) == nil {
		sp.EOS = int32(eos)
	} else {
		var list []int
		if json.Unmarshal(h.EOS, &list) == nil && len(list) > 0 {
			sp.EOS = int32(list[0])
		}
	}
	if h.PAD != nil {
		sp.PAD = int32(*h.PAD)
	}
	if strings.HasPrefix(h.OptcTokenizer, "bytes") {
		if h.VocabSize < 256 {
			return nil, fmt.Errorf("a byte tokenizer needs a vocabulary of at least 256, config.json has %d", h.VocabSize)
		}
		sp.AddBOS = sp.BOS >= 0
		return tokenizer.NewBytes(h.VocabSize-256, sp), nil
	}
	for _, pair := range [][2]string{{"vocab.json", "merges.txt"}, {"encoder.json", "vocab.bpe"}} {
		ef, err1 := os.Open(filepath.Join(dir, pair[0]))
		mf, err2 := os.Open(filepath.Join(dir, pair[1]))
		if err1 == nil && err2 == nil {
			t, err := tokenizer.NewGPT2(ef, mf)
			ef.Close()
			mf.Close()
			return t, err
		}
		if ef != nil {
			ef.Close()
		}
		if mf != nil {
			mf.Close()
		}
	}
	return nil, fmt.Errorf("no tokenizer found (optc reads vocab.json + merges.txt, encoder.json + vocab.bpe, or optc_tokenizer \"bytes\" in config.json)")
}
