package spec

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/optc-dev/optc/runtime/llm"
)

// AcceptExample is one training example of an acceptance head: the
// draft's hidden state at a position whose input is a draft token, and
// the probability that the target accepts that token.
type AcceptExample struct {
	Hidden []float32
	Label  float64
}

// AcceptDataConfig says how CollectAcceptData logs draft/target runs.
type AcceptDataConfig struct {
	Prompts   [][]int32         // prompt token ids
	GenTokens int               // tokens the target generates after each prompt
	Sampler   llm.SamplerConfig // the target's sampling, and the warping of p and q
	MixRatio  float64           // fraction of target tokens among the head's inputs (default 0.15)
	Seed      uint64
}

// CollectAcceptData logs draft/target runs the way SpecDec++ builds its
// training set: the target generates a response X after each prompt;
// at every response position a draft token Y_t ~ q(·|prompt, X_<t) is
// drawn and labelled with its acceptance probability min(1, p(Y_t)/q(Y_t))
// (greedy: 1 if Y_t is the target's argmax); the head's input sequence
// takes Y_t at each position, or X_t with probability MixRatio (those
// positions are not examples), and the example's feature is the draft's
// final hidden state where Y_t is the input.
func CollectAcceptData(ctx context.Context, target, draft Model, cfg AcceptDataConfig) ([]AcceptExample, error) {
	if cfg.MixRatio == 0 {
		cfg.MixRatio = 0.15
	}
	if cfg.GenTokens <= 0 {
		return nil, fmt.Errorf("spec: %d generated tokens per prompt", cfg.GenTokens)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xda7a))
	pw, qw := llm.NewSampler(cfg.Sampler), llm.NewSampler(cfg.Sampler)
	var out []AcceptExample
	for i, prompt := range cfg.Prompts {
		if len(prompt) == 0 {
			continue
		}
		sc := cfg.Sampler
		sc.Seed = cfg.Seed + uint64(i)
		gen, err := (&Decoder{Target: target, Sampler: sc}).Generate(ctx, llm.Request{Prompt: prompt, MaxTokens: cfg.GenTokens})
		if err != nil {
			return nil, err
		}
		x := gen.Tokens
		if len(x) == 0 {
			continue
		}
		seq := append(append([]int32{}, prompt...), x...)
		rows := make([]int, len(x))
		for t := range rows {
			rows[t] = len(prompt) - 1 + t
		}
		pl, err := target.Forward(ctx, nil, seq, rows)
		if err != nil {
			return nil, err
		}
		ql, err := draft.Forward(ctx, nil, seq, rows)
		if err != nil {
			return nil, err
		}
		z := append([]int32{}, prompt...)
		labels := make([]float64, len(x))
		use := make([]bool, len(x))
		for t := range x {
			hist := seq[:len(prompt)+t]
			p := pw.Probs(pl[t], hist, nil)
			q := qw.Probs(ql[t], hist, nil)
			y := draw(rng, q)
			labels[t] = min(1, p[y]/q[y])
			if rng.Float64() < cfg.MixRatio {
				z = append(z, x[t])
			} else {
				z = append(z, y)
				use[t] = true
			}
		}
		hr := make([]int, 0, len(x))
		for t := range x {
			if use[t] {
				hr = append(hr, len(prompt)+t)
			}
		}
		if len(hr) == 0 {
			continue
		}
		r, err := draft.ForwardWith(ctx, nil, z, hr, llm.ForwardOptions{Hidden: true})
		if err != nil {
			return nil, err
		}
		k := 0
		for t := range x {
			if use[t] {
				out = append(out, AcceptExample{Hidden: r.Hidden[k], Label: labels[t]})
				k++
			}
		}
	}
	return out, nil
}

// TrainConfig is the head's training recipe (SpecDec++'s defaults).
type TrainConfig struct {
	Blocks         int     // residual blocks (default 3)
	Epochs         int     // default 3
	Batch          int     // default 32
	LR             float64 // peak learning rate of Adam (default 1e-3)
	Warmup         float64 // warm-up fraction of the cosine schedule (default 0.03)
	WeightRejected float64 // class weight of "rejected" (default 6)
	Holdout        float64 // fraction of examples held out for evaluation (default 0.1)
	Seed           uint64
}

// TrainReport summarizes a training run.
type TrainReport struct {
	Examples, Holdout int
	MeanLabel         float64 // mean acceptance probability of the examples
	// Loss is the weighted soft-label cross-entropy on the held-out
	// examples before and after training, and of the best constant
	// prediction (the mean label).
	LossStart, LossEnd, LossConstant float64
	// KL is the mean binary KL divergence from the labels to the
	// predictions on the held-out examples (the authors' metric).
	KL float64
}

// TrainAcceptHead trains an acceptance head on examples with Adam (a
// cosine schedule with warm-up) on SpecDec++'s loss: soft-label
// cross-entropy with weight WeightRejected on the "rejected" class,
// normalized by the weighted label mass of the batch.
func TrainAcceptHead(examples []AcceptExample, hidden int, cfg TrainConfig) (*AcceptHead, TrainReport, error) {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.Blocks, 3)
	def(&cfg.Epochs, 3)
	def(&cfg.Batch, 32)
	if cfg.LR <= 0 {
		cfg.LR = 1e-3
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = 0.03
	}
	if cfg.WeightRejected <= 0 {
		cfg.WeightRejected = 6
	}
	if cfg.Holdout <= 0 {
		cfg.Holdout = 0.1
	}
	var rep TrainReport
	if len(examples) < 2 {
		return nil, rep, fmt.Errorf("spec: %d examples are too few to train an acceptance head", len(examples))
	}
	for _, e := range examples {
		if len(e.Hidden) != hidden {
			return nil, rep, fmt.Errorf("spec: an example's hidden state has %d values, the head reads %d", len(e.Hidden), hidden)
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7ea1))
	idx := rng.Perm(len(examples))
	nh := max(1, int(cfg.Holdout*float64(len(examples))))
	held, train := idx[:nh], idx[nh:]
	rep.Examples, rep.Holdout = len(train), len(held)
	for _, e := range examples {
		rep.MeanLabel += e.Label
	}
	rep.MeanLabel /= float64(len(examples))

	h := NewAcceptHead(hidden, cfg.Blocks, cfg.Seed)
	tr := newHeadTrainer(h)
	w0 := cfg.WeightRejected
	eval := func() (loss, kl float64) {
		var num, den float64
		for _, i := range held {
			e := examples[i]
			l := h.logits(e.Hidden)
			lp0, lp1 := logSoftmax2(l)
			num += -w0*(1-e.Label)*lp0 - e.Label*lp1
			den += w0*(1-e.Label) + e.Label
			kl += binaryKL(e.Label, math.Exp(lp1))
		}
		return num / den, kl / float64(len(held))
	}
	rep.LossStart, _ = eval()
	// The best constant prediction c minimizes the weighted loss:
	// c = Σ y / Σ (w0(1−y) + y).
	var sy, sd float64
	for _, i := range held {
		y := examples[i].Label
		sy += y
		sd += w0*(1-y) + y
	}
	var num float64
	c := min(max(sy/sd, 1e-9), 1-1e-9)
	for _, i := range held {
		y := examples[i].Label
		num += -w0*(1-y)*math.Log(1-c) - y*math.Log(c)
	}
	rep.LossConstant = num / sd

	steps := cfg.Epochs * ((len(train) + cfg.Batch - 1) / cfg.Batch)
	warm := max(1, int(cfg.Warmup*float64(steps)))
	step := 0
	for range cfg.Epochs {
		rng.Shuffle(len(train), func(a, b int) { train[a], train[b] = train[b], train[a] })
		for b := 0; b < len(train); b += cfg.Batch {
			batch := train[b:min(b+cfg.Batch, len(train))]
			lr := cfg.LR * float64(step+1) / float64(warm)
			if step >= warm {
				lr = cfg.LR * 0.5 * (1 + math.Cos(math.Pi*float64(step-warm)/float64(max(1, steps-warm))))
			}
			tr.zero()
			var den float64
			for _, i := range batch {
				y := examples[i].Label
				den += w0*(1-y) + y
			}
			for _, i := range batch {
				e := examples[i]
				tr.backward(e.Hidden, w0*(1-e.Label)/den, e.Label/den)
			}
			tr.adam(lr, step+1)
			step++
		}
	}
	rep.LossEnd, rep.KL = eval()
	return h, rep, nil
}

func logSoftmax2(l [2]float32) (float64, float64) {
	a, b := float64(l[0]), float64(l[1])
	m := max(a, b)
	lse := m + math.Log(math.Exp(a-m)+math.Exp(b-m))
	return a - lse, b - lse
}

// binaryKL is KL(Bernoulli(y) ‖ Bernoulli(p)).
func binaryKL(y, p float64) float64 {
	p = min(max(p, 1e-12), 1-1e-12)
	var kl float64
	if y > 0 {
		kl += y * math.Log(y/p)
	}
	if y < 1 {
		kl += (1 - y) * math.Log((1-y)/(1-p))
	}
	return kl
}

// headTrainer holds gradients and Adam moments for a head's parameters.
type headTrainer struct {
	h      *AcceptHead
	params [][]float32 // weights and biases, in a fixed order
	grads  [][]float32
	m, v   [][]float32
}

func newHeadTrainer(h *AcceptHead) *headTrainer {
	t := &headTrainer{h: h}
	for i := range h.Blocks {
		t.params = append(t.params, h.Blocks[i].W, h.Blocks[i].B)
	}
	t.params = append(t.params, h.Out.W, h.Out.B)
	for _, p := range t.params {
		t.grads = append(t.grads, make([]float32, len(p)))
		t.m = append(t.m, make([]float32, len(p)))
		t.v = append(t.v, make([]float32, len(p)))
	}
	return t
}

func (t *headTrainer) zero() {
	for _, g := range t.grads {
		clear(g)
	}
}

// backward accumulates the gradient of −a0·log s0 − a1·log s1 at x.
func (t *headTrainer) backward(x []float32, a0, a1 float64) {
	h := t.h
	n := h.Hidden
	nb := len(h.Blocks)
	xs := make([][]float32, nb+1) // inputs of each block, then of the output layer
	zs := make([][]float32, nb)
	xs[0] = x
	for b := range h.Blocks {
		z := make([]float32, n)
		h.Blocks[b].apply(xs[b], z)
		nx := make([]float32, n)
		for j := range nx {
			nx[j] = xs[b][j] + silu(z[j])
		}
		zs[b], xs[b+1] = z, nx
	}
	var l [2]float32
	h.Out.apply(xs[nb], l[:])
	lp0, lp1 := logSoftmax2(l)
	dl := [2]float64{(a0+a1)*math.Exp(lp0) - a0, (a0+a1)*math.Exp(lp1) - a1}
	gw, gb := t.grads[2*nb], t.grads[2*nb+1]
	dx := make([]float32, n)
	for o := range 2 {
		d := float32(dl[o])
		gb[o] += d
		w := h.Out.W[o*n : (o+1)*n]
		g := gw[o*n : (o+1)*n]
		for j := range n {
			g[j] += d * xs[nb][j]
			dx[j] += d * w[j]
		}
	}
	for b := nb - 1; b >= 0; b-- {
		gw, gb := t.grads[2*b], t.grads[2*b+1]
		W := h.Blocks[b].W
		dz := make([]float32, n)
		for j := range n {
			z := float64(zs[b][j])
			s := 1 / (1 + math.Exp(-z))
			dz[j] = dx[j] * float32(s*(1+z*(1-s)))
		}
		ndx := append([]float32(nil), dx...) // the residual path
		for o := range n {
			if dz[o] == 0 {
				continue
			}
			gb[o] += dz[o]
			w := W[o*n : (o+1)*n]
			g := gw[o*n : (o+1)*n]
			for j := range n {
				g[j] += dz[o] * xs[b][j]
				ndx[j] += dz[o] * w[j]
			}
		}
		dx = ndx
	}
}

// adam takes one Adam step (β = 0.9, 0.999; ε = 1e-8).
func (t *headTrainer) adam(lr float64, step int) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	c1 := 1 - math.Pow(b1, float64(step))
	c2 := 1 - math.Pow(b2, float64(step))
	for i, p := range t.params {
		g, m, v := t.grads[i], t.m[i], t.v[i]
		for j := range p {
			m[j] = float32(b1*float64(m[j]) + (1-b1)*float64(g[j]))
			v[j] = float32(b2*float64(v[j]) + (1-b2)*float64(g[j])*float64(g[j]))
			mh := float64(m[j]) / c1
			vh := float64(v[j]) / c2
			p[j] -= float32(lr * mh / (math.Sqrt(vh) + eps))
		}
	}
}
