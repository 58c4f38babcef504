package ir

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestPackCodesByHand(t *testing.T) {
	cases := []struct {
		name   string
		codes  []int32
		bits   int
		signed bool
		want   []byte
	}{
		// 4 bits, low nibble first: 1 | 0xE<<4 = 0xE1 (−2 is 0b1110), then 7.
		{"int4", []int32{1, -2, 7}, 4, true, []byte{0xE1, 0x07}},
		{"uint4", []int32{15, 0, 3, 12}, 4, false, []byte{0x0F, 0xC3}},
		// 3 bits, LSB first: 1→bits0-2, 2→bits3-5 (bit4), 3→bits6-8 (bits6,7),
		// 4→bits9-11 (bit11), 5→bits12-14 (bits12,14).
		// byte0 = 1+16+64+128 = 0xD1; byte1 = 0x08+0x10+0x40 = 0x58.
		{"uint3", []int32{1, 2, 3, 4, 5}, 3, false, []byte{0xD1, 0x58}},
		{"int8", []int32{-128, 127, -1}, 8, true, []byte{0x80, 0x7F, 0xFF}},
		// 2 bits signed: −2=0b10, 1=0b01, −1=0b11, 0 → 0b00_11_01_10 = 0x36.
		{"int2", []int32{-2, 1, -1, 0}, 2, true, []byte{0x36}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := PackCodes(c.codes, c.bits, c.signed)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(c.want) {
				t.Fatalf("packed % x, want % x", got, c.want)
			}
			q := &Quantized{Bits: c.bits, Signed: c.signed, Codes: got}
			back := q.UnpackCodes(len(c.codes))
			for i := range back {
				if back[i] != c.codes[i] {
					t.Fatalf("unpacked %v, want %v", back, c.codes)
				}
			}
		})
	}
	if _, err := PackCodes([]int32{8}, 4, true); err == nil {
		t.Fatal("8 packed into a signed 4-bit code")
	}
}

func TestPackRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for bits := 1; bits <= 16; bits++ {
		for _, signed := range []bool{false, true} {
			lo, hi := int32(0), int32(1)<<bits-1
			if signed {
				lo, hi = -(int32(1) << (bits - 1)), int32(1)<<(bits-1)-1
			}
			codes := make([]int32, 101)
			for i := range codes {
				codes[i] = lo + int32(r.IntN(int(hi-lo+1)))
			}
			b, err := PackCodes(codes, bits, signed)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != (101*bits+7)/8 {
				t.Fatalf("%d bits: %d bytes", bits, len(b))
			}
			q := &Quantized{Bits: bits, Signed: signed, Codes: b}
			for i, c := range q.UnpackCodes(len(codes)) {
				if c != codes[i] {
					t.Fatalf("bits %d signed %v: code %d = %d, want %d", bits, signed, i, c, codes[i])
				}
			}
		}
	}
}

func mustPack(t *testing.T, codes []int32, bits int, signed bool) []byte {
	t.Helper()
	b, err := PackCodes(codes, bits, signed)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeF32(t *testing.T, q *Quantized, shape ...int64) []float32 {
	t.Helper()
	d, err := (&Tensor{DType: Float32, Shape: shape, Enc: q}).Dense()
	if err != nil {
		t.Fatal(err)
	}
	return d.Data.([]float32)
}

func TestDecodeByHand(t *testing.T) {
	cases := []struct {
		name  string
		q     *Quantized
		shape []int64
		codes []int32
		want  []float32
	}{
		{
			// Per channel on axis 1 of [2,3]: channel c scales 0.5, 2, 0.25,
			// zero points 1, 0, 2 (unsigned 4-bit).
			// row 0 codes 3 4 6 → 0.5·2, 2·4, 0.25·4 = 1, 8, 1
			// row 1 codes 0 1 2 → 0.5·(−1), 2·1, 0.25·0 = −0.5, 2, 0
			name:  "uniform-axis1-zp",
			q:     &Quantized{Bits: 4, Axis: 1, Scales: []float32{0.5, 2, 0.25}, ZeroPoints: []int32{1, 0, 2}},
			shape: []int64{2, 3},
			codes: []int32{3, 4, 6, 0, 1, 2},
			want:  []float32{1, 8, 1, -0.5, 2, 0},
		},
		{
			// Per channel on axis 0 of [2,5] in groups of 2: channel 0 groups
			// {0,1},{2,3},{4} scales 1,2,3; channel 1 scales 4,5,6.
			name:  "uniform-group",
			q:     &Quantized{Bits: 8, Signed: true, Axis: 0, GroupSize: 2, Scales: []float32{1, 2, 3, 4, 5, 6}},
			shape: []int64{2, 5},
			codes: []int32{1, -1, 1, -1, 1, 2, -2, 2, -2, 2},
			want:  []float32{1, -1, 2, -2, 3, 8, -8, 10, -10, 12},
		},
		{
			// MatMul-style [3 in, 2 out] weight, per output channel (axis 1),
			// groups of 2 along the input axis: channel 0 groups {r0,r1},{r2}.
			name:  "uniform-axis1-group",
			q:     &Quantized{Bits: 4, Signed: true, Axis: 1, GroupSize: 2, Scales: []float32{1, 10, 100, 1000}},
			shape: []int64{3, 2},
			codes: []int32{1, 1, 2, 2, 3, 3},
			want:  []float32{1, 100, 2, 200, 30, 3000},
		},
		{
			// Power, 3 bits: Qmax = 3, a = 0.5, scale 1:
			// T[m] = 3·(m/3)^2 = 0, 1/3, 4/3, 3.
			name:  "power",
			q:     &Quantized{Bits: 3, Signed: true, Scheme: QuantPower, Axis: -1, Scales: []float32{1}, Exponent: []float32{0.5}},
			shape: []int64{4},
			codes: []int32{-3, -1, 0, 2},
			want:  []float32{-3, -1.0 / 3, 0, 4.0 / 3},
		},
		{
			// Power per channel: channel 0 a=1 (uniform, scale 2), channel 1
			// a=0.5 with scale 0.5: 0.5·3·(2/3)^2 = 2/3.
			name:  "power-per-channel-exponent",
			q:     &Quantized{Bits: 3, Signed: true, Scheme: QuantPower, Axis: 0, Scales: []float32{2, 0.5}, Exponent: []float32{1, 0.5}},
			shape: []int64{2, 2},
			codes: []int32{3, -2, 2, 0},
			want:  []float32{6, -4, float32(0.5 * (4.0 / 3)), 0},
		},
		{
			// Fixed point ⟨6, 3⟩: k·2^−3.
			name:  "fixed",
			q:     &Quantized{Bits: 6, Signed: true, Scheme: QuantFixed, Axis: -1, FracLength: 3},
			shape: []int64{3},
			codes: []int32{-32, 5, 31},
			want:  []float32{-4, 0.625, 3.875},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.q.Codes = mustPack(t, c.codes, c.q.Bits, c.q.Signed)
			got := decodeF32(t, c.q, c.shape...)
			for i := range got {
				if math.Abs(float64(got[i]-c.want[i])) > 1e-6 {
					t.Fatalf("decoded %v, want %v", got, c.want)
				}
			}
		})
	}
}

// With a = 1 the power schemes (float and integer table) must decode bit
// for bit like uniform symmetric quantization with the same codes and
// scales.
func TestPowerExponentOneIsUniform(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, bits := range []int{2, 3, 4, 8} {
		qmax := int32(1)<<(bits-1) - 1
		codes := randomSymmetricCodes(r, qmax, 6*7)
		scales := make([]float32, 6)
		for i := range scales {
			scales[i] = float32(r.Float64()*3 + 1e-3)
		}
		packed := mustPack(t, codes, bits, true)
		u := &Quantized{Bits: bits, Signed: true, Axis: 0, Scales: scales, Codes: packed}
		du := decodeF32(t, u, 6, 7)
		for _, scheme := range []QuantScheme{QuantPower, QuantPowerInt} {
			p := &Quantized{Bits: bits, Signed: true, Axis: 0, Scheme: scheme, Scales: scales, Codes: packed, Exponent: []float32{1}}
			dp := decodeF32(t, p, 6, 7)
			for i := range du {
				if math.Float32bits(du[i]) != math.Float32bits(dp[i]) {
					t.Fatalf("bits %d elem %d: uniform %v, %s(a=1) %v", bits, i, du[i], scheme, dp[i])
				}
			}
		}
	}
}

func TestStoredBytes(t *testing.T) {
	// 10 4-bit codes = 5 bytes, 2 scales = 8, 2 zero points at 4 bits = 1.
	q := &Quantized{Bits: 4, Axis: 0, Scales: []float32{1, 1}, ZeroPoints: []int32{1, 2},
		Codes: mustPack(t, make([]int32, 10), 4, false)}
	if got := q.StoredBytes(); got != 14 {
		t.Fatalf("StoredBytes = %d, want 14", got)
	}
	tt := &Tensor{DType: Float32, Shape: []int64{2, 5}, Enc: q}
	if tt.Bytes() != 14 {
		t.Fatalf("Bytes = %d", tt.Bytes())
	}
	// 3-bit power: 7 codes = 21 bits = 3 bytes, 1 scale, 1 exponent = 8.
	p := &Quantized{Bits: 3, Signed: true, Scheme: QuantPower, Axis: -1, Scales: []float32{1}, Exponent: []float32{0.7},
		Codes: mustPack(t, make([]int32, 7), 3, true)}
	if got := p.StoredBytes(); got != 11 {
		t.Fatalf("StoredBytes = %d, want 11", got)
	}
}

func TestQuantValidate(t *testing.T) {
	ok := func() *Quantized {
		return &Quantized{Bits: 4, Signed: true, Axis: 0, Scales: []float32{1, 1}, Codes: make([]byte, 2)}
	}
	bad := map[string]func(q *Quantized){
		"codes":      func(q *Quantized) { q.Codes = q.Codes[:1] },
		"scales":     func(q *Quantized) { q.Scales = q.Scales[:1] },
		"axis":       func(q *Quantized) { q.Axis = 2 },
		"axis-neg":   func(q *Quantized) { q.Axis = -2 },
		"bits":       func(q *Quantized) { q.Bits = 0 },
		"zp":         func(q *Quantized) { q.ZeroPoints = []int32{0} },
		"exponent":   func(q *Quantized) { q.Exponent = []float32{1} },
		"power-zero": func(q *Quantized) { q.Scheme, q.Exponent = QuantPower, []float32{0} },
		"fixed":      func(q *Quantized) { q.Scheme = QuantFixed },
	}
	if err := ok().Validate([]int64{2, 2}); err != nil {
		t.Fatal(err)
	}
	for name, f := range bad {
		q := ok()
		f(q)
		if err := q.Validate([]int64{2, 2}); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := (&Tensor{DType: Float32, Shape: []int64{2, 2}, Enc: q}).Dense(); err == nil {
			t.Errorf("%s: Decode accepted it", name)
		}
	}
}

func TestQuantTextRoundTrip(t *testing.T) {
	b := NewBuilder("q")
	x := b.Input("x", TensorType(Float32, ShapeOf(2, 5)))
	u := &Quantized{Bits: 4, Axis: 0, GroupSize: 2, Scales: []float32{0.5, 1, 2, 0.25, 0.125, 4}, ZeroPoints: []int32{1, 2, 3, 4, 5, 6},
		Codes: mustPack(t, []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 15}, 4, false)}
	p := &Quantized{Bits: 3, Signed: true, Scheme: QuantPower, Axis: 0, Scales: []float32{0.5, 1}, Exponent: []float32{0.625},
		Codes: mustPack(t, []int32{-3, -2, -1, 0, 1, 2, 3, 0, 1, 2}, 3, true)}
	f := &Quantized{Bits: 6, Signed: true, Scheme: QuantFixed, Axis: -1, FracLength: 4,
		Codes: mustPack(t, []int32{-32, 31, 0, 1, -1, 2, 3, 4, 5, 6}, 6, true)}
	big := make([]int32, 2*40)
	for i := range big {
		big[i] = int32(i%255) - 127
	}
	bq := &Quantized{Bits: 8, Signed: true, Axis: 0, Scales: []float32{0.01, 0.02}, Codes: mustPack(t, big, 8, true)}
	y := x
	for i, q := range []*Quantized{u, p, f} {
		w := b.Const("w", &Tensor{DType: Float32, Shape: []int64{2, 5}, Enc: q})
		_ = i
		y = b.Op1("Add", nil, y, w)
	}
	wb := b.Const("wbig", &Tensor{DType: Float32, Shape: []int64{2, 40}, Enc: bq})
	b.Output(y, wb)
	g := b.Graph()
	var sb strings.Builder
	if err := Print(&sb, g); err != nil {
		t.Fatal(err)
	}
	text := sb.String()
	if !strings.Contains(text, "quant<power bits=3") || !strings.Contains(text, "frac=4") {
		t.Fatalf("unexpected text:\n%s", text)
	}
	g2, err := Parse(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	var sb2 strings.Builder
	if err := Print(&sb2, g2); err != nil {
		t.Fatal(err)
	}
	if sb2.String() != text {
		t.Fatalf("round trip differs:\n%s\n---\n%s", text, sb2.String())
	}
	for i, c := range g.Consts {
		a, _ := c.Const.Dense()
		d, err := g2.Consts[i].Const.Dense()
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range a.Data.([]float32) {
			if math.Float32bits(v) != math.Float32bits(d.Data.([]float32)[k]) {
				t.Fatalf("const %d elem %d: %v vs %v", i, k, v, d.Data.([]float32)[k])
			}
		}
	}
	// Malformed literals are errors, not panics.
	for _, bad := range []string{
		strings.Replace(text, "bits=3", "bits=9", 1),
		strings.Replace(text, "quant<power", "quant<cubic", 1),
		strings.Replace(text, "frac=4", "frac=4 frac=4", 1),
		strings.Replace(text, " signed=true axis=-1", " axis=-1", 1),
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("parsed a malformed literal")
		}
	}
}

// randomSymmetricCodes returns n codes drawn uniformly from [−qmax, qmax].
func randomSymmetricCodes(r *rand.Rand, qmax int32, n int) []int32 {
	codes := make([]int32, n)
	for i := range codes {
		codes[i] = int32(r.IntN(int(2*qmax+1))) - qmax
	}
	return codes
}
