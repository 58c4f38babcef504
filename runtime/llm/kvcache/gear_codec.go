package kvcache

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/x448/float16"
)

// GEAR's matrix codec: a [rows][cols] block of keys or values (rows =
// tokens, cols = the channels of a layer's kv heads side by side, as
// GEAR's code merges heads) is stored as
//
//	X ≈ D̂ + L, with the sparse outliers S overwriting D̂ + L exactly,
//
// where S holds the s/2 largest and s/2 smallest entries of every
// quantization group exactly, D̂ is the b-bit asymmetric min-max
// quantization of the remaining entries (2^b − 1 steps between the
// group's min and max) and L = Q·Pᵀ is a rank-r approximation of the
// residual X − D̂ − S found by power iteration. See papers.md §4.1.

// gearLayout says how a matrix is cut into quantization groups (which are
// also the vectors outliers are chosen in).
type gearLayout uint8

const (
	// gearUniform: one group, the whole matrix (GEAR v1, "outlier-aware
	// uniform quantization"): one min/scale, and ⌊N·s/2⌋ entries at each
	// end of the whole matrix kept exactly.
	gearUniform gearLayout = iota
	// gearPerChannel: KIVI keys — per channel (column), over groups of G
	// consecutive tokens (rows); round(n·s/2) outliers at each end of each
	// group.
	gearPerChannel
	// gearPerToken: KIVI values — per token (row), over groups of G
	// consecutive channels.
	gearPerToken
)

// gearMat is one compressed matrix.
type gearMat struct {
	rows, cols  int
	bits        int
	layout      gearLayout
	group       int
	codes       []byte    // b-bit codes, row-major, packed from bit 0 of byte 0 up
	qmin, qstep []float32 // per quantization group
	outIdx      []uint32  // flat indices (row·cols + col) of the outliers, ascending
	outVal      []float32 // their exact values
	idxBytes    int       // bytes per stored outlier index: 2 when rows·cols ≤ 65536, else 4
	rank        int
	// lrHeads is the number of column bands factored separately (1: the
	// whole matrix; the kv heads: one factorization per head).
	lrHeads int
	// Low-rank factors as half floats: per band Q [rows][rank], stored
	// band after band, and P [cols][rank] (each band's rows of P are its
	// columns').
	lq, lp []uint16
}

// bytes is the exact size of the stored payload: codes, quantization
// parameters (f32 min and step per group), outliers (f32 value and a 2-
// or 4-byte index each) and the f16 low-rank factors.
func (m *gearMat) bytes() int64 {
	return int64(len(m.codes)) + 4*int64(len(m.qmin)+len(m.qstep)) +
		int64(len(m.outVal))*int64(4+m.idxBytes) + 2*int64(len(m.lq)+len(m.lp))
}

// numGroups is the number of quantization groups of the layout.
func gearNumGroups(layout gearLayout, rows, cols, g int) int {
	switch layout {
	case gearPerChannel:
		return (rows + g - 1) / g * cols
	case gearPerToken:
		return rows * ((cols + g - 1) / g)
	}
	return 1
}

// groupOf is the quantization group of element (t, c).
func (m *gearMat) groupOf(t, c int) int {
	switch m.layout {
	case gearPerChannel:
		return t/m.group*m.cols + c
	case gearPerToken:
		return t*((m.cols+m.group-1)/m.group) + c/m.group
	}
	return 0
}

// gearGroupElems lists the flat indices of every quantization group.
func gearGroupElems(layout gearLayout, rows, cols, g int) [][]int {
	groups := make([][]int, gearNumGroups(layout, rows, cols, g))
	m := gearMat{rows: rows, cols: cols, layout: layout, group: g}
	for t := 0; t < rows; t++ {
		for c := 0; c < cols; c++ {
			gi := m.groupOf(t, c)
			groups[gi] = append(groups[gi], t*cols+c)
		}
	}
	return groups
}

// gearOutliersPerSide is how many entries at each end of a group of n
// elements are kept exactly: ⌊n·s/2⌋ for the uniform layout (as GEAR's
// outlier-aware quantization does over the whole matrix), round(n·s/2)
// for the per-vector KIVI layouts (GEAR's code takes ⌊·⌋ of a count that
// rounds to zero for vectors shorter than 1/s; rounding keeps about s of
// the entries for the short vectors of small heads). At most (n−1)/2, so
// something is left to quantize.
func gearOutliersPerSide(layout gearLayout, n int, s float64) int {
	x := float64(n) * s / 2
	k := int(math.Floor(x))
	if layout != gearUniform {
		k = int(math.Floor(x + 0.5))
	}
	return max(0, min(k, (n-1)/2))
}

// gearCompress encodes x ([rows][cols]); the residual is factored in
// lrHeads bands of columns (each of rank min(rank, rows, band width)),
// the power iteration seeded by rng.
func gearCompress(x []float32, rows, cols, bits int, layout gearLayout, group int, s float64, rank, loop, lrHeads int, rng *rand.Rand) gearMat {
	m := gearMat{rows: rows, cols: cols, bits: bits, layout: layout, group: group, idxBytes: 2, lrHeads: max(lrHeads, 1)}
	if rows*cols > 1<<16 {
		m.idxBytes = 4
	}
	if layout == gearUniform {
		m.group = 0
	}
	levels := float32(int(1)<<bits - 1)
	deq := make([]float32, len(x)) // D̂ with the outliers overwritten: the decoder's value before L
	isOut := make([]bool, len(x))
	m.codes = make([]byte, (len(x)*bits+7)/8)
	for _, elems := range gearGroupElems(layout, rows, cols, group) {
		k := gearOutliersPerSide(layout, len(elems), s)
		if k > 0 {
			// Stable order by value (ties by index) picks the outliers
			// deterministically.
			sorted := slices.Clone(elems)
			slices.SortStableFunc(sorted, func(a, b int) int { return cmpF32(x[a], x[b]) })
			for _, i := range sorted[:k] {
				isOut[i] = true
			}
			for _, i := range sorted[len(sorted)-k:] {
				isOut[i] = true
			}
		}
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, i := range elems {
			if !isOut[i] {
				lo, hi = min(lo, x[i]), max(hi, x[i])
			}
		}
		step := (hi - lo) / levels
		m.qmin = append(m.qmin, lo)
		m.qstep = append(m.qstep, step)
		for _, i := range elems {
			if isOut[i] {
				deq[i] = x[i]
				continue // code 0; the decoder overwrites the entry
			}
			var code int
			if step > 0 {
				code = int(math.Round(float64((x[i] - lo) / step)))
				code = max(0, min(code, int(levels)))
			}
			gearPut(m.codes, i, bits, code)
			deq[i] = float32(code)*step + lo
		}
	}
	for i, o := range isOut {
		if o {
			m.outIdx = append(m.outIdx, uint32(i))
			m.outVal = append(m.outVal, x[i])
		}
	}
	cw := cols / m.lrHeads
	rank = min(rank, rows, cw)
	if rank <= 0 || cw*m.lrHeads != cols {
		return m
	}
	m.rank = rank
	m.lq, m.lp = make([]uint16, m.lrHeads*rows*rank), make([]uint16, cols*rank)
	r := make([]float64, rows*cw)
	for b := 0; b < m.lrHeads; b++ {
		for t := 0; t < rows; t++ {
			for c := 0; c < cw; c++ {
				i := t*cols + b*cw + c
				r[t*cw+c] = 0
				if !isOut[i] {
					r[t*cw+c] = float64(x[i]) - float64(deq[i])
				}
			}
		}
		q, p := gearPowerIteration(r, rows, cw, rank, loop, rng)
		for i, v := range q {
			m.lq[b*rows*rank+i] = float16.Fromfloat32(float32(v)).Bits()
		}
		for i, v := range p {
			m.lp[b*cw*rank+i] = float16.Fromfloat32(float32(v)).Bits()
		}
	}
	return m
}

func cmpF32(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// gearPut stores code at position i of a packed b-bit array.
func gearPut(codes []byte, i, bits, code int) {
	bit := i * bits
	v := uint16(code) << (bit & 7)
	codes[bit>>3] |= byte(v)
	if (bit&7)+bits > 8 {
		codes[bit>>3+1] |= byte(v >> 8)
	}
}

// gearCodes writes codes start, start+1, … of a packed b-bit array into
// dst as floats; whole bytes at a time when they are byte-aligned.
func gearCodes(dst []float32, codes []byte, start, bits int) {
	if bit := start * bits; bit%8 == 0 && (bits == 2 || bits == 4 || bits == 8) {
		per := 8 / bits
		mask := byte(1)<<bits - 1
		src := codes[bit/8:]
		n := len(dst)
		i := 0
		for ; i+per <= n; i += per {
			b := src[i/per]
			for j := 0; j < per; j++ {
				dst[i+j] = float32(b >> (j * bits) & mask)
			}
		}
		if i < n {
			b := src[i/per]
			for j := 0; i+j < n; j++ {
				dst[i+j] = float32(b >> (j * bits) & mask)
			}
		}
		return
	}
	for i := range dst {
		dst[i] = float32(gearGet(codes, start+i, bits))
	}
}

// gearGet reads code i of a packed b-bit array.
func gearGet(codes []byte, i, bits int) int {
	bit := i * bits
	v := uint16(codes[bit>>3])
	if (bit&7)+bits > 8 {
		v |= uint16(codes[bit>>3+1]) << 8
	}
	return int(v>>(bit&7)) & (1<<bits - 1)
}

// gearPowerIteration approximates r ([rows][cols]) by Q·Pᵀ with Q
// [rows][rank] orthonormal and P [cols][rank], as GEAR does:
//
//	P ~ U(0,1); repeat loop times: (last: P = orth(P)); Q = R·P;
//	(last: Q = orth(Q)); P = Rᵀ·Q.
func gearPowerIteration(r []float64, rows, cols, rank, loop int, rng *rand.Rand) (q, p []float64) {
	p = make([]float64, cols*rank)
	for i := range p {
		p[i] = rng.Float64()
	}
	q = make([]float64, rows*rank)
	loop = max(loop, 1)
	for it := 0; it < loop; it++ {
		last := it == loop-1
		if last {
			gearOrth(p, cols, rank)
		}
		clear(q)
		for t := 0; t < rows; t++ {
			for c := 0; c < cols; c++ {
				x := r[t*cols+c]
				if x == 0 {
					continue
				}
				for k := 0; k < rank; k++ {
					q[t*rank+k] += x * p[c*rank+k]
				}
			}
		}
		if last {
			gearOrth(q, rows, rank)
		}
		clear(p)
		for t := 0; t < rows; t++ {
			for c := 0; c < cols; c++ {
				x := r[t*cols+c]
				if x == 0 {
					continue
				}
				for k := 0; k < rank; k++ {
					p[c*rank+k] += x * q[t*rank+k]
				}
			}
		}
	}
	return q, p
}

// gearOrth orthonormalizes the columns of a [n][k] matrix in place
// (modified Gram–Schmidt, two passes); a column that is (numerically) in
// the span of the previous ones becomes zero.
func gearOrth(a []float64, n, k int) {
	var ref float64
	for i := range a {
		ref = max(ref, math.Abs(a[i]))
	}
	for j := 0; j < k; j++ {
		for pass := 0; pass < 2; pass++ {
			for i := 0; i < j; i++ {
				var dot float64
				for t := 0; t < n; t++ {
					dot += a[t*k+i] * a[t*k+j]
				}
				for t := 0; t < n; t++ {
					a[t*k+j] -= dot * a[t*k+i]
				}
			}
		}
		var norm float64
		for t := 0; t < n; t++ {
			norm += a[t*k+j] * a[t*k+j]
		}
		norm = math.Sqrt(norm)
		if norm <= 1e-12*ref*math.Sqrt(float64(n)) || norm == 0 {
			for t := 0; t < n; t++ {
				a[t*k+j] = 0
			}
			continue
		}
		for t := 0; t < n; t++ {
			a[t*k+j] /= norm
		}
	}
}

// decodeRows writes rows [r0, r1), columns [c0, c1) of the matrix into
// dst ([r1−r0][c1−c0]); the columns lie in one low-rank band. pbuf is
// scratch of at least (c1−c0)·rank floats.
func (m *gearMat) decodeRows(dst []float32, r0, r1, c0, c1 int, pbuf []float32) {
	w := c1 - c0
	for t := r0; t < r1; t++ {
		row := dst[(t-r0)*w : (t-r0+1)*w]
		gearCodes(row, m.codes, t*m.cols+c0, m.bits)
		switch m.layout {
		case gearUniform:
			lo, step := m.qmin[0], m.qstep[0]
			for c, x := range row {
				row[c] = x*step + lo
			}
		case gearPerChannel: // groups t/G·cols + column: contiguous
			g0 := t/m.group*m.cols + c0
			lo, step := m.qmin[g0:g0+w], m.qstep[g0:g0+w]
			for c, x := range row {
				row[c] = x*step[c] + lo[c]
			}
		default: // per token: runs of G columns share a group
			for c := 0; c < w; {
				g := m.groupOf(t, c0+c)
				end := min(w, (c0+c)/m.group*m.group+m.group-c0)
				lo, step := m.qmin[g], m.qstep[g]
				for ; c < end; c++ {
					row[c] = row[c]*step + lo
				}
			}
		}
	}
	if m.rank > 0 {
		rk := m.rank
		band := c0 / (m.cols / m.lrHeads)
		lq := m.lq[band*m.rows*rk:]
		p := pbuf[:w*rk]
		f16Decode(p, m.lp[c0*rk:c1*rk])
		var qt [8]float32
		qs := qt[:0]
		if rk > len(qt) {
			qs = make([]float32, 0, rk)
		}
		for t := r0; t < r1; t++ {
			qs = qs[:0]
			for k := 0; k < rk; k++ {
				qs = append(qs, float16.Frombits(lq[t*rk+k]).Float32())
			}
			row := dst[(t-r0)*w : (t-r0+1)*w]
			for c := range row {
				var s float32
				pc := p[c*rk : (c+1)*rk]
				for k, qv := range qs {
					s += qv * pc[k]
				}
				row[c] += s
			}
		}
	}
	for t := r0; t < r1; t++ {
		lo, hi := uint32(t*m.cols+c0), uint32(t*m.cols+c1)
		i, _ := slices.BinarySearch(m.outIdx, lo)
		for ; i < len(m.outIdx) && m.outIdx[i] < hi; i++ {
			dst[(t-r0)*w+int(m.outIdx[i]-lo)] = m.outVal[i]
		}
	}
}
