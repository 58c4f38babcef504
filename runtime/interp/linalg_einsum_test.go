package interp

import (
	"testing"

	"github.com/optc-dev/optc/ir"
)

func TestEinsum(t *testing.T) {
	m := laF64(laShape(2, 3), 1, 2, 3, 4, 5, 6)
	sq := laF64(laShape(3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9)
	v := laF64(laShape(3), 1, 0, -1)
	w := laF64(laShape(2), 2, 3)
	eq := func(s string) map[string]*ir.Attr { return map[string]*ir.Attr{"equation": ir.StringAttr(s)} }
	for _, tc := range []struct {
		eq    string
		in    []*ir.Tensor
		shape []int64
		want  []float64
	}{
		{"ij->ji", []*ir.Tensor{m}, laShape(3, 2), []float64{1, 4, 2, 5, 3, 6}},
		{"ji", []*ir.Tensor{m}, laShape(3, 2), []float64{1, 4, 2, 5, 3, 6}}, // implicit output "ij": a transpose
		{"ij->", []*ir.Tensor{m}, laShape(), []float64{21}},
		{"ij->j", []*ir.Tensor{m}, laShape(3), []float64{5, 7, 9}},
		{"ii", []*ir.Tensor{sq}, laShape(), []float64{15}},          // trace
		{"ii->i", []*ir.Tensor{sq}, laShape(3), []float64{1, 5, 9}}, // diagonal
		{"i,i", []*ir.Tensor{v, v}, laShape(), []float64{2}},
		{"i,j->ij", []*ir.Tensor{w, v}, laShape(2, 3), []float64{2, 0, -2, 3, 0, -3}},
		{"ij,j->i", []*ir.Tensor{m, v}, laShape(2), []float64{-2, -2}},
		{"ij,jk", []*ir.Tensor{m, sq}, laShape(2, 3), []float64{30, 36, 42, 66, 81, 96}},
		// Upper case sorts before lower case in the implicit output.
		{"aB", []*ir.Tensor{m}, laShape(3, 2), []float64{1, 4, 2, 5, 3, 6}},
		{" i j , j k -> i k ", []*ir.Tensor{m, sq}, laShape(2, 3), []float64{30, 36, 42, 66, 81, 96}},
	} {
		y := laMust(t, 12, "Einsum", eq(tc.eq), 1, tc.in...)[0]
		laCheck(t, tc.eq, y, ir.Float64, tc.shape, tc.want, 1e-12)
	}

	// Ellipsis with broadcasting of the batch dims: x [2,1,2,2] holds two
	// matrices, y [3,2,2] three; the result pairs them all.
	x := laF64(laShape(2, 1, 2, 2), 1, 0, 0, 1, 2, 0, 0, 2)
	y := laF64(laShape(3, 2, 2), 1, 2, 3, 4, 0, 1, 1, 0, 5, 5, 5, 5)
	got := laMust(t, 12, "Einsum", eq("...ij,...jk->...ik"), 1, x, y)[0]
	want := []float64{
		1, 2, 3, 4, 0, 1, 1, 0, 5, 5, 5, 5, // identity × each
		2, 4, 6, 8, 0, 2, 2, 0, 10, 10, 10, 10, // 2·identity × each
	}
	laCheck(t, "ellipsis", got, ir.Float64, laShape(2, 3, 2, 2), want, 0)
	// Implicit output with an ellipsis: batch dims first, then the
	// labels used once.
	got = laMust(t, 12, "Einsum", eq("...ii->...i"), 1, x)[0]
	laCheck(t, "batch diagonal", got, ir.Float64, laShape(2, 1, 2), []float64{1, 1, 2, 2}, 0)
	got = laMust(t, 12, "Einsum", eq("...j"), 1, laF64(laShape(2, 2), 1, 2, 3, 4))[0]
	laCheck(t, "implicit ellipsis", got, ir.Float64, laShape(2, 2), []float64{1, 2, 3, 4}, 0)

	// Integer operands.
	gi := laMust(t, 12, "Einsum", eq("ij->i"), 1, laI32(laShape(2, 2), 1, 2, 3, 4))[0]
	laCheck(t, "int32", gi, ir.Int32, laShape(2), []float64{3, 7}, 0)

	for _, bad := range []struct {
		eq string
		in []*ir.Tensor
	}{
		{"ij,jk->ik", []*ir.Tensor{m}},    // one term too many
		{"ij,jk->ik", []*ir.Tensor{m, m}}, // j is 3 and 2
		{"ijk", []*ir.Tensor{m}},          // rank mismatch
		{"ij->ik", []*ir.Tensor{m}},       // k not in any input
		{"i.j", []*ir.Tensor{m}},          // malformed ellipsis
		{"ij->ii", []*ir.Tensor{sq}},      // repeated output label
	} {
		if _, err := laRunOp(12, "Einsum", eq(bad.eq), 1, bad.in...); err == nil {
			t.Errorf("%q: want an error", bad.eq)
		}
	}
}
