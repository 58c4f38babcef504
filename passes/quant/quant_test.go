package quant

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
	"github.com/optc-dev/optc/runtime/interp"
)

func randWeights(r *rand.Rand, n int, sigma float64) []float32 {
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(r.NormFloat64() * sigma)
	}
	return w
}

func decoded(t *testing.T, q *ir.Quantized, shape []int64) []float32 {
	t.Helper()
	d, err := decodeQ(q, shape)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// NUPES with a = 1 must reproduce uniform symmetric quantization bit for
// bit: the same codes, the same scales and the same decoded values.
func TestNUPESExponentOneIsUniform(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	shape := []int64{16, 40}
	w := randWeights(r, 16*40, 0.3)
	w[7] = 0 // exact zeros and ties stay identical
	w[9] = -w[8]
	for _, bits := range []int{2, 3, 4, 8} {
		for _, lay := range []struct{ axis, group int }{{-1, 0}, {0, 0}, {1, 0}, {0, 16}, {1, 8}} {
			lo, err := newLayout(shape, lay.axis, lay.group)
			if err != nil {
				t.Fatal(err)
			}
			u := encodeUniform(w, lo, bits, true)
			p := encodePower(w, lo, bits, []float32{1}, nil)
			if string(u.Codes) != string(p.Codes) {
				t.Fatalf("bits %d layout %+v: codes differ", bits, lay)
			}
			for i := range u.Scales {
				if math.Float32bits(u.Scales[i]) != math.Float32bits(p.Scales[i]) {
					t.Fatalf("bits %d layout %+v: scale %d differs", bits, lay, i)
				}
			}
			du, dp := decoded(t, u, shape), decoded(t, p, shape)
			for i := range du {
				if math.Float32bits(du[i]) != math.Float32bits(dp[i]) {
					t.Fatalf("bits %d layout %+v: element %d %v vs %v", bits, lay, i, du[i], dp[i])
				}
			}
		}
	}
}

func TestUniformByHand(t *testing.T) {
	// Symmetric 4-bit per tensor: M = 1, Qmax = 7, scale 1/7.
	// 0.5·7 = 3.5 → 4 (half away from zero), −1·7 = −7, 0.26·7 = 1.82 → 2,
	// 0.74·7 = 5.18 → 5.
	lo, _ := newLayout([]int64{4}, -1, 0)
	q := encodeUniform([]float32{0.5, -1, 0.26, 0.74}, lo, 4, true)
	if got := q.UnpackCodes(4); got[0] != 4 || got[1] != -7 || got[2] != 2 || got[3] != 5 {
		t.Fatalf("codes %v, want [4 -7 2 5]", got)
	}
	if q.Scales[0] != float32(1.0/7) {
		t.Fatalf("scale %v", q.Scales[0])
	}
	// Asymmetric 8-bit: range [−1, 3], scale 4/255, zero point
	// round(255/4 = 63.75) = 64; codes round(−63.75)+64 = 0, 64,
	// round(191.25)+64 = 255.
	q = encodeUniform([]float32{-1, 0, 3}, func() *qLayout { l, _ := newLayout([]int64{3}, -1, 0); return l }(), 8, false)
	if got := q.UnpackCodes(3); got[0] != 0 || got[1] != 64 || got[2] != 255 || q.ZeroPoints[0] != 64 {
		t.Fatalf("codes %v zp %v, want [0 64 255] zp 64", got, q.ZeroPoints)
	}
	if q.Scales[0] != float32(4.0/255) {
		t.Fatalf("scale %v", q.Scales[0])
	}
}

func TestNUPESDataFreeBeatsUniform(t *testing.T) {
	// Gaussian weights: the optimal exponent is below 1 (papers.md: the
	// 0.5–0.8 region) and the weight error is below uniform's.
	r := rand.New(rand.NewPCG(2, 2))
	shape := []int64{32, 128}
	w := randWeights(r, 32*128, 0.1)
	lo, _ := newLayout(shape, 0, 0)
	for _, bits := range []int{3, 4} {
		exps, err := nupesDataFree(w, shape, lo, bits, false)
		if err != nil {
			t.Fatal(err)
		}
		if exps[0] >= 0.95 || exps[0] <= 0.3 {
			t.Errorf("bits %d: exponent %v, want in (0.3, 0.95)", bits, exps[0])
		}
		eu := sqErr(w, decoded(t, encodeUniform(w, lo, bits, true), shape))
		ep := sqErr(w, decoded(t, encodePower(w, lo, bits, exps, nil), shape))
		if ep >= eu {
			t.Errorf("bits %d: NUPES error %g not below uniform %g", bits, ep, eu)
		}
		// The search is stable: a second run gives the same exponent.
		again, _ := nupesDataFree(w, shape, lo, bits, false)
		if again[0] != exps[0] {
			t.Errorf("exponent search not deterministic: %v vs %v", exps, again)
		}
		// Per-channel exponents are at least as good as one per layer.
		pc, _ := nupesDataFree(w, shape, lo, bits, true)
		if e := sqErr(w, decoded(t, encodePower(w, lo, bits, pc, nil), shape)); e > ep*(1+1e-9) {
			t.Errorf("bits %d: per-channel error %g above per-layer %g", bits, e, ep)
		}
	}
}

func TestFixedPoint(t *testing.T) {
	// FL = WL − 1 − ceil(log2 max|w|): max 0.8 → ceil(−0.32) = 0 → FL = 7
	// for WL 8; max 3 → ceil(1.58) = 2 → FL = 5.
	if fl := fracLength([]float32{0.8, -0.1}, 8); fl != 7 {
		t.Errorf("FL = %d, want 7", fl)
	}
	if fl := fracLength([]float32{-3, 1}, 8); fl != 5 {
		t.Errorf("FL = %d, want 5", fl)
	}
	// Round to nearest: |w − ŵ| ≤ 2^(−FL−1) (papers.md §8).
	r := rand.New(rand.NewPCG(3, 3))
	w := randWeights(r, 1000, 0.5)
	for wl := 4; wl <= 12; wl++ {
		fl := fracLength(w, wl)
		d := decoded(t, encodeFixed(fixedCodes(w, wl, fl), wl, fl), []int64{1000})
		for i := range w {
			if math.Abs(float64(w[i]-d[i])) > math.Ldexp(1, -fl-1)+1e-9 {
				t.Fatalf("WL %d FL %d: |%v − %v| > 2^-%d", wl, fl, w[i], d[i], fl+1)
			}
		}
	}
	// Push-down picks a larger WL for a smaller KL threshold, and the KL
	// falls as WL grows.
	wlLoose, _, _ := adaptChoose(w, 0.5, 2, 16, 64)
	wlTight, _, kls := adaptChoose(w, 0.01, 2, 16, 64)
	if wlTight < wlLoose {
		t.Errorf("tight threshold gave WL %d < loose %d", wlTight, wlLoose)
	}
	if kls[len(kls)-1] > kls[0] {
		t.Errorf("KL did not fall with WL: %v", kls)
	}
}

func TestCalibrators(t *testing.T) {
	// 10000 values uniform in [0, 1) plus one outlier at 100.
	b := ir.NewBuilder("c")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(10001)))
	b.Output(x)
	g := b.Graph()
	data := make([]float32, 10001)
	for i := 0; i < 10000; i++ {
		data[i] = float32(i) / 10000
	}
	data[10000] = 100
	calib := []map[string]*ir.Tensor{{"x": ir.FromSlice(ir.Float32, []int64{10001}, data)}}
	st, err := collectActStats(g, calib, []*ir.Value{x})
	if err != nil {
		t.Fatal(err)
	}
	s := st[x]
	mm, _ := calibrate(s, "minmax", 0, false)
	// [0, 100] in uint8: scale 100/255, zero point 0.
	if mm.scale != float32(100.0/255) || mm.zp != 0 {
		t.Errorf("minmax: scale %v zp %d", mm.scale, mm.zp)
	}
	// MSE keeps the outlier: its squared error if clipped (≈99²) outweighs
	// the rounding error of 10000 values on a 100/255 grid (≈10000·0.0128).
	if p, _ := calibrate(s, "mse", 0, false); p.hi != 100 {
		t.Errorf("mse: range [%v, %v], want [0, 100]", p.lo, p.hi)
	}
	for _, m := range []string{"percentile", "kl"} {
		p, err := calibrate(s, m, 99.9, false)
		if err != nil {
			t.Fatal(err)
		}
		// Clipping the lone outlier: the range ends far below 100
		// (histogram bins are 100/2048 wide; the KL calibrator's smallest
		// threshold is 256 bins, 12.5).
		if p.hi < 0.9 || p.hi > 13 {
			t.Errorf("%s: range [%v, %v], want the outlier clipped", m, p.lo, p.hi)
		}
	}
	// Laplace data, int8: the MSE range lies within [min, max] and its
	// rounding+clipping error on the raw samples is no worse than min-max's.
	r := rand.New(rand.NewPCG(9, 9))
	lap := make([]float32, 20000)
	for i := range lap {
		lap[i] = float32(r.ExpFloat64())
		if i%2 == 1 {
			lap[i] = -lap[i]
		}
	}
	calib = []map[string]*ir.Tensor{{"x": ir.FromSlice(ir.Float32, []int64{20000}, lap)}}
	b2 := ir.NewBuilder("l")
	x2 := b2.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(20000)))
	b2.Output(x2)
	st, err = collectActStats(b2.Graph(), calib, []*ir.Value{x2})
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := calibrate(st[x2], "mse", 0, true)
	mm2, _ := calibrate(st[x2], "minmax", 0, true)
	qerr := func(p *actParams) float64 {
		e := 0.0
		for _, v := range lap {
			k := math.Max(-127, math.Min(127, math.Round(float64(v/p.scale))))
			d := float64(v) - float64(p.scale)*k
			e += d * d
		}
		return e
	}
	if ms.hi > st[x2].max || ms.lo < st[x2].min || qerr(ms) > qerr(mm2)*1.001 {
		t.Errorf("mse on Laplace data: [%v, %v] error %g; minmax [%v, %v] error %g", ms.lo, ms.hi, qerr(ms), mm2.lo, mm2.hi, qerr(mm2))
	}
	if _, err := calibrate(s, "bogus", 0, false); err == nil {
		t.Error("unknown calibrator accepted")
	}
}

// testNet builds x[B,8] → Gemm(W1[16,8], transB) → Relu → MatMul(W2[16,4])
// and a calibration set.
func testNet(seed uint64) (*ir.Graph, []map[string]*ir.Tensor) {
	r := rand.New(rand.NewPCG(seed, 7))
	b := ir.NewBuilder("net")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.Shape{ir.Sym("N"), ir.D(8)}))
	w1 := b.Const("w1", ir.FromSlice(ir.Float32, []int64{16, 8}, randWeights(r, 128, 0.4)))
	b1 := b.Const("b1", ir.FromSlice(ir.Float32, []int64{16}, randWeights(r, 16, 0.1)))
	w2 := b.Const("w2", ir.FromSlice(ir.Float32, []int64{16, 4}, randWeights(r, 64, 0.4)))
	h := b.Op1("Gemm", map[string]*ir.Attr{"transB": ir.IntAttr(1)}, x, w1, b1)
	h.Def.Name = "fc1"
	a := b.Op1("Relu", nil, h)
	y := b.Op1("MatMul", nil, a, w2)
	y.Def.Name = "fc2"
	b.Output(y)
	g := b.Graph()
	g.Opsets = map[string]int64{"": 17}
	var calib []map[string]*ir.Tensor
	for i := 0; i < 4; i++ {
		calib = append(calib, map[string]*ir.Tensor{"x": ir.FromSlice(ir.Float32, []int64{16, 8}, randWeights(r, 128, 1))})
	}
	return g, calib
}

func graphText(t *testing.T, g *ir.Graph) string {
	t.Helper()
	var sb strings.Builder
	if err := ir.Print(&sb, g); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// Every scheme through the pipeline: the result verifies, prints, parses
// back to the same text, runs, and two runs are byte-identical.
func TestPassSchemesDeterministic(t *testing.T) {
	specs := []string{
		"quant(scheme=uniform,bits=8,mode=weight+act,calib=kl)",
		"quant(scheme=uniform,bits=8,mode=weight+act,calib=mse,act-sym=true)",
		"quant(scheme=uniform,bits=8,mode=weight+act,calib=minmax)",
		"quant(scheme=uniform,bits=4,granularity=group,group=4,sym=false)",
		"quant(scheme=uniform,bits=4,granularity=tensor)",
		"quant(scheme=nupes,bits=3,method=datafree,exponent=channel)",
		"quant(scheme=nupes,bits=4,method=datadriven)",
		"quant(scheme=nupes,bits=4,method=datadriven,table=int,mode=weight+act)",
		"quant(scheme=nupes,bits=3,method=datafree,exponent=channel,table=int,mode=weight+act)",
		"quant(scheme=adapt,finetune=12,window=4,kl-bins=32)",
	}
	for _, spec := range specs {
		t.Run(spec, func(t *testing.T) {
			var texts [2]string
			for i := range texts {
				g, calib := testNet(1)
				pl, err := passes.ParsePipeline(spec)
				if err != nil {
					t.Fatal(err)
				}
				ctx := passes.NewContext(0)
				ctx.Calib = calib
				if err := passes.Run(ctx, g, pl); err != nil {
					t.Fatal(err)
				}
				if len(ctx.Report.Records) != 2 {
					t.Fatalf("report has %d records, want 2", len(ctx.Report.Records))
				}
				for _, r := range ctx.Report.Records {
					if sq, ok := r.Fields["sqnr_db"].(float64); !ok || sq < 5 {
						t.Errorf("%s: SQNR %v", r.Layer, r.Fields["sqnr_db"])
					}
				}
				texts[i] = graphText(t, g)
				g2, err := ir.Parse(texts[i])
				if err != nil {
					t.Fatal(err)
				}
				if graphText(t, g2) != texts[i] {
					t.Fatal("text round trip differs")
				}
				in := map[string]interp.Value{"x": calib[0]["x"]}
				if _, err := interp.Run(context.Background(), g2, in); err != nil {
					t.Fatal(err)
				}
			}
			if texts[0] != texts[1] {
				t.Fatal("two runs gave different graphs")
			}
		})
	}
}

// The int8 weight+activation graph computes exactly: y = DQ(Q(x))·Ŵ with
// Q rounding half to even and saturating, checked by hand from the
// graph's scale and zero point.
func TestActivationQDQSemantics(t *testing.T) {
	g, calib := testNet(2)
	opts := DefaultOptions()
	opts.Default = Spec{Scheme: "uniform", Bits: 8, Gran: "channel", Sym: true, Act: true}
	opts.Calib = "percentile"
	opts.Percentile = 99
	q := NewQuantizer(g, opts, calib, nil)
	plan := Plan{"fc1": opts.Default}
	qg, res, err := q.Build(plan)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Act == "" || res[1].Spec != "fp32" {
		t.Fatalf("results %+v", res)
	}
	var scale float32
	var zp uint8
	var w1 *ir.Tensor
	for _, c := range qg.Consts {
		switch {
		case strings.HasSuffix(c.Name, "_scale"):
			scale = c.Const.Data.([]float32)[0]
		case strings.HasSuffix(c.Name, "_zero_point"):
			zp = c.Const.Data.([]uint8)[0]
		case c.Name == "w1":
			w1 = c.Const
		}
	}
	wd, err := w1.Dense()
	if err != nil {
		t.Fatal(err)
	}
	W := wd.Data.([]float32)
	x := calib[0]["x"].Data.([]float32)
	// Expected first-layer pre-activation for row 0, output 0.
	exp := float32(0)
	for k := 0; k < 8; k++ {
		v := math.RoundToEven(float64(x[k]/scale)) + float64(zp)
		v = math.Max(0, math.Min(255, v))
		exp += scale * float32(v-float64(zp)) * W[k]
	}
	var h *ir.Value
	for _, n := range qg.Nodes {
		if n.Op == "Gemm" {
			h = n.Outputs[0]
		}
	}
	vals, err := runWith(context.Background(), qg, calib[0], []*ir.Value{h})
	if err != nil {
		t.Fatal(err)
	}
	b1 := g.Consts[1].Const.Data.([]float32)[0]
	if got := vals[h].Data.([]float32)[0]; math.Abs(float64(got-(exp+b1))) > 1e-5 {
		t.Fatalf("fc1[0,0] = %v, want %v", got, exp+b1)
	}
}

// The Gram-matrix loss of a conv layer equals ||conv(X, W−Ŵ)||² computed
// by the interpreter (checks im2col with padding and stride).
func TestConvGramMatchesInterpreter(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	b := ir.NewBuilder("conv")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(2, 3, 7, 6)))
	wt := ir.FromSlice(ir.Float32, []int64{4, 3, 3, 2}, randWeights(r, 4*3*3*2, 0.5))
	w := b.Const("w", wt)
	y := b.Op1("Conv", map[string]*ir.Attr{"pads": ir.IntsAttr(1, 0, 2, 1), "strides": ir.IntsAttr(2, 1), "dilations": ir.IntsAttr(1, 2)}, x, w)
	b.Output(y)
	g := b.Graph()
	g.Opsets = map[string]int64{"": 17}
	xt := ir.FromSlice(ir.Float32, []int64{2, 3, 7, 6}, randWeights(r, 2*3*7*6, 1))
	ls := findLayers(g)
	if len(ls) != 1 {
		t.Fatalf("%d layers", len(ls))
	}
	l := ls[0]
	_, R := l.channels()
	gm := newGram(1, R)
	if err := l.tokens(xt, 0, nil, gm.add); err != nil {
		t.Fatal(err)
	}
	gm.finish(0)
	// A perturbation E of the weights and the loss Σ_c e_cᵀ H e_c.
	E := randWeights(r, wt.Len(), 0.1)
	rows := l.rows(E)
	loss := 0.0
	for _, e := range rows {
		loss += quadForm(gm.H[0], e)
	}
	// The same through the interpreter: conv with weights E.
	w.Const = ir.FromSlice(ir.Float32, wt.Shape, E)
	out, err := interp.Run(context.Background(), g, map[string]interp.Value{"x": xt})
	if err != nil {
		t.Fatal(err)
	}
	ref := 0.0
	for _, v := range out[y.Name].(*ir.Tensor).Data.([]float32) {
		ref += float64(v) * float64(v)
	}
	if math.Abs(loss-ref) > 1e-4*ref {
		t.Fatalf("Gram loss %v, interpreter %v", loss, ref)
	}
}

// Data-driven NUPES never ends above its data-free start and, on
// correlated inputs, cuts the layer-output error well below it.
func TestNUPESDataDrivenDescends(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	const in, out, T = 48, 24, 512
	b := ir.NewBuilder("mm")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.Shape{ir.Sym("N"), ir.D(in)}))
	w := b.Const("w", ir.FromSlice(ir.Float32, []int64{in, out}, randWeights(r, in*out, 0.3)))
	b.Output(b.Op1("MatMul", nil, x, w))
	g := b.Graph()
	l := findLayers(g)[0]
	// Correlated features: X = Z·A.
	A := randWeights(r, in*in, 0.3)
	xs := make([]float32, T*in)
	for t0 := 0; t0 < T; t0++ {
		z := randWeights(r, in, 1)
		for j := 0; j < in; j++ {
			s := float32(0)
			for k := 0; k < in; k++ {
				s += z[k] * A[k*in+j]
			}
			xs[t0*in+j] = s
		}
	}
	gm := newGram(1, in)
	if err := l.tokens(ir.FromSlice(ir.Float32, []int64{T, in}, xs), 0, nil, gm.add); err != nil {
		t.Fatal(err)
	}
	gm.finish(0.01)
	wv := l.weight.Const.Float32s()
	lo, _ := newLayout(l.shape, l.axis, 0)
	exps, err := nupesDataFree(wv, l.shape, lo, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	codes, exps2, before, after := nupesDataDriven(l, wv, lo, 3, exps, gm, 2, 2)
	if !(after <= before) || after > 0.7*before {
		t.Fatalf("loss %g -> %g, want a clear descent", before, after)
	}
	init := powerCodes(wv, lo, 3, exps, lo.absMax(wv))
	far := 0
	for i := range codes {
		if d := codes[i] - init[i]; d > 1 || d < -1 {
			far++
		}
	}
	t.Logf("a %v -> %v, loss %g -> %g, %d codes moved by more than one step", exps, exps2, before, after, far)
	// The result is what the encoding decodes to: recompute the loss from
	// the encoded tensor.
	enc := encodePower(wv, lo, 3, exps2, codes)
	d := decoded(t, enc, l.shape)
	e := make([]float32, len(wv))
	for i := range e {
		e[i] = wv[i] - d[i]
	}
	got := 0.0
	for _, row := range l.rows(e) {
		got += quadForm(gm.H[0], row)
	}
	if math.Abs(got-after) > 1e-6*after {
		t.Fatalf("loss of the encoded tensor %g, optimizer says %g", got, after)
	}
}

func TestArgsErrors(t *testing.T) {
	for _, spec := range []string{
		"quant(scheme=cubic)", "quant(bits=9)", "quant(granularity=row)", "quant(mode=act)",
		"quant(calib=magic)", "quant(scheme=nupes,method=guess)", "quant(typo=1)", "quant(sym=maybe)",
		"quant(min-wl=1)", "quant(percentile=20)",
	} {
		if _, err := passes.ParsePipeline(spec); err == nil {
			t.Errorf("%s: accepted", spec)
		}
	}
	for _, p := range []string{"int8", "int8:w", "int4", "int4:g32", "nupes:4", "nupes:3:datafree", "adapt", "adapt:20", "scheme=uniform,bits=4"} {
		a, err := Preset(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if _, err := ParseArgs(a); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range []string{"int3", "nupes", "int4:x"} {
		if _, err := Preset(p); err == nil {
			t.Errorf("%s: accepted", p)
		}
	}
	// Activation quantization without calibration data fails clearly.
	g, _ := testNet(1)
	pl, _ := passes.ParsePipeline("quant(mode=weight+act)")
	if err := passes.Run(passes.NewContext(0), g, pl); err == nil || !strings.Contains(err.Error(), "calibration") {
		t.Errorf("got %v", err)
	}
}

// agreement returns a metric: the share of rows of xs whose argmax output
// matches the float graph's (a stand-in for accuracy with teacher labels).
func agreement(t *testing.T, float *ir.Graph, xs *ir.Tensor) Metric {
	run := func(g *ir.Graph) []int {
		out, err := interp.Run(context.Background(), g, map[string]interp.Value{"x": xs})
		if err != nil {
			t.Fatal(err)
		}
		y := out[g.Outputs[0].Name].(*ir.Tensor)
		d, _ := y.Dense()
		v := d.Data.([]float32)
		k := int(y.Shape[1])
		am := make([]int, y.Shape[0])
		for i := range am {
			for j := 1; j < k; j++ {
				if v[i*k+j] > v[i*k+am[i]] {
					am[i] = j
				}
			}
		}
		return am
	}
	ref := run(float)
	return func(g *ir.Graph) (float64, error) {
		got := run(g)
		n := 0
		for i := range got {
			if got[i] == ref[i] {
				n++
			}
		}
		return float64(n) / float64(len(got)), nil
	}
}

func TestBudgetNeverOverBudget(t *testing.T) {
	g, calib := testNet(3)
	r := rand.New(rand.NewPCG(8, 8))
	xs := ir.FromSlice(ir.Float32, []int64{400, 8}, randWeights(r, 400*8, 1))
	metric := agreement(t, g, xs)
	opts := DefaultOptions()
	opts.Default = Spec{Scheme: "uniform", Bits: 2, Gran: "tensor", Sym: true}
	q := NewQuantizer(g, opts, calib, nil)
	plan := q.DefaultPlan()
	full, _, err := q.Build(plan)
	if err != nil {
		t.Fatal(err)
	}
	m0, _ := metric(full)
	if 1-m0 < 0.05 {
		t.Fatalf("2-bit per-tensor quantization only drops %v; the test needs a lossy start", 1-m0)
	}
	for _, budget := range []float64{0, 0.005, 0.02, 0.1, 1} {
		qg, res, br, err := q.Budget(plan, metric, budget)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := metric(qg)
		if br.Base-m > budget || m != br.Metric {
			t.Fatalf("budget %v: drop %v (reported metric %v, measured %v)", budget, br.Base-m, br.Metric, m)
		}
		if budget >= 1 && len(br.Steps) != 1 {
			t.Errorf("budget 1: %d steps, want none", len(br.Steps)-1)
		}
		if budget == 0 && len(br.Steps) > 1 && br.Drops == nil {
			t.Errorf("budget 0: no sensitivity recorded")
		}
		t.Logf("budget %v: metric %v after %d steps: %v", budget, m, len(br.Steps)-1, func() []string {
			var s []string
			for _, r := range res {
				s = append(s, r.Layer+"="+r.Spec)
			}
			return s
		}())
	}
	if _, _, _, err := q.Budget(plan, metric, -1); err == nil {
		t.Error("negative budget accepted")
	}
}

func TestFallbackLadder(t *testing.T) {
	s := Spec{Scheme: "nupes", Bits: 3, Gran: "channel", Method: "datadriven", Exponent: "layer", Act: true}
	var steps []string
	for !s.Float() {
		s, _ = Fallback(s)
		steps = append(steps, s.String())
	}
	want := "uniform:8/channel+act8 uniform:8/channel fp32"
	if got := strings.Join(steps, " "); got != want {
		t.Fatalf("ladder %q, want %q", got, want)
	}
}
