package quant

import (
	"fmt"
	"math"

	"github.com/optc-dev/optc/ir"
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
