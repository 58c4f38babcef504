package codegentest

import (
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// Case is a hand-built graph for differential tests of generated code
// against the interpreter. Build returns a fresh graph each call (Compile
// binds shapes in place).
type Case struct {
	Name   string
	Build  func() *ir.Graph
	Shapes map[string][]int64
	// Partitioned cases have nodes that run on the interpreter.
	Partitioned bool
}

func f32(shape ...int64) ir.Type { return ir.TensorType(ir.Float32, ir.ShapeOf(shape...)) }

func weight(b *ir.Builder, rng *rand.Rand, name string, shape ...int64) *ir.Value {
	t := Random(rng, shape...)
	d := t.Data.([]float32)
	for i := range d {
		d[i] *= 0.5
	}
	return b.Const(name, t)
}

// mlp is x[N,in] -> MatMul+Add+Relu per hidden layer -> MatMul+Add -> Softmax.
func mlp(in int64, hidden []int64, out int64, gemm bool) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(7, 7))
		b := ir.NewBuilder("mlp")
		x := b.Input("x", ir.TensorType(ir.Float32, ir.Shape{ir.Sym("N"), ir.D(in)}))
		h, width := x, in
		layers := append(append([]int64(nil), hidden...), out)
		for i, n := range layers {
			if gemm {
				w := weight(b, rng, "w", n, width)
				bias := weight(b, rng, "b", n)
				h = b.Op1("Gemm", map[string]*ir.Attr{"transB": ir.IntAttr(1)}, h, w, bias)
			} else {
				w := weight(b, rng, "w", width, n)
				bias := weight(b, rng, "b", n)
				h = b.Op1("Add", nil, b.Op1("MatMul", nil, h, w), bias)
			}
			if i < len(layers)-1 {
				h = b.Op1("Relu", nil, h)
			}
			width = n
		}
		b.Output(b.Op1("Softmax", map[string]*ir.Attr{"axis": ir.IntAttr(-1)}, h))
		return b.Graph()
	}
}

// Cases are the hand-built differential test graphs.
func Cases() []Case {
	return append([]Case{
		{Name: "mlp_batch1", Build: mlp(784, []int64{128, 64}, 10, false)},
		{Name: "mlp_batch7", Build: mlp(784, []int64{128, 64}, 10, false), Shapes: map[string][]int64{"x": {7, 784}}},
		{Name: "mlp_gemm_batch32", Build: mlp(100, []int64{50}, 10, true), Shapes: map[string][]int64{"x": {32, 100}}},
		{Name: "gemm_blocked_k", Build: func() *ir.Graph {
			// K = 300 > kc: two K slices, edge panels and an edge row tile.
			rng := rand.New(rand.NewPCG(3, 3))
			b := ir.NewBuilder("g")
			x := b.Input("x", f32(130, 300))
			w := weight(b, rng, "w", 300, 70)
			c := weight(b, rng, "c", 130, 1)
			y := b.Op1("Gemm", map[string]*ir.Attr{"alpha": ir.FloatAttr(0.5), "beta": ir.FloatAttr(2)}, x, w, c)
			b.Output(b.Op1("Tanh", nil, y))
			return b.Graph()
		}},
		{Name: "gemm_trans_runtime_b", Build: func() *ir.Graph {
			b := ir.NewBuilder("g")
			a := b.Input("a", f32(40, 9))   // transA: A = a^T is 9x40
			bb := b.Input("b", f32(33, 40)) // transB: B = b^T is 40x33
			c := b.Input("c", f32(33))
			b.Output(b.Op1("Gemm", map[string]*ir.Attr{"transA": ir.IntAttr(1), "transB": ir.IntAttr(1), "alpha": ir.FloatAttr(1.5)}, a, bb, c))
			return b.Graph()
		}},
		{Name: "matmul_3d_runtime_b", Build: func() *ir.Graph {
			b := ir.NewBuilder("g")
			a := b.Input("a", f32(2, 3, 17))
			bb := b.Input("b", f32(17, 19))
			y := b.Op1("MatMul", nil, a, bb)
			s := b.Input("s", f32(3, 1))
			b.Output(b.Op1("Mul", nil, y, s))
			return b.Graph()
		}},
		{Name: "batched_matmul_attention", Build: func() *ir.Graph {
			// Attention-like: scores = q·kᵀ (both run-time, batched), scaled,
			// softmax, times v; plus broadcast batch dims and a constant
			// batched B.
			rng := rand.New(rand.NewPCG(13, 13))
			b := ir.NewBuilder("g")
			q := b.Input("q", f32(2, 3, 7, 16))
			kt := b.Input("kt", f32(2, 3, 16, 7))
			v := b.Input("v", f32(2, 3, 7, 16))
			s := b.Op1("Mul", nil, b.Op1("MatMul", nil, q, kt), b.Const("scale", ir.ScalarF32(0.25)))
			o := b.Op1("MatMul", nil, b.Op1("Softmax", nil, s), v)
			x := b.Input("x", f32(2, 1, 5, 9))
			w := weight(b, rng, "w", 3, 9, 20) // out [2,3,5,20]
			y := b.Op1("Relu", nil, b.Op1("Add", nil, b.Op1("MatMul", nil, x, w), weight(b, rng, "bias", 20)))
			r := b.Input("r", f32(9))                                 // rank-1 A
			z := b.Op1("MatMul", nil, r, b.Input("bz", f32(4, 9, 6))) // out [4,6]
			b.Output(o, y, z)
			return b.Graph()
		}},
		{Name: "elementwise_broadcast_chain", Build: func() *ir.Graph {
			rng := rand.New(rand.NewPCG(5, 5))
			b := ir.NewBuilder("g")
			x := b.Input("x", f32(2, 3, 4, 21))
			c := weight(b, rng, "c", 3, 1, 1)
			r := b.Input("r", f32(4, 1))
			h := b.Op1("Add", nil, x, c)
			h = b.Op1("Mul", nil, b.Op1("Sigmoid", nil, h), h) // SiLU
			h = b.Op1("Sub", nil, h, r)
			h = b.Op1("Clip", nil, h, b.Const("lo", ir.ScalarF32(-0.3)), b.Const("hi", ir.ScalarF32(0.8)))
			h = b.Op1("HardSwish", nil, b.Op1("Div", nil, h, b.Const("two", ir.ScalarF32(2))))
			h2 := b.Op1("LeakyRelu", map[string]*ir.Attr{"alpha": ir.FloatAttr(0.2)}, x)
			h2 = b.Op1("Elu", map[string]*ir.Attr{"alpha": ir.FloatAttr(0.7)}, b.Op1("Neg", nil, h2))
			y := b.Op1("Max", nil, h, h2)
			y = b.Op1("Min", nil, y, b.Op1("Exp", nil, x))
			b.Output(y, b.Op1("HardSigmoid", nil, b.Op1("Abs", nil, h2)))
			return b.Graph()
		}},
		{Name: "unary_math", Build: func() *ir.Graph {
			b := ir.NewBuilder("g")
			x := b.Input("x", f32(5, 37))
			big := b.Op1("Mul", nil, x, b.Const("k", ir.ScalarF32(30)))
			pos := b.Op1("Add", nil, b.Op1("Abs", nil, big), b.Const("tiny", ir.ScalarF32(1e-3)))
			b.Output(b.Op1("Tanh", nil, big), b.Op1("Sigmoid", nil, big), b.Op1("Exp", nil, big),
				b.Op1("Sqrt", nil, b.Op1("Abs", nil, x)), b.Op1("Reciprocal", nil, b.Op1("Add", nil, x, b.Const("three", ir.ScalarF32(3)))),
				b.Op1("Log", nil, pos), b.Op1("Erf", nil, x), b.Op1("Softplus", nil, big), b.Op1("Softsign", nil, big),
				b.Op1("Pow", nil, x, b.Const("two", ir.ScalarI64(2))), b.Op1("Pow", nil, pos, b.Const("mhalf", ir.ScalarF32(-0.5))))
			return b.Graph()
		}},
		{Name: "softmax_rows", Build: func() *ir.Graph {
			b := ir.NewBuilder("g")
			x := b.Input("x", f32(6, 37))
			b.Output(b.Op1("Softmax", nil, b.Op1("Mul", nil, x, b.Const("k", ir.ScalarF32(8)))))
			return b.Graph()
		}},
		{Name: "views_and_copies", Build: func() *ir.Graph {
			rng := rand.New(rand.NewPCG(9, 9))
			b := ir.NewBuilder("g")
			x := b.Input("x", f32(2, 3, 4))
			shape := b.Const("shape", ir.FromSlice(ir.Int64, []int64{2}, []int64{6, 4}))
			r := b.Op1("Reshape", nil, x, shape)
			f := b.Op1("Flatten", map[string]*ir.Attr{"axis": ir.IntAttr(1)}, b.Op1("Relu", nil, x))
			w := weight(b, rng, "w", 4, 5)
			y := b.Op1("MatMul", nil, r, w)
			k := weight(b, rng, "k", 3)
			b.Output(y, f, b.Op1("Identity", nil, x), k, f, x)
			return b.Graph()
		}},
		{Name: "random_mix_1", Build: RandomGraph(1, 40)},
		{Name: "random_mix_2", Build: RandomGraph(2, 40)},
		{Name: "partitioned", Partitioned: true, Build: func() *ir.Graph {
			rng := rand.New(rand.NewPCG(11, 11))
			b := ir.NewBuilder("g")
			x := b.Input("x", f32(3, 16))
			h := b.Op1("MatMul", nil, x, weight(b, rng, "w1", 16, 24))
			h = b.Op1("Atan", nil, h) // not lowered: runs on the interpreter
			h = b.Op1("Relu", nil, b.Op1("MatMul", nil, h, weight(b, rng, "w2", 24, 8)))
			b.Output(h)
			return b.Graph()
		}},
	}, opCases()...)
}
