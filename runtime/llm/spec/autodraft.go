package spec

import (
	"fmt"
	"maps"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
	"github.com/optc-dev/optc/runtime/llm"
)

// AutoDraft derives a draft model from a Llama-graph target (loaded from
// GGUF or a Hugging Face checkpoint): the target's first layers decoder
// layers, followed by its own final norm and classifier. The graph is a
// copy of the target's whose final norm reads the residual stream after
// layer layers-1; optc's dead-code elimination then drops the later
// layers. The weights are shared with the target (no copy).
func AutoDraft(target *llm.Model, layers int) (*llm.Model, error) {
	cfg := target.Config
	if layers < 1 || layers >= cfg.Layers {
		return nil, fmt.Errorf("spec: auto-draft of %d layers from a %d-layer target (want 1…%d)", layers, cfg.Layers, cfg.Layers-1)
	}
	g, vals := cloneGraph(target.Graph)
	find := func(name string) *ir.Value {
		for old, v := range vals {
			if old.Name == name {
				return v
			}
		}
		return nil
	}
	last := find(fmt.Sprintf("blk.%d.ffn_residual", cfg.Layers-1))
	cut := find(fmt.Sprintf("blk.%d.ffn_residual", layers-1))
	if last == nil || cut == nil {
		return nil, fmt.Errorf("spec: %s: auto-draft needs a Llama graph built by optc (GGUF or checkpoint folder); this one has no blk.N.ffn_residual values", target.Name)
	}
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if in == last {
				n.Inputs[i] = cut
			}
		}
	}
	if err := passes.Run(passes.NewContext(0), g, []passes.Pass{passes.DCE{}}); err != nil {
		return nil, fmt.Errorf("spec: auto-draft: %w", err)
	}
	var bytes int64
	for _, c := range g.Consts {
		bytes += c.Const.Bytes()
	}
	cfg.Layers = layers
	d := target.Derive(fmt.Sprintf("%s[auto:%d/%d layers]", target.Name, layers, target.Config.Layers), g, cfg, bytes)
	return d, nil
}

// cloneGraph copies a graph without subgraphs: new values and nodes,
// shared constant tensors and attributes. It returns the copy and the map
// from old values to new.
func cloneGraph(src *ir.Graph) (*ir.Graph, map[*ir.Value]*ir.Value) {
	vals := map[*ir.Value]*ir.Value{}
	val := func(v *ir.Value) *ir.Value {
		if v == nil {
			return nil
		}
		if c, ok := vals[v]; ok {
			return c
		}
		c := &ir.Value{Name: v.Name, Type: v.Type, Const: v.Const}
		vals[v] = c
		return c
	}
	g := &ir.Graph{Name: src.Name, Opsets: maps.Clone(src.Opsets), Meta: maps.Clone(src.Meta)}
	for _, v := range src.Inputs {
		g.Inputs = append(g.Inputs, val(v))
	}
	for _, v := range src.Consts {
		g.Consts = append(g.Consts, val(v))
	}
	for _, n := range src.Nodes {
		c := &ir.Node{Op: n.Op, Domain: n.Domain, Name: n.Name, Attrs: maps.Clone(n.Attrs)}
		for _, in := range n.Inputs {
			c.Inputs = append(c.Inputs, val(in))
		}
		for _, o := range n.Outputs {
			ov := val(o)
			if ov != nil {
				ov.Def = c
			}
			c.Outputs = append(c.Outputs, ov)
		}
		g.Nodes = append(g.Nodes, c)
	}
	for _, v := range src.Outputs {
		g.Outputs = append(g.Outputs, val(v))
	}
	return g, vals
}
