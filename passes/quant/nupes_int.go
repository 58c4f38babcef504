package quant

import (
	"math"
	"sort"

	"github.com/optc-dev/optc/ir"
)

// NUPES with an integer decode table, for integer-only inference
// (Spec.IntTable; --quant nupes:B[:method]:int).
//
// The layer is encoded in ir.QuantPowerInt: the same codes, scales and
// exponents as float NUPES, but the decode table is the int8 table
// T[m] = round(L·(m/Qmax)^(1/a)), L = r·Qmax with r the largest power of
// two keeping L ≤ 127 (4 bits: L = 112, 3 bits: L = 96), and the weight
// is ±(scale/r)·T[|k|]. With int8 activations (the preset adds them) the
// layer is integer-only: the kernels accumulate Σ a·T[k] in int32 and
// fold s_a·scale/r, exact in float32 since r is a power of two, into the
// one per-channel float multiply of the requantization.
//
// Exponent and codes: data-free, the exponent comes from the float-table
// search (nupesDataFree), then every code is re-rounded to the nearest
// entry of the integer table (ties away from zero, which for a = 1 is
// math.Round: the codes are uniform symmetric quantization's), and an
// exponent (per layer or per channel) goes back to 1 when the integer
// table does not give a smaller weight error than a = 1, so integer NUPES
// never has more weight error than uniform symmetric quantization.
// Data-driven, the exponent and the codes are optimized on the float
// table (nupesDataDriven) and kept: the integer table differs from it by
// at most 1/(2r) of a scale per entry (1/32 of a 4-bit step).

// nupesIntEncode encodes w in the power_int scheme for exponents exps
// (one, or one per channel), with the data-driven codes when codes is not
// nil; it returns the encoding and the exponents it kept.
func nupesIntEncode(w []float32, lo *qLayout, bits int, exps []float32, codes []int32) *ir.Quantized {
	exps = append([]float32(nil), exps...)
	if codes == nil {
		M := lo.absMax(w)
		codes = nupesIntCodes(w, lo, bits, exps, M)
		ones := make([]float32, len(exps))
		for i := range ones {
			ones[i] = 1
		}
		uni := nupesIntCodes(w, lo, bits, ones, M)
		eA := nupesIntErr(w, lo, bits, exps, codes)
		eU := nupesIntErr(w, lo, bits, ones, uni)
		for c := range exps {
			if eU[c] <= eA[c] {
				exps[c] = 1
			}
		}
		codes = nupesIntCodes(w, lo, bits, exps, M)
	}
	q := encodePower(w, lo, bits, exps, codes)
	q.Scheme = ir.QuantPowerInt
	return q
}

// nupesIntTables returns, per exponent, the integer table in units of the
// scale (T[m]/r, float64).
func nupesIntTables(bits int, exps []float32) [][]float64 {
	qmax := qmaxOf(bits)
	r := float64(ir.PowerIntRatio(qmax))
	tabs := make([][]float64, len(exps))
	for i, a := range exps {
		it := ir.PowerIntTable(a, qmax)
		tabs[i] = make([]float64, len(it))
		for m, v := range it {
			tabs[i][m] = float64(v) / r
		}
	}
	return tabs
}

// nupesIntCodes rounds every weight to the nearest entry of its integer
// table: |w|/(M/Qmax) against T[m]/r, ties to the larger magnitude, M the
// element's max |w|.
func nupesIntCodes(w []float32, lo *qLayout, bits int, exps []float32, M []float64) []int32 {
	qmax := qmaxOf(bits)
	tabs := nupesIntTables(bits, exps)
	codes := make([]int32, len(w))
	for i, v := range w {
		m := M[lo.param[i]]
		u := math.Abs(float64(v)) / (m / float64(qmax))
		if m == 0 || u != u {
			continue
		}
		tab := tabs[0]
		if len(tabs) > 1 {
			tab = tabs[lo.channel[i]]
		}
		k := int32(sort.SearchFloat64s(tab, u)) // first entry ≥ u
		if k > qmax {
			k = qmax
		} else if k > 0 && u-tab[k-1] < tab[k]-u {
			k--
		}
		if v < 0 {
			k = -k
		}
		codes[i] = k
	}
	return codes
}

// nupesIntErr is the squared weight error per exponent (per layer: one
// entry; per channel: one per channel) of the power_int decode.
func nupesIntErr(w []float32, lo *qLayout, bits int, exps []float32, codes []int32) []float64 {
	qmax := qmaxOf(bits)
	tabs := nupesIntTables(bits, exps)
	M := lo.absMax(w)
	e := make([]float64, len(exps))
	for i, v := range w {
		c := 0
		if len(exps) > 1 {
			c = int(lo.channel[i])
		}
		k := codes[i]
		d := float64(symScale(M[lo.param[i]], qmax)) * tabs[c][abs32(k)]
		if k < 0 {
			d = -d
		}
		d -= float64(v)
		e[c] += d * d
	}
	return e
}

func abs32(k int32) int32 {
	if k < 0 {
		return -k
	}
	return k
}
