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
// activations.
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
	// Every quantized weight is power_int and every layer reads an int8
	// activation (TestPassSchemesDeterministic runs these specs through
	// the pipeline: text round trip, determinism).
	g, calib := testNet(1)
	a, err := Preset("nupes:4:datafree:int")
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseArgs(a)
	if err != nil {
		t.Fatal(err)
	}
	q := NewQuantizer(g, o, calib, nil)
	qg, res, err := q.Build(q.DefaultPlan())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Spec != "nupes:4/channel/df/int+act8" || r.Act == "" {
			t.Errorf("layer %s: spec %s, activation %q", r.Layer, r.Spec, r.Act)
		}
	}
	n := 0
	for _, v := range qg.Consts {
		if q, ok := v.Const.Enc.(*ir.Quantized); ok {
			if q.Scheme != ir.QuantPowerInt {
				t.Errorf("weight %s in %s", v.Name, q.Scheme)
			}
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d quantized weights, want 2", n)
	}
	if _, err := interp.Run(context.Background(), qg, map[string]interp.Value{"x": calib[0]["x"]}); err != nil {
		t.Fatal(err)
	}
}
