package quant

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// AdaPT fixed-point activations (act=fixed): every quantized layer's input
// gets its own signed format ⟨WL_a, FL_a⟩, value = k·2^−FL_a with
// k ∈ [−2^(WL_a−1), 2^(WL_a−1)−1].
//
//   - WL_a: AdaPT's push-down criterion (adaptChooseOf) applied to the
//     calibration activations instead of the weights: the smallest WL in
//     [min-wl, min(max-wl, 8)] whose KL divergence between the histograms
//     of the float activation and of its ⟨WL, FL⟩ rounding (kl-bins bins
//     over [−max|x|, max|x|]) is at most kl-eps. The activation values
//     are a seeded random sample of at most adaptActSampleCap of the
//     layer input's values over the calibration rows (one more forward
//     pass of the float model); values the chosen range clips count in
//     the divergence where they land.
//   - FL_a = WL_a − 1 − ceil(log2 a) with a = max(|lo|, |hi|) of the range
//     the activation calibrator chose (calib=, default the 99.99th
//     percentile; calib=minmax gives AdaPT's max|x|).
//   - WL_a ≤ 8, and the layer's weight word length is capped at 8 too, so
//     that the layer is an int8 × int8 → int32 product the native kernels
//     compute integer-only, rescaled by 2^−(FL_w+FL_a).
//
// In the graph it is QuantizeLinear → DequantizeLinear with scale
// 2^−FL_a and an int8 zero point 0; for WL_a < 8 a Clip to
// [−2^(WL_a−1), 2^(WL_a−1)−1]·2^−FL_a comes first, so the int8 codes hold
// only WL_a-bit values (the QuantizeLinear's x·2^FL_a is exact, so the
// clipped bounds stay in range after rounding).

// adaptActFmt is one activation's fixed-point format.
type adaptActFmt struct {
	wl, fl int
	amax   float64 // the calibrated range max(|lo|, |hi|)
	method string  // the calibrator of the range
	kl     float64 // KL divergence at wl
}

func (f *adaptActFmt) String() string {
	return fmt.Sprintf("fx<%d,%d> %s |x|<=%.4g KL %.3g", f.wl, f.fl, f.method, f.amax, f.kl)
}

// scale is 2^−FL.
func (f *adaptActFmt) scale() float32 { return float32(math.Ldexp(1, -f.fl)) }

// clip is the representable range [−2^(WL−1), 2^(WL−1)−1]·2^−FL, or nil
// when WL = 8 (QuantizeLinear's int8 saturation is the range).
func (f *adaptActFmt) clip() []float32 {
	if f.wl >= 8 {
		return nil
	}
	h := math.Ldexp(1, f.wl-1)
	s := math.Ldexp(1, -f.fl)
	return []float32{float32(-h * s), float32((h - 1) * s)}
}

// adaptActMaxWL is the largest word length of a fixed-point activation
// layer (activations and weights): 8, or max-wl when it is smaller.
func adaptActMaxWL(o Options) int { return min(o.MaxWL, 8) }

// adaptActSampleCap bounds the activation values the KL criterion sees.
const adaptActSampleCap = 1 << 16

// adaptActChoose picks the format of an activation from its calibration
// statistics s (the range) and a sample of its values.
func adaptActChoose(s *actStats, sample []float32, o Options) (*adaptActFmt, error) {
	ap, err := calibrate(s, o.Calib, o.Percentile, true)
	if err != nil {
		return nil, err
	}
	f := &adaptActFmt{amax: math.Max(-ap.lo, ap.hi), method: o.Calib}
	maxWL := adaptActMaxWL(o)
	flOf := func(wl int) int { return fracLength([]float32{float32(f.amax)}, wl) }
	var kls []float64
	f.wl, f.fl, kls = adaptChooseOf(sample, o.KLEps, min(o.MinWL, maxWL), maxWL, o.KLBins, flOf)
	f.kl = kls[len(kls)-1]
	return f, nil
}

// adaptActSamples samples, in one forward pass of the float model over
// the calibration rows, the values of every activation with statistics
// (ensureActStats ran for the plan being built) and no sample yet: each
// value is kept with probability adaptActSampleCap/count, drawn from a
// PCG seeded by Options.Seed and the activation's name.
func (q *Quantizer) adaptActSamples() error {
	var need []*ir.Value
	for _, l := range q.layers {
		x := l.node.Inputs[l.aIdx]
		if _, done := q.adaptActs[x]; q.acts[x] != nil && !done {
			need = append(need, x)
			if q.adaptActs == nil {
				q.adaptActs = map[*ir.Value][]float32{}
			}
			q.adaptActs[x] = []float32{}
		}
	}
	if len(need) == 0 {
		return nil
	}
	rngs := make([]*rand.Rand, len(need))
	for i, x := range need {
		rngs[i] = rand.New(rand.NewPCG(q.opts.Seed, hashName(x.Name)^0xac75))
	}
	return forEachBatch(q.calibRows(q.opts.Samples), q.float, need, func(m map[*ir.Value]*ir.Tensor) error {
		for i, x := range need {
			p := float64(adaptActSampleCap) / q.acts[x].count
			for _, v := range m[x].Float32s() {
				if p >= 1 || rngs[i].Float64() < p {
					q.adaptActs[x] = append(q.adaptActs[x], v)
				}
			}
		}
		return nil
	})
}

// insertFixedQDQ gives layer l's input activation x its fixed-point
// format: (Clip →) QuantizeLinear → DequantizeLinear, scale 2^−FL_a, int8
// zero point 0.
func (q *Quantizer) insertFixedQDQ(g *ir.Graph, used ir.NameSet, dq map[*ir.Value]*ir.Value, l *layer, cn *ir.Node, x *ir.Value) (*adaptActFmt, error) {
	if err := q.adaptActSamples(); err != nil {
		return nil, fmt.Errorf("layer %s: fixed-point activation: %w", l.name, err)
	}
	fx := l.node.Inputs[l.aIdx]
	f, err := adaptActChoose(q.acts[fx], q.adaptActs[fx], q.opts)
	if err != nil {
		return nil, fmt.Errorf("layer %s: fixed-point activation: %w", l.name, err)
	}
	ap := &actParams{scale: f.scale(), zp: 0, unsigned: false, method: "fixed"}
	if err := q.rewireQDQ(g, used, dq, l, cn, x, ap, f.clip()); err != nil {
		return nil, err
	}
	return f, nil
}

// ActSummary is the mean activation word length over the layers with a
// fixed-point activation (0 when there are none) and their count.
func ActSummary(results []LayerResult) (avgBits float64, layers int) {
	for _, r := range results {
		if r.ActWL > 0 {
			avgBits += float64(r.ActWL)
			layers++
		}
	}
	if layers > 0 {
		avgBits /= float64(layers)
	}
	return avgBits, layers
}

// qdqReusable reports whether d, the DequantizeLinear output an earlier
// layer put on x, has ap's scale and zero point and the same Clip (or
// none), so that a layer reading x can share it: layers reading one
// activation may have different formats (a fixed-point one and a uniform
// int8 one after a budget fallback, or two fixed-point formats).
func qdqReusable(d, x *ir.Value, ap *actParams, clip []float32) bool {
	dn := d.Def
	if dn == nil || dn.Op != "DequantizeLinear" || len(dn.Inputs) != 3 {
		return false
	}
	sc, zp := dn.Inputs[1].Const, dn.Inputs[2].Const
	if sc == nil || zp == nil || sc.Data.([]float32)[0] != ap.scale {
		return false
	}
	switch z := zp.Data.(type) {
	case []uint8:
		if !ap.unsigned || int32(z[0]) != ap.zp {
			return false
		}
	case []int8:
		if ap.unsigned || int32(z[0]) != ap.zp {
			return false
		}
	default:
		return false
	}
	qn := dn.Inputs[0].Def
	if qn == nil || qn.Op != "QuantizeLinear" {
		return false
	}
	in := qn.Inputs[0]
	if clip == nil {
		return in == x
	}
	cl := in.Def
	return cl != nil && cl.Op == "Clip" && cl.Inputs[0] == x &&
		cl.Inputs[1].Const.Data.([]float32)[0] == clip[0] && cl.Inputs[2].Const.Data.([]float32)[0] == clip[1]
}
