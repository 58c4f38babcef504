package quant

import (
	"math"
	"math/rand/v2"
)

// AdaPT: per-layer dynamic fixed point ⟨WL, FL⟩ (papers.md §1.2).

// adaptKL is the KL divergence D(P_float || P_quant) between the
// histograms of the float weights and of their ⟨wl, fl⟩ round-to-nearest
// values on a common binning: bins equal-width bins over [−max|w|,
// max|w|] (quantized values beyond it, from rounding up, fall in the end
// bins). Empty quantized bins get a 1e-8 floor, then Q is renormalized.
func adaptKL(w []float32, wl, fl, bins int) float64 {
	m := 0.0
	for _, v := range w {
		m = math.Max(m, math.Abs(float64(v)))
	}
	if m == 0 {
		return 0
	}
	bin := func(x float64) int {
		b := int((x + m) / (2 * m) * float64(bins))
		return min(max(b, 0), bins-1)
	}
	P, Q := make([]float64, bins), make([]float64, bins)
	step := math.Ldexp(1, -fl)
	codes := fixedCodes(w, wl, fl)
	for i, v := range w {
		P[bin(float64(v))]++
		Q[bin(float64(codes[i])*step)]++
	}
	n := float64(len(w))
	qs := 0.0
	for i := range Q {
		Q[i] = math.Max(Q[i]/n, 1e-8)
		qs += Q[i]
	}
	kl := 0.0
	for i := range P {
		if P[i] == 0 {
			continue
		}
		p := P[i] / n
		kl += p * math.Log(p/(Q[i]/qs))
	}
	return kl
}

// adaptChoose is AdaPT's push-down on trained weights: the smallest word
// length in [minWL, maxWL] whose KL divergence is at most eps (maxWL if
// none), with FL from the range. It returns WL, FL and the KL of each
// word length tried.
func adaptChoose(w []float32, eps float64, minWL, maxWL, bins int) (wl, fl int, kls []float64) {
	return adaptChooseOf(w, eps, minWL, maxWL, bins, func(wl int) int { return fracLength(w, wl) })
}

// adaptChooseOf is adaptChoose with the fraction length of each word
// length given by flOf (activations take it from their calibrated range).
func adaptChooseOf(w []float32, eps float64, minWL, maxWL, bins int, flOf func(wl int) int) (wl, fl int, kls []float64) {
	for wl = minWL; wl <= maxWL; wl++ {
		fl = flOf(wl)
		kl := adaptKL(w, wl, fl, bins)
		kls = append(kls, kl)
		if kl <= eps {
			return wl, fl, kls
		}
	}
	return maxWL, flOf(maxWL), kls
}

// adaptFinetune is the optional short layer-wise fine-tuning: the layer's
// weights stay in fixed point and take gradient steps on the layer-output
// loss Σ_c (ŵ_c−w_c)ᵀ H (ŵ_c−w_c), each update stochastically rounded to
// the ⟨WL, FL⟩ grid (AdaPT's SR, seeded). Push-up: when over a window of
// `window` steps almost every quantized update vanishes (|η·g| below half
// a step for more than 99% of the weights) while an unquantized step
// would still cut the loss by more than 5% per step, the precision is the
// bottleneck and WL, FL grow by 2 (up to maxWL; the range is kept). The
// best state seen at the window ends is returned with its WL, FL and the
// push-ups done.
func adaptFinetune(l *layer, w []float32, wl, fl, maxWL, steps, window int, gm *gram, rng *rand.Rand) ([]int32, int, int, int) {
	C, R := l.channels()
	rows := make([][]int, C)
	for c := range rows {
		rows[c] = make([]int, R)
	}
	l.eachElem(func(i, c, r int) { rows[c][r] = i })
	codes := fixedCodes(w, wl, fl)
	// Step size 1/(2·λmax(H)) per group (power iteration): a stable step
	// for the quadratic loss.
	eta := make([]float64, len(gm.H))
	for gi, H := range gm.H {
		v := make([]float64, R)
		for i := range v {
			v[i] = 1 / math.Sqrt(float64(R))
		}
		hv := make([]float64, R)
		lam := 0.0
		for it := 0; it < 30; it++ {
			matVec(H, v, hv)
			n := 0.0
			for _, x := range hv {
				n += x * x
			}
			n = math.Sqrt(n)
			if n == 0 {
				break
			}
			lam = n
			for i := range v {
				v[i] = hv[i] / n
			}
		}
		if lam > 0 {
			eta[gi] = 1 / (2 * lam)
		}
	}
	lossOf := func(cs []int32, f int) float64 {
		step := math.Ldexp(1, -f)
		ls := make([]float64, C)
		parallelRows(C, func(c int) {
			e := make([]float64, R)
			for r, i := range rows[c] {
				e[r] = float64(cs[i])*step - float64(w[i])
			}
			ls[c] = quadForm(gm.H[l.inputGroup(c)], e)
		})
		return sumRows(ls)
	}
	best, bestLoss := append([]int32{}, codes...), lossOf(codes, fl)
	bestWL, bestFL := wl, fl
	pushes := 0
	vanish, gain := 0.0, 0.0
	inWindow := 0
	grads := make([][]float64, C)
	for c := range grads {
		grads[c] = make([]float64, R)
	}
	for s := 0; s < steps; s++ {
		step := math.Ldexp(1, -fl)
		lo, hi := -(int32(1) << (wl - 1)), int32(1)<<(wl-1)-1
		vanished, contGain, cur := 0, 0.0, 0.0
		gainRow := make([]float64, C)
		curRow := make([]float64, C)
		parallelRows(C, func(c int) {
			H := gm.H[l.inputGroup(c)]
			e := make([]float64, R)
			for r, i := range rows[c] {
				e[r] = float64(codes[i])*step - float64(w[i])
			}
			g := grads[c]
			matVec(H, e, g)
			for r := range g {
				g[r] *= 2
			}
			et := eta[l.inputGroup(c)]
			// Unquantized step gain: L(e) − L(e − ηg) = η||g||² − η²gᵀHg.
			gg := 0.0
			for _, x := range g {
				gg += x * x
			}
			curRow[c] = quadForm(H, e)
			gainRow[c] = et*gg - et*et*quadForm(H, g)
		})
		for c := 0; c < C; c++ {
			cur += curRow[c]
			contGain += gainRow[c]
			et := eta[l.inputGroup(c)]
			for r, i := range rows[c] {
				u := float64(codes[i]) - et*grads[c][r]/step
				if math.Abs(et*grads[c][r]) < step/2 {
					vanished++
				}
				f := math.Floor(u)
				if rng.Float64() < u-f {
					f++
				}
				codes[i] = clampI(f, lo, hi)
			}
		}
		vanish += float64(vanished) / float64(len(w))
		if cur > 0 {
			gain += contGain / cur
		}
		inWindow++
		if inWindow == window || s == steps-1 {
			if l2 := lossOf(codes, fl); l2 < bestLoss {
				best, bestLoss, bestWL, bestFL = append(best[:0], codes...), l2, wl, fl
			}
		}
		if inWindow == window {
			if vanish/float64(window) > 0.99 && gain/float64(window) > 0.05 && wl+2 <= maxWL {
				wl, fl = wl+2, fl+2
				for i := range codes {
					codes[i] *= 4
				}
				pushes++
			}
			vanish, gain, inWindow = 0, 0, 0
		}
	}
	return best, bestWL, bestFL, pushes
}
