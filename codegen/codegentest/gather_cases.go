package codegentest

import (
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// InputCase is a Case with fixed inputs (Gather indices, Resize scales):
// Fixed holds their values; the other f32 inputs get seeded noise (see
// CaseInputs).
type InputCase struct {
	Case
	Fixed map[string]*ir.Tensor
}

func i32t(shape []int64, v ...int32) *ir.Tensor { return ir.FromSlice(ir.Int32, shape, v) }
func i64t(shape []int64, v ...int64) *ir.Tensor { return ir.FromSlice(ir.Int64, shape, v) }

// GatherCases are Gathers with run-time indices: int32 and int64, negative
// values, scalar and 2-D index tensors, every axis position, a constant
// table (an embedding) and a consumer fused after the gather.
func GatherCases() []InputCase {
	ityp := func(d ir.DType, shape ...int64) ir.Type { return ir.TensorType(d, ir.ShapeOf(shape...)) }
	axis := func(a int64) map[string]*ir.Attr { return map[string]*ir.Attr{"axis": ir.IntAttr(a)} }
	return []InputCase{
		{Case: Case{Name: "gather_runtime_axis0_i64", Build: func() *ir.Graph {
			b := ir.NewBuilder("g")
			x := b.Input("x", f32(5, 7))
			i := b.Input("i", ityp(ir.Int64, 2, 3))
			b.Output(b.Op1("Gather", axis(0), x, i))
			return b.Graph()
		}}, Fixed: map[string]*ir.Tensor{"i": i64t([]int64{2, 3}, 4, -1, 0, 2, -5, 1)}},
		{Case: Case{Name: "gather_runtime_axis1_i32", Build: func() *ir.Graph {
			b := ir.NewBuilder("g")
			x := b.Input("x", f32(2, 6, 9))
			i := b.Input("i", ityp(ir.Int32, 4))
			b.Output(b.Op1("Relu", nil, b.Op1("Gather", axis(1), x, i)))
			return b.Graph()
		}}, Fixed: map[string]*ir.Tensor{"i": i32t([]int64{4}, 5, -6, 3, 3)}},
		{Case: Case{Name: "gather_runtime_last_axis_scalar", Build: func() *ir.Graph {
			b := ir.NewBuilder("g")
			x := b.Input("x", f32(3, 4, 5))
			i := b.Input("i", ityp(ir.Int64))
			b.Output(b.Op1("Gather", axis(-1), x, i))
			return b.Graph()
		}}, Fixed: map[string]*ir.Tensor{"i": ir.ScalarI64(-2)}},
		{Case: Case{Name: "gather_runtime_embedding", Build: func() *ir.Graph {
			rng := rand.New(rand.NewPCG(31, 31))
			b := ir.NewBuilder("g")
			table := weight(b, rng, "embed", 259, 64)
			i := b.Input("ids", ityp(ir.Int64, 1, 5))
			e := b.Op1("Gather", nil, table, i)
			b.Output(b.Op1("Mul", nil, e, b.Input("s", f32(1, 5, 64))))
			return b.Graph()
		}}, Fixed: map[string]*ir.Tensor{"ids": i64t([]int64{1, 5}, 256, 72, 0, 258, 105)}},
		{Case: Case{Name: "gather_int_data", Build: func() *ir.Graph {
			// Shape-arithmetic style: an i64 vector indexed by a constant,
			// an i32 table by run-time indices, bool data.
			b := ir.NewBuilder("g")
			s := b.Input("s", ityp(ir.Int64, 4))
			t := b.Const("t", i32t([]int64{3, 2}, 7, -8, 9, 1<<30, -1<<31, 5))
			i := b.Input("i", ityp(ir.Int64, 4))
			m := b.Input("m", ityp(ir.Bool, 2, 3))
			b.Output(b.Op1("Gather", nil, s, b.Const("k", ir.ScalarI64(-2))), b.Op1("Gather", nil, t, i),
				b.Op1("Gather", axis(1), m, b.Const("j", i64t([]int64{2}, 2, 0))))
			return b.Graph()
		}}, Fixed: map[string]*ir.Tensor{
			"s": i64t([]int64{4}, 1, 2, 1<<40, 64),
			"i": i64t([]int64{4}, 2, -3, 1, 1),
			"m": ir.FromSlice(ir.Bool, []int64{2, 3}, []bool{true, false, false, false, true, true}),
		}},
	}
}

// CaseInputs are seeded inputs for g's (bound) inputs: fixed where given,
// else float32 noise in [-1, 1) as Inputs makes.
func CaseInputs(g *ir.Graph, fixed map[string]*ir.Tensor, seed uint64) map[string]*ir.Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	in := map[string]*ir.Tensor{}
	for _, v := range g.Inputs {
		if t, ok := fixed[v.Name]; ok {
			in[v.Name] = t
			continue
		}
		shape, _ := v.Type.Shape.Concrete()
		in[v.Name] = Random(rng, shape...)
	}
	return in
}
