package native_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
	"github.com/optc-dev/optc/runtime/native"
)

// attnTestGraph is one cache-bound optc.Attention over 3-D Q [1, s, hq·hd],
// K [1, s, hkv·hd], V [1, s, hkv·dv].
func attnTestGraph(s, hq, hkv, hd, dv int) *ir.Graph {
	b := ir.NewBuilder("attn")
	g := b.Graph()
	g.Opsets[ir.DomainOptc] = 1
	q := b.Input("q", ir.TensorType(ir.Float32, ir.ShapeOf(1, int64(s), int64(hq*hd))))
	k := b.Input("k", ir.TensorType(ir.Float32, ir.ShapeOf(1, int64(s), int64(hkv*hd))))
	v := b.Input("v", ir.TensorType(ir.Float32, ir.ShapeOf(1, int64(s), int64(hkv*dv))))
	out := b.Op("Attention", []*ir.Value{q, k, v}, map[string]*ir.Attr{
		"is_causal": ir.IntAttr(1), "kv_layer": ir.IntAttr(0),
		"q_num_heads": ir.IntAttr(int64(hq)), "kv_num_heads": ir.IntAttr(int64(hkv)),
	}, 1)
	g.Nodes[0].Domain = ir.DomainOptc
	b.Output(out...)
	return g
}

// attnKernelOf compiles a bundle of a small attention graph and returns
// its attention block kernel.
func attnKernelOf(t *testing.T) interp.AttnBlockFunc {
	t.Helper()
	dir := t.TempDir()
	codegentest.Bundle(t, attnTestGraph(2, 2, 1, 8, 8), codegentest.Host(t), nil, dir, "")
	m, err := native.Open(dir, native.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	block := m.AttnBlock()
	if block == nil {
		t.Fatal("the bundle of a graph with optc.Attention exports no attention block kernel")
	}
	return block
}

func attnRandom(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// TestAttentionBlockKernel compares the bundle's native attention block
// kernel (bound with interp.WithAttnBlock) with the interpreter's own loop,
// the reference, on random queries, keys and values: several query
// counts, cache lengths before the pass that cross the cache's block
// boundaries, head sizes with vector tails, grouped-query ratios, a token
// tree, and dense, f16 and GEAR caches (whose blocks the kernel reads
// decoded one at a time). Both runs append the same keys to twin caches;
// outputs agree within 2e-5 relative to the largest output (the kernel's
// exp is a polynomial with relative error about 1e-7, and it sums the
// dot products in another order).
func TestAttentionBlockKernel(t *testing.T) {
	// The kernel does not depend on the graph's shapes: one bundle serves
	// every case.
	block := attnKernelOf(t)
	var err error
	caches := map[string]func(kvcache.Spec) (kvcache.Cache, error){
		"dense16": func(s kvcache.Spec) (kvcache.Cache, error) { return kvcache.NewDense(s, 16) },
		"f16":     func(s kvcache.Spec) (kvcache.Cache, error) { return kvcache.NewF16(s) },
		"gear": func(s kvcache.Spec) (kvcache.Cache, error) {
			return kvcache.NewGEAR(s, kvcache.GEARConfig{Bits: 4, Buffer: 5, Outliers: 0.1, PrefillRank: 3, DecodeRank: 1, Loop: 2})
		},
	}
	type tc struct {
		cache           string
		s, held         int
		hq, hkv, hd, dv int
		tree            bool
	}
	var cases []tc
	for _, geo := range [][4]int{{4, 4, 8, 8}, {8, 2, 20, 20}, {4, 1, 64, 64}, {2, 1, 3, 5}} {
		for _, sh := range [][2]int{{1, 0}, {1, 15}, {1, 16}, {5, 30}, {17, 0}, {40, 63}} {
			cases = append(cases, tc{"dense16", sh[0], sh[1], geo[0], geo[1], geo[2], geo[3], false})
		}
	}
	for _, cn := range []string{"f16", "gear"} {
		cases = append(cases, tc{cn, 1, 70, 4, 2, 16, 16, false}, tc{cn, 9, 33, 6, 3, 12, 12, false})
	}
	cases = append(cases, tc{"dense16", 6, 20, 4, 2, 8, 8, true}, tc{"f16", 6, 20, 4, 2, 8, 8, true})
	for ci, c := range cases {
		name := fmt.Sprintf("%s/s%d_held%d_h%d-%d_d%d-%d_tree%v", c.cache, c.s, c.held, c.hq, c.hkv, c.hd, c.dv, c.tree)
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(ci), 7))
			spec := kvcache.Spec{Layers: 1, KVHeads: c.hkv, HeadDim: c.hd, ValDim: c.dv}
			var twins [2]kvcache.Cache
			pk, pv := attnRandom(r, c.hkv*c.held*c.hd), attnRandom(r, c.hkv*c.held*c.dv)
			for i := range twins {
				if twins[i], err = caches[c.cache](spec); err != nil {
					t.Fatal(err)
				}
				if c.held > 0 {
					if err := twins[i].Append(0, pk, pv, c.held); err != nil {
						t.Fatal(err)
					}
				}
			}
			g := attnTestGraph(c.s, c.hq, c.hkv, c.hd, c.dv)
			if err := ir.InferShapes(g); err != nil {
				t.Fatal(err)
			}
			feeds := map[string]interp.Value{
				"q": ir.FromSlice(ir.Float32, []int64{1, int64(c.s), int64(c.hq * c.hd)}, attnRandom(r, c.s*c.hq*c.hd)),
				"k": ir.FromSlice(ir.Float32, []int64{1, int64(c.s), int64(c.hkv * c.hd)}, attnRandom(r, c.s*c.hkv*c.hd)),
				"v": ir.FromSlice(ir.Float32, []int64{1, int64(c.s), int64(c.hkv * c.dv)}, attnRandom(r, c.s*c.hkv*c.dv)),
			}
			var outs [2][]float32
			for i := range twins {
				ctx := kvcache.NewContext(context.Background(), twins[i])
				if c.tree {
					// Six new tokens: two chains off the prefix, 0-1-3 and 2-4, and 5 under 1.
					ctx = kvcache.WithTree(ctx, &kvcache.Tree{Base: c.held, Parents: []int{-1, 0, -1, 1, 2, 1}})
				}
				calls := 0
				if i == 1 {
					ctx = interp.WithAttnBlock(ctx, func(a *interp.AttnBlock) { calls++; block(a) })
				}
				res, err := interp.Run(ctx, g, feeds)
				if err != nil {
					t.Fatal(err)
				}
				outs[i] = res[g.Outputs[0].Name].(*ir.Tensor).Float32s()
				if i == 1 && calls == 0 {
					t.Fatal("the native kernel was not called")
				}
			}
			if a, b := twins[0].Len(0), twins[1].Len(0); a != b || a != c.held+c.s {
				t.Fatalf("cache lengths %d (interpreter) and %d (native), want %d", a, b, c.held+c.s)
			}
			var big, worst float64
			for i := range outs[0] {
				big = max(big, math.Abs(float64(outs[0][i])))
				worst = max(worst, math.Abs(float64(outs[0][i]-outs[1][i])))
			}
			if worst > 2e-5*max(big, 1) || math.IsNaN(worst) {
				t.Fatalf("native block kernel differs from the interpreter by %g (largest output %g)", worst, big)
			}
		})
	}
}

// TestAttentionBlockNoAlloc: running a block natively allocates nothing
// (the interpreter calls it once per block of every kv head).
func TestAttentionBlockNoAlloc(t *testing.T) {
	block := attnKernelOf(t)
	r := rand.New(rand.NewPCG(1, 2))
	const rows, hd, n = 4, 8, 16
	a := &interp.AttnBlock{Q: attnRandom(r, rows*hd), Rows: rows, S: 2, HD: hd, DV: hd, K: attnRandom(r, n*hd), V: attnRandom(r, n*hd),
		N: n, Past: 30, Total: 32, Causal: true, Scale: 0.3, M: make([]float32, rows), L: make([]float32, rows),
		Acc: make([]float32, rows*hd), Scores: make([]float32, n*(hd+1)), Keep: make([]bool, 2*32)}
	if allocs := testing.AllocsPerRun(100, func() { block(a) }); allocs != 0 {
		t.Errorf("a native attention block allocates %v times", allocs)
	}
}
