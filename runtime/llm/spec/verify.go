package spec

import (
	"math"
	"math/rand/v2"
)

// The verifiers. Distributions are dense over the vocabulary, already
// warped (temperature, top-k, top-p, penalty) the same way for the
// target (p) and the draft (q). Every rule here is lossless: the token
// it emits is distributed as p.

// draw samples an index from the distribution p (which need not be
// normalized; an all-zero p gives its argmax, 0).
func draw(rng *rand.Rand, p []float64) int32 {
	var sum float64
	for _, v := range p {
		sum += v
	}
	if !(sum > 0) {
		return 0
	}
	r := rng.Float64() * sum
	var cum float64
	last := 0
	for i, v := range p {
		if v <= 0 {
			continue
		}
		cum += v
		last = i
		if r < cum {
			return int32(i)
		}
	}
	return int32(last)
}

// argmax is the most likely index (the first on ties).
func argmax(p []float64) int32 {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return int32(best)
}

// accept is the test r < p(x)/q(x) for r ~ U[0,1): true with probability
// min(1, p(x)/q(x)).
func accept(rng *rand.Rand, px, qx float64) bool {
	return rng.Float64()*qx < px
}

// residual writes norm([p − q]_+) into dst. When that has no mass (p ≤ q
// everywhere, which the verifier can only meet through rounding) it is p.
func residual(dst, p, q []float64) []float64 {
	var sum float64
	for i := range p {
		sum += max(0, p[i]-q[i])
	}
	dst = grow64(dst, len(p))
	if !(sum > 0) {
		copy(dst, p) // dst may be p
		return dst
	}
	for i := range p {
		dst[i] = max(0, p[i]-q[i]) / sum
	}
	return dst
}

func grow64(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	return b[:n]
}

// verifyChain is the lossless verifier of one chain of drafts d_1…d_γ
// drawn from q_1…q_γ, against the target's p_1…p_{γ+1}: it returns the
// number of accepted drafts and the token that follows them (the
// residual sample at the first rejection, else a bonus token from
// p_{γ+1}).
func verifyChain(rng *rand.Rand, ps, qs [][]float64, drafts []int32) (int, int32) {
	for t, d := range drafts {
		if accept(rng, ps[t][d], qs[t][d]) {
			continue
		}
		return t, draw(rng, residual(nil, ps[t], qs[t]))
	}
	return len(drafts), draw(rng, ps[len(drafts)])
}

// siblingRule says how a node's children were proposed, which fixes how
// recursive rejection sampling verifies them in order.
type siblingRule uint8

const (
	// candidates: the children are fixed candidate tokens (Token
	// Recycling): child c is accepted with probability p(c); on
	// rejection p loses c and is renormalized.
	candidates siblingRule = iota
	// withoutReplacement: the children were drawn from q one after
	// another without replacement (RSD, Gumbel-top-k): child c is
	// accepted with probability min(1, p(c)/q(c)); on rejection
	// p ← norm([p − q]_+) and q loses c and is renormalized.
	withoutReplacement
	// iid: the children hold the tokens of k drafts drawn i.i.d. from q
	// (SpecTr), verified together by K-SEQ (kseq), not by rrs.
	iid
)

// rrs runs recursive rejection sampling over one node's children (token
// ids in proposal order) with the target's p and, for
// withoutReplacement, the draft's q. It returns the index of the
// accepted child, or -1 and a sample from the final residual. p and q
// are not modified.
func rrs(rng *rand.Rand, rule siblingRule, p, q []float64, children []int32) (int, int32) {
	cur := append([]float64(nil), p...)
	var qc []float64
	if rule == withoutReplacement {
		qc = append([]float64(nil), q...)
	}
	for j, c := range children {
		switch rule {
		case candidates:
			if rng.Float64() < cur[c] {
				return j, c
			}
			// [p − δ_c]_+ renormalized: drop c.
			cur[c] = 0
			normalize(cur)
		case withoutReplacement:
			if accept(rng, cur[c], qc[c]) {
				return j, c
			}
			cur = residual(cur, cur, qc)
			qc[c] = 0
			normalize(qc)
		}
	}
	return -1, draw(rng, cur)
}

// normalize scales v to sum 1 (an all-zero v stays zero).
func normalize(v []float64) {
	var s float64
	for _, x := range v {
		s += x
	}
	if s > 0 {
		for i := range v {
			v[i] /= s
		}
	}
}

// kseq is SpecTr's K-SEQ selection among k candidate tokens xs drawn
// i.i.d. from q: with ρ solving 1 − (1 − β(ρ))^k = ρ·β(ρ), β(ρ) =
// Σ min(q, p/ρ), candidate i is accepted with probability
// min(1, p(x_i)/(ρ q(x_i))); if none is, the token is drawn from the
// residual p − min(q, p/ρ)·(1 − (1 − β)^k)/β. It returns the accepted
// index or -1, and the emitted token.
func kseq(rng *rand.Rand, p, q []float64, xs []int32) (int, int32) {
	k := len(xs)
	rho, beta := kseqRho(p, q, k)
	for i, x := range xs {
		if accept(rng, p[x], rho*q[x]) {
			return i, x
		}
	}
	res := make([]float64, len(p))
	if beta > 0 {
		acc := (1 - math.Pow(1-beta, float64(k))) / beta
		for i := range p {
			res[i] = max(0, p[i]-min(q[i], p[i]/rho)*acc)
		}
	} else {
		copy(res, p)
	}
	return -1, draw(rng, res)
}

// kseqBeta is β(ρ) = Σ_x min(q(x), p(x)/ρ).
func kseqBeta(p, q []float64, rho float64) float64 {
	var b float64
	for i := range p {
		b += min(q[i], p[i]/rho)
	}
	return b
}

// kseqRho returns the smallest ρ in [1, k] with 1 − (1 − β(ρ))^k ≤ ρ β(ρ)
// (to within bisection precision, erring upwards so the residual stays
// non-negative) and β(ρ).
func kseqRho(p, q []float64, k int) (float64, float64) {
	f := func(rho float64) (float64, float64) {
		b := kseqBeta(p, q, rho)
		return 1 - math.Pow(1-b, float64(k)) - rho*b, b
	}
	if k <= 1 {
		return 1, kseqBeta(p, q, 1)
	}
	if v, b := f(1); v <= 0 {
		return 1, b
	}
	lo, hi := 1.0, float64(k)
	for range 60 {
		mid := (lo + hi) / 2
		if v, _ := f(mid); v <= 0 {
			hi = mid
		} else {
			lo = mid
		}
	}
	// 1 − (1−β)^k − ρβ ≤ 0 must hold at the returned ρ: the residual
	// p − min(q, p/ρ)(1−(1−β)^k)/β is then ≥ 0 everywhere.
	_, b := f(hi)
	return hi, b
}
