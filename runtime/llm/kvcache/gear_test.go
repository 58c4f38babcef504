package kvcache

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/x448/float16"
)

// kvTestMatrix is a [rows][cols] matrix like a key block: Gaussian
// entries, a few channels scaled up (the outlier channels keys have), a
// shared low-rank component and some isolated spikes.
func kvTestMatrix(rows, cols int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, rows*cols)
	u, v := make([]float64, rows), make([]float64, cols)
	for i := range u {
		u[i] = rng.NormFloat64()
	}
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	for t := 0; t < rows; t++ {
		for c := 0; c < cols; c++ {
			s := 1.0
			if c%17 == 3 {
				s = 6 // outlier channel
			}
			x[t*cols+c] = float32(s*rng.NormFloat64() + 0.8*u[t]*v[c])
		}
	}
	for i := 0; i < len(x)/97; i++ {
		x[rng.IntN(len(x))] = float32(25 * (rng.Float64() - 0.5))
	}
	return x
}

// kvPlainQuant is quantization alone, written independently of the codec:
// asymmetric min-max with 2^b − 1 steps over the same groups.
func kvPlainQuant(x []float32, rows, cols, bits int, layout gearLayout, g int) []float32 {
	out := make([]float32, len(x))
	var groups [][]int
	switch layout {
	case gearUniform:
		all := make([]int, len(x))
		for i := range all {
			all[i] = i
		}
		groups = [][]int{all}
	case gearPerChannel: // columns, rows cut every g
		for t0 := 0; t0 < rows; t0 += g {
			for c := 0; c < cols; c++ {
				var grp []int
				for t := t0; t < min(t0+g, rows); t++ {
					grp = append(grp, t*cols+c)
				}
				groups = append(groups, grp)
			}
		}
	case gearPerToken: // rows, columns cut every g
		for t := 0; t < rows; t++ {
			for c0 := 0; c0 < cols; c0 += g {
				var grp []int
				for c := c0; c < min(c0+g, cols); c++ {
					grp = append(grp, t*cols+c)
				}
				groups = append(groups, grp)
			}
		}
	}
	for _, grp := range groups {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, i := range grp {
			lo, hi = min(lo, float64(x[i])), max(hi, float64(x[i]))
		}
		step := (hi - lo) / float64(int(1)<<bits-1)
		for _, i := range grp {
			q := 0.0
			if step > 0 {
				q = math.Round((float64(x[i]) - lo) / step)
			}
			out[i] = float32(q*step + lo)
		}
	}
	return out
}

func kvErr(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// gearDecodeAll decodes the whole matrix, band by band.
func gearDecodeAll(m *gearMat) []float32 {
	out := make([]float32, m.rows*m.cols)
	w := m.cols / m.lrHeads
	band := make([]float32, m.rows*w)
	for b := 0; b < m.lrHeads; b++ {
		m.decodeRows(band, 0, m.rows, b*w, (b+1)*w, make([]float32, w*max(m.rank, 1)))
		for t := 0; t < m.rows; t++ {
			copy(out[t*m.cols+b*w:t*m.cols+(b+1)*w], band[t*w:(t+1)*w])
		}
	}
	return out
}

// TestGEARBeatsQuantization: ‖X − (D̂ + L + S)‖ is below the error of
// quantization alone at the same bit width, for every layout, and each
// ingredient (outliers, low rank) lowers it on its own; every outlier is
// reproduced exactly and they are the extremes of their groups.
func TestGEARBeatsQuantization(t *testing.T) {
	const rows, cols = 128, 64
	x := kvTestMatrix(rows, cols, 1)
	for _, layout := range []gearLayout{gearUniform, gearPerChannel, gearPerToken} {
		for _, bits := range []int{2, 4} {
			g := 64 // KIVI: round(64·0.02/2) = 1 outlier at each end of each group
			plain := kvErr(x, kvPlainQuant(x, rows, cols, bits, layout, g))
			bands := 1
			if layout != gearUniform {
				bands = 2 // KIVI factors each head (here: two bands of 32 columns)
			}
			full := gearCompress(x, rows, cols, bits, layout, g, 0.02, 4, 3, bands, rand.New(rand.NewPCG(1, 2)))
			onlyS := gearCompress(x, rows, cols, bits, layout, g, 0.02, 0, 3, bands, nil)
			onlyL := gearCompress(x, rows, cols, bits, layout, g, 0, 4, 3, bands, rand.New(rand.NewPCG(1, 2)))
			noth := gearCompress(x, rows, cols, bits, layout, g, 0, 0, 3, bands, nil)
			eFull, eS, eL, e0 := kvErr(x, gearDecodeAll(&full)), kvErr(x, gearDecodeAll(&onlyS)), kvErr(x, gearDecodeAll(&onlyL)), kvErr(x, gearDecodeAll(&noth))
			t.Logf("layout %d, %d bits: quantization %.3f, GEAR %.3f (outliers only %.3f, low rank only %.3f)", layout, bits, plain, eFull, eS, eL)
			if math.Abs(e0-plain) > 1e-3*plain {
				t.Errorf("layout %d, %d bits: the codec without outliers and low rank (%.4f) is not plain quantization (%.4f)", layout, bits, e0, plain)
			}
			if !(eFull < eS && eFull < eL && eS < plain && eL < plain) {
				t.Errorf("layout %d, %d bits: errors GEAR %.4f, outliers only %.4f, low rank only %.4f, quantization %.4f", layout, bits, eFull, eS, eL, plain)
			}
			// Outliers: exact, and the k largest and k smallest of each group.
			dec := gearDecodeAll(&full)
			for _, i := range full.outIdx {
				if dec[i] != x[i] {
					t.Fatalf("outlier %d decodes to %v, want %v", i, dec[i], x[i])
				}
			}
			var want []uint32
			for _, grp := range gearGroupElems(layout, rows, cols, g) {
				k := gearOutliersPerSide(layout, len(grp), 0.02)
				vals := slices.Clone(grp)
				slices.SortStableFunc(vals, func(a, b int) int { return cmpF32(x[a], x[b]) })
				for _, i := range append(vals[:k:k], vals[len(vals)-k:]...) {
					want = append(want, uint32(i))
				}
			}
			slices.Sort(want)
			if !slices.Equal(full.outIdx, want) {
				t.Errorf("layout %d: %d outliers %v…, want %d", layout, len(full.outIdx), full.outIdx[:min(5, len(full.outIdx))], len(want))
			}
		}
	}
	// Counts: uniform ⌊N·s/2⌋ per side of the whole matrix: 64·48·0.01 =
	// 30.72 → 30 each side. KIVI groups of 32: round(32·0.01) = 0; with
	// s = 0.1, round(1.6) = 2 each side.
	if n := gearOutliersPerSide(gearUniform, 64*48, 0.02); n != 30 {
		t.Errorf("uniform outliers per side %d, want 30", n)
	}
	if a, b := gearOutliersPerSide(gearPerToken, 32, 0.02), gearOutliersPerSide(gearPerChannel, 32, 0.1); a != 0 || b != 2 {
		t.Errorf("per-vector outliers %d and %d, want 0 and 2", a, b)
	}
	if n := gearOutliersPerSide(gearUniform, 3, 0.9); n != 1 {
		t.Errorf("outliers of a 3-element group at s=0.9: %d, want 1 (something is left to quantize)", n)
	}
}

// TestGEARQuantizationByHand checks codes computed by hand.
func TestGEARQuantizationByHand(t *testing.T) {
	// [0, 0.4, 0.6, 3] at 1 bit, one group: step (3−0)/1 = 3; codes
	// round(0/3, 0.4/3, 0.6/3, 3/3) = 0, 0, 0, 1 → 0, 0, 0, 3.
	m := gearCompress([]float32{0, 0.4, 0.6, 3}, 1, 4, 1, gearUniform, 0, 0, 0, 1, 1, nil)
	if got := gearDecodeAll(&m); !slices.Equal(got, []float32{0, 0, 0, 3}) || m.codes[0] != 0b1000 {
		t.Errorf("1-bit: %v, codes %08b", got, m.codes)
	}
	// 2 bits: step (3−0)/3 = 1; 0.4 → 0, 0.6 → 1 (round(0.6) = 1), 3 → 3;
	// packed 2 bits each from bit 0: 00, 00, 01, 11 → 0b11010000.
	m = gearCompress([]float32{0, 0.4, 0.6, 3}, 1, 4, 2, gearUniform, 0, 0, 0, 1, 1, nil)
	if got := gearDecodeAll(&m); !slices.Equal(got, []float32{0, 0, 1, 3}) || m.codes[0] != 0b11010000 {
		t.Errorf("2-bit: %v, codes %08b", got, m.codes)
	}
	// KIVI per channel, 2 rows × 2 cols, group 2: column 0 = [1, 5] →
	// step 4/3, exact at both ends; column 1 = [−2, −2] → step 0, code 0.
	m = gearCompress([]float32{1, -2, 5, -2}, 2, 2, 2, gearPerChannel, 2, 0, 0, 1, 1, nil)
	if got := gearDecodeAll(&m); !slices.Equal(got, []float32{1, -2, 5, -2}) || len(m.qmin) != 2 {
		t.Errorf("per channel: %v, %d groups", got, len(m.qmin))
	}
	// Packing round trip at every width: code i = i mod 2^b.
	for bits := 1; bits <= 8; bits++ {
		codes := make([]byte, (37*bits+7)/8)
		for i := 0; i < 37; i++ {
			gearPut(codes, i, bits, i%(1<<bits))
		}
		for i := 0; i < 37; i++ {
			if c := gearGet(codes, i, bits); c != i%(1<<bits) {
				t.Fatalf("%d bits: code %d reads %d", bits, i, c)
			}
		}
		// The row reader (whole bytes when aligned) agrees at every start
		// and length.
		for start := 0; start < 37; start++ {
			for n := 0; start+n <= 37; n += 5 {
				row := make([]float32, n)
				gearCodes(row, codes, start, bits)
				for i, x := range row {
					if int(x) != (start+i)%(1<<bits) {
						t.Fatalf("%d bits: row from %d, code %d reads %v", bits, start, start+i, x)
					}
				}
			}
		}
	}
}

// TestGEARPowerIteration: on an exactly rank-2 matrix, rank-2 power
// iteration recovers it; the factors' Q is orthonormal.
func TestGEARPowerIteration(t *testing.T) {
	const rows, cols = 30, 12
	r := make([]float64, rows*cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			r[i*cols+j] = float64(i+1)*math.Sin(float64(j)) + float64((i%3)-1)*float64(j%5)
		}
	}
	q, p := gearPowerIteration(r, rows, cols, 2, 3, rand.New(rand.NewPCG(3, 4)))
	var worst float64
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			v := q[i*2]*p[j*2] + q[i*2+1]*p[j*2+1]
			worst = max(worst, math.Abs(v-r[i*cols+j]))
		}
	}
	if worst > 1e-6 {
		t.Errorf("rank-2 matrix reconstructed to %.3g", worst)
	}
	for a := 0; a < 2; a++ {
		for b := 0; b < 2; b++ {
			var dot float64
			for i := 0; i < rows; i++ {
				dot += q[i*2+a] * q[i*2+b]
			}
			if want := float64(map[bool]int{true: 1}[a == b]); math.Abs(dot-want) > 1e-9 {
				t.Errorf("QᵀQ[%d][%d] = %v", a, b, dot)
			}
		}
	}
}

// readAll returns every token's key and value rows of a view, in order.
func readAll(h HeadView, hd, vd int) (k, v []float32) {
	kbuf, vbuf := make([]float32, h.BlockSize()*hd), make([]float32, h.BlockSize()*vd)
	for b := 0; b < NumBlocks(h); b++ {
		kb, vb, n := h.Block(b, kbuf, vbuf)
		k = append(k, kb[:n*hd]...)
		v = append(v, vb[:n*vd]...)
	}
	return k, v
}

// TestGEARCache: the streaming buffer reads back exactly; the buffer is
// compressed at the Append after the one that filled it (v1: all n_b
// tokens with the decode rank; a prompt chunk with the prefill rank;
// KIVI: multiples of the group), and the bytes add up by hand.
func TestGEARCache(t *testing.T) {
	s := Spec{Layers: 1, KVHeads: 2, HeadDim: 8, ValDim: 8}
	g, err := NewGEAR(s, DefaultGEAR(4, false))
	if err != nil {
		t.Fatal(err)
	}
	x := kvTestMatrix(2*25, 8, 5) // [head][25 tokens][8], keys; values = −keys
	tok := func(i int) (k, v []float32) {
		for h := 0; h < 2; h++ {
			k = append(k, x[(h*25+i)*8:(h*25+i+1)*8]...)
		}
		for _, a := range k {
			v = append(v, -a)
		}
		return k, v
	}
	for i := 0; i < 20; i++ {
		k, v := tok(i)
		if err := g.Append(0, k, v, 1); err != nil {
			t.Fatal(err)
		}
	}
	// 20 tokens, all buffered: exact, 20 × 2 heads × 16 floats × 4 bytes.
	for h := 0; h < 2; h++ {
		k, v := readAll(g.Head(0, h), 8, 8)
		if !slices.Equal(k, x[h*25*8:(h*25+20)*8]) || v[3] != -x[h*25*8+3] {
			t.Fatalf("head %d: buffered tokens do not read back exactly", h)
		}
	}
	if c, b, _ := g.Stats(); c != 0 || b != 20 || g.Bytes() != 20*2*16*4 {
		t.Fatalf("before compression: %d compressed, %d buffered, %d bytes", c, b, g.Bytes())
	}
	for i := 20; i < 25; i++ {
		k, v := tok(i)
		if err := g.Append(0, k, v, 1); err != nil {
			t.Fatal(err)
		}
	}
	// The 21st Append compressed tokens 0…19 of both heads as one block
	// (decode rank 2): per matrix 20×16 at 4 bits = 160 bytes of codes,
	// min and step 8, 6 outliers (⌊320·0.02/2⌋ = 3 per side) × (4 + 2) =
	// 36, factors (20 + 16)·2 halves = 144: 348. K and V: 696, plus 5
	// buffered tokens × 2 heads × 16 floats × 4 = 640.
	if c, b, o := g.Stats(); c != 20 || b != 5 || o != 12 {
		t.Fatalf("after: %d compressed, %d buffered, %d outliers", c, b, o)
	}
	if g.Bytes() != 696+640 {
		t.Errorf("bytes %d, want %d", g.Bytes(), 696+640)
	}
	seg := g.layers[0].segs[0]
	if seg.k.rank != 2 || seg.start != 0 || seg.n != 20 || seg.k.cols != 16 {
		t.Errorf("segment rank %d start %d n %d cols %d", seg.k.rank, seg.start, seg.n, seg.k.cols)
	}
	// The buffer is exact; the compressed block (both heads side by side)
	// beats quantization alone.
	merged, dec := make([]float32, 20*16), make([]float32, 20*16)
	for h := 0; h < 2; h++ {
		k, _ := readAll(g.Head(0, h), 8, 8)
		if !slices.Equal(k[20*8:], x[(h*25+20)*8:(h*25+25)*8]) {
			t.Errorf("head %d: the streaming buffer is not exact", h)
		}
		for tk := 0; tk < 20; tk++ {
			copy(merged[tk*16+h*8:], x[(h*25+tk)*8:(h*25+tk+1)*8])
			copy(dec[tk*16+h*8:], k[tk*8:(tk+1)*8])
		}
	}
	plain := kvErr(merged, kvPlainQuant(merged, 20, 16, 4, gearUniform, 0))
	if e := kvErr(dec, merged); !(e < plain) || e == 0 {
		t.Errorf("compressed block error %.4f, quantization alone %.4f", e, plain)
	}
	// A prompt chunk compresses with the prefill rank; KIVI keeps the
	// remainder below a multiple of the group in the buffer.
	kv, err := NewGEAR(Spec{Layers: 1, KVHeads: 1, HeadDim: 8, ValDim: 8}, GEARConfig{Bits: 2, KIVI: true, Group: 16, Buffer: 16, Outliers: 0.02, PrefillRank: 4, DecodeRank: 2, Loop: 3})
	if err != nil {
		t.Fatal(err)
	}
	kv.Append(0, x[:40*8], x[:40*8], 40)
	kv.Append(0, x[:8], x[:8], 1)
	if c, b, _ := kv.Stats(); c != 32 || b != 9 || kv.layers[0].segs[0].k.rank != 4 {
		t.Errorf("KIVI: %d compressed, %d buffered, rank %d", c, b, kv.layers[0].segs[0].k.rank)
	}
}

// TestF16 reads back each element rounded to half precision and counts 2
// bytes per element.
func TestF16(t *testing.T) {
	s := Spec{Layers: 1, KVHeads: 1, HeadDim: 4, ValDim: 3}
	c, _ := NewF16(s)
	k := []float32{1, 1.0 / 3, -70000, 1e-8, 0.1, 2048.5, 3, 4}
	v := []float32{1, 2, 3, 4, 5, 6}
	if err := c.Append(0, k, v, 2); err != nil {
		t.Fatal(err)
	}
	gk, gv := readAll(c.Head(0, 0), 4, 3)
	for i, x := range k {
		if want := float16.Fromfloat32(x).Float32(); gk[i] != want && !(math.IsInf(float64(want), 0) && gk[i] == want) {
			t.Errorf("key %d: %v, want %v", i, gk[i], want)
		}
	}
	// 1/3 in half precision: 0x3555 = 0.333251953125.
	if gk[1] != 0.333251953125 || !slices.Equal(gv, v) {
		t.Errorf("1/3 → %v; values %v", gk[1], gv)
	}
	// 2 tokens × (4 + 3) elements × 2 bytes.
	if c.Bytes() != 28 {
		t.Errorf("bytes %d, want 28", c.Bytes())
	}
}
