package quant

import (
	"math"
	"sort"

	"github.com/optc-dev/optc/ir"
)

// NUPES: power-exponent quantization (papers.md §1.1).

const (
	nupesALo, nupesAHi = 0.1, 1.0 // data-free search interval (PowerQuant)
	nupesAMin          = 0.05     // data-driven clamp
	nupesAMax          = 2.0
)

// nupesDataFree returns the exponent minimizing the weight reconstruction
// error ||W − Ŵ(a)||² (one per layer, or one per channel), by golden-
// section search on [0.1, 1] to 1e-3, keeping a = 1 (uniform) if that is
// at least as good.
func nupesDataFree(w []float32, shape []int64, lo *qLayout, bits int, perChannel bool) ([]float32, error) {
	n := 1
	if perChannel {
		n = lo.C
	}
	errs := func(exps []float32) ([]float64, error) {
		d, err := decodeQ(encodePower(w, lo, bits, exps, nil), shape)
		if err != nil {
			return nil, err
		}
		e := make([]float64, n)
		for i, v := range w {
			c := 0
			if perChannel {
				c = int(lo.channel[i])
			}
			dd := float64(v) - float64(d[i])
			e[c] += dd * dd
		}
		return e, nil
	}
	// Lockstep golden-section search: every channel has its own bracket
	// but all take the same number of steps, so one encode per step serves
	// all of them.
	phi := (math.Sqrt(5) - 1) / 2
	a, b := make([]float64, n), make([]float64, n)
	x1, x2 := make([]float64, n), make([]float64, n)
	for c := range a {
		a[c], b[c] = nupesALo, nupesAHi
		x1[c], x2[c] = b[c]-phi*(b[c]-a[c]), a[c]+phi*(b[c]-a[c])
	}
	vec := func(x []float64) []float32 {
		out := make([]float32, n)
		for i, v := range x {
			out[i] = float32(v)
		}
		return out
	}
	f1, err := errs(vec(x1))
	if err != nil {
		return nil, err
	}
	f2, err := errs(vec(x2))
	if err != nil {
		return nil, err
	}
	for b[0]-a[0] > 1e-3 {
		probe := make([]float64, n)
		left := make([]bool, n)
		for c := range a {
			if f1[c] <= f2[c] {
				b[c], x2[c], f2[c] = x2[c], x1[c], f1[c]
				x1[c] = b[c] - phi*(b[c]-a[c])
				probe[c], left[c] = x1[c], true
			} else {
				a[c], x1[c], f1[c] = x1[c], x2[c], f2[c]
				x2[c] = a[c] + phi*(b[c]-a[c])
				probe[c] = x2[c]
			}
		}
		fp, err := errs(vec(probe))
		if err != nil {
			return nil, err
		}
		for c := range fp {
			if left[c] {
				f1[c] = fp[c]
			} else {
				f2[c] = fp[c]
			}
		}
	}
	best := make([]float32, n)
	bestF := make([]float64, n)
	for c := range best {
		if f1[c] <= f2[c] {
			best[c], bestF[c] = float32(x1[c]), f1[c]
		} else {
			best[c], bestF[c] = float32(x2[c]), f2[c]
		}
	}
	ones := make([]float32, n)
	for c := range ones {
		ones[c] = 1
	}
	fOne, err := errs(ones)
	if err != nil {
		return nil, err
	}
	for c := range best {
		if fOne[c] <= bestF[c] {
			best[c] = 1
		}
	}
	return best, nil
}

// nupesRow is one output channel's state in the data-driven search.
type nupesRow struct {
	idx   []int     // flat weight index of each input feature
	w     []float64 // float weights
	s     []float64 // scale of each element
	k     []int32   // codes
	H     []float64 // the group's Gram matrix
	e, r  []float64 // scratch: error and H·error
	table []float32 // current decode table (per-channel exponent)
}

// nupesExpQuad is a row's loss as a function of its decode table with
// the codes fixed. Every code m = |k_j| scales one table entry, so with
// d = t − t0 (the change from the table t0 the row was expanded at),
// e(t) = e0 − Σ_m d_m u_m, u_m = Σ_{j:|k_j|=m} sign(k_j) s_j 1_j, and
//
//	loss(t) = e0ᵀHe0 − 2 Σ_m d_m b_m + Σ_{m,m'} d_m d_m' G_mm'
//
// with b_m = u_mᵀ H e0 and G_mm' = u_mᵀ H u_m'. Setting it up costs two
// passes over H; each table after that costs O(Qmax²) instead of the
// O(R²) of a direct eᵀHe, which is what makes the exponent search cheap.
// Expanding around the current table (not around t = 0) keeps the terms
// small near the optimum, so there is no cancellation.
type nupesExpQuad struct {
	t0 []float64 // table expanded at
	l0 float64   // e0ᵀ H e0
	b  []float64 // per table entry
	G  []float64 // (Qmax+1)² row-major, symmetric
}

// expQuad expands the row's loss around table t0 (codes as they are).
func (row *nupesRow) expQuad(t0 []float32) *nupesExpQuad {
	R, Q := len(row.w), len(t0)
	for j := range row.w {
		row.e[j] = row.w[j] - row.value(j, t0)
	}
	matVec(row.H, row.e, row.r)
	x := &nupesExpQuad{t0: make([]float64, Q), b: make([]float64, Q), G: make([]float64, Q*Q)}
	for m, v := range t0 {
		x.t0[m] = float64(v)
	}
	sig := make([]float64, R)
	mj := make([]int, R)
	for j, k := range row.k {
		sig[j], mj[j] = row.s[j], int(k)
		if k < 0 {
			sig[j], mj[j] = -row.s[j], int(-k)
		}
		x.l0 += row.e[j] * row.r[j]
		x.b[mj[j]] += sig[j] * row.r[j]
	}
	acc := make([]float64, Q)
	for j := 0; j < R; j++ {
		if sig[j] == 0 {
			continue
		}
		clear(acc)
		hr := row.H[j*R : (j+1)*R]
		for l, h := range hr {
			acc[mj[l]] += sig[l] * h
		}
		gr := x.G[mj[j]*Q : (mj[j]+1)*Q]
		for m, a := range acc {
			gr[m] += sig[j] * a
		}
	}
	return x
}

// at is the row's loss with decode table t.
func (x *nupesExpQuad) at(t []float32) float64 {
	Q := len(x.t0)
	d := make([]float64, Q)
	for m := range d {
		d[m] = float64(t[m]) - x.t0[m]
	}
	s := x.l0
	for m, dm := range d {
		if dm == 0 {
			continue
		}
		s -= 2 * dm * x.b[m]
		gr := x.G[m*Q : (m+1)*Q]
		q := 0.0
		for m2, dm2 := range d {
			q += gr[m2] * dm2
		}
		s += dm * q
	}
	return s
}

func (row *nupesRow) loss(table []float32) float64 {
	for j := range row.w {
		row.e[j] = row.w[j] - row.value(j, table)
	}
	return quadForm(row.H, row.e)
}

func (row *nupesRow) value(j int, table []float32) float64 {
	k := row.k[j]
	if k < 0 {
		return -row.s[j] * float64(table[-k])
	}
	return row.s[j] * float64(table[k])
}

// sweep is one pass of exact coordinate descent over the row's codes:
// each code moves to the grid point (anywhere in ±Qmax, not only the two
// neighbours of the float weight) minimizing the row's output error with
// the other codes fixed.
func (row *nupesRow) sweep(table []float32) {
	R := len(row.w)
	for j := range row.w {
		row.e[j] = row.w[j] - row.value(j, table)
	}
	matVec(row.H, row.e, row.r)
	qmax := int32(len(table) - 1)
	for j := 0; j < R; j++ {
		hjj := row.H[j*R+j]
		if hjj <= 0 || row.s[j] == 0 {
			continue
		}
		cur := row.value(j, table)
		target := cur + row.r[j]/hjj
		u := math.Abs(target) / row.s[j]
		m := int32(sort.Search(len(table), func(i int) bool { return float64(table[i]) >= u }))
		if m > qmax {
			m = qmax
		}
		if m > 0 && u-float64(table[m-1]) <= float64(table[m])-u {
			m--
		}
		k := m
		if target < 0 {
			k = -m
		}
		if k == row.k[j] {
			continue
		}
		row.k[j] = k
		delta := cur - row.value(j, table)
		if delta == 0 {
			continue
		}
		hr := row.H[j*R : (j+1)*R]
		for i := range row.r {
			row.r[i] += delta * hr[i]
		}
	}
}

// nupesDataDriven optimizes the exponent(s) and the codes of one layer
// for the layer-output loss Σ_c (w_c−ŵ_c)ᵀ H (w_c−ŵ_c) = ||W X − Ŵ X||²
// on calibration inputs X: starting from the data-free solution, it
// alternates exact coordinate-descent sweeps over the codes (over the
// whole code range) with a golden-section search of the exponent (per
// layer, or per channel) with the codes fixed. Every step is a descent
// step, so the loss never rises above the data-free start. It returns the
// codes, the exponents and the losses before and after.
func nupesDataDriven(l *layer, w []float32, lo *qLayout, bits int, exps []float32, gm *gram, rounds, sweeps int) ([]int32, []float32, float64, float64) {
	C, R := l.channels()
	init := encodePower(w, lo, bits, exps, nil)
	codes := init.UnpackCodes(len(w))
	rows := make([]*nupesRow, C)
	for c := range rows {
		rows[c] = &nupesRow{idx: make([]int, R), w: make([]float64, R), s: make([]float64, R), k: make([]int32, R),
			H: gm.H[l.inputGroup(c)], e: make([]float64, R), r: make([]float64, R)}
	}
	l.eachElem(func(i, c, r int) {
		row := rows[c]
		row.idx[r], row.w[r], row.s[r], row.k[r] = i, float64(w[i]), float64(init.Scales[lo.param[i]]), codes[i]
	})
	qmax := qmaxOf(bits)
	perChannel := len(exps) > 1
	exps = append([]float32{}, exps...)
	tables := func() {
		if perChannel {
			parallelRows(C, func(c int) { rows[c].table = ir.PowerTable(exps[c], qmax) })
			return
		}
		t := ir.PowerTable(exps[0], qmax)
		for _, row := range rows {
			row.table = t
		}
	}
	total := func() float64 {
		ls := make([]float64, C)
		parallelRows(C, func(c int) { ls[c] = rows[c].loss(rows[c].table) })
		return sumRows(ls)
	}
	tables()
	before := total()
	for round := 0; round < rounds; round++ {
		for s := 0; s < sweeps; s++ {
			parallelRows(C, func(c int) { rows[c].sweep(rows[c].table) })
		}
		// Exponent step with the codes fixed.
		if perChannel {
			parallelRows(C, func(c int) {
				row := rows[c]
				a0 := float64(exps[c])
				xq := row.expQuad(row.table)
				cur := xq.l0
				f := func(a float64) float64 { return xq.at(ir.PowerTable(float32(a), qmax)) }
				a, fa := goldenMin(f, math.Max(nupesAMin, a0*0.5), math.Min(nupesAMax, a0*1.5), 5e-3)
				if fa < cur {
					exps[c] = float32(a)
					row.table = ir.PowerTable(exps[c], qmax)
				}
			})
		} else {
			a0 := float64(exps[0])
			xqs := make([]*nupesExpQuad, C)
			ls := make([]float64, C)
			parallelRows(C, func(c int) { xqs[c] = rows[c].expQuad(rows[c].table); ls[c] = xqs[c].l0 })
			cur := sumRows(ls)
			f := func(a float64) float64 {
				t := ir.PowerTable(float32(a), qmax)
				for c, xq := range xqs {
					ls[c] = xq.at(t)
				}
				return sumRows(ls)
			}
			a, fa := goldenMin(f, math.Max(nupesAMin, a0*0.5), math.Min(nupesAMax, a0*1.5), 5e-3)
			if fa < cur {
				exps[0] = float32(a)
				tables()
			}
		}
	}
	for s := 0; s < sweeps; s++ {
		parallelRows(C, func(c int) { rows[c].sweep(rows[c].table) })
	}
	after := total()
	out := make([]int32, len(w))
	for _, row := range rows {
		for r, i := range row.idx {
			out[i] = row.k[r]
		}
	}
	return out, exps, before, after
}
