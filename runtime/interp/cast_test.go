package interp_test

import (
	"math"
	"testing"

	"github.com/optc-dev/optc/ir"
)

func ewCastTo(to int64) map[string]*ir.Attr { return map[string]*ir.Attr{"to": ir.IntAttr(to)} }

// ONNX TensorProto.DataType numbers used below.
const (
	ewOnnxFloat   = 1
	ewOnnxUint8   = 2
	ewOnnxInt32   = 6
	ewOnnxInt64   = 7
	ewOnnxString  = 8
	ewOnnxBool    = 9
	ewOnnxFloat16 = 10
	ewOnnxDouble  = 11
	ewOnnxUint64  = 13
	ewOnnxBF16    = 16
)

func TestCast(t *testing.T) {
	strs := func(v ...string) *ir.Tensor { return ir.FromSlice(ir.String, sh(int64(len(v))), v) }
	f64 := func(v ...float64) *ir.Tensor { return ir.FromSlice(ir.Float64, sh(int64(len(v))), v) }
	inf := math.Inf(1)
	ewCheck(t, []ewCase{
		// numpy str(): shortest round-trip digits, positional within
		// [1e-4, 1e16), ".0" on integral values, scientific outside.
		{name: "f32_to_string", op: "Cast", attrs: ewCastTo(ewOnnxString),
			in:   []*ir.Tensor{f32(sh(9), 1, 0.1, -2.5, 1e-5, 123456.79, 0, ewNaN32, float32(inf), float32(-inf))},
			want: strs("1.0", "0.1", "-2.5", "1e-05", "123456.79", "0.0", "NaN", "INF", "-INF")},
		{name: "f64_to_string", op: "Cast", attrs: ewCastTo(ewOnnxString),
			in: []*ir.Tensor{f64(0.1, 1e16, 1.5e-7, 100)}, want: strs("0.1", "1e+16", "1.5e-07", "100.0")},
		// float16 0.1 is 0.0999755859375; "0.1" is the shortest string
		// that reads back to it. bfloat16 0x3dcd is 0.10009765625 -> "0.1".
		{name: "f16_to_string", op: "Cast", attrs: ewCastTo(ewOnnxString),
			in: []*ir.Tensor{ir.FromSlice(ir.Float16, sh(2), []uint16{0x2e66, 0x3c00})}, want: strs("0.1", "1.0")},
		{name: "bf16_to_string", op: "Cast", attrs: ewCastTo(ewOnnxString),
			in: []*ir.Tensor{ir.FromSlice(ir.BFloat16, sh(1), []uint16{0x3dcd})}, want: strs("0.1")},
		{name: "int_bool_to_string", op: "CastLike",
			in: []*ir.Tensor{i64(sh(2), -42, 7), strs("")}, want: strs("-42", "7")},
		{name: "bool_to_string", op: "Cast", attrs: ewCastTo(ewOnnxString),
			in: []*ir.Tensor{ir.FromSlice(ir.Bool, sh(2), []bool{true, false})}, want: strs("1", "0")},
		// Parsing: plain, scientific, padded, and the special literals in any case.
		{name: "string_to_f32", op: "Cast", attrs: ewCastTo(ewOnnxFloat),
			in:   []*ir.Tensor{strs("3.25", "1E3", " -2 ", "inf", "-INF", "+Inf", "nan")},
			want: f32(sh(7), 3.25, 1000, -2, float32(inf), float32(-inf), float32(inf), ewNaN32)},
		{name: "string_to_int", op: "Cast", attrs: ewCastTo(ewOnnxInt64),
			in: []*ir.Tensor{strs("42", "-7", "2.718", "1e3")}, want: i64(sh(4), 42, -7, 2, 1000)},
		{name: "string_to_bool", op: "Cast", attrs: ewCastTo(ewOnnxBool),
			in: []*ir.Tensor{strs("true", "False", "0", "2.5")}, want: ir.FromSlice(ir.Bool, sh(4), []bool{true, false, false, true})},
		{name: "string_to_u64", op: "Cast", attrs: ewCastTo(ewOnnxUint64),
			in: []*ir.Tensor{strs("18446744073709551615")}, want: ir.FromSlice(ir.Uint64, sh(1), []uint64{math.MaxUint64})},
		{name: "string_bad", op: "Cast", attrs: ewCastTo(ewOnnxFloat), in: []*ir.Tensor{strs("1", "hello")}, err: `element 1: cannot parse "hello"`},
		// Float to integer truncates toward zero; NaN -> 0; 300 wraps to 44 in uint8.
		{name: "f32_to_int32", op: "Cast", attrs: ewCastTo(ewOnnxInt32),
			in: []*ir.Tensor{f32(sh(4), -1.9, 1.9, ewNaN32, 1e6)}, want: ir.FromSlice(ir.Int32, sh(4), []int32{-1, 1, 0, 1000000})},
		{name: "f32_to_uint8_wrap", op: "Cast", attrs: ewCastTo(ewOnnxUint8),
			in: []*ir.Tensor{f32(sh(2), 300.7, -1)}, want: ir.FromSlice(ir.Uint8, sh(2), []uint8{44, 255})},
		// Integer to bool is nonzero; NaN is nonzero too.
		{name: "to_bool", op: "Cast", attrs: ewCastTo(ewOnnxBool),
			in: []*ir.Tensor{f32(sh(3), 0, ewNaN32, -0.5)}, want: ir.FromSlice(ir.Bool, sh(3), []bool{false, true, true})},
		{name: "int_to_bool", op: "Cast", attrs: ewCastTo(ewOnnxBool),
			in: []*ir.Tensor{i64(sh(2), 36, 0)}, want: ir.FromSlice(ir.Bool, sh(2), []bool{true, false})},
		// 2^53+1 is not a float64; int64 -> float64 rounds to even: 2^53.
		{name: "int64_to_f64", op: "Cast", attrs: ewCastTo(ewOnnxDouble),
			in: []*ir.Tensor{i64(sh(1), 1<<53+1)}, want: f64(1 << 53)},
		// uint64 max stays unsigned: 2^64-1 -> float32 2^64.
		{name: "u64_to_f32", op: "Cast", attrs: ewCastTo(ewOnnxFloat),
			in: []*ir.Tensor{ir.FromSlice(ir.Uint64, sh(1), []uint64{math.MaxUint64})}, want: f32(sh(1), 0x1p64)},
		// int64 -1 -> uint64 wraps to 2^64-1.
		{name: "i64_to_u64", op: "Cast", attrs: ewCastTo(ewOnnxUint64),
			in: []*ir.Tensor{i64(sh(1), -1)}, want: ir.FromSlice(ir.Uint64, sh(1), []uint64{math.MaxUint64})},
		// float64 1+2^-11+2^-40 is just above the float16 tie between 1
		// (0x3c00) and 1+2^-10 (0x3c01), so it rounds up; a plain rounding
		// through float32 would land on the tie and round to even (0x3c00).
		{name: "f64_to_f16_single_rounding", op: "Cast", attrs: ewCastTo(ewOnnxFloat16),
			in:   []*ir.Tensor{f64(1+0x1p-11+0x1p-40, 1+0x1p-11, 65520, 1e-10)},
			want: ir.FromSlice(ir.Float16, sh(4), []uint16{0x3c01, 0x3c00, 0x7c00, 0x0000})},
		// float32 -> bfloat16 keeps the upper 16 bits (ONNX 1.12 reference):
		// 0x3ef535b8 -> 0x3ef5; 0x3f7fffff -> 0x3f7f; NaN -> 0x7fc0.
		{name: "f32_to_bf16_trunc", op: "Cast", attrs: ewCastTo(ewOnnxBF16),
			in:   []*ir.Tensor{f32(sh(3), math.Float32frombits(0x3ef535b8), math.Float32frombits(0x3f7fffff), ewNaN32)},
			want: ir.FromSlice(ir.BFloat16, sh(3), []uint16{0x3ef5, 0x3f7f, 0x7fc0})},
		// bfloat16 0x3fc0 = 1.5, float16 0x3e00 = 1.5.
		{name: "bf16_to_f16", op: "Cast", attrs: ewCastTo(ewOnnxFloat16),
			in: []*ir.Tensor{ir.FromSlice(ir.BFloat16, sh(1), []uint16{0x3fc0})}, want: ir.FromSlice(ir.Float16, sh(1), []uint16{0x3e00})},
		// Opset 1 names the target type by string.
		{name: "opset1_string_to", opset: 1, op: "Cast", attrs: map[string]*ir.Attr{"to": ir.StringAttr("DOUBLE")},
			in: []*ir.Tensor{f32(sh(1), 0.5)}, want: f64(0.5)},
		{name: "castlike", op: "CastLike", in: []*ir.Tensor{f64(2.5), i64(nil, 0)}, want: i64(sh(1), 2)},
		{name: "same_type", op: "Cast", attrs: ewCastTo(ewOnnxFloat), in: []*ir.Tensor{f32(sh(1), 7)}, want: f32(sh(1), 7)},
		{name: "bad_to", op: "Cast", attrs: ewCastTo(14), in: []*ir.Tensor{f32(sh(1), 7)}, err: "unsupported target type to=14"},
		{name: "missing_to", op: "Cast", in: []*ir.Tensor{f32(sh(1), 7)}, err: "attribute to is required"},
	})
}
