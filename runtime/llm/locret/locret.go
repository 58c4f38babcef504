package locret

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// Dataset holds, per layer, the retaining head's inputs for the prompt
// tokens of many windows and their labels.
type Dataset struct {
	Head    *kvcache.RetainingHead // geometry and rotary parameters (no weights)
	Windows int
	Prompt  int // labelled tokens per window
	Gap     int // tokens between the prompt and the answer (0 in Locret)
	Answer  int // query tokens the labels are taken from
	// X[l] is [Windows·Prompt][In], Y[l] is [Windows·Prompt][KVHeads].
	X, Y [][]float32
}

// Geometry returns a weightless retaining head for m: its heads, head
// size, rotary parameters and hidden width.
func Geometry(m *llm.Model, hidden int) *kvcache.RetainingHead {
	c := m.Config
	return &kvcache.RetainingHead{Layers: c.Layers, QHeads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadDim, Hidden: hidden,
		Rope: kvcache.RopeParams{Dim: c.RopeDim, Theta: c.RopeTheta, Interleaved: c.RopeInterleaved}}
}

// Collect runs each window (prompt + answer tokens, one forward pass over
// a dense cache) and records, per layer, the features of the prompt
// tokens and their labels as Locret's data_gen does: the label of prompt
// token t for kv head h is the largest attention weight any answer query
// of h's query group puts on t. With gap > 0 the answer starts gap tokens
// after the prompt (a variant: labels then say what distant queries
// read, the part of the cache a recent window does not protect). Windows
// run jobs at a time.
func Collect(ctx context.Context, m *llm.Model, geom *kvcache.RetainingHead, windows [][]int32, prompt, gap, jobs int) (*Dataset, error) {
	if len(windows) == 0 {
		return nil, fmt.Errorf("locret: no windows")
	}
	n := len(windows[0])
	if prompt < 1 || gap < 0 || prompt+gap >= n {
		return nil, fmt.Errorf("locret: prompt of %d tokens and a gap of %d in windows of %d (want an answer after them)", prompt, gap, n)
	}
	in, kv := geom.In(), geom.KVHeads
	ds := &Dataset{Head: geom, Windows: len(windows), Prompt: prompt, Gap: gap, Answer: n - prompt - gap,
		X: make([][]float32, geom.Layers), Y: make([][]float32, geom.Layers)}
	for l := range ds.X {
		ds.X[l] = make([]float32, len(windows)*prompt*in)
		ds.Y[l] = make([]float32, len(windows)*prompt*kv)
	}
	errs := make([]error, len(windows))
	sem := make(chan struct{}, max(jobs, 1))
	var wg sync.WaitGroup
	for w, toks := range windows {
		if len(toks) != n {
			return nil, fmt.Errorf("locret: window %d has %d tokens, the first %d", w, len(toks), n)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[w] = collectWindow(ctx, m, ds, w, toks)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// logger is a dense cache that computes the retaining head's features of
// what it is appended and labels from the attention it is shown.
type logger struct {
	*kvcache.Dense
	ds     *Dataset
	w      int // window index
	q      []float32
	qHeads int
	err    error
}

func (g *logger) ObserveQueries(layer int, q []float32, heads, n int) {
	g.q, g.qHeads = append(g.q[:0], q...), heads
}

func (g *logger) Append(layer int, k, v []float32, n int) error {
	start := g.Len(layer)
	if err := g.Dense.Append(layer, k, v, n); err != nil {
		return err
	}
	ds := g.ds
	if start != 0 || n != ds.Prompt+ds.Gap+ds.Answer {
		g.err = fmt.Errorf("locret: the logger wants one pass over a whole window")
		return nil
	}
	// The features of every token, then keep the prompt's.
	in := ds.Head.In()
	x := make([]float32, n*in)
	if err := ds.Head.Features(x, g.q, g.qHeads, k, v, n, start); err != nil {
		g.err = err
		return nil
	}
	copy(ds.X[layer][g.w*ds.Prompt*in:], x[:ds.Prompt*in])
	return nil
}

func (g *logger) ObserveAttention(layer, head int, w []float32, rows, keys int) {
	ds := g.ds
	n := ds.Prompt + ds.Gap + ds.Answer
	if rows%n != 0 || keys != n {
		g.err = fmt.Errorf("locret: attention of %d rows over %d keys, want multiples of %d", rows, keys, n)
		return
	}
	kv := ds.Head.KVHeads
	y := ds.Y[layer][g.w*ds.Prompt*kv:]
	for r := 0; r < rows; r++ {
		if r%n < ds.Prompt+ds.Gap {
			continue // not an answer query
		}
		for t := 0; t < ds.Prompt; t++ {
			if x := w[r*keys+t]; x > y[t*kv+head] {
				y[t*kv+head] = x
			}
		}
	}
}

func collectWindow(ctx context.Context, m *llm.Model, ds *Dataset, w int, toks []int32) error {
	d, err := kvcache.NewDense(m.CacheSpec(), 0)
	if err != nil {
		return err
	}
	g := &logger{Dense: d, ds: ds, w: w}
	if _, err := m.Forward(ctx, g, toks, nil); err != nil {
		return err
	}
	return g.err
}

// TrainConfig follows Locret's train.py: SmoothL1(CIS, label) + λ·MSE of
// neighbouring tokens' scores, AdamW (β 0.9/0.95), a linear warm-up over
// the first Warmup of Steps then linear decay, gradients clipped to ±Clip
// element-wise. One window's prompt tokens per step.
type TrainConfig struct {
	Steps, Warmup int
	LR            float64
	Smooth        float64 // λ, 0.0025
	Clip          float64 // 0.5
	Seed          uint64
	// Holdout windows are kept out of training to report a validation
	// loss.
	Holdout int
	Log     func(step int, train, valid float64)
}

// DefaultTrain is the paper's optimizer with a step count for small
// models.
func DefaultTrain() TrainConfig {
	return TrainConfig{Steps: 1500, Warmup: 150, LR: 5e-4, Smooth: 0.0025, Clip: 0.5, Seed: 1, Holdout: 16}
}

// Train fits one retaining head per layer (layers in parallel) and
// returns the head with its final validation loss per layer.
func Train(ds *Dataset, cfg TrainConfig) (*kvcache.RetainingHead, []float64, error) {
	if ds.Windows <= cfg.Holdout || cfg.Steps < 1 {
		return nil, nil, fmt.Errorf("locret: %d windows, %d held out, %d steps", ds.Windows, cfg.Holdout, cfg.Steps)
	}
	head := *ds.Head
	head.W1 = make([][]float32, head.Layers)
	head.W2 = make([][]float32, head.Layers)
	valid := make([]float64, head.Layers)
	var wg sync.WaitGroup
	for l := 0; l < head.Layers; l++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			head.W1[l], head.W2[l], valid[l] = trainLayer(ds, l, cfg)
		}()
	}
	wg.Wait()
	return &head, valid, nil
}

// mlp is one layer's head during training.
type mlp struct {
	in, hid, out int
	w1, w2       []float32 // [hid][in], [out][hid]
}

// forward computes z = W1·x, h = SiLU(z), o = W2·h for n rows.
func (m *mlp) forward(x []float32, n int, z, h, o []float32) {
	for i := 0; i < n; i++ {
		xi := x[i*m.in : (i+1)*m.in]
		for j := 0; j < m.hid; j++ {
			var s float32
			for c, w := range m.w1[j*m.in : (j+1)*m.in] {
				s += w * xi[c]
			}
			z[i*m.hid+j] = s
			h[i*m.hid+j] = s / (1 + float32(math.Exp(float64(-s))))
		}
		for k := 0; k < m.out; k++ {
			var s float32
			for j, w := range m.w2[k*m.hid : (k+1)*m.hid] {
				s += w * h[i*m.hid+j]
			}
			o[i*m.out+k] = s
		}
	}
}

// backward accumulates into g1, g2 (cleared first) the gradients of the
// loss with respect to W1 and W2, given the forward pass's z and h for
// the n rows of x and the loss's gradient do with respect to the outputs.
func (m *mlp) backward(x []float32, n int, z, h, do, g1, g2 []float32) {
	in, hid, kv := m.in, m.hid, m.out
	clear(g1)
	clear(g2)
	dh := make([]float32, hid)
	for i := 0; i < n; i++ {
		hi := h[i*hid : (i+1)*hid]
		clear(dh)
		for k := 0; k < kv; k++ {
			d := do[i*kv+k]
			if d == 0 {
				continue
			}
			gk := g2[k*hid : (k+1)*hid]
			wk := m.w2[k*hid : (k+1)*hid]
			for j := range gk {
				gk[j] += d * hi[j]
				dh[j] += d * wk[j]
			}
		}
		xi := x[i*in : (i+1)*in]
		for j := 0; j < hid; j++ {
			zj := z[i*hid+j]
			sg := 1 / (1 + float32(math.Exp(float64(-zj))))
			dz := dh[j] * sg * (1 + zj*(1-sg)) // SiLU'(z) = σ(z)(1 + z(1 − σ(z)))
			if dz == 0 {
				continue
			}
			gj := g1[j*in : (j+1)*in]
			for c, xv := range xi {
				gj[c] += dz * xv
			}
		}
	}
}

// locretLoss returns Locret's loss of outputs o against labels y for one
// window of n tokens, and its gradient with respect to o in do.
func locretLoss(o, y []float32, n, out int, smooth float64, do []float32) float64 {
	var l1, ls float64
	cnt := float64(n * out)
	for i := range o {
		d := float64(o[i] - y[i])
		if math.Abs(d) < 1 {
			l1 += 0.5 * d * d
			do[i] = float32(d / cnt)
		} else {
			l1 += math.Abs(d) - 0.5
			do[i] = float32(math.Copysign(1, d) / cnt)
		}
	}
	if n > 1 && smooth > 0 {
		pairs := float64((n - 1) * out)
		for t := 0; t+1 < n; t++ {
			for k := 0; k < out; k++ {
				d := float64(o[t*out+k] - o[(t+1)*out+k])
				ls += d * d
				g := float32(smooth * 2 * d / pairs)
				do[t*out+k] += g
				do[(t+1)*out+k] -= g
			}
		}
		ls /= pairs
	}
	return l1/cnt + smooth*ls
}

func trainLayer(ds *Dataset, l int, cfg TrainConfig) (w1, w2 []float32, valid float64) {
	in, kv, hid := ds.Head.In(), ds.Head.KVHeads, ds.Head.Hidden
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(l)))
	m := &mlp{in: in, hid: hid, out: kv, w1: make([]float32, hid*in), w2: make([]float32, kv*hid)}
	for i := range m.w1 {
		m.w1[i] = float32(rng.NormFloat64() / math.Sqrt(float64(in)))
	}
	for i := range m.w2 {
		m.w2[i] = float32(rng.NormFloat64() / math.Sqrt(float64(hid)) * 0.1)
	}
	n := ds.Prompt
	z, h, o, do := make([]float32, n*hid), make([]float32, n*hid), make([]float32, n*kv), make([]float32, n*kv)
	g1, g2 := make([]float32, len(m.w1)), make([]float32, len(m.w2))
	opt1, opt2 := newAdamW(len(m.w1)), newAdamW(len(m.w2))
	train := ds.Windows - cfg.Holdout
	window := func(w int) (x, y []float32) {
		return ds.X[l][w*n*in : (w+1)*n*in], ds.Y[l][w*n*kv : (w+1)*n*kv]
	}
	evalValid := func() float64 {
		var s float64
		for w := train; w < ds.Windows; w++ {
			x, y := window(w)
			m.forward(x, n, z, h, o)
			s += locretLoss(o, y, n, kv, cfg.Smooth, do)
		}
		return s / float64(max(cfg.Holdout, 1))
	}
	var running float64
	for step := 0; step < cfg.Steps; step++ {
		x, y := window(rng.IntN(train))
		m.forward(x, n, z, h, o)
		loss := locretLoss(o, y, n, kv, cfg.Smooth, do)
		running = 0.98*running + 0.02*loss
		m.backward(x, n, z, h, do, g1, g2)
		lr := cfg.LR * schedule(step, cfg.Steps, cfg.Warmup)
		opt1.step(m.w1, g1, lr, cfg.Clip)
		opt2.step(m.w2, g2, lr, cfg.Clip)
		if cfg.Log != nil && (step%100 == 99 || step == cfg.Steps-1) {
			cfg.Log(step+1, running, evalValid())
		}
	}
	return m.w1, m.w2, evalValid()
}

// schedule is the learning-rate factor: linear warm-up, then linear decay
// to zero.
func schedule(step, steps, warmup int) float64 {
	if step < warmup {
		return float64(step+1) / float64(warmup)
	}
	return float64(steps-step) / float64(max(steps-warmup, 1))
}

// adamW is AdamW (β1 0.9, β2 0.95, ε 1e-8, no weight decay: the
// Hugging Face Trainer's default that Locret's script keeps).
type adamW struct {
	m, v []float64
	t    int
}

func newAdamW(n int) *adamW { return &adamW{m: make([]float64, n), v: make([]float64, n)} }

func (a *adamW) step(w, g []float32, lr, clip float64) {
	const b1, b2, eps = 0.9, 0.95, 1e-8
	a.t++
	c1, c2 := 1-math.Pow(b1, float64(a.t)), 1-math.Pow(b2, float64(a.t))
	for i, gi := range g {
		x := math.Max(-clip, math.Min(clip, float64(gi)))
		a.m[i] = b1*a.m[i] + (1-b1)*x
		a.v[i] = b2*a.v[i] + (1-b2)*x*x
		w[i] -= float32(lr * (a.m[i] / c1) / (math.Sqrt(a.v[i]/c2) + eps))
	}
}
