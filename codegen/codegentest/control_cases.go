package codegentest

import (
	"math/rand/v2"
	"strings"

	"github.com/optc-dev/optc/ir"
)

// ControlCases are differential cases for the LSTM, If (conditions read at
// run time and conditions that fold once shapes are bound), integer
// comparisons and reflect/edge Pad lowerings. Each is fully native. Graph
// inputs named "sel*" are int64 scalars: tests run every combination of
// 0 and 1 for them (both branches of every If); the others are f32.
func ControlCases() []Case {
	return []Case{
		// 4H = 64: whole vectors on every target.
		{Name: "lstm_forward_bias", Build: lstmCase(21, lstmOpts{T: 5, B: 3, I: 7, H: 16, dir: "forward", bias: true})},
		// H = 5: scalar gate columns and hidden units only.
		{Name: "lstm_reverse_states", Build: lstmCase(22, lstmOpts{T: 4, B: 2, I: 5, H: 5, dir: "reverse", bias: true, states: true})},
		// 4H = 80, H = 20: vector chunks plus scalar tails; peepholes.
		{Name: "lstm_bidirectional_peepholes", Build: lstmCase(23, lstmOpts{T: 6, B: 2, I: 3, H: 20, dir: "bidirectional", bias: true, states: true, peep: true})},
		// Only Y_h and Y_c used, no bias, clip, input_forget, Relu cell.
		{Name: "lstm_clip_forget_relu", Build: lstmCase(24, lstmOpts{T: 3, B: 1, I: 9, H: 33, dir: "forward", clip: 0.7, forget: true, acts: []string{"Sigmoid", "Relu", "Tanh"}, noY: true})},
		// Bidirectional with constant initial states and the default
		// activations named explicitly for both directions.
		{Name: "lstm_bidirectional_const_states", Build: lstmCase(25, lstmOpts{T: 2, B: 3, I: 4, H: 8, dir: "bidirectional", constStates: true, acts: []string{"Sigmoid", "Tanh", "Tanh", "Sigmoid", "Tanh", "Tanh"}})},
		// Run-time W, R, B, P, initial states and sequence_lens
		// (ONNX's conformance LSTMs pass everything as inputs).
		{Name: "lstm_runtime_weights_seqlens", Build: lstmCase(26, lstmOpts{T: 5, B: 3, I: 4, H: 6, dir: "bidirectional", bias: true, states: true, peep: true, runtime: true, lens: true})},
		// Layout 1 (batch-major), reverse, run-time sequence_lens.
		{Name: "lstm_batch_major_reverse", Build: lstmCase(27, lstmOpts{T: 4, B: 3, I: 5, H: 17, dir: "reverse", bias: true, states: true, lens: true, batchMajor: true})},
		{Name: "if_runtime_nested", Build: ifCase},
		{Name: "if_shape_folded", Build: ifFoldCase, Shapes: map[string][]int64{"x": {3, 1, 10}}},
		{Name: "pad_reflect", Build: padCase("reflect", []int64{2, 3, 5, 6}, []int64{0, 1, 2, 1, 0, 1, 3, 2})},
		{Name: "pad_edge", Build: padCase("edge", []int64{1, 4, 7}, []int64{0, 2, 0, 0, 1, 5})},
		{Name: "pad_reflect_1d", Build: padCase("reflect", []int64{1, 1, 40}, []int64{0, 0, 12, 0, 0, 12})},
	}
}

type lstmOpts struct {
	T, B, I, H                int64
	dir                       string
	bias, states, constStates bool
	peep, forget, noY         bool
	runtime, lens, batchMajor bool
	clip                      float32
	acts                      []string
}

// lstmCase is x [T,B,I] -> LSTM (weights random, scaled by 1/2) ->
// outputs Y (through a Relu), Y_h and Y_c.
func lstmCase(seed uint64, o lstmOpts) func() *ir.Graph {
	return func() *ir.Graph {
		rng := rand.New(rand.NewPCG(seed, 3))
		D := int64(1)
		if o.dir == "bidirectional" {
			D = 2
		}
		b := ir.NewBuilder("lstm")
		xs, st := []int64{o.T, o.B, o.I}, []int64{D, o.B, o.H}
		if o.batchMajor {
			xs, st = []int64{o.B, o.T, o.I}, []int64{o.B, D, o.H}
		}
		x := b.Input("x", f32(xs...))
		param := func(name string, shape ...int64) *ir.Value {
			if o.runtime {
				return b.Input(name, f32(shape...))
			}
			return weight(b, rng, name, shape...)
		}
		ins := []*ir.Value{x, param("w", D, 4*o.H, o.I), param("r", D, 4*o.H, o.H), nil, nil, nil, nil, nil}
		if o.bias {
			ins[3] = param("bias", D, 8*o.H)
		}
		if o.lens {
			ins[4] = b.Input("lens", ir.TensorType(ir.Int32, ir.ShapeOf(o.B)))
		}
		switch {
		case o.states:
			ins[5] = b.Input("h0", f32(st...))
			ins[6] = b.Input("c0", f32(st...))
		case o.constStates:
			ins[5] = weight(b, rng, "h0", st...)
			ins[6] = weight(b, rng, "c0", st...)
		}
		if o.peep {
			ins[7] = param("p", D, 3*o.H)
		}
		for len(ins) > 0 && ins[len(ins)-1] == nil {
			ins = ins[:len(ins)-1]
		}
		attrs := map[string]*ir.Attr{"hidden_size": ir.IntAttr(o.H), "direction": ir.StringAttr(o.dir)}
		if o.clip > 0 {
			attrs["clip"] = ir.FloatAttr(o.clip)
		}
		if o.forget {
			attrs["input_forget"] = ir.IntAttr(1)
		}
		if o.batchMajor {
			attrs["layout"] = ir.IntAttr(1)
		}
		if o.acts != nil {
			attrs["activations"] = &ir.Attr{Kind: ir.AttrStrings, Strings: o.acts}
		}
		outs := b.Op("LSTM", ins, attrs, 3)
		if o.noY {
			outs[0].Def.Outputs[0] = nil
		} else {
			b.Output(b.Op1("Relu", nil, outs[0]))
		}
		b.Output(outs[1], outs[2])
		if err := ir.InferShapes(b.Graph()); err != nil {
			panic(err)
		}
		return b.Graph()
	}
}

// ifCase: x [2,8], sel, sel2 int64 scalars.
//
//	y, z = If(sel == 1) then { If(sel2 > 0) then {Relu(x·W1), -x} else {x·W1, x} }
//	                    else { Sigmoid(x + c), x·W2 }
//	out = y + x
func ifCase() *ir.Graph {
	rng := rand.New(rand.NewPCG(31, 3))
	b := ir.NewBuilder("if")
	x := b.Input("x", f32(2, 8))
	sel := b.Input("sel", ir.TensorType(ir.Int64, ir.Shape{}))
	sel2 := b.Input("sel2", ir.TensorType(ir.Int64, ir.Shape{}))
	one := b.Const("one", ir.ScalarI64(1))
	zero := b.Const("zero", ir.ScalarI64(0))
	w1 := weight(b, rng, "w1", 8, 8)
	w2 := weight(b, rng, "w2", 8, 8)
	cst := weight(b, rng, "c", 8)
	cond := b.Op1("Equal", nil, sel, one)
	cond2 := b.Op1("Greater", nil, sel2, zero)

	tb := ir.NewBuilder("then_inner")
	mm := tb.Op1("MatMul", nil, x, w1)
	tb.Output(tb.Op1("Relu", nil, mm), tb.Op1("Neg", nil, x))
	eb := ir.NewBuilder("else_inner")
	eb.Output(eb.Op1("MatMul", nil, x, w1), x)

	ob := ir.NewBuilder("then_outer")
	inner := ob.Op("If", []*ir.Value{cond2}, map[string]*ir.Attr{"then_branch": ir.GraphAttr(ctrlRename(tb.Graph(), "ti_")), "else_branch": ir.GraphAttr(ctrlRename(eb.Graph(), "ei_"))}, 2)
	ob.Output(inner...)
	pb := ir.NewBuilder("else_outer")
	pb.Output(pb.Op1("Sigmoid", nil, pb.Op1("Add", nil, x, cst)), pb.Op1("MatMul", nil, x, w2))

	yz := b.Op("If", []*ir.Value{cond}, map[string]*ir.Attr{"then_branch": ir.GraphAttr(ctrlRename(ob.Graph(), "to_")), "else_branch": ir.GraphAttr(ctrlRename(pb.Graph(), "eo_"))}, 2)
	b.Output(b.Op1("Add", nil, yz[0], x), yz[1])
	if err := ir.InferShapes(b.Graph()); err != nil {
		panic(err)
	}
	return b.Graph()
}

// ifFoldCase: an If on the shape of a symbolic input (Silero VAD's
// pattern) whose branches have different ranks: once x is bound to
// [3, 1, 10] the condition folds and the If is replaced by its then
// branch.
//
//	y = If(Shape(x)[1] == 1) then {Squeeze(x, 1)} else {Identity(x)}
//	out = Tanh(y)
func ifFoldCase() *ir.Graph {
	b := ir.NewBuilder("iffold")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.Shape{ir.Sym("N"), ir.Sym("C"), ir.D(10)}))
	shp := b.Op1("Shape", nil, x)
	dim := b.Op1("Gather", map[string]*ir.Attr{"axis": ir.IntAttr(0)}, shp, b.Const("one", ir.ScalarI64(1)))
	cond := b.Op1("Equal", nil, dim, b.Const("one64", ir.ScalarI64(1)))
	tb := ir.NewBuilder("then")
	tb.Output(tb.Op1("Squeeze", nil, x, tb.Const("axes", ir.FromSlice(ir.Int64, []int64{1}, []int64{1}))))
	eb := ir.NewBuilder("else")
	eb.Output(eb.Op1("Identity", nil, x))
	y := b.Op("If", []*ir.Value{cond}, map[string]*ir.Attr{"then_branch": ir.GraphAttr(ctrlRename(tb.Graph(), "t_")), "else_branch": ir.GraphAttr(ctrlRename(eb.Graph(), "e_"))}, 1)[0]
	b.Output(b.Op1("Tanh", nil, y))
	_ = ir.InferShapes(b.Graph())
	return b.Graph()
}

// padCase is Pad(x, pads) in mode, followed by a Relu.
func padCase(mode string, shape, pads []int64) func() *ir.Graph {
	return func() *ir.Graph {
		b := ir.NewBuilder("pad")
		x := b.Input("x", f32(shape...))
		p := b.Const("pads", ir.FromSlice(ir.Int64, []int64{int64(len(pads))}, pads))
		y := b.Op1("Pad", map[string]*ir.Attr{"mode": ir.StringAttr(mode)}, x, p)
		b.Output(b.Op1("Relu", nil, y))
		if err := ir.InferShapes(b.Graph()); err != nil {
			panic(err)
		}
		return b.Graph()
	}
}

// ctrlRename prefixes the names of a branch's values (names are unique
// across a model and its subgraphs, as in ONNX).
func ctrlRename(g *ir.Graph, prefix string) *ir.Graph {
	seen := map[*ir.Value]bool{}
	for _, v := range g.Consts {
		if !seen[v] {
			seen[v] = true
			v.Name = prefix + v.Name
		}
	}
	for _, n := range g.Nodes {
		n.Name = prefix + n.Name
		for _, o := range n.Outputs {
			if o != nil && !seen[o] {
				seen[o] = true
				o.Name = prefix + o.Name
			}
		}
	}
	return g
}

// ControlCombos is the number of input sets ControlInputs makes for g:
// every 0/1 combination of its "sel*" inputs.
func ControlCombos(g *ir.Graph) int {
	n := 0
	for _, v := range g.Inputs {
		if strings.HasPrefix(v.Name, "sel") {
			n++
		}
	}
	return 1 << n
}

// ControlInputs is input set combo of a control case: the i-th "sel*"
// input is bit i of combo, int32 inputs are the LSTM's sequence lengths
// [T, 0, T-2, 1, …] (a full, an empty and partial sequences), the others
// seeded f32 in [-1, 1).
func ControlInputs(g *ir.Graph, combo int, seed uint64) map[string]*ir.Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	in := map[string]*ir.Tensor{}
	sel := 0
	for _, v := range g.Inputs {
		shape, _ := v.Type.Shape.Concrete()
		switch {
		case strings.HasPrefix(v.Name, "sel"):
			in[v.Name] = ir.ScalarI64(int64(combo >> sel & 1))
			sel++
		case v.Type.DType == ir.Int32:
			in[v.Name] = controlSeqLens(shape, controlSeqLen(g))
		default:
			in[v.Name] = Random(rng, shape...)
		}
	}
	return in
}

// controlSeqLen is the sequence length of g's LSTM (0 without one).
func controlSeqLen(g *ir.Graph) int64 {
	for _, n := range g.Nodes {
		if n.Op == "LSTM" {
			xs, _ := n.Inputs[0].Type.Shape.Concrete()
			return xs[n.AttrInt("layout", 0)]
		}
	}
	return 0
}

// controlSeqLens are the lengths [T, 0, T-2, 1, …].
func controlSeqLens(shape []int64, T int64) *ir.Tensor {
	n := ir.NumElements(shape)
	vals := make([]int32, n)
	for i := range vals {
		vals[i] = int32([]int64{T, 0, max(T-2, 0), min(T, 1)}[i%4])
	}
	return ir.FromSlice(ir.Int32, shape, vals)
}
