package quant

import (
	"fmt"
	"math"
	"sort"

	"github.com/optc-dev/optc/ir"
)

// Metric scores a graph on validation data; higher is better (top-1
// accuracy as a fraction, say). It must be deterministic.
type Metric func(g *ir.Graph) (float64, error)

// Sensitivity returns, for every layer the plan quantizes, the metric
// drop (base − metric) when only that layer is quantized with its spec,
// with base the float graph's metric.
func (q *Quantizer) Sensitivity(plan Plan, metric Metric) (base float64, drops map[string]float64, err error) {
	if base, err = metric(q.float); err != nil {
		return 0, nil, err
	}
	drops = map[string]float64{}
	for _, name := range q.Layers() {
		s, ok := plan[name]
		if !ok || s.Float() {
			continue
		}
		g, _, err := q.Build(Plan{name: s})
		if err != nil {
			return 0, nil, err
		}
		m, err := metric(g)
		if err != nil {
			return 0, nil, err
		}
		drops[name] = base - m
		q.log("quant: sensitivity %s %s: %+.4f", name, s, -(base - m))
	}
	return base, drops, nil
}

// Fallback is the next, more precise spec for a layer, or false when the
// layer's next step is float. The default ladder: any sub-8-bit or AdaPT
// spec → uniform int8 per-channel (keeping activation quantization);
// int8 with activations → int8 weight-only; int8 weight-only → float.
func Fallback(s Spec) (Spec, bool) {
	if s.Float() {
		return s, false
	}
	if s.Scheme != "uniform" || s.Bits < 8 || s.Gran != "channel" || !s.Sym {
		return Spec{Scheme: "uniform", Bits: 8, Gran: "channel", Sym: true, Act: s.Act}, true
	}
	if s.Act {
		s.Act = false
		return s, true
	}
	return Spec{}, true
}

// BudgetStep records one iteration of the budget loop.
type BudgetStep struct {
	Layer  string  `json:"layer,omitempty"` // the layer moved up (empty: initial plan)
	From   string  `json:"from,omitempty"`
	To     string  `json:"to,omitempty"`
	Metric float64 `json:"metric"`
	Drop   float64 `json:"drop"`
}

// BudgetResult is the outcome of the budget loop.
type BudgetResult struct {
	Base    float64            `json:"base"`
	Metric  float64            `json:"metric"`
	MaxDrop float64            `json:"max_drop"`
	Steps   []BudgetStep       `json:"steps"`
	Drops   map[string]float64 `json:"sensitivity,omitempty"`
	Plan    Plan               `json:"-"`
}

// Budget quantizes under plan and, while the metric drop exceeds maxDrop,
// moves the most sensitive layer still below float one step up the
// Fallback ladder and measures again. Sensitivity (the metric drop with
// only that layer quantized) orders the layers, the calibration SQNR
// breaking ties. It never returns a graph whose measured drop exceeds
// maxDrop: in the worst case every layer is back in float, which is the
// float model itself.
func (q *Quantizer) Budget(plan Plan, metric Metric, maxDrop float64) (*ir.Graph, []LayerResult, *BudgetResult, error) {
	if maxDrop < 0 || math.IsNaN(maxDrop) {
		return nil, nil, nil, fmt.Errorf("budget: max drop %v must be >= 0", maxDrop)
	}
	cur := Plan{}
	for k, v := range plan {
		cur[k] = v
	}
	base, err := metric(q.float)
	if err != nil {
		return nil, nil, nil, err
	}
	br := &BudgetResult{Base: base, MaxDrop: maxDrop}
	g, res, err := q.Build(cur)
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := metric(g)
	if err != nil {
		return nil, nil, nil, err
	}
	br.Steps = append(br.Steps, BudgetStep{Metric: m, Drop: base - m})
	q.log("quant: budget: base %.4f, quantized %.4f (drop %.4f, budget %.4f)", base, m, base-m, maxDrop)
	if base-m <= maxDrop {
		br.Metric, br.Plan = m, cur
		return g, res, br, nil
	}
	_, drops, err := q.Sensitivity(cur, metric)
	if err != nil {
		return nil, nil, nil, err
	}
	br.Drops = drops
	sqnr := map[string]float64{}
	for _, r := range res {
		sqnr[r.Layer] = r.SQNR
	}
	order := q.Layers()
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if drops[a] != drops[b] {
			return drops[a] > drops[b]
		}
		return sqnr[a] < sqnr[b]
	})
	for base-m > maxDrop {
		moved := false
		for _, name := range order {
			s, ok := cur[name]
			if !ok || s.Float() {
				continue
			}
			next, _ := Fallback(s)
			if next.Float() {
				delete(cur, name)
			} else {
				cur[name] = next
			}
			g, res, err = q.Build(cur)
			if err != nil {
				return nil, nil, nil, err
			}
			if m, err = metric(g); err != nil {
				return nil, nil, nil, err
			}
			br.Steps = append(br.Steps, BudgetStep{Layer: name, From: s.String(), To: next.String(), Metric: m, Drop: base - m})
			q.log("quant: budget: %s %s -> %s: %.4f (drop %.4f)", name, s, next, m, base-m)
			moved = true
			break
		}
		if !moved {
			break
		}
	}
	if base-m > maxDrop {
		// Every layer is float again: the metric must equal base unless
		// the metric is not deterministic.
		return nil, nil, nil, fmt.Errorf("budget: drop %.4f > %.4f with every layer in float: the metric is not deterministic", base-m, maxDrop)
	}
	for i := range res {
		if d, ok := drops[res[i].Layer]; ok {
			d := d
			res[i].Drop = &d
		}
	}
	br.Metric, br.Plan = m, cur
	return g, res, br, nil
}
