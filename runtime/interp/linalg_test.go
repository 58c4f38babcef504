package interp

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
)

// Shared test helpers of the linalg/reduce/quant/loss/signal family.

// laRunOp runs a one-node graph of op at the given default-domain opset.
// Inputs are constants; a nil input is an omitted optional input.
func laRunOp(opset int64, op string, attrs map[string]*ir.Attr, nOut int, inputs ...*ir.Tensor) ([]*ir.Tensor, error) {
	b := ir.NewBuilder("t")
	b.Graph().Opsets[""] = opset
	ins := make([]*ir.Value, len(inputs))
	for i, x := range inputs {
		if x != nil {
			ins[i] = b.Const(fmt.Sprintf("in%d", i), x)
		}
	}
	outs := b.Op(op, ins, attrs, nOut)
	b.Output(outs...)
	res, err := Run(context.Background(), b.Graph(), nil)
	if err != nil {
		return nil, err
	}
	ts := make([]*ir.Tensor, nOut)
	for i, o := range outs {
		t, ok := res[o.Name].(*ir.Tensor)
		if !ok {
			return nil, fmt.Errorf("output %d: got %T", i, res[o.Name])
		}
		ts[i] = t
	}
	return ts, nil
}

// laMust is laRunOp failing the test on error.
func laMust(t *testing.T, opset int64, op string, attrs map[string]*ir.Attr, nOut int, inputs ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	ts, err := laRunOp(opset, op, attrs, nOut, inputs...)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func laF32(shape []int64, v ...float32) *ir.Tensor { return ir.FromSlice(ir.Float32, shape, v) }
func laF64(shape []int64, v ...float64) *ir.Tensor { return ir.FromSlice(ir.Float64, shape, v) }
func laI64(shape []int64, v ...int64) *ir.Tensor   { return ir.FromSlice(ir.Int64, shape, v) }
func laI32(shape []int64, v ...int32) *ir.Tensor   { return ir.FromSlice(ir.Int32, shape, v) }
func laU8(shape []int64, v ...uint8) *ir.Tensor    { return ir.FromSlice(ir.Uint8, shape, v) }
func laI8(shape []int64, v ...int8) *ir.Tensor     { return ir.FromSlice(ir.Int8, shape, v) }
func laShape(d ...int64) []int64                   { return append([]int64{}, d...) }

// laCheck compares a tensor with an expected dtype, shape and values
// (absolute tolerance tol plus relative tol; NaN equals NaN).
func laCheck(t *testing.T, what string, got *ir.Tensor, dt ir.DType, shape []int64, want []float64, tol float64) {
	t.Helper()
	if got.DType != dt {
		t.Fatalf("%s: dtype %s, want %s", what, got.DType, dt)
	}
	if fmt.Sprint(got.Shape) != fmt.Sprint(shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, shape)
	}
	if got.Len() != len(want) {
		t.Fatalf("%s: %d values, want %d", what, got.Len(), len(want))
	}
	for i, w := range want {
		g := got.Float64At(i)
		if math.IsNaN(w) && math.IsNaN(g) || g == w {
			continue
		}
		if math.Abs(g-w) > tol*(1+math.Abs(w)) {
			t.Fatalf("%s: element %d = %v, want %v (all: %v)", what, i, g, w, laValues(got))
		}
	}
}

func laValues(t *ir.Tensor) []float64 {
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.Float64At(i)
	}
	return out
}

// laRefMatMul is numpy.matmul by its definition, element by element with
// full broadcast index arithmetic: the independent reference for the
// blocked kernel. Rank >= 2 operands only.
func laRefMatMul(a, b *ir.Tensor) ([]int64, []float64) {
	ar, br := a.Rank(), b.Rank()
	m, k, n := a.Shape[ar-2], a.Shape[ar-1], b.Shape[br-1]
	rank := max(ar, br)
	batch := make([]int64, rank-2)
	dimOf := func(s []int64, i int) int64 { // batch dim i aligned right
		j := i - (rank - len(s))
		if j < 0 {
			return 1
		}
		return s[j]
	}
	for i := range batch {
		batch[i] = max(dimOf(a.Shape, i), dimOf(b.Shape, i))
	}
	shape := append(append([]int64{}, batch...), m, n)
	out := make([]float64, ir.NumElements(shape))
	idx := make([]int64, rank)
	flat := func(s []int64, bi []int64, r, c int64) int {
		off, mul := int64(0), int64(1)
		off += c * mul
		mul *= s[len(s)-1]
		off += r * mul
		mul *= s[len(s)-2]
		for i := len(s) - 3; i >= 0; i-- {
			x := bi[i+(rank-len(s))]
			if s[i] == 1 {
				x = 0
			}
			off += x * mul
			mul *= s[i]
		}
		return int(off)
	}
	for o := range out {
		rem := int64(o)
		for i := rank - 1; i >= 0; i-- {
			idx[i] = rem % shape[i]
			rem /= shape[i]
		}
		var s float64
		for p := int64(0); p < k; p++ {
			s += a.Float64At(flat(a.Shape, idx, idx[rank-2], p)) * b.Float64At(flat(b.Shape, idx, p, idx[rank-1]))
		}
		out[o] = s
	}
	return shape, out
}

func laRandF32(rng *rand.Rand, shape ...int64) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.Data.([]float32) {
		t.Data.([]float32)[i] = float32(rng.Intn(21) - 10)
	}
	return t
}

func TestMatMul(t *testing.T) {
	// Hand-computed: [[1,2,3],[4,5,6]]·[[7,8],[9,10],[11,12]].
	y := laMust(t, 13, "MatMul", nil, 1, laF32(laShape(2, 3), 1, 2, 3, 4, 5, 6), laF32(laShape(3, 2), 7, 8, 9, 10, 11, 12))[0]
	laCheck(t, "2d", y, ir.Float32, laShape(2, 2), []float64{58, 64, 139, 154}, 0)

	// 1-D operands: the vector dim is removed from the result.
	v := laF32(laShape(3), 1, 0, -1)
	m := laF32(laShape(3, 2), 1, 2, 3, 4, 5, 6)
	laCheck(t, "vec·mat", laMust(t, 13, "MatMul", nil, 1, v, m)[0], ir.Float32, laShape(2), []float64{-4, -4}, 0)
	laCheck(t, "mat·vec", laMust(t, 13, "MatMul", nil, 1, laF32(laShape(2, 3), 1, 2, 3, 4, 5, 6), v)[0], ir.Float32, laShape(2), []float64{-2, -2}, 0)
	laCheck(t, "vec·vec", laMust(t, 13, "MatMul", nil, 1, v, v)[0], ir.Float32, laShape(), []float64{2}, 0)

	// Integer types keep their dtype.
	yi := laMust(t, 13, "MatMul", nil, 1, laI32(laShape(1, 2), 3, -4), laI32(laShape(2, 1), 5, 6))[0]
	laCheck(t, "int32", yi, ir.Int32, laShape(1, 1), []float64{-9}, 0)

	// Batched broadcasting against the definition.
	rng := rand.New(rand.NewSource(1))
	for _, tc := range []struct{ a, b []int64 }{
		{laShape(2, 1, 3, 4), laShape(5, 4, 2)},
		{laShape(3, 4), laShape(2, 4, 5)},
		{laShape(2, 3, 4), laShape(4, 5)},
		{laShape(1, 2, 2, 3), laShape(3, 1, 3, 2)},
	} {
		a, b := laRandF32(rng, tc.a...), laRandF32(rng, tc.b...)
		shape, want := laRefMatMul(a, b)
		laCheck(t, fmt.Sprint(tc.a, tc.b), laMust(t, 13, "MatMul", nil, 1, a, b)[0], ir.Float32, shape, want, 0)
	}

	// Errors name the node.
	if _, err := laRunOp(13, "MatMul", nil, 1, laF32(laShape(2, 3), 1, 2, 3, 4, 5, 6), laF32(laShape(2, 2), 1, 2, 3, 4)); err == nil || !strings.Contains(err.Error(), "MatMul") {
		t.Fatalf("inner-dim mismatch: err = %v", err)
	}
}

func TestMatMulFloat16(t *testing.T) {
	h := func(v ...float32) *ir.Tensor {
		d := make([]uint16, len(v))
		for i, x := range v {
			d[i] = ir.F32ToF16(x)
		}
		return ir.FromSlice(ir.Float16, laShape(2, 2), d)
	}
	y := laMust(t, 13, "MatMul", nil, 1, h(1, 2, 3, 4), h(0.5, 0, 0, 0.25))[0]
	laCheck(t, "f16", y, ir.Float16, laShape(2, 2), []float64{0.5, 0.5, 1.5, 1}, 0)
}

func TestGemm(t *testing.T) {
	a := laF32(laShape(2, 3), 1, 2, 3, 4, 5, 6)  // A
	at := laF32(laShape(3, 2), 1, 4, 2, 5, 3, 6) // Aᵀ stored
	b := laF32(laShape(3, 2), 1, 0, 0, 1, 1, 1)  // B
	bt := laF32(laShape(2, 3), 1, 0, 1, 0, 1, 1) // Bᵀ stored
	// A·B = [[1+3, 2+3], [4+6, 5+6]] = [[4,5],[10,11]].
	ab := []float64{4, 5, 10, 11}
	for _, tc := range []struct {
		name  string
		a, b  *ir.Tensor
		c     *ir.Tensor
		attrs map[string]*ir.Attr
		want  []float64
	}{
		{"plain", a, b, nil, nil, ab},
		{"transA", at, b, nil, map[string]*ir.Attr{"transA": ir.IntAttr(1)}, ab},
		{"transB", a, bt, nil, map[string]*ir.Attr{"transB": ir.IntAttr(1)}, ab},
		{"both", at, bt, nil, map[string]*ir.Attr{"transA": ir.IntAttr(1), "transB": ir.IntAttr(1)}, ab},
		{"scalar C", a, b, laF32(nil, 1), nil, []float64{5, 6, 11, 12}},
		{"row C", a, b, laF32(laShape(2), 1, 2), nil, []float64{5, 7, 11, 13}},
		{"column C", a, b, laF32(laShape(2, 1), 1, 2), nil, []float64{5, 6, 12, 13}},
		// 0.5·AB + 2·C with C = [[1,1],[1,1]].
		{"alpha beta", a, b, laF32(laShape(2, 2), 1, 1, 1, 1), map[string]*ir.Attr{"alpha": ir.FloatAttr(0.5), "beta": ir.FloatAttr(2)}, []float64{4, 4.5, 7, 7.5}},
	} {
		y := laMust(t, 13, "Gemm", tc.attrs, 1, tc.a, tc.b, tc.c)[0]
		laCheck(t, tc.name, y, ir.Float32, laShape(2, 2), tc.want, 0)
	}
	if _, err := laRunOp(13, "Gemm", nil, 1, a, b, laF32(laShape(3), 1, 2, 3)); err == nil {
		t.Fatal("a C that does not broadcast must be rejected")
	}
}

func TestMatMulInteger(t *testing.T) {
	// A - [1, 2] per row: [[2,3],[2,1]] - [[1],[2]] = [[1,2],[0,-1]];
	// B - 1 = [[0,1],[2,-1]]; product [[4,-1],[-2,1]].
	a := laU8(laShape(2, 2), 2, 3, 2, 1)
	b := laU8(laShape(2, 2), 1, 2, 3, 0)
	y := laMust(t, 10, "MatMulInteger", nil, 1, a, b, laU8(laShape(2), 1, 2), laU8(nil, 1))[0]
	laCheck(t, "per-row zp", y, ir.Int32, laShape(2, 2), []float64{4, -1, -2, 1}, 0)
	// No zero points, int8 × uint8.
	y = laMust(t, 10, "MatMulInteger", nil, 1, laI8(laShape(1, 2), -128, 127), laU8(laShape(2, 1), 255, 255))[0]
	laCheck(t, "int8·uint8", y, ir.Int32, laShape(1, 1), []float64{-255}, 0)
}

func TestQLinearMatMul(t *testing.T) {
	// The 2-D example of ONNX's qlinearmatmul.py (expected values from
	// the ONNX operator documentation).
	f := func(v float32) *ir.Tensor { return laF32(laShape(1), v) }
	u := func(v uint8) *ir.Tensor { return laU8(laShape(1), v) }
	a := laU8(laShape(2, 4), 208, 236, 0, 238, 3, 214, 255, 29)
	b := laU8(laShape(4, 3), 152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247)
	y := laMust(t, 10, "QLinearMatMul", nil, 1, a, f(0.0066), u(113), b, f(0.00705), u(114), f(0.0107), u(118))[0]
	laCheck(t, "2d", y, ir.Uint8, laShape(2, 3), []float64{168, 115, 255, 1, 66, 151}, 0)
	// int8 output saturates at 127: (20·10)·1·1/1 + 0 = 200.
	y = laMust(t, 10, "QLinearMatMul", nil, 1, laI8(laShape(1, 1), 20), f(1), laI8(laShape(1), 0),
		laI8(laShape(1, 1), 10), f(1), laI8(laShape(1), 0), f(1), laI8(laShape(1), 0))[0]
	laCheck(t, "saturate", y, ir.Int8, laShape(1, 1), []float64{127}, 0)
}

func TestDet(t *testing.T) {
	// det [[1,2],[3,4]] = -2; det [[0,1,2],[1,0,3],[4,-3,8]] = -2 by
	// cofactor expansion along the first row (needs pivoting: a00 = 0);
	// a singular matrix gives 0.
	y := laMust(t, 11, "Det", nil, 1, laF32(laShape(2, 2), 1, 2, 3, 4))[0]
	laCheck(t, "2x2", y, ir.Float32, laShape(), []float64{-2}, 1e-6)
	y = laMust(t, 11, "Det", nil, 1, laF64(laShape(2, 3, 3), 0, 1, 2, 1, 0, 3, 4, -3, 8, 1, 2, 3, 2, 4, 6, 0, 1, 1))[0]
	laCheck(t, "batched 3x3", y, ir.Float64, laShape(2), []float64{-2, 0}, 1e-12)
	if _, err := laRunOp(11, "Det", nil, 1, laF32(laShape(2, 3), 1, 2, 3, 4, 5, 6)); err == nil {
		t.Fatal("non-square input must be rejected")
	}
}

func TestTrilu(t *testing.T) {
	x := laI64(laShape(3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9)
	k := func(v int64) *ir.Tensor { return laI64(nil, v) }
	up := map[string]*ir.Attr{"upper": ir.IntAttr(1)}
	lo := map[string]*ir.Attr{"upper": ir.IntAttr(0)}
	for _, tc := range []struct {
		name  string
		attrs map[string]*ir.Attr
		k     *ir.Tensor
		want  []float64
	}{
		{"triu", nil, nil, []float64{1, 2, 3, 0, 5, 6, 0, 0, 9}},
		{"triu k=1", up, k(1), []float64{0, 2, 3, 0, 0, 6, 0, 0, 0}},
		{"triu k=-1", up, k(-1), []float64{1, 2, 3, 4, 5, 6, 0, 8, 9}},
		{"tril", lo, nil, []float64{1, 0, 0, 4, 5, 0, 7, 8, 9}},
		{"tril k=-1", lo, k(-1), []float64{0, 0, 0, 4, 0, 0, 7, 8, 0}},
		{"tril k=5", lo, k(5), []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
	} {
		laCheck(t, tc.name, laMust(t, 14, "Trilu", tc.attrs, 1, x, tc.k)[0], ir.Int64, laShape(3, 3), tc.want, 0)
	}
	s := ir.FromSlice(ir.String, laShape(2, 2), []string{"a", "b", "c", "d"})
	got := laMust(t, 14, "Trilu", nil, 1, s)[0].Data.([]string)
	if fmt.Sprint(got) != "[a b  d]" {
		t.Fatalf("string triu = %q", got)
	}
	// Empty matrices.
	laCheck(t, "empty", laMust(t, 14, "Trilu", nil, 1, ir.NewTensor(ir.Float32, 2, 0, 3))[0], ir.Float32, laShape(2, 0, 3), nil, 0)
}

func BenchmarkMatMul(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	for _, tc := range []struct {
		name string
		a, w []int64
	}{
		{"256x256x256", laShape(256, 256), laShape(256, 256)},
		{"attn_12x128x64x128", laShape(12, 128, 64), laShape(12, 64, 128)},
	} {
		a, w := laRandF32(rng, tc.a...), laRandF32(rng, tc.w...)
		p, _ := laPlanMatMul(a.Shape, w.Shape)
		ad, wd := a.Data.([]float32), w.Data.([]float32)
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(2 * p.batch * p.m * p.n * p.k)) // FLOPs, reported as MB/s = MFLOP/s
			for i := 0; i < b.N; i++ {
				laRunMatMul(p, ad, wd)
			}
		})
	}
}
