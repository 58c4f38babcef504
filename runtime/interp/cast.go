package interp

import (
	"math"
	"strconv"
	"strings"

	"github.com/optc-dev/optc/ir"
)

// Cast and CastLike (ONNX 1.12 semantics).
//
// Numeric conversions go through one canonical form per source kind
// (float64 for floats, int64 for signed and bool, uint64 for unsigned),
// which holds every source value exactly, and are rounded once into the
// target:
//   - to float32/float64: nearest even;
//   - to float16: nearest even, rounded once (castToF16);
//   - to bfloat16: the float32 value truncated to its upper 16 bits, NaN
//     kept quiet. This is what the ONNX 1.12 reference (its test data) and
//     ONNX Runtime of that era do; ONNX 1.14 moved to nearest even;
//   - float to integer: truncation toward zero, NaN to 0, out-of-range
//     values saturated to int64 and then wrapped (ewFloatToInt);
//   - integer to integer: two's complement wrap, as a C cast;
//   - to bool: nonzero (NaN is nonzero).
//
// Strings: floats are written as numpy writes them (shortest digits that
// round-trip, positional for 1e-4 <= |x| < 1e16, else scientific), with
// "NaN", "INF" and "-INF" for the special values; integers in decimal;
// bools as "1"/"0". Parsing accepts plain and scientific notation and the
// literals INF, +INF, -INF and NaN in any case (plus "true"/"false" for
// bool); anything else is an error.

func init() {
	Register("Cast", castKernel)
	Register("CastLike", castLikeKernel)
}

// castONNXTypes maps TensorProto.DataType numbers to dtypes.
var castONNXTypes = map[int64]ir.DType{
	1: ir.Float32, 2: ir.Uint8, 3: ir.Int8, 4: ir.Uint16, 5: ir.Int16,
	6: ir.Int32, 7: ir.Int64, 8: ir.String, 9: ir.Bool, 10: ir.Float16,
	11: ir.Float64, 12: ir.Uint32, 13: ir.Uint64, 16: ir.BFloat16,
	21: ir.Uint4, 22: ir.Int4,
}

// castONNXNames maps the opset-1 string form of "to".
var castONNXNames = map[string]ir.DType{
	"FLOAT": ir.Float32, "UINT8": ir.Uint8, "INT8": ir.Int8, "UINT16": ir.Uint16,
	"INT16": ir.Int16, "INT32": ir.Int32, "INT64": ir.Int64, "STRING": ir.String,
	"BOOL": ir.Bool, "FLOAT16": ir.Float16, "DOUBLE": ir.Float64,
	"UINT32": ir.Uint32, "UINT64": ir.Uint64, "BFLOAT16": ir.BFloat16,
}

func castKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	a, ok := c.Node.Attrs["to"]
	if !ok {
		return nil, c.Errorf("attribute to is required")
	}
	var to ir.DType
	switch a.Kind {
	case ir.AttrInt:
		to, ok = castONNXTypes[a.Int]
	case ir.AttrString:
		to, ok = castONNXNames[strings.ToUpper(a.String)]
	}
	if !ok {
		return nil, c.Errorf("unsupported target type to=%v", castAttrText(a))
	}
	y, err := castTensor(c, x, to)
	if err != nil {
		return nil, err
	}
	return one(y)
}

func castAttrText(a *ir.Attr) string {
	if a.Kind == ir.AttrString {
		return strconv.Quote(a.String)
	}
	return strconv.FormatInt(a.Int, 10)
}

func castLikeKernel(c *Call, in []Value) ([]Value, error) {
	ts, err := ewInputs(c, in, 2)
	if err != nil {
		return nil, err
	}
	y, err := castTensor(c, ts[0], ts[1].DType)
	if err != nil {
		return nil, err
	}
	return one(y)
}

// castTensor converts x to dtype to.
func castTensor(c *Call, x *ir.Tensor, to ir.DType) (*ir.Tensor, error) {
	if x.DType == to {
		return x.Clone(), nil
	}
	if to == ir.String {
		return castToString(c, x)
	}
	var out any
	switch x.DType {
	case ir.String:
		return castFromString(c, x, to)
	case ir.Float32, ir.Float64, ir.Float16, ir.BFloat16:
		v := make([]float64, x.Len())
		for i := range v {
			v[i] = x.Float64At(i)
		}
		out = castFrom(v, to)
	case ir.Uint8, ir.Uint16, ir.Uint32, ir.Uint64, ir.Uint4:
		v := make([]uint64, x.Len())
		for i := range v {
			v[i] = castUint(x, i)
		}
		out = castFrom(v, to)
	case ir.Int8, ir.Int16, ir.Int32, ir.Int64, ir.Int4, ir.Bool:
		out = castFrom(x.Int64s(), to)
	}
	if out == nil {
		return nil, c.Errorf("cannot cast %s to %s", x.DType, to)
	}
	return &ir.Tensor{DType: to, Shape: append([]int64{}, x.Shape...), Data: out}, nil
}

// castUint reads element i of an unsigned tensor without sign games.
func castUint(x *ir.Tensor, i int) uint64 {
	if v, ok := x.Data.([]uint64); ok {
		return v[i]
	}
	return uint64(x.Int64At(i))
}

// castSource is the canonical form of a source tensor.
type castSource interface{ float64 | int64 | uint64 }

// castFrom converts canonical values to a slice of the Go type of to
// (nil if to is not a numeric or bool dtype).
func castFrom[S castSource](v []S, to ir.DType) any {
	switch to {
	case ir.Float32:
		return castMap(v, castToF32[S])
	case ir.Float64:
		return castMap(v, func(s S) float64 { return float64(s) })
	case ir.Float16:
		return castMap(v, castToF16[S])
	case ir.BFloat16:
		return castMap(v, func(s S) uint16 { return castBF16Trunc(castToF32[S](s)) })
	case ir.Bool:
		return castMap(v, func(s S) bool { return s != 0 })
	case ir.Int8:
		return castMap(v, castToInt[S, int8])
	case ir.Int4:
		// Keep the low nibble, sign-extended.
		return castMap(v, func(s S) int8 { return castToInt[S, int8](s) << 4 >> 4 })
	case ir.Uint8:
		return castMap(v, castToInt[S, uint8])
	case ir.Uint4:
		return castMap(v, func(s S) uint8 { return castToInt[S, uint8](s) & 0xf })
	case ir.Int16:
		return castMap(v, castToInt[S, int16])
	case ir.Uint16:
		return castMap(v, castToInt[S, uint16])
	case ir.Int32:
		return castMap(v, castToInt[S, int32])
	case ir.Uint32:
		return castMap(v, castToInt[S, uint32])
	case ir.Int64:
		return castMap(v, castToInt[S, int64])
	case ir.Uint64:
		return castMap(v, castToInt[S, uint64])
	}
	return nil
}

func castMap[S, D any](v []S, f func(S) D) []D {
	out := make([]D, len(v))
	for i, s := range v {
		out[i] = f(s)
	}
	return out
}

// castToF32 rounds to the nearest float32 (Go conversions from int64,
// uint64 and float64 round to nearest even directly).
func castToF32[S castSource](s S) float32 { return float32(s) }

// castToF16 rounds to the nearest float16. A float64 is first rounded to
// float32 with round-to-odd (an inexact result gets an odd last mantissa
// bit), which makes the second rounding correct; integers that float32
// cannot hold exactly are far outside float16's range.
func castToF16[S castSource](s S) uint16 {
	f := float32(s)
	if v, ok := any(s).(float64); ok && float64(f) != v && v == v {
		b := math.Float32bits(f)
		if b&1 == 0 {
			// Step one ulp toward v: down in magnitude if f overshoots.
			if math.Abs(float64(f)) > math.Abs(v) {
				b--
			} else {
				b++
			}
			f = math.Float32frombits(b)
		}
	}
	return ir.F32ToF16(f)
}

// castBF16Trunc keeps the upper 16 bits of a float32 (NaN stays a quiet NaN).
func castBF16Trunc(f float32) uint16 {
	if f != f {
		return 0x7fc0
	}
	return uint16(math.Float32bits(f) >> 16)
}

// castToInt converts a canonical value to an integer type D.
func castToInt[S castSource, D ewInt](s S) D {
	if v, ok := any(s).(float64); ok {
		return ewFloatToInt[D](v)
	}
	return D(s)
}

// castToString formats every element of x.
func castToString(c *Call, x *ir.Tensor) (*ir.Tensor, error) {
	out := make([]string, x.Len())
	for i := range out {
		switch x.DType {
		case ir.Float32:
			out[i] = castFormatFloat(x.Float64At(i), 32)
		case ir.Float64:
			out[i] = castFormatFloat(x.Float64At(i), 64)
		case ir.Float16, ir.BFloat16:
			out[i] = castFormatFloat(x.Float64At(i), castHalfBits(x.DType))
		case ir.Bool:
			out[i] = strconv.FormatInt(x.Int64At(i), 10)
		case ir.Uint64:
			out[i] = strconv.FormatUint(castUint(x, i), 10)
		default:
			if !x.DType.IsInt() {
				return nil, c.Errorf("cannot cast %s to string", x.DType)
			}
			out[i] = strconv.FormatInt(x.Int64At(i), 10)
		}
	}
	return &ir.Tensor{DType: ir.String, Shape: append([]int64{}, x.Shape...), Data: out}, nil
}

// castHalfBits encodes a 16-bit float format for castFormatFloat.
func castHalfBits(d ir.DType) int {
	if d == ir.BFloat16 {
		return -16
	}
	return 16
}

// castRoundTrips reports whether s parses back to v in the given format
// (64, 32, 16 = float16, -16 = bfloat16).
func castRoundTrips(s string, v float64, bits int) bool {
	p, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false
	}
	switch bits {
	case 16:
		return castToF16(p) == castToF16(v)
	case -16:
		return ir.F32ToBF16(float32(p)) == ir.F32ToBF16(float32(v))
	}
	return p == v
}

// castFormatFloat writes v (a value of the given format, see
// castRoundTrips) with the fewest digits that read back as v, laid out as
// numpy's str() does.
func castFormatFloat(v float64, bits int) string {
	switch {
	case v != v:
		return "NaN"
	case math.IsInf(v, 1):
		return "INF"
	case math.IsInf(v, -1):
		return "-INF"
	}
	var sci string
	switch bits {
	case 32, 64:
		sci = strconv.FormatFloat(v, 'e', -1, bits)
	default:
		for prec := 0; prec < 17; prec++ {
			sci = strconv.FormatFloat(v, 'e', prec, 64)
			if castRoundTrips(sci, v, bits) {
				break
			}
		}
	}
	if a := math.Abs(v); a != 0 && (a < 1e-4 || a >= 1e16) {
		return sci
	}
	// Positional: digits d.ddd and exponent from the scientific form.
	neg := strings.HasPrefix(sci, "-")
	sci = strings.TrimPrefix(sci, "-")
	mant, expText, _ := strings.Cut(sci, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mant, ".", "", 1)
	var s string
	switch {
	case exp < 0:
		s = "0." + strings.Repeat("0", -exp-1) + digits
	case exp+1 >= len(digits):
		s = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
	default:
		s = digits[:exp+1] + "." + digits[exp+1:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// castFromString parses every element of x into dtype to.
// castParseInts parses integer strings (surrounding space ignored) with
// parse; a string that is no integer is parsed as a float and truncated
// toward zero, and one that is neither sets *bad to its index.
func castParseInts[T int64 | uint64](src []string, parse func(string) (T, error), bad *int) []T {
	v := make([]T, len(src))
	for i, s := range src {
		n, err := parse(strings.TrimSpace(s))
		if err != nil {
			f, ok := castParseFloat(s)
			if !ok {
				*bad = i
			}
			n = ewFloatToInt[T](f)
		}
		v[i] = n
	}
	return v
}

func castFromString(c *Call, x *ir.Tensor, to ir.DType) (*ir.Tensor, error) {
	src := ir.Elems[string](x)
	var out any
	var bad int = -1
	switch {
	case to.IsFloat():
		v := make([]float64, len(src))
		for i, s := range src {
			f, ok := castParseFloat(s)
			if !ok {
				bad = i
				break
			}
			v[i] = f
		}
		if to == ir.Float32 {
			// Parse again at float32 precision: a single correct rounding.
			f32 := make([]float32, len(src))
			for i, s := range src {
				f, _ := strconv.ParseFloat(castFloatText(s), 32)
				f32[i] = float32(f)
			}
			out = f32
		} else {
			out = castFrom(v, to)
		}
	case to == ir.Bool:
		v := make([]bool, len(src))
		for i, s := range src {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "true":
				v[i] = true
			case "false":
			default:
				f, ok := castParseFloat(s)
				if !ok {
					bad = i
				}
				v[i] = f != 0
			}
		}
		out = v
	case to.IsInt() && !to.IsSigned():
		v := castParseInts(src, func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }, &bad)
		out = castFrom(v, to)
	case to.IsInt():
		v := castParseInts(src, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }, &bad)
		out = castFrom(v, to)
	default:
		return nil, c.Errorf("cannot cast string to %s", to)
	}
	if bad >= 0 {
		return nil, c.Errorf("element %d: cannot parse %q as %s", bad, src[bad], to)
	}
	return &ir.Tensor{DType: to, Shape: append([]int64{}, x.Shape...), Data: out}, nil
}

// castFloatText normalizes the ONNX special literals for strconv.
func castFloatText(s string) string {
	s = strings.TrimSpace(s)
	switch strings.ToUpper(s) {
	case "INF", "+INF":
		return "+Inf"
	case "-INF":
		return "-Inf"
	case "NAN":
		return "NaN"
	}
	return s
}

// castParseFloat parses a decimal or scientific number or a special
// literal; values out of range become ±Inf (or 0 on underflow).
func castParseFloat(s string) (float64, bool) {
	f, err := strconv.ParseFloat(castFloatText(s), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}
