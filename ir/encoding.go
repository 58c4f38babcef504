package ir

import (
	"fmt"
	"math"
	"sync"
)

// QuantScheme is how the integer codes of a Quantized tensor map to values.
type QuantScheme uint8

const (
	// QuantUniform: v = scale · (k − zero_point).
	QuantUniform QuantScheme = iota
	// QuantPower (NUPES): v = sign(k) · scale · Qmax · (|k|/Qmax)^(1/a),
	// Qmax = 2^(bits−1) − 1, scale = M/Qmax with M the clipping magnitude.
	QuantPower
	// QuantFixed (AdaPT): v = k · 2^−FracLength, a signed fixed-point
	// number ⟨WordLength = Bits, FracLength⟩.
	QuantFixed
	// QuantPowerInt (NUPES with an integer decode table, for integer-only
	// inference): v = sign(k) · (scale/r) · T[|k|] with the int8 table
	// T[m] = round(L·(m/Qmax)^(1/a)), L = r·Qmax and r the largest power
	// of two with L ≤ 127 (PowerIntRatio). Codes, scales and exponents
	// mean what they mean for QuantPower; only the table is rounded to
	// integers, so a layer can accumulate a·T[k] in int32 and fold
	// scale/r (exact: r is a power of two) into its requantization. With
	// a = 1, T[m] = r·m and the tensor decodes bit for bit like the
	// uniform symmetric one with the same codes and scales.
	QuantPowerInt
)

var quantSchemeNames = [...]string{QuantUniform: "uniform", QuantPower: "power", QuantFixed: "fixed", QuantPowerInt: "power_int"}

func (s QuantScheme) String() string {
	if int(s) < len(quantSchemeNames) {
		return quantSchemeNames[s]
	}
	return fmt.Sprintf("scheme(%d)", s)
}

// ParseQuantScheme reads a scheme name (uniform, power, fixed, power_int).
func ParseQuantScheme(s string) (QuantScheme, error) {
	for i, n := range quantSchemeNames {
		if n == s {
			return QuantScheme(i), nil
		}
	}
	return 0, fmt.Errorf("unknown quantization scheme %q (want uniform, power, fixed or power_int)", s)
}

// Quantized is the encoding of a float32 tensor as b-bit integer codes
// with per-tensor, per-channel or per-group parameters.
//
// Layout. Axis is the channel axis (−1: per tensor, one channel). The
// elements of one channel, taken in row-major order of the other axes,
// are cut into groups of GroupSize consecutive elements (0: one group per
// channel; the last group may be short). Parameter index p = c·G + g, with
// c the channel, g the group and G = ceil(R/GroupSize) groups of the
// R = N/C elements of a channel. Scales and ZeroPoints have C·G entries
// (ZeroPoints may be nil: all zero). Exponent (power scheme) has 1 entry
// (per layer) or C entries (per channel).
//
// Codes holds the N codes of the tensor in row-major order as a
// little-endian bit stream: code i occupies bits [i·Bits, (i+1)·Bits) of
// the stream, least significant bit first (for 4 bits: two codes per
// byte, low nibble first; for 8 bits: one byte each). Signed codes are
// two's complement in Bits bits.
//
// Decode is the reference semantics, computed in float32 exactly as
// written on the scheme constants. For the power scheme the per-exponent
// table T_a[m] = float32(Qmax · (m/Qmax)^(1/a)) (computed in float64;
// T_a[m] = m exactly when a = 1) gives v = ±(scale · T_a[|k|]), so with
// a = 1 a power tensor decodes bit for bit like the uniform symmetric
// tensor with the same codes and scales.
type Quantized struct {
	Bits       int
	Scheme     QuantScheme
	Signed     bool
	Axis       int
	GroupSize  int
	Scales     []float32
	ZeroPoints []int32
	Exponent   []float32
	FracLength int
	Codes      []byte

	mu     sync.Mutex
	cached *Tensor
}

// Kind implements Encoding.
func (q *Quantized) Kind() string { return "quant" }

// WordLength is the fixed-point word length (AdaPT's WL), the code width.
func (q *Quantized) WordLength() int { return q.Bits }

// QMax is the largest code magnitude of a symmetric signed grid,
// 2^(Bits−1) − 1.
func (q *Quantized) QMax() int32 { return int32(1)<<(q.Bits-1) - 1 }

// CodeRange is the range of codes representable in Bits bits.
func (q *Quantized) CodeRange() (lo, hi int32) {
	if q.Signed {
		return -(int32(1) << (q.Bits - 1)), int32(1)<<(q.Bits-1) - 1
	}
	return 0, int32(1)<<q.Bits - 1
}

// QuantLayout returns the channel count C, the groups per channel G and
// the elements per channel R of a tensor of the given shape.
func (q *Quantized) QuantLayout(shape []int64) (C, G, R int, err error) {
	n := int(NumElements(shape))
	C = 1
	if q.Axis >= 0 {
		if q.Axis >= len(shape) {
			return 0, 0, 0, fmt.Errorf("quant: axis %d out of range for shape %v", q.Axis, shape)
		}
		C = int(shape[q.Axis])
	}
	if C == 0 {
		return 0, 0, 0, nil
	}
	R = n / C
	G = 1
	if q.GroupSize > 0 {
		G = (R + q.GroupSize - 1) / q.GroupSize
	}
	if G == 0 {
		G = 1
	}
	return C, G, R, nil
}

// ParamIndex returns, for every element of a tensor of the given shape,
// its channel and its parameter index c·G + g.
func (q *Quantized) ParamIndex(shape []int64) (channel, param []int32, err error) {
	C, G, _, err := q.QuantLayout(shape)
	if err != nil {
		return nil, nil, err
	}
	n := int(NumElements(shape))
	channel, param = make([]int32, n), make([]int32, n)
	inner := 1
	if q.Axis >= 0 {
		for _, d := range shape[q.Axis+1:] {
			inner *= int(d)
		}
	} else {
		inner = n
	}
	for i := 0; i < n; i++ {
		var c, r int
		if q.Axis >= 0 {
			o := i / (C * inner)
			c = (i / inner) % C
			r = o*inner + i%inner
		} else {
			r = i
		}
		g := 0
		if q.GroupSize > 0 {
			g = r / q.GroupSize
		}
		channel[i], param[i] = int32(c), int32(c*G+g)
	}
	return channel, param, nil
}

// Validate checks the encoding's fields against a logical shape.
func (q *Quantized) Validate(shape []int64) error {
	if q.Bits < 1 || q.Bits > 16 {
		return fmt.Errorf("quant: %d bits (want 1..16)", q.Bits)
	}
	if q.Axis < -1 {
		return fmt.Errorf("quant: axis %d (want -1 for per tensor, or a dim)", q.Axis)
	}
	if q.GroupSize < 0 {
		return fmt.Errorf("quant: negative group size %d", q.GroupSize)
	}
	C, G, _, err := q.QuantLayout(shape)
	if err != nil {
		return err
	}
	n := NumElements(shape)
	if want := (n*int64(q.Bits) + 7) / 8; int64(len(q.Codes)) != want {
		return fmt.Errorf("quant: %d code bytes for %d %d-bit codes, want %d", len(q.Codes), n, q.Bits, want)
	}
	np := C * G
	switch q.Scheme {
	case QuantUniform, QuantPower, QuantPowerInt:
		if len(q.Scales) != np {
			return fmt.Errorf("quant: %d scales, want %d (channels %d × groups %d)", len(q.Scales), np, C, G)
		}
		if q.ZeroPoints != nil && len(q.ZeroPoints) != np {
			return fmt.Errorf("quant: %d zero points, want %d", len(q.ZeroPoints), np)
		}
	case QuantFixed:
		if len(q.Scales) != 0 || q.ZeroPoints != nil || !q.Signed {
			return fmt.Errorf("quant: fixed point takes signed codes and no scales or zero points")
		}
	default:
		return fmt.Errorf("quant: invalid scheme %d", q.Scheme)
	}
	if q.Scheme == QuantPowerInt && q.Bits > 8 {
		return fmt.Errorf("quant: the power_int scheme takes at most 8 bits (an int8 decode table), not %d", q.Bits)
	}
	if q.Scheme == QuantPower || q.Scheme == QuantPowerInt {
		if !q.Signed || q.ZeroPoints != nil || q.Bits < 2 {
			return fmt.Errorf("quant: the power scheme takes signed codes of at least 2 bits and no zero points")
		}
		if len(q.Exponent) != 1 && len(q.Exponent) != C {
			return fmt.Errorf("quant: %d exponents, want 1 or %d", len(q.Exponent), C)
		}
		for _, a := range q.Exponent {
			if !(a > 0) || math.IsInf(float64(a), 0) {
				return fmt.Errorf("quant: exponent %v is not a positive number", a)
			}
		}
	} else if len(q.Exponent) != 0 {
		return fmt.Errorf("quant: exponents are only for the power scheme")
	}
	return nil
}

// StoredBytes is the payload size: the packed codes, 4 bytes per scale and
// per exponent, and the zero points packed at Bits bits each. The few
// header integers (bits, scheme, axis, group size, fraction length) are
// not counted.
func (q *Quantized) StoredBytes() int64 {
	return int64(len(q.Codes)) + 4*int64(len(q.Scales)) + 4*int64(len(q.Exponent)) +
		(int64(len(q.ZeroPoints))*int64(q.Bits)+7)/8
}

// Code returns code i of the packed stream.
func (q *Quantized) Code(i int) int32 { return unpackCode(q.Codes, i, q.Bits, q.Signed) }

// UnpackCodes returns all n codes.
func (q *Quantized) UnpackCodes(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = unpackCode(q.Codes, i, q.Bits, q.Signed)
	}
	return out
}

func unpackCode(b []byte, i, bits int, signed bool) int32 {
	pos := i * bits
	var u uint32
	for k := 0; k < bits; {
		byteI, off := (pos+k)/8, (pos+k)%8
		take := min(8-off, bits-k)
		u |= uint32(b[byteI]>>off&(1<<take-1)) << k
		k += take
	}
	if signed && u&(1<<(bits-1)) != 0 {
		return int32(u) - int32(1)<<bits
	}
	return int32(u)
}

// PackCodes packs codes into the little-endian bit stream of Quantized
// (two's complement for negative codes). It fails if a code does not fit.
func PackCodes(codes []int32, bits int, signed bool) ([]byte, error) {
	if bits < 1 || bits > 16 {
		return nil, fmt.Errorf("quant: %d bits (want 1..16)", bits)
	}
	lo, hi := int32(0), int32(1)<<bits-1
	if signed {
		lo, hi = -(int32(1) << (bits - 1)), int32(1)<<(bits-1)-1
	}
	out := make([]byte, (len(codes)*bits+7)/8)
	for i, c := range codes {
		if c < lo || c > hi {
			return nil, fmt.Errorf("quant: code %d at %d does not fit in %d bits (range %d..%d)", c, i, bits, lo, hi)
		}
		u := uint32(c) & (1<<bits - 1)
		pos := i * bits
		for k := 0; k < bits; {
			byteI, off := (pos+k)/8, (pos+k)%8
			take := min(8-off, bits-k)
			out[byteI] |= byte((u >> k & (1<<take - 1)) << off)
			k += take
		}
	}
	return out, nil
}

// PowerTable returns T_a[m] = float32(Qmax·(m/Qmax)^(1/a)) for m = 0..Qmax
// (T_a[m] = m when a = 1): the per-exponent decode table of the power
// scheme, in units of the scale.
func PowerTable(a float32, qmax int32) []float32 {
	t := make([]float32, qmax+1)
	for m := range t {
		if a == 1 {
			t[m] = float32(m)
			continue
		}
		t[m] = float32(float64(qmax) * math.Pow(float64(m)/float64(qmax), 1/float64(a)))
	}
	return t
}

// PowerIntRatio returns r, the largest power of two with r·qmax ≤ 127:
// the integer decode table of the power_int scheme spans ±L, L = r·qmax
// (qmax 7: r = 16, L = 112; qmax 3: r = 32, L = 96; qmax 127: r = 1).
func PowerIntRatio(qmax int32) int32 {
	r := int32(1)
	for 2*r*qmax <= 127 {
		r *= 2
	}
	return r
}

// PowerIntTable returns the int8 decode table of the power_int scheme,
// T[m] = round(L·(m/Qmax)^(1/a)) for m = 0..Qmax (computed in float64,
// half away from zero; L = PowerIntRatio(qmax)·qmax), so T[m] = r·m
// exactly when a = 1. It is increasing in m and T[Qmax] = L.
func PowerIntTable(a float32, qmax int32) []int8 {
	r := PowerIntRatio(qmax)
	L := float64(r * qmax)
	t := make([]int8, qmax+1)
	for m := range t {
		if a == 1 {
			t[m] = int8(r * int32(m))
			continue
		}
		t[m] = int8(math.Round(L * math.Pow(float64(m)/float64(qmax), 1/float64(a))))
	}
	return t
}

// PowerDecodeTable returns the float decode table of q's power scheme for
// exponent a, in units of the scale: PowerTable for QuantPower and, for
// QuantPowerInt, T[m]/r (exact: r is a power of two; T[m]/r = m when
// a = 1). A code k decodes to ±(scale · table[|k|]).
func (q *Quantized) PowerDecodeTable(a float32) []float32 {
	qmax := q.QMax()
	if q.Scheme != QuantPowerInt {
		return PowerTable(a, qmax)
	}
	it := PowerIntTable(a, qmax)
	inv := float32(1) / float32(PowerIntRatio(qmax))
	t := make([]float32, len(it))
	for m, v := range it {
		t[m] = float32(v) * inv
	}
	return t
}

// Decode implements Encoding: the dense float32 value of t (cached; the
// result must not be modified).
func (q *Quantized) Decode(t *Tensor) (*Tensor, error) {
	if t.DType != Float32 {
		return nil, fmt.Errorf("quant: the logical dtype must be f32, not %s", t.DType)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cached != nil && sameShape64(q.cached.Shape, t.Shape) {
		return q.cached, nil
	}
	out, err := q.decode(t.Shape)
	if err != nil {
		return nil, err
	}
	q.cached = out
	return out, nil
}

func sameShape64(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (q *Quantized) decode(shape []int64) (*Tensor, error) {
	if err := q.Validate(shape); err != nil {
		return nil, err
	}
	n := int(NumElements(shape))
	out := make([]float32, n)
	res := FromSlice(Float32, shape, out)
	if n == 0 {
		return res, nil
	}
	switch q.Scheme {
	case QuantFixed:
		step := float32(math.Ldexp(1, -q.FracLength))
		for i := range out {
			out[i] = float32(q.Code(i)) * step
		}
		return res, nil
	}
	channel, param, err := q.ParamIndex(shape)
	if err != nil {
		return nil, err
	}
	if q.Scheme == QuantUniform {
		for i := range out {
			k := q.Code(i)
			if q.ZeroPoints != nil {
				k -= q.ZeroPoints[param[i]]
			}
			out[i] = q.Scales[param[i]] * float32(k)
		}
		return res, nil
	}
	qmax := q.QMax()
	tables := make([][]float32, len(q.Exponent))
	for i, a := range q.Exponent {
		tables[i] = q.PowerDecodeTable(a)
	}
	for i := range out {
		k := q.Code(i)
		if k < -qmax || k > qmax {
			return nil, fmt.Errorf("quant: power code %d at %d outside ±%d", k, i, qmax)
		}
		tab := tables[0]
		if len(tables) > 1 {
			tab = tables[channel[i]]
		}
		if k < 0 {
			out[i] = -(q.Scales[param[i]] * tab[-k])
		} else {
			out[i] = q.Scales[param[i]] * tab[k]
		}
	}
	return res, nil
}
