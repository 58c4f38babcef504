package interp_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// Hand-checked cases for the elementwise family: the behaviours the ONNX
// conformance data does not reach (broadcasting corners, integer
// semantics, legacy opsets, NaN handling, errors). Every expected value
// is worked out by hand in the comment or the literal itself.

// ewRunOp runs a one-node graph of op at the given default-domain opset
// with the tensors as inputs (nil = omitted optional input).
func ewRunOp(opset int64, op string, attrs map[string]*ir.Attr, ins ...*ir.Tensor) (*ir.Tensor, error) {
	b := ir.NewBuilder("t")
	b.Graph().Opsets[""] = opset
	feeds := map[string]interp.Value{}
	vals := make([]*ir.Value, len(ins))
	for i, t := range ins {
		if t == nil {
			continue
		}
		vals[i] = b.Input(fmt.Sprintf("x%d", i), ir.TensorType(t.DType, ir.ShapeOf(t.Shape...)))
		feeds[vals[i].Name] = t
	}
	y := b.Op1(op, attrs, vals...)
	b.Output(y)
	outs, err := interp.Run(context.Background(), b.Graph(), feeds)
	if err != nil {
		return nil, err
	}
	return outs[y.Name].(*ir.Tensor), nil
}

// ewCase is one hand-checked op application.
type ewCase struct {
	name  string
	opset int64
	op    string
	attrs map[string]*ir.Attr
	in    []*ir.Tensor
	want  *ir.Tensor // nil: an error containing err is expected
	err   string
}

func ewCheck(t *testing.T, cases []ewCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opset := tc.opset
			if opset == 0 {
				opset = 17
			}
			got, err := ewRunOp(opset, tc.op, tc.attrs, tc.in...)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := ewCompareExact(got, tc.want); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}

// ewCompareExact compares dtype, shape and elements; floats within a few
// float32 ulps (relative error 2^-21), NaN equal to NaN.
func ewCompareExact(got, want *ir.Tensor) string {
	if got.DType != want.DType || fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Sprintf("got %s, want %s", got, want)
	}
	for i := 0; i < want.Len(); i++ {
		switch {
		case want.DType == ir.String:
			if g, w := got.Data.([]string)[i], want.Data.([]string)[i]; g != w {
				return fmt.Sprintf("element %d: got %q, want %q", i, g, w)
			}
		case want.DType.IsFloat():
			g, w := got.Float64At(i), want.Float64At(i)
			if !(g == w || (g != g && w != w) || math.Abs(g-w) <= math.Abs(w)*0x1p-21) {
				return fmt.Sprintf("element %d: got %v, want %v", i, g, w)
			}
		case want.DType == ir.Uint64:
			if g, w := got.Data.([]uint64)[i], want.Data.([]uint64)[i]; g != w {
				return fmt.Sprintf("element %d: got %v, want %v", i, g, w)
			}
		default:
			if g, w := got.Int64At(i), want.Int64At(i); g != w {
				return fmt.Sprintf("element %d: got %v, want %v", i, g, w)
			}
		}
	}
	return ""
}

var ewNaN32 = float32(math.NaN())

func TestElementwiseBroadcast(t *testing.T) {
	ewCheck(t, []ewCase{
		// [2,1,3] + [1,4,1] -> [2,4,3]: out[i,j,k] = a[i,k] + b[j].
		{name: "both_sides", op: "Add",
			in: []*ir.Tensor{f32(sh(2, 1, 3), 0, 1, 2, 10, 20, 30), f32(sh(1, 4, 1), 100, 200, 300, 400)},
			want: f32(sh(2, 4, 3),
				100, 101, 102, 200, 201, 202, 300, 301, 302, 400, 401, 402,
				110, 120, 130, 210, 220, 230, 310, 320, 330, 410, 420, 430)},
		{name: "scalar_left", op: "Sub", in: []*ir.Tensor{f32(nil, 10), f32(sh(3), 1, 2, 3)}, want: f32(sh(3), 9, 8, 7)},
		{name: "middle_dim", op: "Mul",
			in:   []*ir.Tensor{f32(sh(2, 2, 2), 1, 2, 3, 4, 5, 6, 7, 8), f32(sh(2, 1), 10, 100)},
			want: f32(sh(2, 2, 2), 10, 20, 300, 400, 50, 60, 700, 800)},
		{name: "empty", op: "Add", in: []*ir.Tensor{f32(sh(0, 3)), f32(sh(3), 1, 2, 3)}, want: f32(sh(0, 3))},
		{name: "mismatch", op: "Add", in: []*ir.Tensor{f32(sh(2), 1, 2), f32(sh(3), 1, 2, 3)}, err: "not broadcastable"},
		{name: "dtype_mismatch", op: "Add", in: []*ir.Tensor{f32(sh(1), 1), i64(sh(1), 1)}, err: "dtype"},
		// Opset 6: B [3] is aligned to A [2,3,2] at axis 1.
		{name: "legacy_axis", opset: 6, op: "Add",
			attrs: map[string]*ir.Attr{"broadcast": ir.IntAttr(1), "axis": ir.IntAttr(1)},
			in:    []*ir.Tensor{f32(sh(2, 3, 2), 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1), f32(sh(3), 10, 20, 30)},
			want:  f32(sh(2, 3, 2), 10, 10, 20, 20, 30, 30, 11, 11, 21, 21, 31, 31)},
		{name: "legacy_no_broadcast", opset: 6, op: "Add",
			attrs: map[string]*ir.Attr{"broadcast": ir.IntAttr(0)},
			in:    []*ir.Tensor{f32(sh(2), 1, 2), f32(sh(1), 1)}, err: "broadcast=0"},
	})
}

func TestElementwiseIntegerSemantics(t *testing.T) {
	i8 := func(v ...int8) *ir.Tensor { return ir.FromSlice(ir.Int8, sh(int64(len(v))), v) }
	ewCheck(t, []ewCase{
		// C division truncates toward zero: -7/2 = -3, 7/-2 = -3.
		{name: "div_trunc", op: "Div", in: []*ir.Tensor{i64(sh(2), -7, 7), i64(sh(2), 2, -2)}, want: i64(sh(2), -3, -3)},
		{name: "div_zero", op: "Div", in: []*ir.Tensor{i64(sh(1), 1), i64(sh(1), 0)}, err: "by zero"},
		// Python modulus takes the divisor's sign: -7 mod 3 = 2, 7 mod -3 = -2.
		{name: "mod_python", op: "Mod", in: []*ir.Tensor{i64(sh(3), -7, 7, 6), i64(sh(3), 3, -3, 3)}, want: i64(sh(3), 2, -2, 0)},
		// fmod takes the dividend's sign: -7 fmod 3 = -1, 7 fmod -3 = 1.
		{name: "mod_fmod_int", op: "Mod", attrs: map[string]*ir.Attr{"fmod": ir.IntAttr(1)},
			in: []*ir.Tensor{i64(sh(2), -7, 7), i64(sh(2), 3, -3)}, want: i64(sh(2), -1, 1)},
		{name: "mod_fmod_float", op: "Mod", attrs: map[string]*ir.Attr{"fmod": ir.IntAttr(1)},
			in: []*ir.Tensor{f32(sh(2), -7.5, 7.5), f32(sh(2), 2, -2)}, want: f32(sh(2), -1.5, 1.5)},
		{name: "mod_float_needs_fmod", op: "Mod", in: []*ir.Tensor{f32(sh(1), 1), f32(sh(1), 2)}, err: "fmod must be 1"},
		{name: "mod_zero", op: "Mod", in: []*ir.Tensor{i64(sh(1), 1), i64(sh(1), 0)}, err: "by zero"},
		// int8 wraps: 127+1 = -128; |-128| = -128 as in C.
		{name: "add_wrap", op: "Add", in: []*ir.Tensor{i8(127), i8(1)}, want: i8(-128)},
		{name: "abs_min", op: "Abs", in: []*ir.Tensor{i8(-128, -3, 4)}, want: i8(-128, 3, 4)},
		{name: "sign_int", op: "Sign", in: []*ir.Tensor{i8(-5, 0, 7)}, want: i8(-1, 0, 1)},
		{name: "neg_int", op: "Neg", in: []*ir.Tensor{i64(sh(2), 5, -6)}, want: i64(sh(2), -5, 6)},
		{name: "relu_int", op: "Relu", in: []*ir.Tensor{i8(-5, 0, 7)}, want: i8(0, 0, 7)},
		// 3^39 = 4052555153018976267 needs exact integer powers (> 2^53).
		{name: "pow_int_exact", op: "Pow", in: []*ir.Tensor{i64(sh(2), 3, -2), i64(sh(2), 39, 3)},
			want: i64(sh(2), 4052555153018976267, -8)},
		// Negative integer exponents: trunc(2^-1) = 0, 1^-5 = 1.
		{name: "pow_int_negative", op: "Pow", in: []*ir.Tensor{i64(sh(2), 2, 1), i64(sh(2), -1, -5)}, want: i64(sh(2), 0, 1)},
		// Integer base, float exponent: trunc(4^0.5) = 2, trunc(2^1.5 = 2.83) = 2.
		{name: "pow_int_float", op: "Pow", in: []*ir.Tensor{i64(sh(2), 4, 2), f32(sh(2), 0.5, 1.5)}, want: i64(sh(2), 2, 2)},
		{name: "pow_float_int", op: "Pow", in: []*ir.Tensor{f32(sh(2), 1.5, 2), i64(sh(2), 2, -2)}, want: f32(sh(2), 2.25, 0.25)},
		// 0b1011 << 2 = 0b101100 = 44; 200 >> 3 = 25; shifts >= width give 0.
		{name: "bitshift_left", op: "BitShift", attrs: map[string]*ir.Attr{"direction": ir.StringAttr("LEFT")},
			in:   []*ir.Tensor{ir.FromSlice(ir.Uint8, sh(2), []uint8{11, 1}), ir.FromSlice(ir.Uint8, sh(2), []uint8{2, 9})},
			want: ir.FromSlice(ir.Uint8, sh(2), []uint8{44, 0})},
		{name: "bitshift_right", op: "BitShift", attrs: map[string]*ir.Attr{"direction": ir.StringAttr("RIGHT")},
			in:   []*ir.Tensor{ir.FromSlice(ir.Uint32, sh(1), []uint32{200}), ir.FromSlice(ir.Uint32, nil, []uint32{3})},
			want: ir.FromSlice(ir.Uint32, sh(1), []uint32{25})},
		{name: "bitshift_signed", op: "BitShift", attrs: map[string]*ir.Attr{"direction": ir.StringAttr("LEFT")},
			in: []*ir.Tensor{i64(sh(1), 1), i64(sh(1), 1)}, err: "unsigned"},
		{name: "bitshift_direction", op: "BitShift", attrs: map[string]*ir.Attr{"direction": ir.StringAttr("UP")},
			in: []*ir.Tensor{ir.FromSlice(ir.Uint8, sh(1), []uint8{1}), ir.FromSlice(ir.Uint8, sh(1), []uint8{1})}, err: "direction"},
	})
}

func TestElementwiseFloatSemantics(t *testing.T) {
	inf := float32(math.Inf(1))
	ewCheck(t, []ewCase{
		// numpy.maximum/minimum propagate NaN from either side.
		{name: "max_nan", op: "Max", in: []*ir.Tensor{f32(sh(3), ewNaN32, 1, 2), f32(sh(3), 1, ewNaN32, 3)}, want: f32(sh(3), ewNaN32, ewNaN32, 3)},
		{name: "min_nan", op: "Min", in: []*ir.Tensor{f32(sh(3), ewNaN32, 1, 2), f32(sh(3), 1, ewNaN32, 3)}, want: f32(sh(3), ewNaN32, ewNaN32, 2)},
		// Round half to even.
		{name: "round_even", op: "Round", in: []*ir.Tensor{f32(sh(6), 0.5, 1.5, 2.5, -0.5, -1.5, 2.4)}, want: f32(sh(6), 0, 2, 2, 0, -2, 2)},
		{name: "sign_nan", op: "Sign", in: []*ir.Tensor{f32(sh(4), -2, 0, 3, ewNaN32)}, want: f32(sh(4), -1, 0, 1, ewNaN32)},
		{name: "isinf_pos_only", op: "IsInf", attrs: map[string]*ir.Attr{"detect_negative": ir.IntAttr(0)},
			in:   []*ir.Tensor{f32(sh(4), inf, -inf, ewNaN32, 1)},
			want: ir.FromSlice(ir.Bool, sh(4), []bool{true, false, false, false})},
		{name: "isnan", op: "IsNaN", in: []*ir.Tensor{f32(sh(3), inf, ewNaN32, 0)}, want: ir.FromSlice(ir.Bool, sh(3), []bool{false, true, false})},
		{name: "sqrt_int_rejected", op: "Sqrt", in: []*ir.Tensor{i64(sh(1), 4)}, err: "float"},
		// float16: 1 + 2^-10 is exact in f16 (bits 0x3c01); doubled: 0x4001.
		{name: "add_f16", op: "Add",
			in:   []*ir.Tensor{ir.FromSlice(ir.Float16, sh(1), []uint16{0x3c01}), ir.FromSlice(ir.Float16, sh(1), []uint16{0x3c01})},
			want: ir.FromSlice(ir.Float16, sh(1), []uint16{0x4001})},
		// Sum/Mean/Max of [2], [2,1], [] -> [2,2]:
		// a=[1,2], b=[[10],[20]], c=5: sum = [[16,17],[26,27]]; with c=6 the
		// sums are [[17,18],[27,28]] and the means [[17/3,6],[9,28/3]].
		{name: "sum_broadcast", op: "Sum", in: []*ir.Tensor{f32(sh(2), 1, 2), f32(sh(2, 1), 10, 20), f32(nil, 5)}, want: f32(sh(2, 2), 16, 17, 26, 27)},
		{name: "mean_broadcast", op: "Mean", in: []*ir.Tensor{f32(sh(2), 1, 2), f32(sh(2, 1), 10, 20), f32(nil, 6)}, want: f32(sh(2, 2), 17.0/3, 6, 9, 28.0/3)},
		{name: "max_one", op: "Max", in: []*ir.Tensor{i64(sh(2), 3, -1)}, want: i64(sh(2), 3, -1)},
		{name: "sum_string", op: "Sum", in: []*ir.Tensor{ir.FromSlice(ir.String, sh(1), []string{"a"})}, err: "not defined"},
	})
}

func TestElementwiseLogicWhereClip(t *testing.T) {
	bools := func(v ...bool) *ir.Tensor { return ir.FromSlice(ir.Bool, sh(int64(len(v))), v) }
	strs := func(shape []int64, v ...string) *ir.Tensor { return ir.FromSlice(ir.String, shape, v) }
	ewCheck(t, []ewCase{
		{name: "xor", op: "Xor", in: []*ir.Tensor{bools(true, true, false, false), bools(true, false, true, false)}, want: bools(false, true, true, false)},
		{name: "not", op: "Not", in: []*ir.Tensor{bools(true, false)}, want: bools(false, true)},
		{name: "and_rejects_int", op: "And", in: []*ir.Tensor{i64(sh(1), 1), i64(sh(1), 1)}, err: "want bool"},
		{name: "equal_string", op: "Equal", in: []*ir.Tensor{strs(sh(2), "a", "b"), strs(nil, "b")}, want: bools(false, true)},
		{name: "equal_nan", op: "Equal", in: []*ir.Tensor{f32(sh(2), ewNaN32, 1), f32(sh(2), ewNaN32, 1)}, want: bools(false, true)},
		{name: "greater_bool", op: "Greater", in: []*ir.Tensor{bools(true), bools(false)}, err: "not defined"},
		{name: "less_equal", op: "LessOrEqual", in: []*ir.Tensor{i64(sh(3), 1, 2, 3), i64(nil, 2)}, want: bools(true, true, false)},
		// Where broadcasts all three: cond [2,1], x [2], y scalar.
		{name: "where_strings", op: "Where",
			in:   []*ir.Tensor{ir.FromSlice(ir.Bool, sh(2, 1), []bool{true, false}), strs(sh(2), "a", "b"), strs(nil, "z")},
			want: strs(sh(2, 2), "a", "b", "z", "z")},
		{name: "where_cond_dtype", op: "Where", in: []*ir.Tensor{i64(sh(1), 1), f32(sh(1), 1), f32(sh(1), 2)}, err: "bool"},
		// Opset 6: bounds are attributes.
		{name: "clip_attrs", opset: 6, op: "Clip", attrs: map[string]*ir.Attr{"min": ir.FloatAttr(-1), "max": ir.FloatAttr(2)},
			in: []*ir.Tensor{f32(sh(4), -3, 0, 5, ewNaN32)}, want: f32(sh(4), -1, 0, 2, ewNaN32)},
		// Opset 13: optional scalar inputs; min omitted.
		{name: "clip_inputs_int", op: "Clip",
			in:   []*ir.Tensor{ir.FromSlice(ir.Int8, sh(3), []int8{-100, 5, 100}), nil, ir.FromSlice(ir.Int8, nil, []int8{10})},
			want: ir.FromSlice(ir.Int8, sh(3), []int8{-100, 5, 10})},
		// min > max: everything becomes max (numpy.clip).
		{name: "clip_inverted", op: "Clip", in: []*ir.Tensor{f32(sh(2), 0, 9), f32(nil, 5), f32(nil, 1)}, want: f32(sh(2), 1, 1)},
		{name: "clip_bound_dtype", op: "Clip", in: []*ir.Tensor{f32(sh(1), 0), i64(nil, 5)}, err: "scalar of dtype"},
	})
}

func TestElementwiseMissingInput(t *testing.T) {
	_, err := ewRunOp(17, "Add", nil, f32(sh(1), 1), nil)
	if err == nil || !strings.Contains(err.Error(), "input 1 is required") {
		t.Fatalf("got %v", err)
	}
}

// ewBenchBinary runs a broadcasting binary op on a feature map of 1M
// elements and a per-channel operand.
func ewBenchBinary(b *testing.B, op string, x, y *ir.Tensor) {
	b.Helper()
	bld := ir.NewBuilder("bench")
	xv := bld.Input("x", ir.TensorType(x.DType, ir.ShapeOf(x.Shape...)))
	yv := bld.Input("y", ir.TensorType(y.DType, ir.ShapeOf(y.Shape...)))
	bld.Output(bld.Op1(op, nil, xv, yv))
	feeds := map[string]interp.Value{"x": x, "y": y}
	b.SetBytes(int64(x.Len()) * 4)
	for b.Loop() {
		if _, err := interp.Run(context.Background(), bld.Graph(), feeds); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkElementwiseAddChannel(b *testing.B) {
	x := ir.NewTensor(ir.Float32, 1, 64, 128, 128)
	y := ir.NewTensor(ir.Float32, 64, 1, 1)
	ewBenchBinary(b, "Add", x, y)
}

func BenchmarkElementwiseMulSame(b *testing.B) {
	x := ir.NewTensor(ir.Float32, 1, 64, 128, 128)
	ewBenchBinary(b, "Mul", x, x)
}
