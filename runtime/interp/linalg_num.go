package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// Numeric plumbing shared by the linear-algebra, reduction, quantization,
// loss and signal kernels (files linalg*.go, reduce*.go, quant*.go,
// loss*.go, signal*.go).
//
// Kernels of this family compute in one of four canonical Go types:
// float32 (also for f16 and bf16, rounded back at the end), float64,
// int64 (all signed integers; wrapping back to the narrow type gives the
// same result as wrapping arithmetic in that type for + and *) and uint64
// (all unsigned integers). laCanon converts a tensor to its canonical
// type and laUncanon converts a result back.

// laNum is the set of canonical element types.
type laNum interface {
	~float32 | ~float64 | ~int64 | ~uint64
}

// laFloat is the set of canonical floating-point element types.
type laFloat interface{ ~float32 | ~float64 }

// laCanonType is the canonical dtype kernels compute in for d.
func laCanonType(d ir.DType) ir.DType {
	switch d {
	case ir.Float16, ir.BFloat16, ir.Float32:
		return ir.Float32
	case ir.Float64:
		return ir.Float64
	case ir.Int4, ir.Int8, ir.Int16, ir.Int32, ir.Int64:
		return ir.Int64
	case ir.Uint4, ir.Uint8, ir.Uint16, ir.Uint32, ir.Uint64, ir.Bool:
		return ir.Uint64
	}
	return ir.Undefined
}

// laConvert returns t converted to dtype to (t itself when it already has
// that dtype). Integers convert with wrap-around, floats to integers
// truncate toward zero, as a C cast does.
func laConvert(t *ir.Tensor, to ir.DType) *ir.Tensor {
	if t.DType == to {
		return t
	}
	out := ir.NewTensor(to, t.Shape...)
	n := t.Len()
	switch {
	case to == ir.Float32:
		dst := out.Data.([]float32)
		for i := 0; i < n; i++ {
			dst[i] = float32(t.Float64At(i))
		}
	case t.DType.IsFloat() || to.IsFloat():
		for i := 0; i < n; i++ {
			out.SetFloat64(i, t.Float64At(i))
		}
	case to == ir.Uint64:
		dst := out.Data.([]uint64)
		for i := 0; i < n; i++ {
			dst[i] = uint64(t.Int64At(i))
		}
	default:
		switch d := out.Data.(type) {
		case []int64:
			laIntsFrom(d, t)
		case []int32:
			laIntsFrom(d, t)
		case []int16:
			laIntsFrom(d, t)
		case []int8:
			laIntsFrom(d, t)
		case []uint32:
			laIntsFrom(d, t)
		case []uint16:
			laIntsFrom(d, t)
		case []uint8:
			laIntsFrom(d, t)
		case []bool:
			for i := range d {
				d[i] = t.Int64At(i) != 0
			}
		}
	}
	return out
}

// laIntsFrom fills dst with the elements of an integer tensor, wrapping.
func laIntsFrom[T ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32](dst []T, t *ir.Tensor) {
	for i := range dst {
		dst[i] = T(t.Int64At(i))
	}
}

// laConvertFromUint64 narrows a canonical uint64 tensor without going
// through int64 (values above 2^63 must survive).
func laConvertFromUint64(t *ir.Tensor, to ir.DType) *ir.Tensor {
	src := t.Data.([]uint64)
	out := ir.NewTensor(to, t.Shape...)
	switch d := out.Data.(type) {
	case []uint64:
		copy(d, src)
	case []uint32:
		for i, v := range src {
			d[i] = uint32(v)
		}
	case []uint16:
		for i, v := range src {
			d[i] = uint16(v)
		}
	case []uint8:
		for i, v := range src {
			d[i] = uint8(v)
		}
	case []bool:
		for i, v := range src {
			d[i] = v != 0
		}
	default:
		return laConvert(t, to)
	}
	return out
}

// laCanon returns t in its canonical compute type.
func laCanon(c *Call, t *ir.Tensor) (*ir.Tensor, error) {
	ct := laCanonType(t.DType)
	if ct == ir.Undefined {
		return nil, c.Errorf("unsupported dtype %s", t.DType)
	}
	return laConvert(t, ct), nil
}

// laUncanon converts a canonical result back to dtype to.
func laUncanon(t *ir.Tensor, to ir.DType) *ir.Tensor {
	if t.DType == to {
		return t
	}
	if t.DType == ir.Uint64 {
		return laConvertFromUint64(t, to)
	}
	return laConvert(t, to)
}

// laRequire checks that d is one of the allowed dtypes.
func laRequire(c *Call, what string, d ir.DType, allowed ...ir.DType) error {
	for _, a := range allowed {
		if d == a {
			return nil
		}
	}
	return c.Errorf("%s: unsupported dtype %s (want one of %v)", what, d, allowed)
}

// laTypedArg returns input i (tensorArg) after checking that its dtype is
// one of allowed (laRequire, what names it in the error).
func laTypedArg(c *Call, in []Value, i int, what string, allowed ...ir.DType) (*ir.Tensor, error) {
	x, err := tensorArg(c, in, i)
	if err != nil {
		return nil, err
	}
	if err := laRequire(c, what, x.DType, allowed...); err != nil {
		return nil, err
	}
	return x, nil
}

// laFloatTypes and laNumTypes are the usual ONNX type constraints.
var (
	laFloatTypes = []ir.DType{ir.Float32, ir.Float16, ir.BFloat16, ir.Float64}
	laNumTypes   = []ir.DType{ir.Float32, ir.Float16, ir.BFloat16, ir.Float64,
		ir.Int8, ir.Int16, ir.Int32, ir.Int64, ir.Uint8, ir.Uint16, ir.Uint32, ir.Uint64}
)

// laLowest and laHighest are the identities of max and min.
func laLowest[T laNum]() T {
	var z T
	switch p := any(&z).(type) {
	case *float32:
		*p = float32(math.Inf(-1))
	case *float64:
		*p = math.Inf(-1)
	case *int64:
		*p = math.MinInt64
	case *uint64:
		*p = 0
	}
	return z
}

func laHighest[T laNum]() T {
	var z T
	switch p := any(&z).(type) {
	case *float32:
		*p = float32(math.Inf(1))
	case *float64:
		*p = math.Inf(1)
	case *int64:
		*p = math.MaxInt64
	case *uint64:
		*p = math.MaxUint64
	}
	return z
}

// laNaN is NaN for floating-point T and 0 for integers.
func laNaN[T laNum]() T {
	var z T
	switch p := any(&z).(type) {
	case *float32:
		*p = float32(math.NaN())
	case *float64:
		*p = math.NaN()
	}
	return z
}

// laIsNaN reports whether v is a floating-point NaN.
func laIsNaN[T laNum](v T) bool { return v != v }

// laScalarInt reads a scalar (or one-element) integer tensor.
func laScalarInt(c *Call, t *ir.Tensor, what string) (int64, error) {
	if t.Len() != 1 {
		return 0, c.Errorf("%s: want a scalar, got shape %v", what, t.Shape)
	}
	if !t.DType.IsInt() {
		return 0, c.Errorf("%s: want an integer tensor, got %s", what, t.DType)
	}
	return t.Int64At(0), nil
}

// laScalarFloat reads a scalar (or one-element) numeric tensor as float64.
func laScalarFloat(c *Call, t *ir.Tensor, what string) (float64, error) {
	if t.Len() != 1 {
		return 0, c.Errorf("%s: want a scalar, got shape %v", what, t.Shape)
	}
	if t.DType == ir.String {
		return 0, c.Errorf("%s: want a numeric tensor, got %s", what, t.DType)
	}
	return t.Float64At(0), nil
}
