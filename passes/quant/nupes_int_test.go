package quant

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
	"github.com/optc-dev/optc/runtime/interp"
)

// Integer NUPES with a = 1 is uniform symmetric quantization bit for bit:
// the same codes, scales and decoded values as encodeUniform, and the
// integer table is the int8 grid r·k.
func TestNUPESIntExponentOneIsUniform(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 1))
	shape := []int64{16, 40}
	w := randWeights(r, 16*40, 0.3)
	w[7] = 0
	w[9] = -w[8]
	for _, bits := range []int{2, 3, 4, 8} {
		for _, lay := range []struct{ axis, group int }{{-1, 0}, {0, 0}, {1, 0}, {0, 16}} {
			lo, err := newLayout(shape, lay.axis, lay.group)
			if err != nil {
				t.Fatal(err)
			}
			u := encodeUniform(w, lo, bits, true)
			p := nupesIntEncode(w, lo, bits, []float32{1}, nil)
			if p.Scheme != ir.QuantPowerInt || string(u.Codes) != string(p.Codes) {
				t.Fatalf("bits %d layout %+v: scheme %s, codes equal %v", bits, lay, p.Scheme, string(u.Codes) == string(p.Codes))
			}
			du, dp := decoded(t, u, shape), decoded(t, p, shape)
			for i := range du {
				if math.Float32bits(du[i]) != math.Float32bits(dp[i]) {
					t.Fatalf("bits %d layout %+v: element %d %v vs %v", bits, lay, i, du[i], dp[i])
				}
			}
			qmax := qmaxOf(bits)
			rr := ir.PowerIntRatio(qmax)
			for m, v := range ir.PowerIntTable(1, qmax) {
				if int32(v) != rr*int32(m) {
					t.Fatalf("bits %d: T[%d] = %d, want %d", bits, m, v, rr*int32(m))
				}
			}
		}
	}
}

// Data-free integer NUPES: every code is the nearest entry of the integer
// table (checked by exhaustive search over all codes), and the weight
// error is never above uniform symmetric quantization's.
func TestNUPESIntDataFree(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 1))
	shape := []int64{24, 32}
	w := make([]float32, 24*32)
	for i := range w { // heavy tails: NUPES picks a < 1
		x := r.NormFloat64()
		w[i] = float32(0.1 * x * x * x)
	}
	for _, bits := range []int{3, 4} {
		for _, perCh := range []bool{false, true} {
			lo, err := newLayout(shape, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			exps, err := nupesDataFree(w, shape, lo, bits, perCh)
			if err != nil {
				t.Fatal(err)
			}
			p := nupesIntEncode(w, lo, bits, exps, nil)
			u := encodeUniform(w, lo, bits, true)
			dp, du := decoded(t, p, shape), decoded(t, u, shape)
			if ep, eu := sqErr(w, dp), sqErr(w, du); ep > eu {
				t.Errorf("bits %d per-channel %v: error %g above uniform %g", bits, perCh, ep, eu)
			}
			below1 := false
			for _, a := range p.Exponent {
				below1 = below1 || a < 1
			}
			if !below1 {
				t.Errorf("bits %d per-channel %v: exponents %v, want some < 1 on cubed Gaussians", bits, perCh, p.Exponent)
			}
			qmax := qmaxOf(bits)
			codes := p.UnpackCodes(len(w))
			for i, v := range w {
				c := i / 32
				a := p.Exponent[0]
				if len(p.Exponent) > 1 {
					a = p.Exponent[c]
				}
				tab := p.PowerDecodeTable(a)
				best, bestD := int32(0), math.Inf(1)
				for k := -qmax; k <= qmax; k++ {
					x := float64(p.Scales[c] * tab[abs32(k)]) // float32, as Decode
					if k < 0 {
						x = -x
					}
					if d := math.Abs(x - float64(v)); d < bestD-1e-12*math.Abs(float64(v)) {
						best, bestD = k, d
					}
				}
				got := float64(dp[i]) - float64(v)
				if math.Abs(got) > bestD*(1+1e-6)+1e-12 {
					t.Fatalf("bits %d elem %d: code %d (error %g), nearest %d (error %g)", bits, i, codes[i], got, best, bestD)
				}
			}
		}
	}
}

// The preset nupes:B[:method]:int gives integer-table NUPES with int8
// activations; the pipeline's result is deterministic, round-trips
// through the text format and runs.
func TestNUPESIntPipeline(t *testing.T) {
	for name, want := range map[string]Spec{
		"nupes:4:int":          {Scheme: "nupes", Bits: 4, Method: "datadriven", IntTable: true, Act: true},
		"nupes:3:datafree:int": {Scheme: "nupes", Bits: 3, Method: "datafree", IntTable: true, Act: true},
		"nupes:4":              {Scheme: "nupes", Bits: 4, Method: "datadriven"},
	} {
		a, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		o, err := ParseArgs(a)
		if err != nil {
			t.Fatal(err)
		}
		s := o.Default
		if s.Scheme != want.Scheme || s.Bits != want.Bits || s.Method != want.Method || s.IntTable != want.IntTable || s.Act != want.Act {
			t.Errorf("%s: spec %+v, want %+v", name, s, want)
		}
	}
	if _, err := ParseArgs(passes.Args{"scheme": "uniform", "table": "int"}); err == nil {
		t.Error("table=int accepted for uniform")
	}
	for _, spec := range []string{"quant(scheme=nupes,bits=4,method=datadriven,table=int,mode=weight+act)",
		"quant(scheme=nupes,bits=3,method=datafree,exponent=channel,table=int,mode=weight+act)"} {
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
			n := 0
			for _, v := range g.Consts {
				if q, ok := v.Const.Enc.(*ir.Quantized); ok {
					if q.Scheme != ir.QuantPowerInt {
						t.Fatalf("%s: weight %s in %s", spec, v.Name, q.Scheme)
					}
					n++
				}
			}
			if n != 2 {
				t.Fatalf("%s: %d power_int weights, want 2", spec, n)
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
			if _, err := interp.Run(context.Background(), g2, map[string]interp.Value{"x": calib[0]["x"]}); err != nil {
				t.Fatal(err)
			}
		}
		if texts[0] != texts[1] {
			t.Fatalf("%s: two runs gave different graphs", spec)
		}
	}
}
