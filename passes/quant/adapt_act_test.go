package quant

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
)

// adaptActStats returns the calibration statistics of an activation with
// the given values (an identity graph run on them).
func adaptActStats(t *testing.T, data []float32) *actStats {
	t.Helper()
	b := ir.NewBuilder("a")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(int64(len(data)))))
	b.Output(x)
	calib := []map[string]*ir.Tensor{{"x": ir.FromSlice(ir.Float32, []int64{int64(len(data))}, data)}}
	st, err := collectActStats(b.Graph(), calib, []*ir.Value{x})
	if err != nil {
		t.Fatal(err)
	}
	return st[x]
}

// The activation format on a distribution computed by hand: the eight
// values −1, −0.75, …, 0.75 equally often, min-max range (max|x| = 1, so
// FL = WL − 1), 8 KL bins of width 0.25 over [−1, 1] (one value per bin:
// P = 1/8 each).
//
//	WL 2, FL 1: round(2x) clamped to [−2, 1] gives −1 (×2), −0.5 (×2), 0,
//	  0.5 (×3): Q = 2/8, 2/8, 1/8, 3/8 in bins 0, 2, 4, 6 and the 1e-8
//	  floor in bins 1, 3, 5, 7, so KL = (1/8)[2 ln(1/2) + ln(1/3)
//	  + 4 ln(0.125/1e-8)] (+ ln(1+4e-8)) = 7.860006.
//	WL 3, FL 2: every value is on the grid and in range: KL = 0 ≤ eps.
//
// So ⟨3, 2⟩. With eps below every divergence the word length stops at the
// 8-bit cap even when max-wl is 16.
func TestAdaptActFormatByHand(t *testing.T) {
	var data []float32
	for r := 0; r < 50; r++ {
		for k := -4; k < 4; k++ {
			data = append(data, float32(k)/4)
		}
	}
	s := adaptActStats(t, data)
	o := DefaultOptions()
	o.Calib, o.KLBins, o.KLEps, o.MinWL, o.MaxWL = "minmax", 8, 0.1, 2, 16
	if kl := adaptKL(data, 2, 1, 8); math.Abs(kl-7.860006) > 1e-5 {
		t.Errorf("KL at <2,1> = %.6f, want 7.860006", kl)
	}
	f, err := adaptActChoose(s, data, o)
	if err != nil {
		t.Fatal(err)
	}
	if f.wl != 3 || f.fl != 2 || f.kl != 0 || f.amax != 1 {
		t.Errorf("format %s (amax %v), want <3,2> KL 0 amax 1", f, f.amax)
	}
	// Representable range [−4, 3]·2^−2.
	if c := f.clip(); len(c) != 2 || c[0] != -1 || c[1] != 0.75 || f.scale() != 0.25 {
		t.Errorf("clip %v scale %v, want [-1 0.75] and 0.25", c, f.scale())
	}
	// The 8-bit cap: FL = 8 − 1 − ceil(log2 1) = 7, no Clip.
	o.KLEps = -1
	f, err = adaptActChoose(s, data, o)
	if err != nil {
		t.Fatal(err)
	}
	if f.wl != 8 || f.fl != 7 || f.clip() != nil {
		t.Errorf("eps -1: format %s clip %v, want <8,7> and no clip", f, f.clip())
	}
	// The percentile range sets FL: 99th percentile of 0…9.99 (step 0.01)
	// is about 9.9, ceil(log2 9.9) = 4, so WL 8 gives FL 3.
	var wide []float32
	for i := 0; i < 1000; i++ {
		wide = append(wide, float32(i)/100)
	}
	o.Calib, o.Percentile = "percentile", 99
	f, err = adaptActChoose(adaptActStats(t, wide), wide, o)
	if err != nil {
		t.Fatal(err)
	}
	if f.wl != 8 || f.fl != 3 || f.amax < 9.8 || f.amax > 9.95 {
		t.Errorf("percentile: format %s amax %v, want <8,3> and amax ≈ 9.9", f, f.amax)
	}
}

// act=fixed in a graph: every layer's input goes through (Clip →)
// QuantizeLinear → DequantizeLinear with scale 2^−FL_a and an int8 zero
// point 0, the Clip bounds are the ⟨WL_a, FL_a⟩ range, the weights are
// fixed point of at most 8 bits, and running the graph gives codes inside
// the WL_a-bit range; two runs give the same graph text.
func TestAdaptActGraph(t *testing.T) {
	var texts [2]string
	for run := range texts {
		g, calib := testNet(3)
		pl, err := passes.ParsePipeline("quant(scheme=adapt,mode=weight+act,kl-bins=16)")
		if err != nil {
			t.Fatal(err)
		}
		ctx := passes.NewContext(0)
		ctx.Calib = calib
		if err := passes.Run(ctx, g, pl); err != nil {
			t.Fatal(err)
		}
		texts[run] = graphText(t, g)
		if run == 1 {
			break
		}
		recs := map[string]map[string]any{}
		for _, r := range ctx.Report.Records {
			recs[r.Layer] = r.Fields
		}
		narrow := 0
		for _, n := range g.Nodes {
			if n.Op != "QuantizeLinear" {
				continue
			}
			layer := strings.TrimSuffix(n.Name, "/act_quant")
			r := recs[layer]
			if r == nil {
				t.Fatalf("%s: no report record for layer %q", n.Describe(), layer)
			}
			wl, fl := r["act_wl"].(int), r["act_fl"].(int)
			if wl < 2 || wl > 8 || r["wl"].(int) > 8 || !strings.HasPrefix(r["act"].(string), "fx<") {
				t.Fatalf("layer %s: record %v", layer, r)
			}
			scale := n.Inputs[1].Const.Data.([]float32)[0]
			zp := n.Inputs[2].Const
			if scale != float32(math.Ldexp(1, -fl)) || zp.DType != ir.Int8 || zp.Data.([]int8)[0] != 0 {
				t.Errorf("layer %s: scale %v zero point %v, want 2^-%d and int8 0", layer, scale, zp, fl)
			}
			clip := n.Inputs[0].Def
			if wl < 8 {
				narrow++
				lo, hi := clip.Inputs[1].Const.Data.([]float32)[0], clip.Inputs[2].Const.Data.([]float32)[0]
				h := math.Ldexp(1, wl-1)
				if clip.Op != "Clip" || float64(lo) != -h*float64(scale) || float64(hi) != (h-1)*float64(scale) {
					t.Errorf("layer %s <%d,%d>: before the quantizer %s [%v, %v]", layer, wl, fl, clip.Op, lo, hi)
				}
			} else if clip != nil && clip.Op == "Clip" {
				t.Errorf("layer %s: 8-bit activation with a Clip", layer)
			}
			vals, err := runWith(context.Background(), g, calib[0], []*ir.Value{n.Outputs[0]})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range vals[n.Outputs[0]].Data.([]int8) {
				if int(c) < -(1<<(wl-1)) || int(c) > 1<<(wl-1)-1 {
					t.Fatalf("layer %s: code %d outside %d bits", layer, c, wl)
				}
			}
		}
		if narrow == 0 {
			t.Error("no activation narrower than 8 bits (kl-bins=16 should give some)")
		}
	}
	if texts[0] != texts[1] {
		t.Error("two runs gave different graphs")
	}
}

// The grammar: adapt:act is fixed-point weights and activations; act=
// defaults to fixed for scheme=adapt and to int8 otherwise.
func TestAdaptActArgs(t *testing.T) {
	for _, c := range []struct {
		preset   string
		act, fix bool
		steps    int
	}{
		{"adapt", false, false, 0},
		{"adapt:act", true, true, 0},
		{"adapt:20:act", true, true, 20},
		{"adapt:20", false, false, 20},
		{"scheme=adapt,mode=weight+act", true, true, 0},
		{"scheme=adapt,mode=weight+act,act=int8", true, false, 0},
		{"scheme=uniform,mode=weight+act", true, false, 0},
		{"scheme=uniform,mode=weight+act,act=fixed", true, true, 0},
	} {
		a, err := Preset(c.preset)
		if err != nil {
			t.Fatalf("%s: %v", c.preset, err)
		}
		o, err := ParseArgs(a)
		if err != nil {
			t.Fatalf("%s: %v", c.preset, err)
		}
		if o.Default.Act != c.act || o.Default.ActFixed != c.fix || o.FineTune != c.steps {
			t.Errorf("%s: act %v fixed %v finetune %d", c.preset, o.Default.Act, o.Default.ActFixed, o.FineTune)
		}
	}
	for _, bad := range []string{"adapt:act:x", "adapt:1:2", "adapt:"} {
		if _, err := Preset(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	a, _ := Preset("scheme=adapt,mode=weight+act,act=int4")
	if _, err := ParseArgs(a); err == nil {
		t.Error("act=int4 accepted")
	}
	if s := (Spec{Scheme: "adapt", Act: true, ActFixed: true}).String(); s != "adapt+actfx" {
		t.Errorf("spec label %q", s)
	}
}

// Two layers reading one activation share its QDQ when their formats
// agree, and get one each when they differ (a fixed-point layer next to a
// uniform int8 one, as a budget fallback leaves them).
func TestAdaptActSharedInput(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	b := ir.NewBuilder("shared")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.Shape{ir.Sym("N"), ir.D(8)}))
	ya := b.Op1("MatMul", nil, x, b.Const("wa", ir.FromSlice(ir.Float32, []int64{8, 4}, randWeights(r, 32, 0.4))))
	ya.Def.Name = "fa"
	yb := b.Op1("MatMul", nil, x, b.Const("wb", ir.FromSlice(ir.Float32, []int64{8, 4}, randWeights(r, 32, 0.4))))
	yb.Def.Name = "fb"
	b.Output(b.Op1("Add", nil, ya, yb))
	g := b.Graph()
	g.Opsets = map[string]int64{"": 17}
	calib := []map[string]*ir.Tensor{{"x": ir.FromSlice(ir.Float32, []int64{16, 8}, randWeights(r, 128, 1))}}
	fixed := Spec{Scheme: "adapt", Act: true, ActFixed: true, Gran: "channel"}
	uni := Spec{Scheme: "uniform", Bits: 8, Gran: "channel", Sym: true, Act: true}
	for _, c := range []struct {
		name     string
		plan     Plan
		quantize int
	}{
		{"same format", Plan{"fa": fixed, "fb": fixed}, 1},
		{"fixed and int8", Plan{"fa": fixed, "fb": uni}, 2},
		{"int8 and fixed", Plan{"fa": uni, "fb": fixed}, 2},
	} {
		q := NewQuantizer(g, DefaultOptions(), calib, nil)
		qg, _, err := q.Build(c.plan)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		nq := 0
		for _, n := range qg.Nodes {
			switch n.Op {
			case "QuantizeLinear":
				nq++
			case "MatMul":
				zp := n.Inputs[0].Def.Inputs[2].Const
				if isFixed := zp.DType == ir.Int8; isFixed != c.plan[n.Name].ActFixed {
					t.Errorf("%s: layer %s reads a QDQ with zero point %s", c.name, n.Name, zp.DType)
				}
			}
		}
		if nq != c.quantize {
			t.Errorf("%s: %d QuantizeLinear, want %d", c.name, nq, c.quantize)
		}
	}
}
