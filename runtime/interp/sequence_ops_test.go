package interp_test

import (
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// Hand-checked cases of the sequence and optional kernels; ONNX 1.12's
// conformance suite has no test of SplitToSequence, ConcatFromSequence,
// SequenceAt, SequenceErase or SequenceLength on their own.

func seqOf(ts ...*ir.Tensor) interp.Sequence {
	return interp.Sequence{ElemType: ts[0].DType, Tensors: ts}
}

func TestSequenceKernels(t *testing.T) {
	a, b, c := f32(sh(1), 1), f32(sh(1), 2), f32(sh(1), 3)
	s := seqOf(a, b, c)
	x := iota32(2, 3) // [[0 1 2][3 4 5]]
	tmRunCases(t, []tmCase{
		{"at -1", tmNode{op: "SequenceAt", in: []interp.Value{s, i64(nil, -1)}}, []interp.Value{c}, ""},
		{"at out of range", tmNode{op: "SequenceAt", in: []interp.Value{s, i32(nil, 3)}}, nil, "out of range"},
		{"erase default last", tmNode{op: "SequenceErase", in: []interp.Value{s}}, []interp.Value{seqOf(a, b)}, ""},
		{"erase 0", tmNode{op: "SequenceErase", in: []interp.Value{s, i64(nil, 0)}}, []interp.Value{seqOf(b, c)}, ""},
		{"insert middle", tmNode{op: "SequenceInsert", in: []interp.Value{s, f32(sh(1), 9), i64(nil, 1)}}, []interp.Value{seqOf(a, f32(sh(1), 9), b, c)}, ""},
		{"insert wrong dtype", tmNode{op: "SequenceInsert", in: []interp.Value{s, i64(sh(1), 9)}}, nil, "cannot insert"},
		{"length", tmNode{op: "SequenceLength", in: []interp.Value{s}}, []interp.Value{i64(nil, 3)}, ""},
		{"construct", tmNode{op: "SequenceConstruct", in: []interp.Value{a, b}}, []interp.Value{seqOf(a, b)}, ""},
		{"empty int", tmNode{op: "SequenceEmpty", attrs: map[string]*ir.Attr{"dtype": in1(7)}}, []interp.Value{interp.Sequence{ElemType: ir.Int64}}, ""},
		// stack [1] [2] [3] on a new axis 1 → [1, 3]
		{"concat new axis", tmNode{op: "ConcatFromSequence", attrs: map[string]*ir.Attr{"axis": in1(-1), "new_axis": in1(1)}, in: []interp.Value{s}}, []interp.Value{f32(sh(1, 3), 1, 2, 3)}, ""},
		{"concat", tmNode{op: "ConcatFromSequence", attrs: map[string]*ir.Attr{"axis": in1(0)}, in: []interp.Value{s}}, []interp.Value{f32(sh(3), 1, 2, 3)}, ""},
		// no split: one element per column, keepdims 0 squeezes axis 1 → [0 3] [1 4] [2 5]
		{"split ones squeezed", tmNode{op: "SplitToSequence", attrs: map[string]*ir.Attr{"axis": in1(1), "keepdims": in1(0)}, in: []interp.Value{x}},
			[]interp.Value{seqOf(f32(sh(2), 0, 3), f32(sh(2), 1, 4), f32(sh(2), 2, 5))}, ""},
		// scalar split 2 on axis 1: [[0 1][3 4]] and [[2][5]]
		{"split scalar", tmNode{op: "SplitToSequence", attrs: map[string]*ir.Attr{"axis": in1(1)}, in: []interp.Value{x, i64(nil, 2)}},
			[]interp.Value{seqOf(f32(sh(2, 2), 0, 1, 3, 4), f32(sh(2, 1), 2, 5))}, ""},
		{"split sizes", tmNode{op: "SplitToSequence", in: []interp.Value{x, i64(sh(2), 1, 1)}},
			[]interp.Value{seqOf(f32(sh(1, 3), 0, 1, 2), f32(sh(1, 3), 3, 4, 5))}, ""},
		{"optional empty", tmNode{op: "OptionalHasElement", in: []interp.Value{nil}}, []interp.Value{ir.FromSlice(ir.Bool, nil, []bool{false})}, ""},
		{"optional of empty sequence has an element", tmNode{op: "OptionalHasElement", in: []interp.Value{interp.Sequence{ElemType: ir.Float32, Tensors: []*ir.Tensor{}}}}, []interp.Value{ir.FromSlice(ir.Bool, nil, []bool{true})}, ""},
		{"get from empty", tmNode{op: "OptionalGetElement", in: []interp.Value{nil}}, nil, "empty"},
	})
}

func TestSequenceMapKernel(t *testing.T) {
	// body(x, y) = x + y with x from the sequence and y a tensor broadcast
	// to every element: [1]+[10], [2]+[10]
	body := cfBody("body", []ir.Type{tF32, tF32}, func(b *ir.Builder, in []*ir.Value) []*ir.Value {
		return []*ir.Value{b.Op1("Add", nil, in[0], in[1])}
	})
	n := tmNode{op: "SequenceMap", attrs: map[string]*ir.Attr{"body": ir.GraphAttr(body)}, in: []interp.Value{seqOf(f32(sh(1), 1), f32(sh(1), 2)), f32(sh(1), 10)}}
	tmRunCases(t, []tmCase{
		{"seq and tensor", n, []interp.Value{seqOf(f32(sh(1), 11), f32(sh(1), 12))}, ""},
	})
}
