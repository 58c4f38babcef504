package interp

import (
	"math"
	"testing"

	"github.com/optc-dev/optc/ir"
)

func TestReduce(t *testing.T) {
	x := laF32(laShape(2, 3), 1, 2, 3, 4, 5, 6)
	axes := func(a ...int64) map[string]*ir.Attr { return map[string]*ir.Attr{"axes": ir.IntsAttr(a...)} }
	noKeep := func(a ...int64) map[string]*ir.Attr {
		m := axes(a...)
		m["keepdims"] = ir.IntAttr(0)
		return m
	}
	inf := math.Inf(1)
	for _, tc := range []struct {
		op    string
		x     *ir.Tensor
		attrs map[string]*ir.Attr
		shape []int64
		want  []float64
	}{
		{"ReduceSum", x, axes(1), laShape(2, 1), []float64{6, 15}},
		{"ReduceSum", x, nil, laShape(1, 1), []float64{21}},
		{"ReduceMean", x, nil, laShape(1, 1), []float64{3.5}},
		{"ReduceMean", x, noKeep(0), laShape(3), []float64{2.5, 3.5, 4.5}},
		{"ReduceMax", x, noKeep(0), laShape(3), []float64{4, 5, 6}},
		{"ReduceMin", x, axes(-1), laShape(2, 1), []float64{1, 4}},
		{"ReduceProd", x, noKeep(1), laShape(2), []float64{6, 120}},
		{"ReduceL1", laF32(laShape(2, 2), -1, 2, 3, -4), noKeep(0, 1), laShape(), []float64{10}},
		{"ReduceL2", laF32(laShape(1, 2), 3, -4), noKeep(1), laShape(1), []float64{5}},
		{"ReduceLogSum", laF32(laShape(2), 1, float32(math.E-1)), nil, laShape(1), []float64{1}},
		{"ReduceLogSumExp", laF32(laShape(2), 0, 0), nil, laShape(1), []float64{math.Ln2}},
		// Stable for large inputs: 1000 + log 2, not +inf.
		{"ReduceLogSumExp", laF64(laShape(2), 1000, 1000), nil, laShape(1), []float64{1000 + math.Ln2}},
		{"ReduceSumSquare", x, noKeep(1), laShape(2), []float64{14, 77}},
		// Integer dtypes are kept; ReduceMean divides as integers.
		{"ReduceSum", laI32(laShape(2, 2), 1, 2, 3, 4), noKeep(0), laShape(2), []float64{4, 6}},
		{"ReduceMean", laI64(laShape(2), 1, 2), nil, laShape(1), []float64{1}},
		{"ReduceMax", laU8(laShape(3), 7, 250, 3), nil, laShape(1), []float64{250}},
		// Unsigned sums wrap in the narrow type; uint64 keeps values above 2^63.
		{"ReduceSum", ir.FromSlice(ir.Uint32, laShape(2), []uint32{math.MaxUint32, 2}), nil, laShape(1), []float64{1}},
		{"ReduceMax", ir.FromSlice(ir.Uint64, laShape(2), []uint64{math.MaxUint64, 1}), nil, laShape(1), []float64{math.MaxUint64}},
		// Non-adjacent axes (gathered groups): x[a,b,c] = 6a+2b+c, the sum
		// over a and c is 8b+14.
		{"ReduceSum", ir.FromSlice(ir.Float32, laShape(2, 3, 2), []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}), noKeep(0, 2), laShape(3), []float64{14, 22, 30}},
		// Reductions over an empty set give the identity.
		{"ReduceSum", ir.NewTensor(ir.Float32, 2, 0), noKeep(1), laShape(2), []float64{0, 0}},
		{"ReduceProd", ir.NewTensor(ir.Float32, 2, 0), noKeep(1), laShape(2), []float64{1, 1}},
		{"ReduceMax", ir.NewTensor(ir.Float32, 2, 0), noKeep(1), laShape(2), []float64{-inf, -inf}},
		{"ReduceMin", ir.NewTensor(ir.Float32, 2, 0), noKeep(1), laShape(2), []float64{inf, inf}},
		{"ReduceMean", ir.NewTensor(ir.Float32, 1, 0), noKeep(1), laShape(1), []float64{math.NaN()}},
		{"ReduceLogSumExp", ir.NewTensor(ir.Float32, 1, 0), noKeep(1), laShape(1), []float64{-inf}},
		{"ReduceL2", ir.NewTensor(ir.Float32, 1, 0), noKeep(1), laShape(1), []float64{0}},
		// NaN propagates through max and min.
		{"ReduceMax", laF32(laShape(3), 1, float32(math.NaN()), 3), nil, laShape(1), []float64{math.NaN()}},
	} {
		opset := int64(11) // axes as an attribute
		y := laMust(t, opset, tc.op, tc.attrs, 1, tc.x)[0]
		laCheck(t, tc.op, y, tc.x.DType, tc.shape, tc.want, 1e-6)
	}
}

func TestReduceSumAxesInput(t *testing.T) {
	x := laF32(laShape(2, 3), 1, 2, 3, 4, 5, 6)
	y := laMust(t, 13, "ReduceSum", map[string]*ir.Attr{"keepdims": ir.IntAttr(0)}, 1, x, laI64(laShape(1), -2))[0]
	laCheck(t, "axes input", y, ir.Float32, laShape(3), []float64{5, 7, 9}, 0)
	// Empty axes: reduce everything, or nothing with noop_with_empty_axes.
	empty := laI64(laShape(0))
	y = laMust(t, 13, "ReduceSum", nil, 1, x, empty)[0]
	laCheck(t, "empty axes", y, ir.Float32, laShape(1, 1), []float64{21}, 0)
	y = laMust(t, 13, "ReduceSum", nil, 1, x, nil)[0]
	laCheck(t, "absent axes", y, ir.Float32, laShape(1, 1), []float64{21}, 0)
	y = laMust(t, 13, "ReduceSum", map[string]*ir.Attr{"noop_with_empty_axes": ir.IntAttr(1)}, 1, x, empty)[0]
	laCheck(t, "noop", y, ir.Float32, laShape(2, 3), []float64{1, 2, 3, 4, 5, 6}, 0)
	if _, err := laRunOp(13, "ReduceSum", nil, 1, x, laI64(laShape(2), 1, 1)); err == nil {
		t.Fatal("a repeated axis must be rejected")
	}
	if _, err := laRunOp(13, "ReduceSum", nil, 1, x, laI64(laShape(1), 2)); err == nil {
		t.Fatal("an out-of-range axis must be rejected")
	}
}

func TestArgMaxMin(t *testing.T) {
	x := laF32(laShape(2, 3), 1, 3, 3, 5, 2, 5)
	attrs := func(kv ...int64) map[string]*ir.Attr {
		m := map[string]*ir.Attr{}
		names := []string{"axis", "keepdims", "select_last_index"}
		for i, v := range kv {
			m[names[i]] = ir.IntAttr(v)
		}
		return m
	}
	for _, tc := range []struct {
		op    string
		attrs map[string]*ir.Attr
		shape []int64
		want  []float64
	}{
		{"ArgMax", attrs(1, 0), laShape(2), []float64{1, 0}},       // first of ties
		{"ArgMax", attrs(1, 0, 1), laShape(2), []float64{2, 2}},    // last of ties
		{"ArgMax", attrs(-1, 1), laShape(2, 1), []float64{1, 0}},   // negative axis
		{"ArgMin", nil, laShape(1, 3), []float64{0, 1, 0}},         // default axis 0, keepdims
		{"ArgMin", attrs(1, 1, 1), laShape(2, 1), []float64{0, 1}}, // 2 is unique in row 1
		{"ArgMin", attrs(0, 0, 1), laShape(3), []float64{0, 1, 0}}, // no ties along axis 0
	} {
		laCheck(t, tc.op, laMust(t, 13, tc.op, tc.attrs, 1, x)[0], ir.Int64, tc.shape, tc.want, 0)
	}
	y := laMust(t, 13, "ArgMax", nil, 1, laF32(laShape(3), 1, float32(math.NaN()), 3))[0]
	laCheck(t, "NaN", y, ir.Int64, laShape(1), []float64{1}, 0)
	y = laMust(t, 13, "ArgMin", nil, 1, laI32(laShape(3), 4, -7, -7))[0]
	laCheck(t, "int32", y, ir.Int64, laShape(1), []float64{1}, 0)
}

func TestCumSum(t *testing.T) {
	x := laF64(laShape(4), 1, 2, 3, 4)
	ax := laI32(nil, 0)
	flags := func(ex, rev int64) map[string]*ir.Attr {
		return map[string]*ir.Attr{"exclusive": ir.IntAttr(ex), "reverse": ir.IntAttr(rev)}
	}
	for _, tc := range []struct {
		ex, rev int64
		want    []float64
	}{
		{0, 0, []float64{1, 3, 6, 10}},
		{1, 0, []float64{0, 1, 3, 6}},
		{0, 1, []float64{10, 9, 7, 4}},
		{1, 1, []float64{9, 7, 4, 0}},
	} {
		laCheck(t, "1d", laMust(t, 14, "CumSum", flags(tc.ex, tc.rev), 1, x, ax)[0], ir.Float64, laShape(4), tc.want, 0)
	}
	m := laI64(laShape(2, 3), 1, 2, 3, 4, 5, 6)
	laCheck(t, "axis 0", laMust(t, 14, "CumSum", nil, 1, m, laI64(nil, 0))[0], ir.Int64, laShape(2, 3), []float64{1, 2, 3, 5, 7, 9}, 0)
	laCheck(t, "axis -1", laMust(t, 14, "CumSum", nil, 1, m, laI64(laShape(1), -1))[0], ir.Int64, laShape(2, 3), []float64{1, 3, 6, 4, 9, 15}, 0)
}

func TestTopK(t *testing.T) {
	x := laF32(laShape(2, 4), 1, 3, 3, 2, 4, -1, 0, 4)
	k := laI64(laShape(1), 2)
	out := laMust(t, 11, "TopK", nil, 2, x, k)
	laCheck(t, "values", out[0], ir.Float32, laShape(2, 2), []float64{3, 3, 4, 4}, 0)
	laCheck(t, "indices", out[1], ir.Int64, laShape(2, 2), []float64{1, 2, 0, 3}, 0) // ties: lower index first
	out = laMust(t, 11, "TopK", map[string]*ir.Attr{"largest": ir.IntAttr(0)}, 2, x, k)
	laCheck(t, "smallest", out[0], ir.Float32, laShape(2, 2), []float64{1, 2, -1, 0}, 0)
	laCheck(t, "smallest idx", out[1], ir.Int64, laShape(2, 2), []float64{0, 3, 1, 2}, 0)
	out = laMust(t, 11, "TopK", map[string]*ir.Attr{"axis": ir.IntAttr(0)}, 2, x, laI64(laShape(1), 1))
	laCheck(t, "axis 0", out[0], ir.Float32, laShape(1, 4), []float64{4, 3, 3, 4}, 0)
	laCheck(t, "axis 0 idx", out[1], ir.Int64, laShape(1, 4), []float64{1, 0, 0, 1}, 0)
	// NaN ranks above every number.
	out = laMust(t, 11, "TopK", nil, 2, laF32(laShape(3), 1, float32(math.NaN()), 2), laI64(laShape(1), 2))
	laCheck(t, "NaN", out[1], ir.Int64, laShape(2), []float64{1, 2}, 0)
	// Opset 1: k is an attribute.
	out = laMust(t, 1, "TopK", map[string]*ir.Attr{"k": ir.IntAttr(1)}, 2, x)
	laCheck(t, "opset 1", out[0], ir.Float32, laShape(2, 1), []float64{3, 4}, 0)
	if _, err := laRunOp(11, "TopK", nil, 2, x, laI64(laShape(1), 5)); err == nil {
		t.Fatal("K larger than the axis must be rejected")
	}
}

func TestRange(t *testing.T) {
	for _, tc := range []struct {
		start, limit, delta *ir.Tensor
		want                []float64
	}{
		{laF32(nil, 0), laF32(nil, 5), laF32(nil, 2), []float64{0, 2, 4}},
		{laF32(nil, 1), laF32(nil, 2), laF32(nil, 0.25), []float64{1, 1.25, 1.5, 1.75}},
		{laI32(nil, 10), laI32(nil, 4), laI32(nil, -3), []float64{10, 7}},
		{laI64(nil, 5), laI64(nil, 0), laI64(nil, 1), []float64{}},
	} {
		y := laMust(t, 11, "Range", nil, 1, tc.start, tc.limit, tc.delta)[0]
		laCheck(t, "range", y, tc.start.DType, laShape(int64(len(tc.want))), tc.want, 0)
	}
	if _, err := laRunOp(11, "Range", nil, 1, laI64(nil, 0), laI64(nil, 5), laI64(nil, 0)); err == nil {
		t.Fatal("delta 0 must be rejected")
	}
}
