package codegentest

import (
	"github.com/optc-dev/optc/ir"
)

// EWIntCases are the typed elementwise ops: Cast between f32, f64,
// integers and bool (NaN, out-of-range and negative values), Where over
// f32 and int64 with broadcasting, and integer Add, Sub, Mul, Div
// (negative operands truncate toward zero, x / −1 at the minimum),
// Max, Min, Neg, Abs on int32 and int64 with broadcast and scalar
// constant operands.
func EWIntCases() []InputCase {
	typ := func(d ir.DType, shape ...int64) ir.Type { return ir.TensorType(d, ir.ShapeOf(shape...)) }
	to := func(d int64) map[string]*ir.Attr { return map[string]*ir.Attr{"to": ir.IntAttr(d)} }
	const onnxF32, onnxU8, onnxI32, onnxI64, onnxBool, onnxF64, onnxI8 = 1, 2, 6, 7, 9, 11, 3
	nan := float32(0)
	nan = nan / nan
	return []InputCase{
		{Case: Case{Name: "cast_float_int_bool", Build: func() *ir.Graph {
			b := ir.NewBuilder("g")
			x := b.Input("x", typ(ir.Float32, 2, 5))
			i := b.Input("i", typ(ir.Int64, 2, 5))
			b.Output(
				b.Op1("Cast", to(onnxI32), x), b.Op1("Cast", to(onnxI64), x), b.Op1("Cast", to(onnxU8), x),
				b.Op1("Cast", to(onnxBool), x), b.Op1("Cast", to(onnxF64), x), b.Op1("Cast", to(onnxI8), x),
				b.Op1("Cast", to(onnxF32), i), b.Op1("Cast", to(onnxI32), i), b.Op1("Cast", to(onnxBool), i),
				b.Op1("Cast", to(onnxF32), b.Op1("Cast", to(onnxBool), i)))
			return b.Graph()
		}}, Fixed: map[string]*ir.Tensor{
			"x": ir.FromSlice(ir.Float32, []int64{2, 5}, []float32{-2.7, 2.7, 300.5, -0.5, nan, 3e9, -3e9, 1e20, -1e20, 0}),
			"i": i64t([]int64{2, 5}, -1, 0, 1, 1<<40+7, -(1 << 40), 255, 256, -129, 1<<62+3, -5),
		}},
		{Case: Case{Name: "where_f32_i64_broadcast", Build: func() *ir.Graph {
			b := ir.NewBuilder("g")
			c := b.Input("c", typ(ir.Bool, 3, 1))
			x := b.Input("x", f32(3, 4))
			y := b.Input("y", f32(4))
			xi := b.Input("xi", typ(ir.Int64, 1, 4))
			b.Output(b.Op1("Where", nil, c, x, y), b.Op1("Where", nil, c, xi, b.Const("m1", ir.ScalarI64(-1))))
			return b.Graph()
		}}, Fixed: map[string]*ir.Tensor{
			"c":  ir.FromSlice(ir.Bool, []int64{3, 1}, []bool{true, false, true}),
			"xi": i64t([]int64{1, 4}, 5, -6, 7, 1<<50),
		}},
		{Case: Case{Name: "int_arith_i64_i32", Build: func() *ir.Graph {
			b := ir.NewBuilder("g")
			a := b.Input("a", typ(ir.Int64, 2, 4))
			d := b.Input("d", typ(ir.Int64, 4))
			p := b.Input("p", typ(ir.Int32, 3))
			q := b.Input("q", typ(ir.Int32, 3))
			two := b.Const("two", ir.ScalarI64(2))
			b.Output(
				b.Op1("Add", nil, a, d), b.Op1("Sub", nil, a, two), b.Op1("Mul", nil, a, d), b.Op1("Div", nil, a, d),
				b.Op1("Max", nil, a, d), b.Op1("Min", nil, a, d), b.Op1("Neg", nil, a), b.Op1("Abs", nil, a),
				b.Op1("Div", nil, p, q), b.Op1("Mul", nil, p, q), b.Op1("Add", nil, p, b.Const("big", ir.FromSlice(ir.Int32, nil, []int32{1 << 30}))))
			return b.Graph()
		}}, Fixed: map[string]*ir.Tensor{
			"a": i64t([]int64{2, 4}, -7, 7, -1<<63, 100, 9, -9, 1<<62, 0),
			"d": i64t([]int64{4}, 2, -2, -1, 7),
			"p": i32t([]int64{3}, -7, 1<<31-1, -1<<31),
			"q": i32t([]int64{3}, 2, 3, -1),
		}},
	}
}
