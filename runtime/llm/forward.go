package llm

import (
	"fmt"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
	"github.com/optc-dev/optc/runtime/llm/llama"
)

// Hooks for speculative decoding (runtime/llm/spec): tree-structured
// forward passes, the final hidden state, and models derived from a
// model's graph (auto-drafts).

// ForwardOptions extend a forward pass.
type ForwardOptions struct {
	// Tree, when set, makes the last tokens of the sequence a tree (see
	// kvcache.Tree): the tokens of this pass are its last ones, and each
	// attends to the tokens before the tree, its ancestors and itself, at
	// position Tree.Base + its depth.
	Tree *kvcache.Tree
	// Hidden asks for the final hidden state of the rows: the input of
	// the classifier (after the output norm).
	Hidden bool
}

// ForwardResult holds the requested rows' logits and, when asked for,
// hidden states.
type ForwardResult struct {
	Logits, Hidden [][]float32
}

// HiddenOutput is the name of the hidden-state output ForwardWith adds.
const HiddenOutput = "optc_hidden"

// HiddenSize is the width of the hidden state (the embedding width).
func (m *Model) HiddenSize() int {
	if m.Config.Dim > 0 {
		return m.Config.Dim
	}
	if h, err := m.hiddenValue(); err == nil && h.Type.Ranked && len(h.Type.Shape) == 3 && h.Type.Shape[2].Known() {
		return int(h.Type.Shape[2].Size)
	}
	return 0
}

// hiddenValue finds the classifier's input: the logits are a MatMul of
// the (normalized) hidden state and the classifier weights.
func (m *Model) hiddenValue() (*ir.Value, error) {
	for _, o := range m.Graph.Outputs {
		if o.Name != llama.Logits {
			continue
		}
		if d := o.Def; d != nil && d.Op == "MatMul" && d.Domain == "" && len(d.Inputs) == 2 && d.Inputs[0] != nil {
			return d.Inputs[0], nil
		}
		return nil, fmt.Errorf("llm: %s: the logits are not a MatMul of the hidden state, so its hidden state is not known", m.Name)
	}
	return nil, fmt.Errorf("llm: %s: no logits output", m.Name)
}

// hiddenGraph returns the graph with the hidden state as a second output
// (it shares the nodes and weights of Graph).
func (m *Model) hiddenGraph() (*ir.Graph, error) {
	m.hiddenMu.Lock()
	defer m.hiddenMu.Unlock()
	if m.hidden != nil || m.hiddenErr != nil {
		return m.hidden, m.hiddenErr
	}
	h, err := m.hiddenValue()
	if err != nil {
		m.hiddenErr = err
		return nil, err
	}
	g := *m.Graph
	alias := &ir.Value{Name: HiddenOutput, Type: h.Type}
	id := &ir.Node{Op: "Identity", Name: HiddenOutput, Inputs: []*ir.Value{h}, Outputs: []*ir.Value{alias}}
	alias.Def = id
	g.Nodes = append(append([]*ir.Node{}, m.Graph.Nodes...), id)
	g.Outputs = append(append([]*ir.Value{}, m.Graph.Outputs...), alias)
	m.hidden = &g
	return m.hidden, nil
}

// Derive returns a model that runs graph g with m's tokenizer and
// interface, for a configuration cfg (a draft made from m by passes: g
// must keep m's inputs and logits output).
func (m *Model) Derive(name string, g *ir.Graph, cfg llama.Config, weightBytes int64) *Model {
	return &Model{Name: name, Arch: m.Arch, Config: cfg, Graph: g, Tokenizer: m.Tokenizer, WeightBytes: weightBytes,
		FileTypes: map[string]int{}, rowsInput: m.rowsInput, posInput: m.posInput}
}
