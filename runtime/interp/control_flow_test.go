package interp_test

import (
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// Hand-checked cases of If, Loop and Scan beyond the conformance tests:
// zero-trip loops, scan outputs, outer-scope reads, Scan axes and
// directions, the opset 8 batch form with sequence_lens.

// cfBody builds a subgraph with the given input types; fn adds its nodes
// and returns its outputs.
func cfBody(name string, ins []ir.Type, fn func(b *ir.Builder, in []*ir.Value) []*ir.Value) *ir.Graph {
	b := ir.NewBuilder(name)
	b.Graph().Opsets = nil
	var vs []*ir.Value
	for i, t := range ins {
		vs = append(vs, b.Input("x"+string(rune('a'+i)), t))
	}
	b.Output(fn(b, vs)...)
	return b.Graph()
}

var (
	tF32  = ir.TensorType(ir.Float32, nil)
	tI64  = ir.TensorType(ir.Int64, nil)
	tBool = ir.TensorType(ir.Bool, nil)
)

func TestLoopKernel(t *testing.T) {
	// body(i, cond, acc) = (cond, acc + i, scan: acc*1.0 as f32 of i)
	body := cfBody("body", []ir.Type{tI64, tBool, tI64}, func(b *ir.Builder, in []*ir.Value) []*ir.Value {
		sum := b.Op1("Add", nil, in[2], in[0])
		return []*ir.Value{in[1], sum, b.Op1("Identity", nil, in[0])}
	})
	body.Outputs[2].Type = ir.TensorType(ir.Int64, nil)
	loop := func(m, cond interp.Value) tmNode {
		return tmNode{op: "Loop", attrs: map[string]*ir.Attr{"body": ir.GraphAttr(body)}, in: []interp.Value{m, cond, i64(nil, 10)}, nOut: 2}
	}
	yes := ir.FromSlice(ir.Bool, nil, []bool{true})
	no := ir.FromSlice(ir.Bool, nil, []bool{false})
	tmRunCases(t, []tmCase{
		// 4 trips: acc = 10+0+1+2+3 = 16, scan = [0 1 2 3]
		{"four trips", loop(i64(nil, 4), yes), []interp.Value{i64(nil, 16), i64(sh(4), 0, 1, 2, 3)}, ""},
		// cond input omitted: same as true
		{"no cond", loop(i64(nil, 2), nil), []interp.Value{i64(nil, 11), i64(sh(2), 0, 1)}, ""},
		// cond false at entry: no trip, the scan output is empty [0]
		{"zero trips", loop(i64(nil, 4), no), []interp.Value{i64(nil, 10), i64(sh(0))}, ""},
	})

	// A body that stops itself and reads an outer-scope value: cond_out =
	// i < limit (limit = 2, a constant of the outer graph), acc += 1.
	b := ir.NewBuilder("outer")
	limit := b.Const("limit", i64(nil, 2))
	stop := cfBody("stop", []ir.Type{tI64, tBool, tI64}, func(bb *ir.Builder, in []*ir.Value) []*ir.Value {
		one := bb.Const("one", i64(nil, 1))
		return []*ir.Value{bb.Op1("Less", nil, in[0], limit), bb.Op1("Add", nil, in[2], one)}
	})
	init := b.Const("init", i64(nil, 0))
	out := b.Op("Loop", []*ir.Value{nil, nil, init}, map[string]*ir.Attr{"body": ir.GraphAttr(stop)}, 1)
	b.Output(out...)
	res, err := interp.Run(t.Context(), b.Graph(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Trips i=0 (0<2), i=1 (1<2), i=2 (2<2 false, but the trip ran): acc = 3.
	if err := valueDiff(res[out[0].Name], i64(nil, 3)); err != nil {
		t.Error(err)
	}
}

func TestIfKernel(t *testing.T) {
	then := cfBody("then", nil, func(b *ir.Builder, _ []*ir.Value) []*ir.Value {
		return []*ir.Value{b.Const("a", f32(sh(1), 1))}
	})
	els := cfBody("else", nil, func(b *ir.Builder, _ []*ir.Value) []*ir.Value {
		return []*ir.Value{b.Const("b", f32(sh(2), 2, 3))}
	})
	node := func(c interp.Value) tmNode {
		return tmNode{op: "If", attrs: map[string]*ir.Attr{"then_branch": ir.GraphAttr(then), "else_branch": ir.GraphAttr(els)}, in: []interp.Value{c}}
	}
	tmRunCases(t, []tmCase{
		{"then", node(ir.FromSlice(ir.Bool, sh(1), []bool{true})), []interp.Value{f32(sh(1), 1)}, ""},
		{"else", node(ir.FromSlice(ir.Bool, nil, []bool{false})), []interp.Value{f32(sh(2), 2, 3)}, ""},
		{"bad cond", node(ir.FromSlice(ir.Bool, sh(2), []bool{false, true})), nil, "one boolean"},
	})
}

func TestScanKernel(t *testing.T) {
	// body(sum, x) = (sum + x, sum + x): a running sum of rows.
	body := cfBody("body", []ir.Type{tF32, tF32}, func(b *ir.Builder, in []*ir.Value) []*ir.Value {
		s := b.Op1("Add", nil, in[0], in[1])
		return []*ir.Value{s, b.Op1("Identity", nil, s)}
	})
	x := iota32(2, 3) // [[0 1 2][3 4 5]]
	zero2 := f32(sh(2), 0, 0)
	zero3 := f32(sh(3), 0, 0, 0)
	scan := func(attrs map[string]*ir.Attr, st, xs interp.Value) tmNode {
		attrs["body"] = ir.GraphAttr(body)
		attrs["num_scan_inputs"] = in1(1)
		return tmNode{op: "Scan", attrs: attrs, in: []interp.Value{st, xs}, nOut: 2}
	}
	tmRunCases(t, []tmCase{
		// along axis 0: sums [0 1 2], [3 5 7]
		{"axis 0", scan(map[string]*ir.Attr{}, zero3, x), []interp.Value{f32(sh(3), 3, 5, 7), f32(sh(2, 3), 0, 1, 2, 3, 5, 7)}, ""},
		// along axis 1 (columns [0 3], [1 4], [2 5]): sums [0 3] [1 7] [3 12];
		// stacked on output axis 1 → [[0 1 3][3 7 12]]
		{"axis 1 out axis 1", scan(map[string]*ir.Attr{"scan_input_axes": ints(1), "scan_output_axes": ints(-1)}, zero2, x),
			[]interp.Value{f32(sh(2), 3, 12), f32(sh(2, 3), 0, 1, 3, 3, 7, 12)}, ""},
		// reverse input: rows [3 4 5] then [0 1 2]: sums [3 4 5], [3 5 7];
		// reverse output puts the last step first
		{"reverse", scan(map[string]*ir.Attr{"scan_input_directions": ints(1), "scan_output_directions": ints(1)}, zero3, x),
			[]interp.Value{f32(sh(3), 3, 5, 7), f32(sh(2, 3), 3, 5, 7, 3, 4, 5)}, ""},
	})

	// Opset 8: batch of 2, sequence length 2 with sequence_lens [2, 1]; the
	// states are [2] per batch entry, x is [batch=2, seq=2, 2].
	xb := iota32(2, 2, 2) // batch 0: [0 1],[2 3]; batch 1: [4 5],[6 7]
	n8 := tmNode{op: "Scan", opset: 8, attrs: map[string]*ir.Attr{"body": ir.GraphAttr(body), "num_scan_inputs": in1(1)},
		in: []interp.Value{i64(sh(2), 2, 1), f32(sh(2, 2), 0, 0, 0, 0), xb}, nOut: 2}
	tmRunCases(t, []tmCase{
		// batch 0: sums [0 1], [2 4]; batch 1 stops after one step: [4 5],
		// its second scan row padded with zeros
		{"opset 8 lens", n8, []interp.Value{f32(sh(2, 2), 2, 4, 4, 5), f32(sh(2, 2, 2), 0, 1, 2, 4, 4, 5, 0, 0)}, ""},
	})
}
