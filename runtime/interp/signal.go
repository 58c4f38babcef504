package interp

import (
	"math"
	"math/bits"

	"github.com/optc-dev/optc/ir"
)

// Signal processing (opset 17): DFT, STFT, the Hann, Hamming and
// Blackman windows and MelWeightMatrix.
//
// Transforms are computed in complex128 whatever the input precision and
// rounded to the output type once: the reference (NumPy's FFT) is double
// precision, and a float32 FFT would lose digits on long signals.

func init() {
	Register("DFT", signalDFTKernel)
	Register("STFT", signalSTFTKernel)
	Register("HannWindow", signalWindowKernel([]float64{0.5, 0.5}))
	Register("HammingWindow", signalWindowKernel([]float64{25.0 / 46, 1 - 25.0/46}))
	Register("BlackmanWindow", signalWindowKernel([]float64{0.42, 0.5, 0.08}))
	Register("MelWeightMatrix", signalMelKernel)
}

// signalFFT is a reusable transform of length n.
type signalFFT struct {
	n       int
	inverse bool
	tw      []complex128 // tw[k] = exp(∓2πik/n)
	scratch []complex128
}

func signalNewFFT(n int, inverse bool) *signalFFT {
	f := &signalFFT{n: n, inverse: inverse, tw: make([]complex128, n), scratch: make([]complex128, n)}
	sign := -1.0
	if inverse {
		sign = 1
	}
	for k := range f.tw {
		s, c := math.Sincos(sign * 2 * math.Pi * float64(k) / float64(n))
		f.tw[k] = complex(c, s)
	}
	return f
}

// transform computes out = DFT(in) (both of length n; inverse transforms
// are scaled by 1/n). A power-of-two length uses the radix-2 FFT, any
// other length the direct sum with exact twiddle indices.
func (f *signalFFT) transform(in, out []complex128) {
	n := f.n
	if n == 0 {
		return
	}
	if n&(n-1) == 0 {
		shift := 64 - bits.TrailingZeros(uint(n))
		for i := 0; i < n; i++ {
			j := 0
			if n > 1 {
				j = int(bits.Reverse64(uint64(i)) >> shift)
			}
			out[j] = in[i]
		}
		for size := 2; size <= n; size <<= 1 {
			half, step := size/2, n/size
			for start := 0; start < n; start += size {
				for k := 0; k < half; k++ {
					t := f.tw[k*step] * out[start+k+half]
					u := out[start+k]
					out[start+k] = u + t
					out[start+k+half] = u - t
				}
			}
		}
	} else {
		tmp := f.scratch
		for k := 0; k < n; k++ {
			var s complex128
			idx := 0
			for j := 0; j < n; j++ {
				s += in[j] * f.tw[idx]
				idx += k
				if idx >= n {
					idx -= n
				}
			}
			tmp[k] = s
		}
		copy(out, tmp)
	}
	if f.inverse {
		inv := complex(1/float64(n), 0)
		for i := range out[:n] {
			out[i] *= inv
		}
	}
}

// signalComplexIn reads a [..., 1|2] float tensor as complex numbers.
func signalComplexIn(c *Call, x *ir.Tensor) ([]complex128, int, error) {
	if err := laRequire(c, "input", x.DType, laFloatTypes...); err != nil {
		return nil, 0, err
	}
	r := x.Rank()
	if r < 1 || (x.Shape[r-1] != 1 && x.Shape[r-1] != 2) {
		return nil, 0, c.Errorf("the last dim must be 1 (real) or 2 (complex), got shape %v", x.Shape)
	}
	comps := int(x.Shape[r-1])
	out := make([]complex128, x.Len()/comps)
	for i := range out {
		re := x.Float64At(i * comps)
		im := 0.0
		if comps == 2 {
			im = x.Float64At(i*comps + 1)
		}
		out[i] = complex(re, im)
	}
	return out, comps, nil
}

// signalComplexOut writes complex values as a [..., 2] tensor of dtype dt.
func signalComplexOut(dt ir.DType, shape []int64, v []complex128) *ir.Tensor {
	out := ir.NewTensor(dt, append(append([]int64{}, shape...), 2)...)
	for i, z := range v {
		out.SetFloat64(2*i, real(z))
		out.SetFloat64(2*i+1, imag(z))
	}
	return out
}

func signalDFTKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	v, comps, err := signalComplexIn(c, x)
	if err != nil {
		return nil, err
	}
	sig := x.Shape[:x.Rank()-1]
	if len(sig) == 0 {
		return nil, c.Errorf("input must have a signal dim before the complex dim, got shape %v", x.Shape)
	}
	axis, err := normAxis(c, c.Node.AttrInt("axis", 1), x.Rank())
	if err != nil {
		return nil, err
	}
	if axis == x.Rank()-1 {
		return nil, c.Errorf("axis %d is the real/imaginary dim", axis)
	}
	inverse := c.Node.AttrInt("inverse", 0) != 0
	onesided := c.Node.AttrInt("onesided", 0) != 0
	if onesided && (inverse || comps == 2) {
		return nil, c.Errorf("onesided needs a real input and a forward transform")
	}
	outer, dim, inner := reduceLanes(sig, axis)
	n := dim
	if lt, err := optTensorArg(c, in, 1); err != nil {
		return nil, err
	} else if lt != nil {
		l, err := laScalarInt(c, lt, "dft_length")
		if err != nil {
			return nil, err
		}
		if l < 1 {
			return nil, c.Errorf("dft_length must be positive, got %d", l)
		}
		n = int(l)
	}
	outLen := n
	if onesided {
		outLen = n/2 + 1
	}
	outShape := append([]int64{}, sig...)
	outShape[axis] = int64(outLen)
	f := signalNewFFT(n, inverse)
	lane, res := make([]complex128, n), make([]complex128, n)
	y := make([]complex128, outer*outLen*inner)
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			clear(lane)
			for j := 0; j < min(n, dim); j++ {
				lane[j] = v[(o*dim+j)*inner+i]
			}
			f.transform(lane, res)
			for j := 0; j < outLen; j++ {
				y[(o*outLen+j)*inner+i] = res[j]
			}
		}
	}
	return one(signalComplexOut(x.DType, outShape, y))
}

func signalSTFTKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	v, comps, err := signalComplexIn(c, x)
	if err != nil {
		return nil, err
	}
	if x.Rank() != 3 {
		return nil, c.Errorf("signal must have shape [batch, length, 1|2], got %v", x.Shape)
	}
	st, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	step, err := laScalarInt(c, st, "frame_step")
	if err != nil {
		return nil, err
	}
	win, err := optTensorArg(c, in, 2)
	if err != nil {
		return nil, err
	}
	lt, err := optTensorArg(c, in, 3)
	if err != nil {
		return nil, err
	}
	length := int64(-1)
	if lt != nil {
		if length, err = laScalarInt(c, lt, "frame_length"); err != nil {
			return nil, err
		}
	}
	var w []float64
	if win != nil {
		if win.DType != x.DType {
			return nil, c.Errorf("window dtype %s differs from signal dtype %s", win.DType, x.DType)
		}
		if win.Rank() != 1 || (length >= 0 && win.Shape[0] != length) {
			return nil, c.Errorf("window of shape %v does not match frame_length %d", win.Shape, length)
		}
		length = win.Shape[0]
		w = make([]float64, win.Len())
		for i := range w {
			w[i] = win.Float64At(i)
		}
	}
	if length < 1 {
		return nil, c.Errorf("one of window and frame_length is required (and positive)")
	}
	batch, sigLen := int(x.Shape[0]), int(x.Shape[1])
	if step < 1 || int(length) > sigLen {
		return nil, c.Errorf("frame_step %d / frame_length %d invalid for a signal of length %d", step, length, sigLen)
	}
	onesided := c.Node.AttrInt("onesided", 1) != 0
	if onesided && comps == 2 {
		return nil, c.Errorf("onesided needs a real signal")
	}
	n := int(length)
	frames := 1 + (sigLen-n)/int(step)
	bins := n
	if onesided {
		bins = n/2 + 1
	}
	f := signalNewFFT(n, false)
	frame, res := make([]complex128, n), make([]complex128, n)
	y := make([]complex128, batch*frames*bins)
	for b := 0; b < batch; b++ {
		for fr := 0; fr < frames; fr++ {
			start := b*sigLen + fr*int(step)
			for j := 0; j < n; j++ {
				frame[j] = v[start+j]
				if w != nil {
					frame[j] *= complex(w[j], 0)
				}
			}
			f.transform(frame, res)
			copy(y[(b*frames+fr)*bins:], res[:bins])
		}
	}
	return one(signalComplexOut(x.DType, []int64{int64(batch), int64(frames), int64(bins)}, y))
}

// signalOutType reads the output_datatype attribute (default float32).
func signalOutType(c *Call) (ir.DType, error) {
	code := c.Node.AttrInt("output_datatype", 1)
	dt, _ := ir.DTypeFromONNX(code)
	if laRequire(c, "output_datatype", dt, laNumTypes...) != nil {
		return 0, c.Errorf("output_datatype %d is not a numeric type", code)
	}
	return dt, nil
}

// signalWindowKernel builds a generalized cosine window
// w[n] = a0 - a1·cos(2πn/N) + a2·cos(4πn/N) - …, with N = size when
// periodic, size-1 when symmetric.
func signalWindowKernel(a []float64) Kernel {
	return func(c *Call, in []Value) ([]Value, error) {
		st, err := tensorArg(c, in, 0)
		if err != nil {
			return nil, err
		}
		size, err := laScalarInt(c, st, "size")
		if err != nil {
			return nil, err
		}
		if size < 0 {
			return nil, c.Errorf("size must be non-negative, got %d", size)
		}
		dt, err := signalOutType(c)
		if err != nil {
			return nil, err
		}
		N := float64(size)
		if c.Node.AttrInt("periodic", 1) == 0 {
			N = float64(size - 1)
		}
		N = math.Max(N, 1)
		out := ir.NewTensor(dt, size)
		for i := 0; i < int(size); i++ {
			v, sign := 0.0, 1.0
			for k, ak := range a {
				v += sign * ak * math.Cos(2*math.Pi*float64(k)*float64(i)/N)
				sign = -sign
			}
			out.SetFloat64(i, v)
		}
		return one(out)
	}
}

func signalMelKernel(c *Call, in []Value) ([]Value, error) {
	var args [5]float64
	for i, name := range []string{"num_mel_bins", "dft_length", "sample_rate", "lower_edge_hertz", "upper_edge_hertz"} {
		t, err := tensorArg(c, in, i)
		if err != nil {
			return nil, err
		}
		if i < 3 && !t.DType.IsInt() {
			return nil, c.Errorf("%s must be an integer scalar, got %s", name, t)
		}
		if args[i], err = laScalarFloat(c, t, name); err != nil {
			return nil, err
		}
	}
	dt, err := signalOutType(c)
	if err != nil {
		return nil, err
	}
	mels, dftLen, rate, lo, hi := int(args[0]), int(args[1]), args[2], args[3], args[4]
	if mels < 1 || dftLen < 1 || rate <= 0 || lo < 0 || hi < lo {
		return nil, c.Errorf("invalid arguments: num_mel_bins %d, dft_length %d, sample_rate %g, edges [%g, %g]", mels, dftLen, rate, lo, hi)
	}
	specBins := dftLen/2 + 1
	toMel := func(f float64) float64 { return 2595 * math.Log10(1+f/700) }
	loMel, hiMel := toMel(lo), toMel(hi)
	step := (hiMel - loMel) / float64(mels+2)
	// Triangle edges, as spectrogram bin indices.
	fb := make([]int, mels+2)
	for i := range fb {
		hz := 700 * (math.Pow(10, (float64(i)*step+loMel)/2595) - 1)
		fb[i] = int(math.Floor(float64(dftLen+1) * hz / rate))
	}
	out := ir.NewTensor(dt, int64(specBins), int64(mels))
	set := func(row, col int, v float64) {
		if row >= 0 && row < specBins {
			out.SetFloat64(row*mels+col, v)
		}
	}
	for i := 0; i < mels; i++ {
		left, center, right := fb[i], fb[i+1], fb[i+2]
		if center == left {
			set(center, i, 1)
		} else {
			for j := left; j <= center; j++ {
				set(j, i, float64(j-left)/float64(center-left))
			}
		}
		for j := center; j < right; j++ {
			set(j, i, float64(right-j)/float64(right-center))
		}
	}
	return one(out)
}
