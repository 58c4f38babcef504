package llm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
	"github.com/optc-dev/optc/passes/attention"
	"github.com/optc-dev/optc/runtime/llm/llama"
)

// LoadONNX loads a decoder language model exported to ONNX with Hugging
// Face Optimum's cache interface (input_ids, position_ids,
// past_key_values.{i}.key/.value in; logits, present.{i}.key/.value out).
// The passes "attention" and "bind-kv" turn its attention into
// optc.Attention bound to the runtime's KV cache, so it decodes like any
// other model. The tokenizer and context length come from the
// config.json beside the file (as Optimum exports have it).
func LoadONNX(path string) (*Model, error) {
	m, err := loadONNX(path)
	if err != nil {
		return nil, fmt.Errorf("llm: %s: %w", filepath.Base(path), err)
	}
	return m, nil
}

func loadONNX(path string) (*Model, error) {
	g, err := onnx.LoadFile(path)
	if err != nil {
		return nil, err
	}
	return fromDecoderGraph(g, path)
}

// LoadText loads a decoder in optc's IR text format with the same
// Optimum interface as LoadONNX: what `optc quant-report -o` writes for a
// quantized ONNX decoder, so a quantized LM can be generated from and run
// natively. config.json is read from beside the file.
func LoadText(path string) (*Model, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("llm: %w", err)
	}
	g, err := ir.Parse(string(src))
	if err == nil {
		err = ir.Verify(g)
	}
	if err == nil {
		var m *Model
		if m, err = fromDecoderGraph(g, path); err == nil {
			return m, nil
		}
	}
	return nil, fmt.Errorf("llm: %s: %w", filepath.Base(path), err)
}

// fromDecoderGraph binds an Optimum-interface decoder graph loaded from
// path to the KV cache and reads its config.json.
func fromDecoderGraph(g *ir.Graph, path string) (*Model, error) {
	// The cache geometry, from the past inputs: [batch, kv heads, past, head].
	var cfg llama.Config
	for _, in := range g.Inputs {
		var l int
		var kind string
		if _, err := fmt.Sscanf(in.Name, "past_key_values.%d.%s", &l, &kind); err != nil || kind != "key" {
			continue
		}
		s := in.Type.Shape
		if !in.Type.Ranked || len(s) != 4 || !s[1].Known() || !s[3].Known() {
			return nil, fmt.Errorf("input %s is %s: want [batch, kv heads, past, head size] with known heads and head size", in.Name, in.Type)
		}
		if cfg.Layers > 0 && (int(s[1].Size) != cfg.KVHeads || int(s[3].Size) != cfg.HeadDim) {
			return nil, fmt.Errorf("input %s is %s, unlike the other layers' [*, %d, *, %d]", in.Name, in.Type, cfg.KVHeads, cfg.HeadDim)
		}
		cfg.Layers = max(cfg.Layers, l+1)
		cfg.KVHeads, cfg.HeadDim = int(s[1].Size), int(s[3].Size)
	}
	if cfg.Layers == 0 {
		return nil, fmt.Errorf("no past_key_values.{i}.key inputs: optc runs ONNX decoders exported with their KV cache (Optimum's interface)")
	}
	ctx := passes.NewContext(0)
	if err := passes.Run(ctx, g, []passes.Pass{attention.Fuse{}, attention.BindKV{}}); err != nil {
		return nil, err
	}
	arch := "onnx"
	if filepath.Ext(path) != ".onnx" {
		arch = "optc-ir"
	}
	m := &Model{Name: filepath.Base(path), Arch: arch, Graph: g, FileTypes: map[string]int{}}
	for _, in := range g.Inputs {
		switch in.Name {
		case llama.InputIDs:
		case llama.PositionIDs:
			m.posInput = true
		default:
			return nil, fmt.Errorf("input %s is not supported (after binding the cache optc feeds input_ids and position_ids)", in.Name)
		}
	}
	var logits *ir.Value
	for _, o := range g.Outputs {
		if o.Name == llama.Logits {
			logits = o
		}
	}
	if logits == nil || !logits.Type.Ranked || len(logits.Type.Shape) != 3 || !logits.Type.Shape[2].Known() {
		return nil, fmt.Errorf("no logits output of shape [batch, sequence, vocabulary]")
	}
	g.Outputs = []*ir.Value{logits}
	cfg.Vocab = int(logits.Type.Shape[2].Size)
	for _, c := range g.Consts {
		m.WeightBytes += c.Const.Bytes()
	}
	// config.json beside the model: tokenizer and context length.
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(path), "config.json"))
	if err != nil {
		return nil, fmt.Errorf("the tokenizer is described by config.json beside the model: %w", err)
	}
	var h hfConfig
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	cfg.ContextLen = h.MaxPositions
	if cfg.ContextLen <= 0 {
		cfg.ContextLen = 2048
	}
	cfg.Heads = h.Heads
	if m.Tokenizer, err = hfTokenizer(filepath.Dir(path), &h); err != nil {
		return nil, err
	}
	if m.Tokenizer.VocabSize() > cfg.Vocab {
		return nil, fmt.Errorf("the tokenizer has %d tokens, the logits %d", m.Tokenizer.VocabSize(), cfg.Vocab)
	}
	m.Config = cfg
	var bound int
	for _, n := range g.Nodes {
		if n.Op == "Attention" && n.Domain == ir.DomainOptc && n.AttrInt("kv_layer", -1) >= 0 {
			bound++
		}
	}
	if bound != cfg.Layers {
		return nil, fmt.Errorf("%d attention nodes bound to the cache for %d layers", bound, cfg.Layers)
	}
	return m, nil
}
