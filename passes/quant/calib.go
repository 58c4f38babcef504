package quant

import (
	"fmt"
	"math"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// Static activation calibration: statistics of each quantized layer's
// input over the calibration set (two runs: range, then histograms), and
// the calibrators that turn them into a quantization range.

const actBins = 2048

type actStats struct {
	min, max float64
	hist     []float64 // over [min, max]
	absHist  []float64 // |x| over [0, max(|min|, |max|)]
	count    float64
}

func (s *actStats) amax() float64 { return math.Max(math.Abs(s.min), math.Abs(s.max)) }

// collectActStats runs g over calib twice and returns, per value, its
// range and histograms.
func collectActStats(g *ir.Graph, calib []map[string]*ir.Tensor, vals []*ir.Value) (map[*ir.Value]*actStats, error) {
	st := map[*ir.Value]*actStats{}
	for _, v := range vals {
		st[v] = &actStats{min: math.Inf(1), max: math.Inf(-1), hist: make([]float64, actBins), absHist: make([]float64, actBins)}
	}
	err := forEachBatch(calib, g, vals, func(m map[*ir.Value]*ir.Tensor) error {
		for _, v := range vals {
			s := st[v]
			for _, x := range m[v].Float32s() {
				s.min, s.max = math.Min(s.min, float64(x)), math.Max(s.max, float64(x))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = forEachBatch(calib, g, vals, func(m map[*ir.Value]*ir.Tensor) error {
		for _, v := range vals {
			s := st[v]
			w, aw := (s.max-s.min)/actBins, s.amax()/actBins
			for _, x := range m[v].Float32s() {
				f := float64(x)
				if w > 0 {
					s.hist[min(int((f-s.min)/w), actBins-1)]++
				} else {
					s.hist[0]++
				}
				if aw > 0 {
					s.absHist[min(int(math.Abs(f)/aw), actBins-1)]++
				} else {
					s.absHist[0]++
				}
				s.count++
			}
		}
		return nil
	})
	return st, err
}

// actParams are the static quantization parameters of one activation.
type actParams struct {
	scale    float32
	zp       int32
	unsigned bool // uint8 with zero point (else int8, zp 0)
	lo, hi   float64
	method   string
}

func (a *actParams) String() string {
	t := "i8"
	if a.unsigned {
		t = "u8"
	}
	return fmt.Sprintf("%s %s [%.4g, %.4g]", t, a.method, a.lo, a.hi)
}

// paramsFor turns a range into int8/uint8 parameters. The range always
// contains 0 so that 0 is exact.
func paramsFor(lo, hi float64, sym bool) (scale float32, zp int32) {
	lo, hi = math.Min(lo, 0), math.Max(hi, 0)
	if sym {
		m := math.Max(-lo, hi)
		if m == 0 {
			return 1, 0
		}
		return float32(m / 127), 0
	}
	if hi == lo {
		return 1, 0
	}
	s := (hi - lo) / 255
	return float32(s), clampI(math.Round(-lo/s), 0, 255)
}

// calibrate chooses the activation range with the named method.
func calibrate(s *actStats, method string, pct float64, sym bool) (*actParams, error) {
	if s.count == 0 {
		return nil, fmt.Errorf("no calibration values")
	}
	lo, hi := s.min, s.max
	switch method {
	case "minmax":
	case "percentile":
		lo, hi = s.quantile(1-pct/100), s.quantile(pct/100)
		if s.min >= 0 {
			lo = s.min
		}
	case "mse":
		lo, hi = s.mseRange(sym)
	case "kl":
		t := s.klThreshold()
		lo, hi = math.Max(s.min, -t), math.Min(s.max, t)
	default:
		return nil, fmt.Errorf("unknown calibrator %q (want minmax, percentile, mse or kl)", method)
	}
	scale, zp := paramsFor(lo, hi, sym)
	return &actParams{scale: scale, zp: zp, unsigned: !sym, lo: math.Min(lo, 0), hi: math.Max(hi, 0), method: method}, nil
}

func (s *actStats) binCenter(i int) float64 {
	return s.min + (float64(i)+0.5)*(s.max-s.min)/actBins
}

// quantile is the q-quantile of the values (bin edge resolution).
func (s *actStats) quantile(q float64) float64 {
	target := q * s.count
	acc := 0.0
	w := (s.max - s.min) / actBins
	for i, c := range s.hist {
		acc += c
		if acc >= target {
			return s.min + float64(i+1)*w
		}
	}
	return s.max
}

// mseRange searches clipping ranges α·[min, max], α = 0.97^k down to
// 1/256, for the one minimizing the expected squared quantization error
// of the histogram (bin centres; clipped values count their full error).
func (s *actStats) mseRange(sym bool) (float64, float64) {
	bestA, bestE := 1.0, math.Inf(1)
	for a := 1.0; a >= 1.0/256; a *= 0.97 {
		lo, hi := a*s.min, a*s.max
		scale, zp := paramsFor(lo, hi, sym)
		qlo, qhi := int32(0), int32(255)
		if sym {
			qlo, qhi = -127, 127
		}
		e := 0.0
		for b, c := range s.hist {
			if c == 0 {
				continue
			}
			x := s.binCenter(b)
			k := clampI(math.Round(x/float64(scale))+float64(zp), qlo, qhi)
			d := x - float64(scale)*float64(k-zp)
			e += c * d * d
		}
		if e < bestE {
			bestA, bestE = a, e
		}
	}
	return bestA * s.min, bestA * s.max
}

// klThreshold is the entropy calibrator (TensorRT's): the |x| threshold
// whose clipped histogram, requantized to nLevels levels, has the least KL
// divergence from the reference (clipped mass folded into the last bin).
// nLevels is 256 for non-negative activations and 128 otherwise.
func (s *actStats) klThreshold() float64 {
	levels := 128
	if s.min >= 0 {
		levels = 256
	}
	h := s.absHist
	width := s.amax() / actBins
	if width == 0 {
		return 0
	}
	bestI, bestKL := actBins, math.Inf(1)
	P, Q := make([]float64, actBins), make([]float64, actBins)
	for i := levels; i <= actBins; i++ {
		copy(P, h[:i])
		out := 0.0
		for _, c := range h[i:] {
			out += c
		}
		P[i-1] += out
		// Q: merge h[:i] into `levels` chunks, spread each chunk's mass
		// over its non-empty bins.
		for k := 0; k < i; k++ {
			Q[k] = 0
		}
		for j := 0; j < levels; j++ {
			a, b := j*i/levels, (j+1)*i/levels
			mass, nz := 0.0, 0
			for k := a; k < b; k++ {
				mass += h[k]
				if h[k] != 0 {
					nz++
				}
			}
			for k := a; k < b; k++ {
				if h[k] != 0 {
					Q[k] = mass / float64(nz)
				}
			}
		}
		ps, qs := 0.0, 0.0
		for k := 0; k < i; k++ {
			ps += P[k]
			qs += Q[k]
		}
		if ps == 0 || qs == 0 {
			continue
		}
		kl := 0.0
		for k := 0; k < i; k++ {
			if P[k] == 0 {
				continue
			}
			p := P[k] / ps
			q := Q[k] / qs
			if q == 0 {
				q = 1e-10
			}
			kl += p * math.Log(p/q)
		}
		if kl < bestKL {
			bestI, bestKL = i, kl
		}
	}
	return (float64(bestI) + 0.5) * width
}

// calibFwd runs the calibration batches through a graph that is being
// quantized layer by layer (Build's copy) and hands out one value at a
// time, computing each node once per Build instead of once per layer.
//
// Why it is exact: layers are quantized in program order, so when layer
// i's input x_i is asked for, the weights of every node it depends on are
// final; later layers' weights only change nodes downstream of them.
// Values computed earlier are therefore the ones a full run on the
// current graph would produce, and only the nodes between them and x_i
// still have to run. Per batch it keeps the computed values that have a
// consumer not yet run (the frontier), and forgets the rest. If a node
// already run has changed since (different inputs, a constant operand
// replaced — e.g. a weight shared with an earlier node), it starts over.
type calibFwd struct {
	g     *ir.Graph
	calib []map[string]*ir.Tensor
	done  map[*ir.Node]calibFwdSeen
	envs  []map[*ir.Value]interp.Value
	// restarts counts the times the state was found stale and rebuilt.
	restarts int
}

// calibFwdSeen is what a node read when it ran: its inputs, and the
// tensor of each constant operand.
type calibFwdSeen struct {
	inputs []*ir.Value
	consts []*ir.Tensor
}

// calibFwdOff makes calibValues run the whole graph per request (the
// plain forEachBatch path); tests compare the two.
var calibFwdOff = false

// calibValues hands f the value x of graph g (the copy being quantized)
// for each calibration batch in order, as forEachBatch would.
func (q *Quantizer) calibValues(g *ir.Graph, calib []map[string]*ir.Tensor, x *ir.Value, f func(*ir.Tensor) error) error {
	if calibFwdOff || calibFwdHasSubgraphs(g) {
		return forEachBatch(calib, g, []*ir.Value{x}, func(m map[*ir.Value]*ir.Tensor) error { return f(m[x]) })
	}
	if q.fwd == nil || !q.fwd.valid(g, calib) {
		restarts := 0
		if q.fwd != nil && q.fwd.g == g {
			restarts = q.fwd.restarts + 1
		}
		q.fwd = newCalibFwd(g, calib)
		q.fwd.restarts = restarts
	}
	return q.fwd.values(x, f)
}

func calibFwdHasSubgraphs(g *ir.Graph) bool {
	for _, n := range g.Nodes {
		if len(n.Subgraphs()) > 0 {
			return true
		}
	}
	return false
}

func newCalibFwd(g *ir.Graph, calib []map[string]*ir.Tensor) *calibFwd {
	c := &calibFwd{g: g, calib: calib, done: map[*ir.Node]calibFwdSeen{}, envs: make([]map[*ir.Value]interp.Value, len(calib))}
	for i, b := range calib {
		env := map[*ir.Value]interp.Value{}
		for _, in := range g.Inputs {
			if t, ok := b[in.Name]; ok {
				env[in] = t
			}
		}
		c.envs[i] = env
	}
	return c
}

// valid reports whether the state still describes g and calib: same
// graph and batches, and every node already run still reads the same
// values and constant tensors.
func (c *calibFwd) valid(g *ir.Graph, calib []map[string]*ir.Tensor) bool {
	if c.g != g || len(c.calib) != len(calib) || len(calib) == 0 {
		return false
	}
	for i := range calib {
		if !calibFwdSameBatch(c.calib[i], calib[i]) {
			return false
		}
	}
	inGraph := make(map[*ir.Node]bool, len(g.Nodes))
	for _, n := range g.Nodes {
		inGraph[n] = true
	}
	// Every value a node still to run reads from a node already run must
	// still be held (a node inserted since may read a forgotten one).
	env0 := c.envs[0]
	for _, n := range g.Nodes {
		if _, ok := c.done[n]; ok {
			continue
		}
		for _, v := range n.Inputs {
			if v == nil || v.Def == nil {
				continue
			}
			if _, ran := c.done[v.Def]; ran {
				if _, held := env0[v]; !held {
					return false
				}
			}
		}
	}
	for n, s := range c.done {
		if !inGraph[n] || len(n.Inputs) != len(s.inputs) {
			return false
		}
		k := 0
		for i, v := range n.Inputs {
			if v != s.inputs[i] {
				return false
			}
			if v != nil && v.Const != nil {
				if v.Const != s.consts[k] {
					return false
				}
				k++
			}
		}
	}
	return true
}

func calibFwdSameBatch(a, b map[string]*ir.Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for k, t := range a {
		if b[k] != t {
			return false
		}
	}
	return true
}

// values computes x on every batch (running only the nodes not run yet)
// and hands each batch's x to f in batch order.
func (c *calibFwd) values(x *ir.Value, f func(*ir.Tensor) error) error {
	if len(c.envs) == 0 {
		return nil
	}
	producer := map[*ir.Value]*ir.Node{}
	for _, n := range c.g.Nodes {
		for _, o := range n.Outputs {
			if o != nil {
				producer[o] = n
			}
		}
	}
	// The nodes still to run, in dependency order (post-order DFS from x,
	// stopping at values already computed, inputs and constants), and
	// the computed values they read.
	env0 := c.envs[0]
	var order []*ir.Node
	var frontier []*ir.Value
	visited := map[*ir.Value]bool{}
	var visit func(v *ir.Value) error
	visit = func(v *ir.Value) error {
		if v == nil || v.Name == "" || visited[v] {
			return nil
		}
		visited[v] = true
		if _, ok := env0[v]; ok {
			frontier = append(frontier, v)
			return nil
		}
		if v.Const != nil {
			return nil
		}
		n := producer[v]
		if n == nil {
			return fmt.Errorf("calibration: value %q is neither computed, an input given in the batch, a constant nor a node output", v.Name)
		}
		if _, ok := c.done[n]; ok {
			return fmt.Errorf("calibration: internal error: %s ran but its output %q was forgotten", n.Describe(), v.Name)
		}
		for _, in := range n.Inputs {
			if err := visit(in); err != nil {
				return err
			}
		}
		for _, o := range n.Outputs {
			visited[o] = true
		}
		order = append(order, n)
		return nil
	}
	if err := visit(x); err != nil {
		return err
	}
	running := make(map[*ir.Node]bool, len(order))
	for _, n := range order {
		running[n] = true
	}
	// Keep every value computed now that a node not yet run will read.
	keep := []*ir.Value{x}
	if len(order) > 0 {
		kept := map[*ir.Value]bool{x: true}
		for _, n := range c.g.Nodes {
			if running[n] {
				continue
			}
			if _, ok := c.done[n]; ok {
				continue
			}
			for _, in := range n.Inputs {
				if in != nil && in.Name != "" && !kept[in] && running[producer[in]] {
					kept[in] = true
					keep = append(keep, in)
				}
			}
		}
	}
	view := c.calibFwdView(order, frontier, keep)
	for bi, env := range c.envs {
		if len(order) > 0 {
			args := make(map[string]interp.Value, len(frontier))
			for i, v := range frontier {
				args[view.Inputs[i].Name] = env[v]
			}
			res, err := interp.Run(bgCtx, view, args)
			if err != nil {
				return fmt.Errorf("calibration batch %d: %w", bi, err)
			}
			for _, v := range keep {
				env[v] = res[v.Name]
			}
		}
		t, ok := env[x].(*ir.Tensor)
		if !ok {
			return fmt.Errorf("calibration batch %d: value %q is not a tensor at run time", bi, x.Name)
		}
		t, err := t.Dense()
		if err != nil {
			return err
		}
		if err := f(t); err != nil {
			return err
		}
	}
	for _, n := range order {
		s := calibFwdSeen{inputs: append([]*ir.Value{}, n.Inputs...)}
		for _, v := range n.Inputs {
			if v != nil && v.Const != nil {
				s.consts = append(s.consts, v.Const)
			}
		}
		c.done[n] = s
	}
	c.forget()
	return nil
}

// calibFwdView is the graph that runs order: each frontier value comes
// in through an untyped input and an Identity node (so the original
// values keep their types and producers), the outputs are keep.
func (c *calibFwd) calibFwdView(order []*ir.Node, frontier, keep []*ir.Value) *ir.Graph {
	view := &ir.Graph{Name: c.g.Name, Opsets: c.g.Opsets, Outputs: keep}
	var ident []*ir.Node
	for i, v := range frontier {
		p := &ir.Value{Name: fmt.Sprintf("calib-frontier/%d", i)}
		view.Inputs = append(view.Inputs, p)
		ident = append(ident, &ir.Node{Op: "Identity", Name: "calib-frontier/" + v.Name, Inputs: []*ir.Value{p}, Outputs: []*ir.Value{v}, Attrs: map[string]*ir.Attr{}})
	}
	view.Nodes = append(ident, order...)
	seen := map[*ir.Value]bool{}
	for _, n := range order {
		for _, v := range n.Inputs {
			if v != nil && v.Const != nil && !seen[v] {
				seen[v] = true
				view.Consts = append(view.Consts, v)
			}
		}
	}
	return view
}

// forget drops, in every batch, the values no node still to run reads
// (graph inputs included: the batch still holds them, and a restart
// takes them from there).
func (c *calibFwd) forget() {
	live := map[*ir.Value]bool{}
	for _, n := range c.g.Nodes {
		if _, ok := c.done[n]; ok {
			continue
		}
		for _, in := range n.Inputs {
			live[in] = true
		}
	}
	for _, env := range c.envs {
		for v := range env {
			if !live[v] {
				delete(env, v)
			}
		}
	}
}
