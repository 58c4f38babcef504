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

// Hand-checked cases of the tensor manipulation kernels, for behaviour the
// ONNX conformance tests do not reach (edge cases, newer-opset forms,
// errors). Every expected value is worked out in the comment beside it.

// tmNode describes a one-node graph: inputs are constants (tensors),
// graph inputs (sequences, or tensors wrapped in tmIn) or omitted (nil).
type tmNode struct {
	op    string
	opset int64
	attrs map[string]*ir.Attr
	in    []interp.Value
	nOut  int
}

// tmIn marks a tensor to be fed as a graph input rather than a constant.
type tmIn struct{ t *ir.Tensor }

func (n tmNode) build() (*ir.Graph, map[string]interp.Value) {
	b := ir.NewBuilder("t")
	if n.opset != 0 {
		b.Graph().Opsets[""] = n.opset
	}
	feeds := map[string]interp.Value{}
	var ins []*ir.Value
	for i, x := range n.in {
		name := fmt.Sprintf("in%d", i)
		switch v := x.(type) {
		case nil:
			ins = append(ins, nil)
		case *ir.Tensor:
			ins = append(ins, b.Const(name, v))
		case tmIn:
			ins = append(ins, b.Input(name, ir.TensorType(v.t.DType, ir.ShapeOf(v.t.Shape...))))
			feeds[name] = v.t
		case interp.Sequence:
			ins = append(ins, b.Input(name, ir.Type{Kind: ir.KindSequence, Elem: &ir.Type{Kind: ir.KindTensor, DType: v.ElemType}}))
			feeds[name] = v
		default:
			panic(fmt.Sprintf("tmNode: input %T", x))
		}
	}
	nOut := max(n.nOut, 1)
	b.Output(b.Op(n.op, ins, n.attrs, nOut)...)
	return b.Graph(), feeds
}

func (n tmNode) run() ([]interp.Value, error) {
	g, feeds := n.build()
	res, err := interp.Run(context.Background(), g, feeds)
	if err != nil {
		return nil, err
	}
	outs := make([]interp.Value, len(g.Outputs))
	for i, o := range g.Outputs {
		outs[i] = res[o.Name]
	}
	return outs, nil
}

// Tensor literals, shared by the package's external tests.
func f32(shape []int64, v ...float32) *ir.Tensor { return ir.FromSlice(ir.Float32, shape, v) }
func i64(shape []int64, v ...int64) *ir.Tensor   { return ir.FromSlice(ir.Int64, shape, v) }
func i32(shape []int64, v ...int32) *ir.Tensor   { return ir.FromSlice(ir.Int32, shape, v) }
func sh(d ...int64) []int64                      { return d }

// iota32 is 0, 1, …, n-1 as float32.
func iota32(shape ...int64) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.Data.([]float32) {
		t.Data.([]float32)[i] = float32(i)
	}
	return t
}

type tmCase struct {
	name string
	node tmNode
	want []interp.Value // expected outputs; nil entries are not checked
	err  string         // expected error substring instead
}

func tmRunCases(t *testing.T, cases []tmCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.node.run()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "internal error") {
					t.Fatalf("kernel panicked: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				if w == nil {
					continue
				}
				if err := valueDiff(got[i], w); err != nil {
					t.Errorf("output %d: %v", i, err)
				}
			}
		})
	}
}

func ints(v ...int64) *ir.Attr { return ir.IntsAttr(v...) }
func in1(v int64) *ir.Attr     { return ir.IntAttr(v) }
func str(v string) *ir.Attr    { return ir.StringAttr(v) }

func TestSliceEdges(t *testing.T) {
	x := iota32(5) // [0 1 2 3 4]
	big, small := int64(math.MaxInt64), int64(math.MinInt64)
	tmRunCases(t, []tmCase{
		// start -1 → 4, end -6 → -1 (clamped to -1 for a negative step): 4 3 2 1 0
		{"reverse all", tmNode{op: "Slice", in: []interp.Value{x, i64(sh(1), -1), i64(sh(1), small), nil, i64(sh(1), -1)}}, []interp.Value{f32(sh(5), 4, 3, 2, 1, 0)}, ""},
		// 4, 2, 0 with step -2 from the end
		{"step -2", tmNode{op: "Slice", in: []interp.Value{x, i64(sh(1), big), i64(sh(1), small), nil, i64(sh(1), -2)}}, []interp.Value{f32(sh(3), 4, 2, 0)}, ""},
		// step 3 from 1: 1, 4
		{"step 3", tmNode{op: "Slice", in: []interp.Value{x, i64(sh(1), 1), i64(sh(1), big), nil, i64(sh(1), 3)}}, []interp.Value{f32(sh(2), 1, 4)}, ""},
		// start beyond the end: empty
		{"empty", tmNode{op: "Slice", in: []interp.Value{x, i64(sh(1), 7), i64(sh(1), 9)}}, []interp.Value{f32(sh(0))}, ""},
		// opset 1 attributes: [1, 3) on axis 0
		{"opset1", tmNode{op: "Slice", opset: 1, attrs: map[string]*ir.Attr{"starts": ints(1), "ends": ints(3)}, in: []interp.Value{x}}, []interp.Value{f32(sh(2), 1, 2)}, ""},
		// steps longer than the axis take one element: x[0], x[4]
		{"huge step", tmNode{op: "Slice", in: []interp.Value{x, i64(sh(1), 0), i64(sh(1), big), nil, i64(sh(1), big)}}, []interp.Value{f32(sh(1), 0)}, ""},
		{"huge negative step", tmNode{op: "Slice", in: []interp.Value{x, i64(sh(1), -1), i64(sh(1), small), nil, i64(sh(1), small)}}, []interp.Value{f32(sh(1), 4)}, ""},
		{"step 0", tmNode{op: "Slice", in: []interp.Value{x, i64(sh(1), 0), i64(sh(1), 3), nil, i64(sh(1), 0)}}, nil, "step 0"},
		{"axis out of range", tmNode{op: "Slice", in: []interp.Value{x, i64(sh(1), 0), i64(sh(1), 3), i64(sh(1), 2)}}, nil, "out of range"},
	})
}

func TestPadModes(t *testing.T) {
	x := f32(sh(1, 3), 1, 2, 3)
	pads := i64(sh(4), 0, 4, 0, 2) // 4 before and 2 after the last axis
	tmRunCases(t, []tmCase{
		// reflect repeats with period 4 (1 2 3 2): input positions -4..4 map
		// to 0 1 2 1 | 0 1 2 | 1 0, as numpy.pad([1,2,3], (4,2), "reflect")
		{"reflect wide", tmNode{op: "Pad", attrs: map[string]*ir.Attr{"mode": str("reflect")}, in: []interp.Value{x, pads}},
			[]interp.Value{f32(sh(1, 9), 1, 2, 3, 2, 1, 2, 3, 2, 1)}, ""},
		{"edge", tmNode{op: "Pad", attrs: map[string]*ir.Attr{"mode": str("edge")}, in: []interp.Value{x, pads}},
			[]interp.Value{f32(sh(1, 9), 1, 1, 1, 1, 1, 2, 3, 3, 3)}, ""},
		{"constant 7", tmNode{op: "Pad", in: []interp.Value{x, i64(sh(4), 0, 1, 0, 0), f32(nil, 7)}},
			[]interp.Value{f32(sh(1, 4), 7, 1, 2, 3)}, ""},
		// a negative pad crops: drop the first element, add one zero after
		{"negative crops", tmNode{op: "Pad", in: []interp.Value{x, i64(sh(4), 0, -1, 0, 1)}},
			[]interp.Value{f32(sh(1, 3), 2, 3, 0)}, ""},
		// opset 2 attributes
		{"opset2", tmNode{op: "Pad", opset: 2, attrs: map[string]*ir.Attr{"pads": ints(1, 0, 0, 0), "value": ir.FloatAttr(-1)}, in: []interp.Value{x}},
			[]interp.Value{f32(sh(2, 3), -1, -1, -1, 1, 2, 3)}, ""},
		// opset 18 axes input: pad only axis 1 (pads for axis list [1])
		{"axes", tmNode{op: "Pad", opset: 18, attrs: map[string]*ir.Attr{"mode": str("edge")}, in: []interp.Value{x, i64(sh(2), 1, 0), nil, i64(sh(1), 1)}},
			[]interp.Value{f32(sh(1, 4), 1, 1, 2, 3)}, ""},
		{"wrap", tmNode{op: "Pad", opset: 19, attrs: map[string]*ir.Attr{"mode": str("wrap")}, in: []interp.Value{x, i64(sh(4), 0, 2, 0, 1)}},
			[]interp.Value{f32(sh(1, 6), 2, 3, 1, 2, 3, 1)}, ""},
		{"bad pads", tmNode{op: "Pad", in: []interp.Value{x, i64(sh(2), 1, 1)}}, nil, "pads"},
		{"empty reflect", tmNode{op: "Pad", attrs: map[string]*ir.Attr{"mode": str("reflect")}, in: []interp.Value{f32(sh(0)), i64(sh(2), 1, 1)}}, nil, "empty axis"},
	})
}

func TestShapeKernels(t *testing.T) {
	x := iota32(2, 3)
	tmRunCases(t, []tmCase{
		// allowzero keeps a literal 0 dim: 0 elements in, [0, 3] is valid only with an empty input
		{"allowzero", tmNode{op: "Reshape", attrs: map[string]*ir.Attr{"allowzero": in1(1)}, in: []interp.Value{f32(sh(0, 3)), i64(sh(2), 0, 3)}}, []interp.Value{f32(sh(0, 3))}, ""},
		{"copy zero and infer", tmNode{op: "Reshape", in: []interp.Value{x, i64(sh(3), 0, -1, 1)}}, []interp.Value{f32(sh(2, 3, 1), 0, 1, 2, 3, 4, 5)}, ""},
		{"two -1", tmNode{op: "Reshape", in: []interp.Value{x, i64(sh(2), -1, -1)}}, nil, "more than one -1"},
		{"bad count", tmNode{op: "Reshape", in: []interp.Value{x, i64(sh(2), 4, 2)}}, nil, "cannot reshape"},
		{"squeeze all ones", tmNode{op: "Squeeze", in: []interp.Value{f32(sh(1, 2, 1), 5, 6)}}, []interp.Value{f32(sh(2), 5, 6)}, ""},
		{"squeeze non-one", tmNode{op: "Squeeze", in: []interp.Value{x, i64(sh(1), 0)}}, nil, "size is not 1"},
		{"squeeze opset 11 attr", tmNode{op: "Squeeze", opset: 11, attrs: map[string]*ir.Attr{"axes": ints(-1)}, in: []interp.Value{f32(sh(2, 1), 5, 6)}}, []interp.Value{f32(sh(2), 5, 6)}, ""},
		{"unsqueeze opset 11 attr", tmNode{op: "Unsqueeze", opset: 11, attrs: map[string]*ir.Attr{"axes": ints(0, -1)}, in: []interp.Value{f32(sh(2), 5, 6)}}, []interp.Value{f32(sh(1, 2, 1), 5, 6)}, ""},
		{"unsqueeze repeated", tmNode{op: "Unsqueeze", in: []interp.Value{x, i64(sh(2), 0, 0)}}, nil, "repeated"},
		// Expand is bidirectional: [2,1] with shape [1,3] → [2,3]
		{"expand", tmNode{op: "Expand", in: []interp.Value{f32(sh(2, 1), 1, 2), i64(sh(2), 1, 3)}}, []interp.Value{f32(sh(2, 3), 1, 1, 1, 2, 2, 2)}, ""},
		{"expand bad", tmNode{op: "Expand", in: []interp.Value{f32(sh(2), 1, 2), i64(sh(1), 3)}}, nil, "broadcast"},
		// Tile [[0 1 2][3 4 5]] by [1, 2]
		{"tile", tmNode{op: "Tile", in: []interp.Value{x, i64(sh(2), 1, 2)}}, []interp.Value{f32(sh(2, 6), 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5)}, ""},
		{"transpose default", tmNode{op: "Transpose", in: []interp.Value{x}}, []interp.Value{f32(sh(3, 2), 0, 3, 1, 4, 2, 5)}, ""},
		{"transpose bad perm", tmNode{op: "Transpose", attrs: map[string]*ir.Attr{"perm": ints(0, 0)}, in: []interp.Value{x}}, nil, "repeated"},
		{"flatten axis 0", tmNode{op: "Flatten", attrs: map[string]*ir.Attr{"axis": in1(0)}, in: []interp.Value{x}}, []interp.Value{f32(sh(1, 6), 0, 1, 2, 3, 4, 5)}, ""},
		// Shape with start/end (opset 15): dims of [2,3] from -1 → [3]
		{"shape start", tmNode{op: "Shape", attrs: map[string]*ir.Attr{"start": in1(-1)}, in: []interp.Value{x}}, []interp.Value{i64(sh(1), 3)}, ""},
		{"shape empty range", tmNode{op: "Shape", attrs: map[string]*ir.Attr{"start": in1(2), "end": in1(1)}, in: []interp.Value{x}}, []interp.Value{i64(sh(0))}, ""},
		{"size", tmNode{op: "Size", in: []interp.Value{x}}, []interp.Value{i64(nil, 6)}, ""},
	})
}

func TestSplitConcat(t *testing.T) {
	x := iota32(7)
	tmRunCases(t, []tmCase{
		// opset 18 uneven split into 3: ceil(7/3)=3 → 3, 3, 1
		{"uneven opset 18", tmNode{op: "Split", opset: 18, attrs: map[string]*ir.Attr{"num_outputs": in1(3)}, in: []interp.Value{x}, nOut: 3},
			[]interp.Value{f32(sh(3), 0, 1, 2), f32(sh(3), 3, 4, 5), f32(sh(1), 6)}, ""},
		{"uneven before 18", tmNode{op: "Split", in: []interp.Value{x}, nOut: 3}, nil, "evenly"},
		{"split attr opset 11", tmNode{op: "Split", opset: 11, attrs: map[string]*ir.Attr{"split": ints(5, 2)}, in: []interp.Value{x}, nOut: 2},
			[]interp.Value{f32(sh(5), 0, 1, 2, 3, 4), f32(sh(2), 5, 6)}, ""},
		{"bad sum", tmNode{op: "Split", in: []interp.Value{x, i64(sh(2), 3, 3)}, nOut: 2}, nil, "sum to 6"},
		{"concat dtype", tmNode{op: "Concat", attrs: map[string]*ir.Attr{"axis": in1(0)}, in: []interp.Value{x, i64(sh(1), 1)}}, nil, "dtype"},
		{"concat shape", tmNode{op: "Concat", attrs: map[string]*ir.Attr{"axis": in1(1)}, in: []interp.Value{iota32(2, 2), iota32(3, 2)}}, nil, "dim 0 differs"},
		// [[0 1][2 3]] ++ [[0][1]] on axis 1
		{"concat axis 1", tmNode{op: "Concat", attrs: map[string]*ir.Attr{"axis": in1(-1)}, in: []interp.Value{iota32(2, 2), iota32(2, 1)}},
			[]interp.Value{f32(sh(2, 3), 0, 1, 0, 2, 3, 1)}, ""},
	})
}

func TestGatherScatterEdges(t *testing.T) {
	x := iota32(2, 3) // [[0 1 2][3 4 5]]
	tmRunCases(t, []tmCase{
		// scalar index on axis 1 drops the axis: column -1 → [2 5]
		{"gather scalar index", tmNode{op: "Gather", attrs: map[string]*ir.Attr{"axis": in1(1)}, in: []interp.Value{x, i64(nil, -1)}}, []interp.Value{f32(sh(2), 2, 5)}, ""},
		{"gather out of range", tmNode{op: "Gather", in: []interp.Value{x, i64(sh(1), 2)}}, nil, "out of range"},
		{"gather elements out of range", tmNode{op: "GatherElements", in: []interp.Value{x, i64(sh(1, 1), 5)}}, nil, "out of range"},
		// ScatterElements max (opset 18): row 0 gets max(0,9)=9 at col 0 and max(1,-1)=1 at col 1
		{"scatter max", tmNode{op: "ScatterElements", opset: 18, attrs: map[string]*ir.Attr{"axis": in1(1), "reduction": str("max")}, in: []interp.Value{x, i64(sh(1, 2), 0, 1), f32(sh(1, 2), 9, -1)}},
			[]interp.Value{f32(sh(2, 3), 9, 1, 2, 3, 4, 5)}, ""},
		// ScatterND min on int32: element [1,2] = min(5, 1) = 1
		{"scatternd min", tmNode{op: "ScatterND", opset: 18, attrs: map[string]*ir.Attr{"reduction": str("min")}, in: []interp.Value{i32(sh(2, 3), 0, 1, 2, 3, 4, 5), i64(sh(1, 2), 1, 2), i32(sh(1), 1)}},
			[]interp.Value{i32(sh(2, 3), 0, 1, 2, 3, 4, 1)}, ""},
		{"scatternd bad updates", tmNode{op: "ScatterND", in: []interp.Value{x, i64(sh(1, 2), 1, 2), f32(sh(2), 1, 1)}}, nil, "updates"},
		// Scatter (opset 9) replaces: row 1 of [2,3] zeros, axis 0
		{"scatter opset 9", tmNode{op: "Scatter", opset: 9, in: []interp.Value{ir.NewTensor(ir.Float32, 2, 3), i64(sh(1, 3), 1, 0, 1), f32(sh(1, 3), 7, 8, 9)}},
			[]interp.Value{f32(sh(2, 3), 0, 8, 0, 7, 0, 9)}, ""},
		// OneHot with float indices 1.7 → 1 (truncation) and depth as float 3; axis 0
		{"onehot float", tmNode{op: "OneHot", attrs: map[string]*ir.Attr{"axis": in1(0)}, in: []interp.Value{f32(sh(2), 1.7, -1), f32(nil, 3), i64(sh(2), 0, 5)}},
			[]interp.Value{i64(sh(3, 2), 0, 0, 5, 0, 0, 5)}, ""},
		// NonZero of [[1 0][0 2]] → rows [0 1], cols [0 1]
		{"nonzero", tmNode{op: "NonZero", in: []interp.Value{f32(sh(2, 2), 1, 0, 0, 2)}}, []interp.Value{i64(sh(2, 2), 0, 1, 0, 1)}, ""},
		// GatherND batch_dims 1: batch 0 picks [0][1]=1, batch 1 picks [1][0]=2
		{"gathernd batch", tmNode{op: "GatherND", attrs: map[string]*ir.Attr{"batch_dims": in1(1)}, in: []interp.Value{iota32(2, 2), i64(sh(2, 1), 1, 0)}},
			[]interp.Value{f32(sh(2), 1, 2)}, ""},
	})
}

func TestMiscTensorKernels(t *testing.T) {
	tmRunCases(t, []tmCase{
		// Compress without axis flattens: [[1 2][3 4]] with [0 1 1] → [2 3]
		{"compress flat", tmNode{op: "Compress", in: []interp.Value{f32(sh(2, 2), 1, 2, 3, 4), ir.FromSlice(ir.Bool, sh(3), []bool{false, true, true})}},
			[]interp.Value{f32(sh(2), 2, 3)}, ""},
		// ReverseSequence time-major [T=3, B=2]: batch 0 reverses 2 steps, batch 1 all 3
		// x = [[0 1][2 3][4 5]] → col 0: 2 0 4, col 1: 5 3 1
		{"reversesequence", tmNode{op: "ReverseSequence", attrs: map[string]*ir.Attr{"batch_axis": in1(1), "time_axis": in1(0)}, in: []interp.Value{iota32(3, 2), i64(sh(2), 2, 3)}},
			[]interp.Value{f32(sh(3, 2), 2, 5, 0, 3, 4, 1)}, ""},
		// EyeLike 2x3 with k=-1: ones at (1,0)
		{"eyelike k", tmNode{op: "EyeLike", attrs: map[string]*ir.Attr{"k": in1(-1), "dtype": in1(7)}, in: []interp.Value{ir.NewTensor(ir.Float32, 2, 3)}},
			[]interp.Value{i64(sh(2, 3), 0, 0, 0, 1, 0, 0)}, ""},
		// ConstantOfShape with an empty shape input is a scalar
		{"constantofshape scalar", tmNode{op: "ConstantOfShape", attrs: map[string]*ir.Attr{"value": ir.TensorAttr(i32(sh(1), 4))}, in: []interp.Value{i64(sh(0))}},
			[]interp.Value{i32(nil, 4)}, ""},
		{"constant ints", tmNode{op: "Constant", attrs: map[string]*ir.Attr{"value_ints": ints(1, 2)}}, []interp.Value{i64(sh(2), 1, 2)}, ""},
		{"constant string", tmNode{op: "Constant", attrs: map[string]*ir.Attr{"value_string": str("a")}}, []interp.Value{ir.FromSlice(ir.String, nil, []string{"a"})}, ""},
		// Unique, sorted, of [2 1 2 3 1]: values 1 2 3, first indices 1 0 3,
		// inverse 1 0 1 2 0, counts 2 2 1
		{"unique sorted", tmNode{op: "Unique", in: []interp.Value{f32(sh(5), 2, 1, 2, 3, 1)}, nOut: 4},
			[]interp.Value{f32(sh(3), 1, 2, 3), i64(sh(3), 1, 0, 3), i64(sh(5), 1, 0, 1, 2, 0), i64(sh(3), 2, 2, 1)}, ""},
		// not sorted: order of first occurrence 2 1 3
		{"unique unsorted", tmNode{op: "Unique", attrs: map[string]*ir.Attr{"sorted": in1(0)}, in: []interp.Value{f32(sh(5), 2, 1, 2, 3, 1)}, nOut: 4},
			[]interp.Value{f32(sh(3), 2, 1, 3), i64(sh(3), 0, 1, 3), i64(sh(5), 0, 1, 0, 2, 1), i64(sh(3), 2, 2, 1)}, ""},
	})
}

func TestRandomKernelsSeeded(t *testing.T) {
	run := func(seed float32) *ir.Tensor {
		n := tmNode{op: "RandomUniform", attrs: map[string]*ir.Attr{"shape": ints(4, 5), "low": ir.FloatAttr(2), "high": ir.FloatAttr(3), "seed": ir.FloatAttr(seed)}}
		out, err := n.run()
		if err != nil {
			t.Fatal(err)
		}
		return out[0].(*ir.Tensor)
	}
	a, b, c := run(1), run(1), run(2)
	if valueDiff(a, b) != nil {
		t.Error("same seed gave different values")
	}
	if valueDiff(a, c) == nil {
		t.Error("different seeds gave the same values")
	}
	for _, v := range a.Data.([]float32) {
		if v < 2 || v >= 3 {
			t.Errorf("value %v outside [2, 3)", v)
		}
	}
	// Multinomial with one class of finite log-probability always picks it;
	// Bernoulli with p in {0, 1} is deterministic.
	tmRunCases(t, []tmCase{
		{"multinomial", tmNode{op: "Multinomial", attrs: map[string]*ir.Attr{"sample_size": in1(3)}, in: []interp.Value{f32(sh(2, 3), float32(math.Inf(-1)), 0, float32(math.Inf(-1)), 0, float32(math.Inf(-1)), float32(math.Inf(-1)))}},
			[]interp.Value{i32(sh(2, 3), 1, 1, 1, 0, 0, 0)}, ""},
		{"bernoulli", tmNode{op: "Bernoulli", attrs: map[string]*ir.Attr{"dtype": in1(9)}, in: []interp.Value{f32(sh(3), 1, 0, 1)}},
			[]interp.Value{ir.FromSlice(ir.Bool, sh(3), []bool{true, false, true})}, ""},
	})
}

func TestStringKernels(t *testing.T) {
	s := func(shape []int64, v ...string) *ir.Tensor { return ir.FromSlice(ir.String, shape, v) }
	tmRunCases(t, []tmCase{
		// case-insensitive stop word "the", lowercased output; [1, C] keeps rank 2
		{"normalizer 2d", tmNode{op: "StringNormalizer", attrs: map[string]*ir.Attr{"case_change_action": str("LOWER"), "stopwords": {Kind: ir.AttrStrings, Strings: []string{"the"}}}, in: []interp.Value{s(sh(1, 3), "THE", "Cat", "the")}},
			[]interp.Value{s(sh(1, 1), "cat")}, ""},
		// TFIDF with weights: pool unigrams [7, 9] → columns 0, 1, weights 0.5, 2;
		// input 7 7 9 → tf 2, 1 → 1, 2
		{"tfidf weights", tmNode{op: "TfIdfVectorizer", attrs: map[string]*ir.Attr{
			"mode": str("TFIDF"), "min_gram_length": in1(1), "max_gram_length": in1(1), "max_skip_count": in1(0),
			"ngram_counts": ints(0), "ngram_indexes": ints(0, 1), "pool_int64s": ints(7, 9), "weights": ir.FloatsAttr(0.5, 2)},
			in: []interp.Value{i64(sh(3), 7, 7, 9)}},
			[]interp.Value{f32(sh(2), 1, 2)}, ""},
	})
}

// TestTensorOpsNoPanic feeds every kernel of this family odd inputs
// (scalars, empty tensors, strings, out-of-range indices, missing inputs)
// and requires an error or a result, never a kernel panic.
func TestTensorOpsNoPanic(t *testing.T) {
	if testing.Short() {
		t.Skip("slow in -short mode")
	}
	ops := []string{
		"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Shape", "Size", "Identity", "Expand",
		"Transpose", "Concat", "Split", "Slice", "Tile", "Pad", "ReverseSequence", "Compress",
		"Gather", "GatherElements", "GatherND", "Scatter", "ScatterElements", "ScatterND", "OneHot", "NonZero",
		"Constant", "ConstantOfShape", "EyeLike", "Unique",
		"RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike", "Multinomial", "Bernoulli",
		"If", "Loop", "Scan", "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceAt",
		"SequenceErase", "SequenceLength", "SplitToSequence", "ConcatFromSequence", "SequenceMap",
		"Optional", "OptionalHasElement", "OptionalGetElement", "StringNormalizer", "TfIdfVectorizer",
	}
	pool := []interp.Value{
		nil,
		f32(nil, 1),
		f32(sh(0)),
		iota32(2, 3),
		i64(sh(1), -7),
		i64(sh(2), 0, -1),
		i64(nil, 1<<40),
		ir.FromSlice(ir.String, sh(2), []string{"a", ""}),
		ir.FromSlice(ir.Bool, sh(3), []bool{true, false, true}),
		interp.Sequence{ElemType: ir.Float32, Tensors: []*ir.Tensor{}},
	}
	for _, op := range ops {
		for _, opset := range []int64{7, 17} {
			for i := range pool {
				for j := range pool {
					for k := range pool {
						in := []interp.Value{pool[i], pool[j], pool[k]}
						for n := 0; n <= 3; n++ {
							_, err := tmNode{op: op, opset: opset, in: in[:n], nOut: 2}.run()
							if err != nil && strings.Contains(err.Error(), "internal error") {
								t.Errorf("%s opset %d inputs %v: %v", op, opset, in[:n], err)
							}
						}
					}
				}
			}
		}
	}
}
