package codegen

import (
	"fmt"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/targets"
)

func TestBcastStrides(t *testing.T) {
	for _, tt := range []struct {
		in, out, want []int64
	}{
		{[]int64{2, 3}, []int64{2, 3}, []int64{3, 1}},
		{[]int64{3}, []int64{2, 3}, []int64{0, 1}},                   // row vector
		{[]int64{2, 1}, []int64{2, 3}, []int64{1, 0}},                // column vector
		{[]int64{3, 1, 1}, []int64{2, 3, 4, 5}, []int64{0, 1, 0, 0}}, // per-channel
		{nil, []int64{4}, []int64{0}},                                // scalar
	} {
		if got := bcastStrides(tt.in, tt.out); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("bcastStrides(%v, %v) = %v, want %v", tt.in, tt.out, got, tt.want)
		}
	}
}

func TestCollapseDims(t *testing.T) {
	for _, tt := range []struct {
		shape   []int64
		strides [][]int64
		dims    []int64
		sts     [][]int64
	}{
		// Same-shape operands collapse to one dim of 2*3*4.
		{[]int64{2, 3, 4}, [][]int64{{12, 4, 1}, {12, 4, 1}}, []int64{24}, [][]int64{{1}, {1}}},
		// A per-channel [3,1] operand of [2,3,4]: (2,3) merge for it? its
		// strides are (0,1,0): dim 0 (stride 0) vs dim 1 (1*3=3) differ, so
		// nothing merges.
		{[]int64{2, 3, 4}, [][]int64{{12, 4, 1}, {0, 1, 0}}, []int64{2, 3, 4}, [][]int64{{12, 4, 1}, {0, 1, 0}}},
		// A row vector [4] of [2,3,4]: dims 0 and 1 merge (0 == 0*3).
		{[]int64{2, 3, 4}, [][]int64{{12, 4, 1}, {0, 0, 1}}, []int64{6, 4}, [][]int64{{4, 1}, {0, 1}}},
		// Size-1 dims are dropped; an all-ones shape becomes [1].
		{[]int64{1, 5, 1}, [][]int64{{5, 1, 1}}, []int64{5}, [][]int64{{1}}},
		{[]int64{1, 1}, [][]int64{{1, 1}}, []int64{1}, [][]int64{{0}}},
	} {
		dims, sts := collapseDims(tt.shape, tt.strides)
		if fmt.Sprint(dims, sts) != fmt.Sprint(tt.dims, tt.sts) {
			t.Errorf("collapseDims(%v, %v) = %v %v, want %v %v", tt.shape, tt.strides, dims, sts, tt.dims, tt.sts)
		}
	}
}

func TestView2D(t *testing.T) {
	for _, tt := range []struct {
		in, out []int64
		rs, cs  int64
		ok      bool
	}{
		{[]int64{8}, []int64{4, 8}, 0, 1, true},           // bias over columns
		{[]int64{4, 8}, []int64{4, 8}, 8, 1, true},        // full
		{[]int64{4, 1}, []int64{4, 8}, 1, 0, true},        // per row
		{nil, []int64{4, 8}, 0, 0, true},                  // scalar
		{[]int64{2, 3, 8}, []int64{2, 3, 8}, 8, 1, true},  // flattened rows
		{[]int64{3, 8}, []int64{2, 3, 8}, 0, 0, false},    // repeats every 3 rows: not linear
		{[]int64{2, 1, 8}, []int64{2, 3, 8}, 0, 0, false}, // constant within groups of 3 rows
		{[]int64{5}, []int64{4, 8}, 0, 0, false},          // does not broadcast
		{[]int64{1, 1, 8}, []int64{2, 3, 8}, 0, 1, true},  // leading ones
	} {
		rs, cs, ok := view2D(tt.in, tt.out)
		if ok != tt.ok || (ok && (rs != tt.rs || cs != tt.cs)) {
			t.Errorf("view2D(%v, %v) = %d %d %v, want %d %d %v", tt.in, tt.out, rs, cs, ok, tt.rs, tt.cs, tt.ok)
		}
	}
}

func TestArena(t *testing.T) {
	a := &arena{}
	x := a.alloc(100) // [0,128)
	y := a.alloc(64)  // [128,192)
	a.free(x)
	z := a.alloc(64) // first fit: reuses [0,64)
	w := a.alloc(70) // [64,128) is too small for 128: goes after y
	if x != 0 || y != 128 || z != 0 || w != 192 || a.size != 320 {
		t.Errorf("offsets x=%d y=%d z=%d w=%d size=%d, want 0 128 0 192 320", x, y, z, w, a.size)
	}
}

func TestPackB(t *testing.T) {
	// B is 2x3 (K=2, N=3) = [[1 2 3] [4 5 6]], nr = 2: panel 0 holds
	// columns 0-1, panel 1 column 2 and a zero column; k-major inside.
	b := []float32{1, 2, 3, 4, 5, 6}
	want := "[1 2 4 5 3 0 6 0]"
	if got := fmt.Sprint(packB(b, 2, 3, false, 1, 2)); got != want {
		t.Errorf("packB = %s, want %s", got, want)
	}
	// The same B given transposed (N x K = [[1 4] [2 5] [3 6]]), alpha 2.
	bt := []float32{1, 4, 2, 5, 3, 6}
	if got := fmt.Sprint(packB(bt, 2, 3, true, 2, 2)); got != "[2 4 8 10 6 0 12 0]" {
		t.Errorf("packB(trans, alpha 2) = %s", got)
	}
}

func TestMemoryPlanReuse(t *testing.T) {
	// x -> Relu -> MatMul -> Relu -> MatMul -> y: the two intermediates
	// are live one at a time... except that each kernel's output is
	// allocated while its input is still live, so two slots are needed and
	// the third intermediate reuses the first.
	b := ir.NewBuilder("g")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(4, 16)))
	w := b.Const("w", ir.FromSlice(ir.Float32, []int64{16, 16}, make([]float32, 256)))
	h1 := b.Op1("MatMul", nil, x, w)
	h2 := b.Op1("Softmax", nil, h1)
	h3 := b.Op1("MatMul", nil, h2, w)
	h4 := b.Op1("Softmax", nil, h3)
	b.Output(b.Op1("MatMul", nil, h4, w))
	tg, _ := targets.Lookup("x86_64", "x86-64-v3")
	res, err := Compile(b.Graph(), Options{Target: tg})
	if err != nil {
		t.Fatal(err)
	}
	// 4x16 floats = 256 bytes per intermediate; two slots.
	if s := res.Steps[0].Scratch; s != 512 {
		t.Errorf("scratch = %d bytes, want 512 (two 256-byte slots reused)", s)
	}
	if len(res.Weights) != 1 {
		t.Errorf("%d weights stored, want 1 (w packed once)", len(res.Weights))
	}
}

func TestPartitionFallback(t *testing.T) {
	b := ir.NewBuilder("g")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(2, 3)))
	h := b.Op1("Relu", nil, x)
	h = b.Op1("Tan", nil, h)
	dead := b.Op1("Atan", nil, x) // unused: dropped
	_ = dead
	b.Output(b.Op1("Relu", nil, h))
	tg, _ := targets.Lookup("x86_64", "x86-64-v3")
	res, err := Compile(b.Graph(), Options{Target: tg})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 3 || !res.Steps[0].Native || res.Steps[1].Native || !res.Steps[2].Native {
		t.Fatalf("steps %+v, want native, interp, native", res.Steps)
	}
	if len(res.Fallback) != 1 || res.Fallback[0].Op != "Tan" {
		t.Errorf("fallback %+v, want the Tan node only", res.Fallback)
	}
	if res.FullyNative() {
		t.Error("FullyNative() = true")
	}
}

func TestBindShapes(t *testing.T) {
	mk := func() *ir.Graph {
		b := ir.NewBuilder("g")
		x := b.Input("x", ir.TensorType(ir.Float32, ir.Shape{ir.Sym("N"), ir.D(3)}))
		y := b.Input("y", ir.TensorType(ir.Float32, ir.Shape{ir.Sym("N"), ir.D(3)}))
		b.Output(b.Op1("Add", nil, x, y))
		return b.Graph()
	}
	g := mk()
	binds, err := bindShapes(g, map[string][]int64{"x": {5, 3}})
	if err != nil {
		t.Fatal(err)
	}
	// x binds N=5 from --shape; y's N follows the same symbol.
	if s, _ := concreteShape(g.Nodes[0].Outputs[0]); fmt.Sprint(s) != "[5 3]" {
		t.Errorf("output shape %v, want [5 3]", s)
	}
	if len(binds) != 2 || binds[0].Default || binds[1].Size != 5 {
		t.Errorf("bindings %+v", binds)
	}
	for _, bad := range []map[string][]int64{
		{"z": {1, 3}},              // no such input
		{"x": {5}},                 // wrong rank
		{"x": {5, 4}},              // contradicts a known dim
		{"x": {5, 3}, "y": {6, 3}}, // N bound twice differently
	} {
		if _, err := bindShapes(mk(), bad); err == nil {
			t.Errorf("bindShapes(%v): no error", bad)
		}
	}
	g = mk()
	binds, err = bindShapes(g, nil)
	if err != nil || len(binds) != 2 || !binds[0].Default || binds[0].Size != 1 {
		t.Errorf("default binding: %+v, %v", binds, err)
	}
}
