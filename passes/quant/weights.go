package quant

import (
	"fmt"
	"math"

	"github.com/optc-dev/optc/ir"
)

// Weight encoders. Rounding is half away from zero (math.Round) in
// float64; every encoder is a pure function of its inputs.

// qLayout is where quantization parameters live for one tensor.
type qLayout struct {
	axis, group int
	channel     []int32 // per element: channel
	param       []int32 // per element: parameter index
	nParams, C  int
}

func newLayout(shape []int64, axis, group int) (*qLayout, error) {
	proto := &ir.Quantized{Axis: axis, GroupSize: group}
	C, G, _, err := proto.QuantLayout(shape)
	if err != nil {
		return nil, err
	}
	ch, p, err := proto.ParamIndex(shape)
	if err != nil {
		return nil, err
	}
	return &qLayout{axis: axis, group: group, channel: ch, param: p, nParams: C * G, C: C}, nil
}

// absMax returns max |w| per parameter.
func (lo *qLayout) absMax(w []float32) []float64 {
	m := make([]float64, lo.nParams)
	for i, v := range w {
		if a := math.Abs(float64(v)); a > m[lo.param[i]] {
			m[lo.param[i]] = a
		}
	}
	return m
}

func clampI(v float64, lo, hi int32) int32 {
	if v != v {
		return 0
	}
	if v < float64(lo) {
		return lo
	}
	if v > float64(hi) {
		return hi
	}
	return int32(v)
}

func qmaxOf(bits int) int32 { return int32(1)<<(bits-1) - 1 }

// symScale is the stored scale of a symmetric grid with clipping
// magnitude M: M/Qmax (1 when M is 0, all codes are then 0).
func symScale(M float64, qmax int32) float32 {
	if M == 0 {
		return 1
	}
	return float32(M / float64(qmax))
}

func pack(codes []int32, bits int, signed bool) []byte {
	b, err := ir.PackCodes(codes, bits, signed)
	if err != nil {
		panic(fmt.Sprintf("quant: internal error: %v", err)) // encoders clamp first
	}
	return b
}

// encodeUniform quantizes w uniformly: symmetric (codes in ±Qmax, scale
// max|w|/Qmax) or asymmetric (unsigned codes, zero point, range widened
// to include 0).
func encodeUniform(w []float32, lo *qLayout, bits int, sym bool) *ir.Quantized {
	q := &ir.Quantized{Bits: bits, Scheme: ir.QuantUniform, Axis: lo.axis, GroupSize: lo.group, Signed: sym}
	codes := make([]int32, len(w))
	q.Scales = make([]float32, lo.nParams)
	if sym {
		qmax := qmaxOf(bits)
		M := lo.absMax(w)
		for p := range M {
			q.Scales[p] = symScale(M[p], qmax)
		}
		for i, v := range w {
			if m := M[lo.param[i]]; m > 0 {
				codes[i] = clampI(math.Round(float64(v)/(m/float64(qmax))), -qmax, qmax)
			}
		}
	} else {
		levels := int32(1)<<bits - 1
		mn, mx := make([]float64, lo.nParams), make([]float64, lo.nParams)
		for i, v := range w {
			p := lo.param[i]
			mn[p], mx[p] = math.Min(mn[p], float64(v)), math.Max(mx[p], float64(v))
		}
		q.ZeroPoints = make([]int32, lo.nParams)
		for p := range mn {
			s := (mx[p] - mn[p]) / float64(levels)
			if s == 0 {
				s = 1
			}
			q.Scales[p] = float32(s)
			q.ZeroPoints[p] = clampI(math.Round(-mn[p]/s), 0, levels)
		}
		for i, v := range w {
			p := lo.param[i]
			codes[i] = clampI(math.Round(float64(v)/float64(q.Scales[p]))+float64(q.ZeroPoints[p]), 0, levels)
		}
	}
	q.Codes = pack(codes, bits, q.Signed)
	return q
}

// powerCodes returns the NUPES codes of w for exponent(s) exps (one per
// layer or one per channel): k = round(sign(w)·|w|^a / (M^a/Qmax)),
// M = max|w| of the element's parameter group. With a = 1 this is the
// same float64 expression as symmetric uniform quantization
// (math.Pow(x, 1) = x), so the codes are identical.
func powerCodes(w []float32, lo *qLayout, bits int, exps []float32, M []float64) []int32 {
	qmax := qmaxOf(bits)
	codes := make([]int32, len(w))
	for i, v := range w {
		m := M[lo.param[i]]
		if m == 0 {
			continue
		}
		a := float64(exps[0])
		if len(exps) > 1 {
			a = float64(exps[lo.channel[i]])
		}
		x := math.Abs(float64(v))
		t := math.Pow(x, a) / (math.Pow(m, a) / float64(qmax))
		if v < 0 {
			t = -t
		}
		codes[i] = clampI(math.Round(t), -qmax, qmax)
	}
	return codes
}

// encodePower builds a power-scheme (NUPES) tensor with max-magnitude
// scales; codes may be given (data-driven) or are computed by powerCodes.
func encodePower(w []float32, lo *qLayout, bits int, exps []float32, codes []int32) *ir.Quantized {
	qmax := qmaxOf(bits)
	M := lo.absMax(w)
	if codes == nil {
		codes = powerCodes(w, lo, bits, exps, M)
	}
	q := &ir.Quantized{Bits: bits, Scheme: ir.QuantPower, Signed: true, Axis: lo.axis, GroupSize: lo.group,
		Exponent: append([]float32{}, exps...), Scales: make([]float32, lo.nParams)}
	for p := range M {
		q.Scales[p] = symScale(M[p], qmax)
	}
	q.Codes = pack(codes, bits, true)
	return q
}

// fracLength is AdaPT's fraction length for word length wl: the largest
// FL whose integer bits still cover max|w|, FL = WL − 1 − ceil(log2 max|w|).
func fracLength(w []float32, wl int) int {
	m := 0.0
	for _, v := range w {
		m = math.Max(m, math.Abs(float64(v)))
	}
	if m == 0 {
		return wl - 1
	}
	return wl - 1 - int(math.Ceil(math.Log2(m)))
}

// fixedCodes rounds w to ⟨wl, fl⟩ to nearest, saturating.
func fixedCodes(w []float32, wl, fl int) []int32 {
	lo, hi := -(int32(1) << (wl - 1)), int32(1)<<(wl-1)-1
	codes := make([]int32, len(w))
	for i, v := range w {
		codes[i] = clampI(math.Round(math.Ldexp(float64(v), fl)), lo, hi)
	}
	return codes
}

func encodeFixed(codes []int32, wl, fl int) *ir.Quantized {
	return &ir.Quantized{Bits: wl, Scheme: ir.QuantFixed, Signed: true, Axis: -1, FracLength: fl, Codes: pack(codes, wl, true)}
}

// decodeQ decodes q for a tensor of the given shape.
func decodeQ(q *ir.Quantized, shape []int64) ([]float32, error) {
	t, err := (&ir.Tensor{DType: ir.Float32, Shape: shape, Enc: q}).Dense()
	if err != nil {
		return nil, err
	}
	return t.Data.([]float32), nil
}

// sqErr is Σ (a−b)².
func sqErr(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}
