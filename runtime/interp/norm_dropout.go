package interp

import (
	"github.com/optc-dev/optc/ir"
)

// Dropout. In inference (the default, and always before opset 12) it is
// the identity with an all-true mask. In training mode (opset 12+) element
// i is kept when u_i >= ratio, u_i the i-th uniform [0,1) double of an
// MT19937 generator seeded with the seed attribute (0 when absent) the way
// NumPy's legacy RandomState seeds and draws (random_sample); kept elements
// are scaled by 1/(1-ratio). The RNG choice makes training-mode output
// deterministic and equal to the ONNX reference implementation's.

func init() { Register("Dropout", normDropoutKernel) }

func normDropoutKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	ratio := float64(c.Node.AttrFloat("ratio", 0.5))
	training := false
	if c.Opset >= 12 {
		rt, err := optTensorArg(c, in, 1)
		if err != nil {
			return nil, err
		}
		if rt != nil {
			if rt.Len() != 1 {
				return nil, c.Errorf("ratio must be a scalar, got shape %v", rt.Shape)
			}
			ratio = rt.Float64At(0)
		}
		tm, err := optTensorArg(c, in, 2)
		if err != nil {
			return nil, err
		}
		if tm != nil {
			if tm.Len() != 1 {
				return nil, c.Errorf("training_mode must be a scalar, got shape %v", tm.Shape)
			}
			training = tm.Int64At(0) != 0
		}
	}
	if ratio < 0 || ratio > 1 {
		return nil, c.Errorf("ratio %v is outside [0, 1]", ratio)
	}
	// Before opset 10 the mask has the input's type.
	maskType := ir.Bool
	if c.Opset < 10 {
		maskType = x.DType
	}
	mask := ir.NewTensor(maskType, x.Shape...)
	if !training || ratio == 0 {
		for i := 0; i < mask.Len(); i++ {
			mask.SetFloat64(i, 1)
		}
		return convOuts(c, x, mask)
	}
	if !convIsFloat(x.DType) {
		return nil, c.Errorf("Dropout: unsupported dtype %s in training mode", x.DType)
	}
	rng := newNormMT19937(uint32(c.Node.AttrInt("seed", 0)))
	keep := make([]bool, x.Len())
	for i := range keep {
		keep[i] = rng.float64() >= ratio
		if keep[i] {
			mask.SetFloat64(i, 1)
		}
	}
	run := func(scale float64) *ir.Tensor {
		xv := convElems[float64](x)
		y := make([]float64, len(xv))
		for i, v := range xv {
			if keep[i] {
				y[i] = v * scale
			}
		}
		return convTensor(x.DType, x.Shape, y)
	}
	scale := 0.0
	if ratio < 1 {
		scale = 1 / (1 - ratio)
	}
	return convOuts(c, run(scale), mask)
}

// normMT19937 is the 32-bit Mersenne Twister (Matsumoto & Nishimura).
type normMT19937 struct {
	mt  [624]uint32
	pos int
}

// newNormMT19937 seeds with init_genrand(seed), as NumPy's
// RandomState.seed does for an integer seed.
func newNormMT19937(seed uint32) *normMT19937 {
	r := &normMT19937{pos: 624}
	r.mt[0] = seed
	for i := 1; i < 624; i++ {
		p := r.mt[i-1]
		r.mt[i] = 1812433253*(p^(p>>30)) + uint32(i)
	}
	return r
}

func (r *normMT19937) uint32() uint32 {
	if r.pos >= 624 {
		for i := 0; i < 624; i++ {
			y := r.mt[i]&0x80000000 | r.mt[(i+1)%624]&0x7fffffff
			v := r.mt[(i+397)%624] ^ y>>1
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			r.mt[i] = v
		}
		r.pos = 0
	}
	y := r.mt[r.pos]
	r.pos++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	y ^= y >> 18
	return y
}

// float64 is genrand_res53: a uniform double in [0, 1) from two draws.
func (r *normMT19937) float64() float64 {
	a, b := r.uint32()>>5, r.uint32()>>6
	return (float64(a)*67108864 + float64(b)) / 9007199254740992
}
