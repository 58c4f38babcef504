package ir

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// The power_int scheme's integer table, by hand: 4 bits (Qmax 7, r 16,
// L 112) and 3 bits (Qmax 3, r 32, L 96); with a = 1/2 the table is
// round(L·(m/Qmax)²): 4 bits 112·m²/49 = 0, 2.29, 9.14, 20.57, 36.57,
// 57.14, 82.29, 112; 3 bits 96·m²/9 = 0, 10.67, 42.67, 96.
func TestPowerIntTableByHand(t *testing.T) {
	for _, c := range []struct {
		qmax, r int32
		a       float32
		want    []int8
	}{
		{7, 16, 0.5, []int8{0, 2, 9, 21, 37, 57, 82, 112}},
		{3, 32, 0.5, []int8{0, 11, 43, 96}},
		{7, 16, 1, []int8{0, 16, 32, 48, 64, 80, 96, 112}},
		{1, 64, 0.3, []int8{0, 64}},
		{127, 1, 1, nil},
	} {
		if r := PowerIntRatio(c.qmax); r != c.r {
			t.Errorf("PowerIntRatio(%d) = %d, want %d", c.qmax, r, c.r)
		}
		got := PowerIntTable(c.a, c.qmax)
		if c.want == nil {
			for m, v := range got {
				if int32(v) != int32(m) {
					t.Fatalf("qmax 127: T[%d] = %d", m, v)
				}
			}
			continue
		}
		for m := range c.want {
			if got[m] != c.want[m] {
				t.Fatalf("qmax %d a %v: table %v, want %v", c.qmax, c.a, got, c.want)
			}
		}
	}
}

// Each power_int value is ±scale·T[|k|]/r, checked against a float64
// computation (exact: r is a power of two and the scales have few
// mantissa bits); a = 1 is TestPowerExponentOneIsUniform's.
func TestPowerIntDecode(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 4))
	for _, bits := range []int{2, 3, 4, 8} {
		qmax := int32(1)<<(bits-1) - 1
		codes := randomSymmetricCodes(r, qmax, 6*7)
		scales := make([]float32, 6)
		packed := mustPack(t, codes, bits, true)
		// Per-channel exponents, scales on a coarse grid.
		exps := []float32{0.5, 0.7, 1, 0.35, 0.9, 0.6}
		for i := range scales {
			scales[i] = float32(r.IntN(64)+1) / 64
		}
		p := &Quantized{Bits: bits, Signed: true, Axis: 0, Scheme: QuantPowerInt, Scales: scales, Codes: packed, Exponent: exps}
		dp := decodeF32(t, p, 6, 7)
		L := float64(PowerIntRatio(qmax) * qmax)
		for i, k := range codes {
			c := i / 7
			m := math.Abs(float64(k))
			tab := math.Round(L * math.Pow(m/float64(qmax), 1/float64(exps[c])))
			want := float64(scales[c]) * tab / float64(PowerIntRatio(qmax))
			if k < 0 {
				want = -want
			}
			if float64(dp[i]) != want {
				t.Fatalf("bits %d elem %d (code %d, a %v): %v, want %v", bits, i, k, exps[c], dp[i], want)
			}
		}
	}
}

func TestPowerIntValidateAndText(t *testing.T) {
	mk := func() *Quantized {
		return &Quantized{Bits: 4, Signed: true, Scheme: QuantPowerInt, Axis: 1, Scales: []float32{0.5, 0.25}, Exponent: []float32{0.625},
			Codes: mustPack(t, []int32{-7, -2, 1, 0, 7, 3}, 4, true)}
	}
	q := mk()
	if err := q.Validate([]int64{3, 2}); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(q *Quantized){
		"unsigned": func(q *Quantized) { q.Signed = false },
		"zp":       func(q *Quantized) { q.ZeroPoints = []int32{0, 0} },
		"no-exp":   func(q *Quantized) { q.Exponent = nil },
		"9-bits":   func(q *Quantized) { q.Bits, q.Codes = 9, make([]byte, 7) },
	} {
		c := mk()
		f(c)
		if err := c.Validate([]int64{3, 2}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	b := NewBuilder("q")
	x := b.Input("x", TensorType(Float32, ShapeOf(3, 2)))
	b.Output(b.Op1("Add", nil, x, b.Const("w", &Tensor{DType: Float32, Shape: []int64{3, 2}, Enc: q})))
	var sb strings.Builder
	if err := Print(&sb, b.Graph()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "quant<power_int bits=4") {
		t.Fatalf("unexpected text:\n%s", sb.String())
	}
	g2, err := Parse(sb.String())
	if err != nil {
		t.Fatal(err)
	}
	q2 := g2.Consts[0].Const.Enc.(*Quantized)
	if q2.Scheme != QuantPowerInt || q2.Bits != 4 || q2.Exponent[0] != 0.625 || string(q2.Codes) != string(q.Codes) {
		t.Fatalf("round trip: %+v", q2)
	}
	a, b2 := decodeF32(t, q, 3, 2), decodeF32(t, q2, 3, 2)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b2[i]) {
			t.Fatalf("elem %d: %v vs %v", i, a[i], b2[i])
		}
	}
}
