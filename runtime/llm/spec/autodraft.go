package spec

import (
	"context"
	"fmt"
	"math"
	"time"

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
	vals := map[*ir.Value]*ir.Value{}
	g := ir.CloneGraphMap(target.Graph, vals)
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
	cfg.Layers = layers
	d := target.Derive(fmt.Sprintf("%s[auto:%d/%d layers]", target.Name, layers, target.Config.Layers), g, cfg, constBytes(g))
	return d, nil
}

// AutoDraftCandidate is one auto-draft depth measured by SelectAutoDraft.
type AutoDraftCandidate struct {
	Layers int `json:"layers"`
	// Agreement is the fraction of calibration positions where the
	// draft's argmax equals the target's (the greedy acceptance rate).
	Agreement float64 `json:"agreement"`
	// CostRatio is the measured time of a one-token draft step over the
	// target's.
	CostRatio float64 `json:"cost_ratio"`
	// Speedup is the expected speedup of fixed-length speculation with
	// draft length γ from the agreement α and measured times: the
	// expected tokens per round (1 − α^{γ+1}) / (1 − α) over the round's
	// cost (γ draft steps and one target pass over γ+1 tokens) in
	// target steps.
	Speedup     float64 `json:"expected_speedup"`
	WeightBytes int64   `json:"weight_bytes"`
}

// ExpectedSpeedup is the i.i.d. estimate of fixed-length speculative
// decoding's speedup for acceptance rate alpha, draft length gamma and
// draft/target cost ratio c (Leviathan et al.), which assumes that
// verifying γ+1 tokens costs one target step.
func ExpectedSpeedup(alpha float64, gamma int, c float64) float64 {
	return roundTokens(alpha, gamma) / (float64(gamma)*c + 1)
}

// roundTokens is the expected number of tokens a round of γ drafts
// emits at acceptance rate α: (1 − α^{γ+1}) / (1 − α).
func roundTokens(alpha float64, gamma int) float64 {
	if alpha >= 1 {
		return float64(gamma + 1)
	}
	return (1 - math.Pow(alpha, float64(gamma+1))) / (1 - alpha)
}

// SelectAutoDraft measures every auto-draft depth on a calibration
// sequence (greedy agreement with the target at each position; time of
// one-token steps) and returns the draft with the best expected speedup
// at draft length gamma, and all candidates.
func SelectAutoDraft(ctx context.Context, target *llm.Model, calib []int32, gamma int) (*llm.Model, []AutoDraftCandidate, error) {
	if len(calib) < 2 {
		return nil, nil, fmt.Errorf("spec: auto-draft calibration needs at least 2 tokens")
	}
	rows := make([]int, len(calib)-1)
	for i := range rows {
		rows[i] = i
	}
	tl, err := target.Forward(ctx, nil, calib[:len(calib)-1], rows)
	if err != nil {
		return nil, nil, err
	}
	tt, err := stepTime(ctx, target, calib, 1)
	if err != nil {
		return nil, nil, err
	}
	tv, err := stepTime(ctx, target, calib, gamma+1)
	if err != nil {
		return nil, nil, err
	}
	var best *llm.Model
	var cands []AutoDraftCandidate
	bi := -1
	for k := 1; k < target.Config.Layers; k++ {
		d, err := AutoDraft(target, k)
		if err != nil {
			return nil, nil, err
		}
		dl, err := d.Forward(ctx, nil, calib[:len(calib)-1], rows)
		if err != nil {
			return nil, nil, err
		}
		agree := 0
		for i := range rows {
			if llm.Argmax(dl[i]) == llm.Argmax(tl[i]) {
				agree++
			}
		}
		dt, err := stepTime(ctx, d, calib, 1)
		if err != nil {
			return nil, nil, err
		}
		c := AutoDraftCandidate{Layers: k, Agreement: float64(agree) / float64(len(rows)), CostRatio: dt / tt, WeightBytes: d.WeightBytes}
		c.Speedup = roundTokens(c.Agreement, gamma) * tt / (float64(gamma)*dt + tv)
		cands = append(cands, c)
		if bi < 0 || c.Speedup > cands[bi].Speedup {
			bi, best = len(cands)-1, d
		}
	}
	if best == nil {
		return nil, nil, fmt.Errorf("spec: %s has %d layer(s): no shallower draft to derive", target.Name, target.Config.Layers)
	}
	return best, cands, nil
}

// stepTime is the median time of a forward pass of n tokens after seq
// (cached; the tokens repeat seq's last).
func stepTime(ctx context.Context, m *llm.Model, seq []int32, n int) (float64, error) {
	c, err := m.NewCache()
	if err != nil {
		return 0, err
	}
	if _, err := llm.Prefill(ctx, m, c, seq[:len(seq)-1], llm.DefaultChunk); err != nil {
		return 0, err
	}
	held := len(seq) - 1
	toks := make([]int32, n)
	rows := make([]int, n)
	for i := range toks {
		toks[i], rows[i] = seq[held], i
	}
	var ts []float64
	for range 7 {
		t0 := time.Now()
		if _, err := m.Forward(ctx, c, toks, rows); err != nil {
			return 0, err
		}
		ts = append(ts, time.Since(t0).Seconds())
		if err := c.Truncate(held); err != nil {
			return 0, err
		}
	}
	return median(ts), nil
}
