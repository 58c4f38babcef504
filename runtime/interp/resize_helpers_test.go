package interp_test

import (
	"context"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// resampleNode runs a graph of one node. inputs[i] == nil omits input i;
// wantOut[i] says whether output i is requested (nil: all nOut outputs).
// It returns the requested outputs in order (nil for the others).
func resampleNode(t testing.TB, op string, opset int64, attrs map[string]*ir.Attr, inputs []*ir.Tensor, nOut int, wantOut []bool) ([]*ir.Tensor, error) {
	t.Helper()
	b := ir.NewBuilder(op)
	b.Graph().Opsets[""] = opset
	vals := make([]*ir.Value, len(inputs))
	feed := map[string]interp.Value{}
	for i, x := range inputs {
		if x == nil {
			continue
		}
		vals[i] = b.Input("in", ir.TensorType(x.DType, ir.ShapeOf(x.Shape...)))
		feed[vals[i].Name] = x
	}
	outs := b.Op(op, vals, attrs, nOut)
	n := outs[0].Def
	for i := range outs {
		if wantOut != nil && !wantOut[i] {
			n.Outputs[i] = nil
			continue
		}
		b.Output(outs[i])
	}
	res, err := interp.Run(context.Background(), b.Graph(), feed)
	if err != nil {
		return nil, err
	}
	got := make([]*ir.Tensor, nOut)
	for i, o := range outs {
		if n.Outputs[i] == nil {
			continue
		}
		tt, ok := res[o.Name].(*ir.Tensor)
		if !ok {
			t.Fatalf("output %d: got %T", i, res[o.Name])
		}
		got[i] = tt
	}
	return got, nil
}

// resampleExpect compares got with the expected values within tol
// (absolute and relative).
func resampleExpect(t *testing.T, what string, got *ir.Tensor, shape []int64, want []float64, tol float64) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: missing output", what)
	}
	exp := ir.NewTensor(ir.Float64, shape...)
	copy(exp.Data.([]float64), want)
	g := got
	if got.DType != ir.Float64 {
		g = ir.NewTensor(ir.Float64, got.Shape...)
		for i := range g.Data.([]float64) {
			g.Data.([]float64)[i] = got.Float64At(i)
		}
	}
	if msg := tensorDiff(g, exp, tol, tol); msg != "" {
		t.Errorf("%s: %s", what, msg)
	}
}
