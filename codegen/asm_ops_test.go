package codegen_test

import (
	"math/rand/v2"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
)

// Shapes are big enough that the task functions run through
// optc_parallel_for (small ones are inlined into the entry function).
//
// Golden assembly rows for the row kernels of norm.go and reduce.go and
// the region copies of copy.go: explicit vectors at the target's width,
// no libm or allocator calls.

func layerNormGraph() *ir.Graph {
	rng := rand.New(rand.NewPCG(2, 2))
	b := ir.NewBuilder("g")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(64, 256)))
	ln := b.Op1("LayerNormalization", nil, x, b.Const("s", codegentest.Random(rng, 256)), b.Const("b", codegentest.Random(rng, 256)))
	r := b.Input("r", ir.TensorType(ir.Float32, ir.ShapeOf(512, 512)))
	b.Output(ln, b.Op1("ReduceMean", map[string]*ir.Attr{"axes": ir.IntsAttr(-1)}, r))
	return b.Graph()
}

func concatGraph() *ir.Graph {
	b := ir.NewBuilder("g")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(256, 256)))
	y := b.Input("y", ir.TensorType(ir.Float32, ir.ShapeOf(256, 128)))
	b.Output(b.Op1("Concat", map[string]*ir.Attr{"axis": ir.IntAttr(1)}, x, y))
	return b.Graph()
}

func init() {
	asmTests = append(asmTests,
		struct {
			name   string
			graph  func() *ir.Graph
			checks []asmCheck
		}{"layernorm_reducemean", layerNormGraph, []asmCheck{
			{"x86_64/x86-64-v3", "_layernorm", []string{`vsubps\s+[^\n]*%ymm`, `vmulps\s+[^\n]*%ymm`, `vsqrtss`, `-call`}},
			{"x86_64/x86-64-v4", "_layernorm", []string{`vmulps\s+[^\n]*%zmm`}},
			{"aarch64/generic", "_layernorm", []string{`fmul\s+v\d+\.4s`, `fsqrt\s+s\d+`, `-\bbl\b`}},
			{"x86_64/x86-64-v3", "_reduce", []string{`vaddps\s+[^\n]*%ymm`, `-call`}},
		}},
		struct {
			name   string
			graph  func() *ir.Graph
			checks []asmCheck
		}{"concat_rows", concatGraph, []asmCheck{
			// Contiguous rows are copied with full-width vector moves.
			{"x86_64/x86-64-v3", "_copy", []string{`vmovups\s+[^\n]*%ymm`, `-call`}},
			{"aarch64/generic", "_copy", []string{`(ldr|ldp)\s+q\d+`}},
		}},
	)
}
