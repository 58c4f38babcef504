package ir

import (
	"fmt"
	"math"

	"github.com/x448/float16"
)

// Tensor is a constant or run-time array with a concrete shape.
//
// For the dense encoding (Enc == nil) Data holds one Go element per
// logical element, row-major, with the Go slice type given by GoType:
// []float32, []uint16 (raw bits of f16/bf16), []float64, []int8 (i4, i8),
// []uint8 (u4, u8), []int16, []uint16, []int32, []uint32, []int64,
// []uint64, []bool or []string.
//
// For any other encoding Data is nil and Enc holds the stored form; its
// Decode defines the tensor's logical value.
type Tensor struct {
	DType DType
	Shape []int64
	Data  any
	Enc   Encoding
}

// Encoding is a non-dense storage form of a tensor (quantized, shared,
// sparse, low-rank). Decode returns the dense logical value; it is the
// reference semantics every backend must reproduce.
type Encoding interface {
	Kind() string
	Decode(t *Tensor) (*Tensor, error)
	// StoredBytes is the exact number of bytes the encoded form occupies.
	StoredBytes() int64
}

// NumElements returns the product of the dims of shape (1 for a scalar).
func NumElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len is the number of logical elements.
func (t *Tensor) Len() int { return int(NumElements(t.Shape)) }

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.Shape) }

// IsDense reports whether the tensor holds its data directly.
func (t *Tensor) IsDense() bool { return t.Enc == nil }

// Dense returns the tensor itself if dense, else its decoded value.
func (t *Tensor) Dense() (*Tensor, error) {
	if t.Enc == nil {
		return t, nil
	}
	return t.Enc.Decode(t)
}

// Bytes is the size of the tensor's stored form in bytes.
func (t *Tensor) Bytes() int64 {
	if t.Enc != nil {
		return t.Enc.StoredBytes()
	}
	if t.DType == String {
		var n int64
		for _, s := range t.Data.([]string) {
			n += int64(len(s))
		}
		return n
	}
	return t.DType.StorageBytes(int64(t.Len()))
}

// String describes the tensor briefly, for diagnostics.
func (t *Tensor) String() string { return fmt.Sprintf("tensor<%s%v>", t.DType, t.Shape) }

// makeSlice allocates a zeroed Go slice of the element type of d.
func makeSlice(d DType, n int) any {
	switch d {
	case Float32:
		return make([]float32, n)
	case Float16, BFloat16, Uint16:
		return make([]uint16, n)
	case Float64:
		return make([]float64, n)
	case Int4, Int8:
		return make([]int8, n)
	case Uint4, Uint8:
		return make([]uint8, n)
	case Int16:
		return make([]int16, n)
	case Int32:
		return make([]int32, n)
	case Uint32:
		return make([]uint32, n)
	case Int64:
		return make([]int64, n)
	case Uint64:
		return make([]uint64, n)
	case Bool:
		return make([]bool, n)
	case String:
		return make([]string, n)
	}
	panic(fmt.Sprintf("ir: no Go slice type for dtype %s", d))
}

// NewTensor allocates a zero-filled dense tensor.
func NewTensor(d DType, shape ...int64) *Tensor {
	s := append([]int64{}, shape...)
	return &Tensor{DType: d, Shape: s, Data: makeSlice(d, int(NumElements(s)))}
}

// Elem is the set of Go element types a dense tensor may hold.
type Elem interface {
	~float32 | ~float64 | ~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~bool | ~string
}

// Elems returns the data slice of a dense tensor as []T. It panics if T is
// not the tensor's Go element type; callers check DType first.
func Elems[T Elem](t *Tensor) []T { return t.Data.([]T) }

// FromSlice builds a dense tensor that takes ownership of data.
func FromSlice[T Elem](d DType, shape []int64, data []T) *Tensor {
	if int64(len(data)) != NumElements(shape) {
		panic(fmt.Sprintf("ir.FromSlice: %d elements for shape %v", len(data), shape))
	}
	return &Tensor{DType: d, Shape: append([]int64{}, shape...), Data: data}
}

// Scalar helpers build rank-0 tensors.
func ScalarF32(v float32) *Tensor { return FromSlice(Float32, nil, []float32{v}) }
func ScalarI64(v int64) *Tensor   { return FromSlice(Int64, nil, []int64{v}) }

// Clone returns a deep copy of a tensor (the encoding is shared, it is
// immutable by convention).
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{DType: t.DType, Shape: append([]int64{}, t.Shape...), Enc: t.Enc}
	if t.Data != nil {
		c.Data = makeSlice(t.DType, t.Len())
		copySlice(c.Data, t.Data)
	}
	return c
}

func copySlice(dst, src any) {
	switch d := dst.(type) {
	case []float32:
		copy(d, src.([]float32))
	case []float64:
		copy(d, src.([]float64))
	case []int8:
		copy(d, src.([]int8))
	case []uint8:
		copy(d, src.([]uint8))
	case []int16:
		copy(d, src.([]int16))
	case []uint16:
		copy(d, src.([]uint16))
	case []int32:
		copy(d, src.([]int32))
	case []uint32:
		copy(d, src.([]uint32))
	case []int64:
		copy(d, src.([]int64))
	case []uint64:
		copy(d, src.([]uint64))
	case []bool:
		copy(d, src.([]bool))
	case []string:
		copy(d, src.([]string))
	default:
		panic(fmt.Sprintf("ir: copySlice of %T", dst))
	}
}

// Reshaped returns a tensor sharing t's data with a new shape.
func (t *Tensor) Reshaped(shape []int64) *Tensor {
	return &Tensor{DType: t.DType, Shape: append([]int64{}, shape...), Data: t.Data, Enc: t.Enc}
}

// Float64At returns element i of a dense numeric or bool tensor as float64.
// It is the slow generic accessor; kernels use Elems on hot paths.
func (t *Tensor) Float64At(i int) float64 {
	switch d := t.Data.(type) {
	case []float32:
		return float64(d[i])
	case []float64:
		return d[i]
	case []uint16:
		switch t.DType {
		case Float16:
			return float64(float16.Frombits(d[i]).Float32())
		case BFloat16:
			return float64(BF16ToF32(d[i]))
		}
		return float64(d[i])
	case []int8:
		return float64(d[i])
	case []uint8:
		return float64(d[i])
	case []int16:
		return float64(d[i])
	case []int32:
		return float64(d[i])
	case []uint32:
		return float64(d[i])
	case []int64:
		return float64(d[i])
	case []uint64:
		return float64(d[i])
	case []bool:
		if d[i] {
			return 1
		}
		return 0
	}
	panic(fmt.Sprintf("ir: Float64At on %s", t))
}

// Int64At returns element i of a dense integer or bool tensor as int64
// (floats are truncated toward zero).
func (t *Tensor) Int64At(i int) int64 {
	switch d := t.Data.(type) {
	case []int64:
		return d[i]
	case []int32:
		return int64(d[i])
	case []int8:
		return int64(d[i])
	case []uint8:
		return int64(d[i])
	case []int16:
		return int64(d[i])
	case []uint32:
		return int64(d[i])
	case []uint64:
		return int64(d[i])
	case []uint16:
		if t.DType == Uint16 {
			return int64(d[i])
		}
	case []bool:
		if d[i] {
			return 1
		}
		return 0
	}
	return int64(t.Float64At(i))
}

// SetFloat64 stores v into element i, converting to the tensor's dtype
// (integers truncate toward zero, as a C cast does).
func (t *Tensor) SetFloat64(i int, v float64) {
	switch d := t.Data.(type) {
	case []float32:
		d[i] = float32(v)
	case []float64:
		d[i] = v
	case []uint16:
		switch t.DType {
		case Float16:
			d[i] = float16.Fromfloat32(float32(v)).Bits()
		case BFloat16:
			d[i] = F32ToBF16(float32(v))
		default:
			d[i] = uint16(int64(v))
		}
	case []int8:
		d[i] = int8(int64(v))
	case []uint8:
		d[i] = uint8(int64(v))
	case []int16:
		d[i] = int16(int64(v))
	case []int32:
		d[i] = int32(int64(v))
	case []uint32:
		d[i] = uint32(int64(v))
	case []int64:
		d[i] = int64(v)
	case []uint64:
		d[i] = uint64(v)
	case []bool:
		d[i] = v != 0
	default:
		panic(fmt.Sprintf("ir: SetFloat64 on %s", t))
	}
}

// Int64s returns the elements of a dense integer tensor as a new []int64.
func (t *Tensor) Int64s() []int64 {
	out := make([]int64, t.Len())
	for i := range out {
		out[i] = t.Int64At(i)
	}
	return out
}

// Float32s returns the elements of a dense numeric tensor as []float32,
// converting if needed (the slice is t's own data when t is f32).
func (t *Tensor) Float32s() []float32 {
	if d, ok := t.Data.([]float32); ok {
		return d
	}
	out := make([]float32, t.Len())
	for i := range out {
		out[i] = float32(t.Float64At(i))
	}
	return out
}

// BF16ToF32 widens bfloat16 bits to float32.
func BF16ToF32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// F32ToBF16 rounds a float32 to bfloat16 bits (round to nearest even, NaN kept).
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if f != f {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// F16ToF32 widens IEEE half bits to float32.
func F16ToF32(b uint16) float32 { return float16.Frombits(b).Float32() }

// F32ToF16 rounds a float32 to IEEE half bits (round to nearest even).
func F32ToF16(f float32) uint16 { return float16.Fromfloat32(f).Bits() }
