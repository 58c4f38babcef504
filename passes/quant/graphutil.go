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
func cloneGraph(g *ir.Graph) *ir.Graph { return ir.CloneGraph(g) }

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

// uniqueName returns base, or base_N, not taken in g; used starts empty
// and is filled from g at the first call, so that the names of values
// added before it count.
func uniqueName(g *ir.Graph, used ir.NameSet, base string) string {
	if len(used) == 0 {
		for name := range ir.NewNameSet(g) {
			used[name] = true
		}
	}
	return used.Fresh(base)
}
