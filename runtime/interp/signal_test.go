package interp

import (
	"math"
	"math/cmplx"
	"math/rand"
	"testing"

	"github.com/optc-dev/optc/ir"
)

// TestSignalFFT checks the transform against the O(n²) definition
// X[k] = Σ x[j]·exp(∓2πijk/n), evaluated with cmplx.Exp directly.
func TestSignalFFT(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for n := 1; n <= 33; n++ {
		for _, inverse := range []bool{false, true} {
			x := make([]complex128, n)
			for i := range x {
				x[i] = complex(rng.Float64()*2-1, rng.Float64()*2-1)
			}
			got := make([]complex128, n)
			signalNewFFT(n, inverse).transform(x, got)
			sign := -1.0
			if inverse {
				sign = 1
			}
			for k := 0; k < n; k++ {
				var want complex128
				for j := 0; j < n; j++ {
					want += x[j] * cmplx.Exp(complex(0, sign*2*math.Pi*float64(j*k)/float64(n)))
				}
				if inverse {
					want /= complex(float64(n), 0)
				}
				if cmplx.Abs(got[k]-want) > 1e-12*float64(n) {
					t.Fatalf("n=%d inverse=%v k=%d: got %v, want %v", n, inverse, k, got[k], want)
				}
			}
		}
	}
}

func TestDFT(t *testing.T) {
	// DFT of [1,2,3,4] = [10, -2+2i, -2, -2-2i] (by hand).
	x := laF32(laShape(1, 4, 1), 1, 2, 3, 4)
	y := laMust(t, 17, "DFT", nil, 1, x)[0]
	laCheck(t, "real", y, ir.Float32, laShape(1, 4, 2), []float64{10, 0, -2, 2, -2, 0, -2, -2}, 1e-6)
	y = laMust(t, 17, "DFT", map[string]*ir.Attr{"onesided": ir.IntAttr(1)}, 1, x)[0]
	laCheck(t, "onesided", y, ir.Float32, laShape(1, 3, 2), []float64{10, 0, -2, 2, -2, 0}, 1e-6)
	// The inverse transform recovers the signal.
	z := laF32(laShape(1, 4, 2), 10, 0, -2, 2, -2, 0, -2, -2)
	y = laMust(t, 17, "DFT", map[string]*ir.Attr{"inverse": ir.IntAttr(1)}, 1, z)[0]
	laCheck(t, "inverse", y, ir.Float32, laShape(1, 4, 2), []float64{1, 0, 2, 0, 3, 0, 4, 0}, 1e-6)
	// Length 3 (not a power of two): X1 = 1 + 2w + 3w², w = e^{-2πi/3}.
	s3 := math.Sqrt(3) / 2
	y = laMust(t, 17, "DFT", nil, 1, laF64(laShape(1, 3, 1), 1, 2, 3))[0]
	laCheck(t, "n=3", y, ir.Float64, laShape(1, 3, 2), []float64{6, 0, -1.5, s3, -1.5, -s3}, 1e-12)
	// dft_length truncates ([1,2] → [3, -1]) or zero-pads ([1,2,3,4,0,0,0,0]
	// at k=4 gives 1-2+3-4 = -2).
	y = laMust(t, 17, "DFT", nil, 1, x, laI64(nil, 2))[0]
	laCheck(t, "truncate", y, ir.Float32, laShape(1, 2, 2), []float64{3, 0, -1, 0}, 1e-6)
	y = laMust(t, 17, "DFT", nil, 1, x, laI32(nil, 8))[0]
	if y.Shape[1] != 8 || math.Abs(y.Float64At(8)+2) > 1e-6 || math.Abs(y.Float64At(9)) > 1e-6 {
		t.Fatalf("pad: got %v", laValues(y))
	}
	// axis 2 of [1, 2, 2, 1]: transforms along the inner dim.
	y = laMust(t, 17, "DFT", map[string]*ir.Attr{"axis": ir.IntAttr(2)}, 1, laF32(laShape(1, 2, 2, 1), 1, 2, 5, 7))[0]
	laCheck(t, "axis 2", y, ir.Float32, laShape(1, 2, 2, 2), []float64{3, 0, -1, 0, 12, 0, -2, 0}, 1e-6)
	if _, err := laRunOp(17, "DFT", map[string]*ir.Attr{"onesided": ir.IntAttr(1)}, 1, z); err == nil {
		t.Fatal("onesided of a complex input must be rejected")
	}
}

func TestSTFT(t *testing.T) {
	// Frames [1,2,3,4] and [3,4,5,6]: DFTs [10, -2+2i, -2, …] and
	// [18, -2+2i, -2, …]; onesided keeps 3 bins.
	sig := laF32(laShape(1, 6, 1), 1, 2, 3, 4, 5, 6)
	y := laMust(t, 17, "STFT", nil, 1, sig, laI64(nil, 2), nil, laI64(nil, 4))[0]
	laCheck(t, "no window", y, ir.Float32, laShape(1, 2, 3, 2), []float64{10, 0, -2, 2, -2, 0, 18, 0, -2, 2, -2, 0}, 1e-6)
	// Window [1,1,0,0]: frames [1,2,0,0] → [3, 1-2i, -1], [3,4,0,0] →
	// [7, 3-4i, -1].
	y = laMust(t, 17, "STFT", nil, 1, sig, laI64(nil, 2), laF32(laShape(4), 1, 1, 0, 0))[0]
	laCheck(t, "window", y, ir.Float32, laShape(1, 2, 3, 2), []float64{3, 0, 1, -2, -1, 0, 7, 0, 3, -4, -1, 0}, 1e-6)
	y = laMust(t, 17, "STFT", map[string]*ir.Attr{"onesided": ir.IntAttr(0)}, 1, sig, laI64(nil, 4), nil, laI64(nil, 4))[0]
	laCheck(t, "two-sided", y, ir.Float32, laShape(1, 1, 4, 2), []float64{10, 0, -2, 2, -2, 0, -2, -2}, 1e-6)
	if _, err := laRunOp(17, "STFT", nil, 1, sig, laI64(nil, 2), laF32(laShape(3), 1, 1, 1), laI64(nil, 4)); err == nil {
		t.Fatal("a window that disagrees with frame_length must be rejected")
	}
}

func TestWindows(t *testing.T) {
	a, b := 25.0/46, 21.0/46
	sym := map[string]*ir.Attr{"periodic": ir.IntAttr(0)}
	for _, tc := range []struct {
		op    string
		attrs map[string]*ir.Attr
		size  int64
		want  []float64
	}{
		// Periodic: N = size; cos(2πn/4) = [1, 0, -1, 0].
		{"HannWindow", nil, 4, []float64{0, 0.5, 1, 0.5}},
		{"HannWindow", sym, 5, []float64{0, 0.5, 1, 0.5, 0}},
		{"HammingWindow", nil, 4, []float64{a - b, a, a + b, a}},
		// 0.42 - 0.5cos + 0.08cos(2·): [0, 0.42-0.08, 1, 0.34].
		{"BlackmanWindow", nil, 4, []float64{0, 0.34, 1, 0.34}},
	} {
		y := laMust(t, 17, tc.op, tc.attrs, 1, laI32(nil, int32(tc.size)))[0]
		laCheck(t, tc.op, y, ir.Float32, laShape(tc.size), tc.want, 1e-6)
	}
	y := laMust(t, 17, "HannWindow", map[string]*ir.Attr{"output_datatype": ir.IntAttr(11)}, 1, laI64(nil, 2))[0]
	laCheck(t, "double", y, ir.Float64, laShape(2), []float64{0, 1}, 1e-15)
}

func TestMelWeightMatrix(t *testing.T) {
	// The ONNX conformance case test_melweightmatrix: 8 mel bins over a
	// 16-point DFT at 8192 Hz, 0 to 4096 Hz; expected matrix from its
	// output_0.pb.
	want := []float64{
		1, 1, 0, 0, 0, 0, 0, 0,
		0, 0, 1, 1, 0, 0, 0, 0,
		0, 0, 0, 0, 1, 0, 0, 0,
		0, 0, 0, 0, 0, 1, 0, 0,
		0, 0, 0, 0, 0, 0, 1, 0,
		0, 0, 0, 0, 0, 0, 0, 1,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
	}
	y := laMust(t, 17, "MelWeightMatrix", nil, 1, laI32(nil, 8), laI32(nil, 16), laI32(nil, 8192), laF32(nil, 0), laF32(nil, 4096))[0]
	laCheck(t, "mel", y, ir.Float32, laShape(9, 8), want, 0)
}
