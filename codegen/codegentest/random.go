package codegentest

import (
	"fmt"
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// RandomGraph builds a seeded graph of independent random pieces, each a
// graph output: elementwise chains over randomly broadcast operands
// (inputs, constants, scalars), MatMul/Gemm of random sizes (edge tiles,
// K blocking, GEMV) with random epilogues, and Softmax rows. One graph
// keeps the toolchain cost of testing many shapes to one compile.
func RandomGraph(seed uint64, pieces int) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(seed, 0xc0de))
		b := ir.NewBuilder("random")
		dims := []int64{1, 2, 3, 5, 8, 17}
		pick := func(xs []int64) int64 { return xs[rng.IntN(len(xs))] }
		shapeOf := func(rank int) []int64 {
			s := make([]int64, rank)
			for i := range s {
				s[i] = pick(dims)
			}
			return s
		}
		// operand returns a value broadcastable to s: an input, a constant
		// or a scalar constant, of s with leading dims dropped and some
		// dims set to 1.
		operand := func(s []int64) *ir.Value {
			drop := rng.IntN(len(s) + 1)
			os := append([]int64(nil), s[drop:]...)
			for i := range os {
				if rng.IntN(3) == 0 {
					os[i] = 1
				}
			}
			switch rng.IntN(4) {
			case 0:
				return b.Const("s", ir.ScalarF32(float32(rng.Float64()*2-1)))
			case 1:
				return b.Const("c", Random(rng, os...))
			}
			return b.Input("in", f32(os...))
		}
		positive := func(v *ir.Value) *ir.Value {
			return b.Op1("Add", nil, b.Op1("Abs", nil, v), b.Const("half", ir.ScalarF32(0.5)))
		}
		unary := []string{"Relu", "Sigmoid", "Tanh", "Exp", "Neg", "Abs", "Erf", "Softsign", "Softplus", "HardSwish", "Sqrt", "Log", "Reciprocal", "Clip", "LeakyRelu", "Elu", "HardSigmoid", "Pow"}
		binary := []string{"Add", "Sub", "Mul", "Div", "Max", "Min"}
		var outs []*ir.Value
		for p := 0; p < pieces; p++ {
			switch rng.IntN(5) {
			case 0, 1, 2: // elementwise chain
				s := shapeOf(1 + rng.IntN(4))
				v := b.Input("x", f32(s...))
				for i := 0; i < 1+rng.IntN(5); i++ {
					if rng.IntN(2) == 0 {
						op := unary[rng.IntN(len(unary))]
						switch op {
						case "Sqrt", "Log", "Reciprocal":
							v = b.Op1(op, nil, positive(v))
						case "Clip":
							v = b.Op1(op, nil, v, b.Const("lo", ir.ScalarF32(-0.4)), b.Const("hi", ir.ScalarF32(0.6)))
						case "Pow":
							v = b.Op1(op, nil, v, b.Const("e", ir.ScalarF32(2)))
						default:
							v = b.Op1(op, nil, v)
						}
						continue
					}
					op := binary[rng.IntN(len(binary))]
					w := operand(s)
					if op == "Div" {
						w = positive(w)
					}
					if rng.IntN(2) == 0 || op == "Div" {
						v = b.Op1(op, nil, v, w)
					} else {
						v = b.Op1(op, nil, w, v)
					}
				}
				outs = append(outs, v)
			case 3: // GEMM with an epilogue
				M, K, N := pick([]int64{1, 2, 5, 7, 13, 33}), pick([]int64{1, 3, 16, 37, 300}), pick([]int64{1, 5, 16, 33, 70})
				a := b.Input("a", f32(M, K))
				var bm *ir.Value
				if rng.IntN(2) == 0 {
					bm = b.Const("w", Random(rng, K, N))
				} else {
					bm = b.Input("b", f32(K, N))
				}
				var y *ir.Value
				if rng.IntN(2) == 0 {
					y = b.Op1("MatMul", nil, a, bm)
				} else {
					c := operand([]int64{M, N})
					y = b.Op1("Gemm", map[string]*ir.Attr{"alpha": ir.FloatAttr(0.7), "beta": ir.FloatAttr(1.3)}, a, bm, c)
				}
				if rng.IntN(2) == 0 {
					y = b.Op1("Relu", nil, b.Op1("Add", nil, y, operand([]int64{M, N})))
				}
				outs = append(outs, y)
			default: // softmax rows
				s := shapeOf(1 + rng.IntN(3))
				outs = append(outs, b.Op1("Softmax", nil, b.Op1("Mul", nil, b.Input("x", f32(s...)), b.Const("k", ir.ScalarF32(4)))))
			}
		}
		for i, o := range outs {
			o.Name = fmt.Sprintf("out%d_%s", i, o.Name)
		}
		b.Output(outs...)
		return b.Graph()
	}
}
