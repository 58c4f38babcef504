package codegentest

import (
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

func i64s(v ...int64) *ir.Tensor { return ir.FromSlice(ir.Int64, []int64{int64(len(v))}, v) }

// opCases cover the pooling, normalization, reduction and data-movement
// kernels (pool.go, norm.go, reduce.go, copy.go), edge sizes included
// (rows shorter than a vector, odd widths, padding, negative steps).
func opCases() []Case {
	return []Case{
		{Name: "pooling", Build: func() *ir.Graph {
			b := ir.NewBuilder("g")
			x := b.Input("x", f32(2, 3, 11, 13))
			a := func(kv ...any) map[string]*ir.Attr {
				m := map[string]*ir.Attr{}
				for i := 0; i < len(kv); i += 2 {
					m[kv[i].(string)] = kv[i+1].(*ir.Attr)
				}
				return m
			}
			mp := b.Op1("MaxPool", a("kernel_shape", ir.IntsAttr(3, 3), "strides", ir.IntsAttr(2, 2), "pads", ir.IntsAttr(1, 1, 1, 1)), x)
			mpd := b.Op1("MaxPool", a("kernel_shape", ir.IntsAttr(2, 3), "dilations", ir.IntsAttr(2, 2), "ceil_mode", ir.IntAttr(1), "strides", ir.IntsAttr(2, 1)), x)
			ap := b.Op1("AveragePool", a("kernel_shape", ir.IntsAttr(3, 3), "strides", ir.IntsAttr(2, 2), "pads", ir.IntsAttr(1, 0, 1, 2), "ceil_mode", ir.IntAttr(1)), x)
			api := b.Op1("AveragePool", a("kernel_shape", ir.IntsAttr(3, 2), "pads", ir.IntsAttr(1, 1, 1, 1), "count_include_pad", ir.IntAttr(1)), x)
			aps := b.Op1("AveragePool", a("kernel_shape", ir.IntsAttr(4, 4), "auto_pad", ir.StringAttr("SAME_UPPER"), "strides", ir.IntsAttr(3, 3)), x)
			b.Output(mp, mpd, ap, api, aps, b.Op1("GlobalAveragePool", nil, x), b.Op1("GlobalMaxPool", nil, x))
			return b.Graph()
		}},
		{Name: "layernorm_and_reductions", Build: func() *ir.Graph {
			rng := rand.New(rand.NewPCG(21, 21))
			b := ir.NewBuilder("g")
			x := b.Input("x", f32(2, 5, 37))
			ln := b.Op1("LayerNormalization", map[string]*ir.Attr{"epsilon": ir.FloatAttr(1e-5)}, x, weight(b, rng, "s", 37), weight(b, rng, "bias", 37))
			ln2 := b.Op1("LayerNormalization", map[string]*ir.Attr{"axis": ir.IntAttr(1)}, x, weight(b, rng, "s2", 5, 37))
			y := b.Input("y", f32(3, 4))
			ln3 := b.Op1("LayerNormalization", nil, y, b.Input("ys", f32(4)), b.Input("yb", f32(4)))
			rm := b.Op1("ReduceMean", map[string]*ir.Attr{"axes": ir.IntsAttr(-1)}, x)
			rmax := b.Op1("ReduceMax", map[string]*ir.Attr{"axes": ir.IntsAttr(1), "keepdims": ir.IntAttr(0)}, x)
			rs := b.Op1("ReduceSum", nil, x, b.Const("axes", i64s(0, 2)))
			rl2 := b.Op1("ReduceL2", map[string]*ir.Attr{"axes": ir.IntsAttr(1, 2)}, x)
			rmin := b.Op1("ReduceMin", nil, x)
			b.Output(ln, ln2, ln3, rm, rmax, rs, rl2, rmin)
			return b.Graph()
		}},
		{Name: "data_movement", Build: func() *ir.Graph {
			rng := rand.New(rand.NewPCG(23, 23))
			b := ir.NewBuilder("g")
			x := b.Input("x", f32(2, 3, 5, 19))
			t1 := b.Op1("Transpose", map[string]*ir.Attr{"perm": ir.IntsAttr(0, 2, 1, 3)}, x)
			t2 := b.Op1("Transpose", map[string]*ir.Attr{"perm": ir.IntsAttr(3, 1, 0, 2)}, x)
			sl := b.Op1("Slice", nil, x, b.Const("st", i64s(-1, 1)), b.Const("en", i64s(-100, 17)), b.Const("ax", i64s(2, 3)), b.Const("sp", i64s(-2, 3)))
			c := b.Op1("Concat", map[string]*ir.Attr{"axis": ir.IntAttr(-1)}, x, weight(b, rng, "k", 2, 3, 5, 4), b.Op1("Relu", nil, x))
			g1 := b.Op1("Gather", map[string]*ir.Attr{"axis": ir.IntAttr(1)}, x, b.Const("gi", ir.FromSlice(ir.Int64, []int64{2, 2}, []int64{2, 0, -1, 1})))
			g2 := b.Op1("Gather", map[string]*ir.Attr{"axis": ir.IntAttr(3)}, x, b.Const("gs", ir.ScalarI64(4)))
			e := b.Op1("Expand", nil, b.Input("r", f32(3, 1, 1)), b.Const("es", i64s(2, 3, 4, 9)))
			p := b.Op1("Pad", nil, x, b.Const("pads", i64s(0, 1, -1, 2, 0, 0, 2, 3)), b.Const("pv", ir.ScalarF32(0.5)))
			sp := b.Op("Split", []*ir.Value{x, b.Const("split", i64s(1, 2))}, map[string]*ir.Attr{"axis": ir.IntAttr(1)}, 2)
			rz := b.Op1("Resize", map[string]*ir.Attr{"mode": ir.StringAttr("nearest"), "coordinate_transformation_mode": ir.StringAttr("asymmetric"), "nearest_mode": ir.StringAttr("floor")},
				x, b.Const("roi", ir.NewTensor(ir.Float32, 0)), b.Const("scales", ir.FromSlice(ir.Float32, []int64{4}, []float32{1, 1, 2, 3})))
			b.Output(t1, t2, sl, c, g1, g2, e, p, sp[0], sp[1], rz)
			return b.Graph()
		}},
	}
}
