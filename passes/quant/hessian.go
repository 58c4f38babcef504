package quant

import (
	"math"
	"runtime"
	"sync"
)

// gram is the matrix H = Σ_t x_t x_tᵀ of a layer's input features over
// calibration tokens, one per conv input group. The layer-output
// reconstruction error of a weight row w against its quantized ŵ is
// (w−ŵ)ᵀ H (w−ŵ) = ||w X − ŵ X||².
type gram struct {
	R      int
	H      [][]float64 // per group, R×R row-major
	tokens int
}

func newGram(groups, R int) *gram {
	g := &gram{R: R, H: make([][]float64, groups)}
	for i := range g.H {
		g.H[i] = make([]float64, R*R)
	}
	return g
}

// add accumulates one token (upper triangle; mirror fills the rest).
func (g *gram) add(group int, x []float64) {
	H := g.H[group]
	R := g.R
	for i, xi := range x {
		if xi == 0 {
			continue
		}
		row := H[i*R:]
		for j := i; j < R; j++ {
			row[j] += xi * x[j]
		}
	}
	g.tokens++
}

// finish mirrors the upper triangle and adds damp·mean(diag) to the
// diagonal (so features never seen still cost a little error).
func (g *gram) finish(damp float64) {
	R := g.R
	for _, H := range g.H {
		for i := 0; i < R; i++ {
			for j := i + 1; j < R; j++ {
				H[j*R+i] = H[i*R+j]
			}
		}
		mean := 0.0
		for i := 0; i < R; i++ {
			mean += H[i*R+i]
		}
		mean /= float64(R)
		if mean == 0 {
			mean = 1
		}
		for i := 0; i < R; i++ {
			H[i*R+i] += damp * mean
		}
	}
}

// quadForm returns eᵀ H e.
func quadForm(H []float64, e []float64) float64 {
	R := len(e)
	s := 0.0
	for i, ei := range e {
		if ei == 0 {
			continue
		}
		row := H[i*R : (i+1)*R]
		d := 0.0
		for j, ej := range e {
			d += row[j] * ej
		}
		s += ei * d
	}
	return s
}

// matVec sets out = H e.
func matVec(H []float64, e, out []float64) {
	R := len(e)
	for i := range out {
		row := H[i*R : (i+1)*R]
		d := 0.0
		for j, ej := range e {
			d += row[j] * ej
		}
		out[i] = d
	}
}

// parallelRows runs f(c) for c in [0,n) on all CPUs. f must only touch
// row c's state, so the result does not depend on scheduling.
func parallelRows(n int, f func(c int)) {
	workers := min(runtime.NumCPU(), n)
	if workers <= 1 {
		for c := 0; c < n; c++ {
			f(c)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, n)
	for c := 0; c < n; c++ {
		next <- c
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				f(c)
			}
		}()
	}
	wg.Wait()
}

// sumRows adds per-row values in row order (deterministic).
func sumRows(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// goldenMin minimizes f on [lo, hi] by golden-section search to an
// interval narrower than tol, returning the best point seen and its value.
func goldenMin(f func(float64) float64, lo, hi, tol float64) (float64, float64) {
	phi := (math.Sqrt(5) - 1) / 2
	a, b := lo, hi
	x1, x2 := b-phi*(b-a), a+phi*(b-a)
	f1, f2 := f(x1), f(x2)
	for b-a > tol {
		if f1 <= f2 {
			b, x2, f2 = x2, x1, f1
			x1 = b - phi*(b-a)
			f1 = f(x1)
		} else {
			a, x1, f1 = x1, x2, f2
			x2 = a + phi*(b-a)
			f2 = f(x2)
		}
	}
	if f1 <= f2 {
		return x1, f1
	}
	return x2, f2
}
