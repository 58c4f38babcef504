package quant

import (
	"context"
	"fmt"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

var bgCtx = context.Background()

// cloneGraph deep-copies g's structure (values, nodes, attribute maps and
// subgraphs); tensors are shared, they are immutable by convention.
func cloneGraph(g *ir.Graph) *ir.Graph {
	return qCloneGraph(g, map[*ir.Value]*ir.Value{})
}

func qCloneGraph(g *ir.Graph, vm map[*ir.Value]*ir.Value) *ir.Graph {
	cv := func(v *ir.Value) *ir.Value {
		if v == nil {
			return nil
		}
		if nv, ok := vm[v]; ok {
			return nv
		}
		nv := &ir.Value{Name: v.Name, Type: v.Type, Const: v.Const}
		vm[v] = nv
		return nv
	}
	out := &ir.Graph{Name: g.Name, Opsets: g.Opsets, Meta: g.Meta}
	for _, v := range g.Inputs {
		out.Inputs = append(out.Inputs, cv(v))
	}
	for _, v := range g.Consts {
		out.Consts = append(out.Consts, cv(v))
	}
	for _, n := range g.Nodes {
		nn := &ir.Node{Op: n.Op, Domain: n.Domain, Name: n.Name, Attrs: make(map[string]*ir.Attr, len(n.Attrs))}
		for _, v := range n.Inputs {
			nn.Inputs = append(nn.Inputs, cv(v))
		}
		for k, a := range n.Attrs {
			na := *a
			if a.Graph != nil {
				na.Graph = qCloneGraph(a.Graph, vm)
			}
			if a.Graphs != nil {
				na.Graphs = make([]*ir.Graph, len(a.Graphs))
				for i, sg := range a.Graphs {
					na.Graphs[i] = qCloneGraph(sg, vm)
				}
			}
			nn.Attrs[k] = &na
		}
		for _, v := range n.Outputs {
			o := cv(v)
			if o != nil {
				o.Def = nn
			}
			nn.Outputs = append(nn.Outputs, o)
		}
		out.Nodes = append(out.Nodes, nn)
	}
	for _, v := range g.Outputs {
		out.Outputs = append(out.Outputs, cv(v))
	}
	return out
}

// runWith runs g on one calibration batch and returns the named graph
// outputs plus the extra values asked for.
func runWith(ctx context.Context, g *ir.Graph, in map[string]*ir.Tensor, extra []*ir.Value) (map[*ir.Value]*ir.Tensor, error) {
	view := *g
	view.Outputs = append([]*ir.Value{}, g.Outputs...)
	have := map[*ir.Value]bool{}
	for _, o := range g.Outputs {
		have[o] = true
	}
	for _, v := range extra {
		if !have[v] {
			view.Outputs = append(view.Outputs, v)
			have[v] = true
		}
	}
	args := make(map[string]interp.Value, len(in))
	for k, v := range in {
		args[k] = v
	}
	res, err := interp.Run(ctx, &view, args)
	if err != nil {
		return nil, err
	}
	out := make(map[*ir.Value]*ir.Tensor, len(view.Outputs))
	for _, o := range view.Outputs {
		t, ok := res[o.Name].(*ir.Tensor)
		if !ok {
			return nil, fmt.Errorf("value %q is not a tensor at run time", o.Name)
		}
		if t, err = t.Dense(); err != nil {
			return nil, err
		}
		out[o] = t
	}
	return out, nil
}

// forEachBatch runs g over the calibration batches, handing each batch's
// values of extra to f.
func forEachBatch(calib []map[string]*ir.Tensor, g *ir.Graph, extra []*ir.Value, f func(vals map[*ir.Value]*ir.Tensor) error) error {
	for i, b := range calib {
		vals, err := runWith(bgCtx, g, b, extra)
		if err != nil {
			return fmt.Errorf("calibration batch %d: %w", i, err)
		}
		if err := f(vals); err != nil {
			return err
		}
	}
	return nil
}

// uniqueName returns base, or base_N, not yet used by any value of g.
func uniqueName(g *ir.Graph, used map[string]bool, base string) string {
	if len(used) == 0 {
		for _, v := range g.Inputs {
			used[v.Name] = true
		}
		for _, v := range g.Consts {
			used[v.Name] = true
		}
		_ = g.Walk(func(_ *ir.Graph, n *ir.Node) error {
			for _, o := range n.Outputs {
				if o != nil {
					used[o.Name] = true
				}
			}
			return nil
		})
	}
	name := base
	for i := 1; used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	used[name] = true
	return name
}
