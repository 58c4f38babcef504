package interp_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// attnRun runs one optc-domain node on the given inputs (nil = omitted
// optional input) and returns its outputs.
func attnRun(ctx context.Context, op string, attrs map[string]*ir.Attr, nOut int, ins ...*ir.Tensor) ([]*ir.Tensor, error) {
	b := ir.NewBuilder("attn")
	g := b.Graph()
	g.Opsets[ir.DomainOptc] = 1
	feeds := map[string]interp.Value{}
	var vs []*ir.Value
	for i, t := range ins {
		if t == nil {
			vs = append(vs, nil)
			continue
		}
		v := b.Input(fmt.Sprintf("in%d", i), ir.TensorType(t.DType, ir.ShapeOf(t.Shape...)))
		feeds[v.Name] = t
		vs = append(vs, v)
	}
	outs := b.Op(op, vs, attrs, nOut)
	g.Nodes[0].Domain = ir.DomainOptc
	b.Output(outs...)
	if err := ir.InferShapes(g); err != nil {
		return nil, err
	}
	if err := ir.Verify(g); err != nil {
		return nil, err
	}
	res, err := interp.Run(ctx, g, feeds)
	if err != nil {
		return nil, err
	}
	var ts []*ir.Tensor
	for _, o := range outs {
		ts = append(ts, res[o.Name].(*ir.Tensor))
		if !attnShapeMatches(o.Type.Shape, res[o.Name].(*ir.Tensor).Shape) {
			return nil, fmt.Errorf("output %s: inferred %s, computed %v", o.Name, o.Type.Shape, res[o.Name].(*ir.Tensor).Shape)
		}
	}
	return ts, nil
}

func attnShapeMatches(s ir.Shape, got []int64) bool {
	if len(s) != len(got) {
		return false
	}
	for i, d := range s {
		if d.Known() && d.Size != got[i] {
			return false
		}
	}
	return true
}

func attnRand(rng *rand.Rand, shape ...int64) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	for i := range t.Data.([]float32) {
		t.Data.([]float32)[i] = float32(rng.NormFloat64())
	}
	return t
}

// attnReference is the textbook definition in float64 on head-major
// [B][H][L][d] arrays: scores = q·kᵀ·scale (+mask), -inf above the causal
// diagonal (offset by past), softmax over all keys, weighted sum of v.
// Query head h reads kv head h/(hq/hkv).
func attnReference(q, k, v []float32, B, hq, hkv, S, T, D, Dv, past int, causal bool, scale float64, mask func(b, h, i, j int) float64) []float64 {
	y := make([]float64, B*hq*S*Dv)
	for b := 0; b < B; b++ {
		for h := 0; h < hq; h++ {
			g := h / (hq / hkv)
			for i := 0; i < S; i++ {
				sc := make([]float64, T)
				mx := math.Inf(-1)
				for j := 0; j < T; j++ {
					sc[j] = math.Inf(-1)
					if causal && j > past+i {
						continue
					}
					var dot float64
					for d := 0; d < D; d++ {
						dot += float64(q[((b*hq+h)*S+i)*D+d]) * float64(k[((b*hkv+g)*T+j)*D+d])
					}
					sc[j] = dot * scale
					if mask != nil {
						sc[j] += mask(b, h, i, j)
					}
					mx = math.Max(mx, sc[j])
				}
				var sum float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for j := range sc {
					for d := 0; d < Dv; d++ {
						y[((b*hq+h)*S+i)*Dv+d] += sc[j] / sum * float64(v[((b*hkv+g)*T+j)*Dv+d])
					}
				}
			}
		}
	}
	return y
}

func attnClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestAttentionHand: one head, D = 2, two tokens, causal, scale 1.
// q0 = (1,0), k0 = (1,0), k1 = (0,1), v0 = (1,2), v1 = (3,4), q1 = (0, ln 3).
// Token 0 sees only k0: y0 = v0 = (1,2). Token 1 scores (0, ln 3) →
// softmax (1/4, 3/4): y1 = (1/4·1 + 3/4·3, 1/4·2 + 3/4·4) = (2.5, 3.5).
func TestAttentionHand(t *testing.T) {
	q := ir.FromSlice(ir.Float32, []int64{1, 1, 2, 2}, []float32{1, 0, 0, float32(math.Log(3))})
	k := ir.FromSlice(ir.Float32, []int64{1, 1, 2, 2}, []float32{1, 0, 0, 1})
	v := ir.FromSlice(ir.Float32, []int64{1, 1, 2, 2}, []float32{1, 2, 3, 4})
	out, err := attnRun(context.Background(), "Attention", map[string]*ir.Attr{"is_causal": ir.IntAttr(1), "scale": ir.FloatAttr(1)}, 1, q, k, v)
	if err != nil {
		t.Fatal(err)
	}
	attnClose(t, "y", out[0].Data.([]float32), []float64{1, 2, 2.5, 3.5}, 1e-6)
}

// TestAttentionReference compares the kernel with the textbook definition
// on random inputs: 4-D and 3-D layouts, grouped-query heads, past
// key/values, causal or not, boolean and additive masks, and sequences
// longer than one block.
func TestAttentionReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		B, hq, hkv, S, P, D, Dv int
		causal, threeD          bool
		mask                    string
	}{
		{1, 2, 2, 3, 0, 4, 4, false, false, ""},
		{2, 4, 2, 5, 0, 8, 8, true, false, ""},
		{1, 8, 4, 7, 3, 8, 8, true, true, ""},
		{2, 6, 2, 4, 5, 4, 6, true, false, "bool"},
		{1, 4, 1, 3, 130, 8, 8, true, true, "float"},
		{1, 2, 1, 70, 0, 4, 4, true, false, ""},
	} {
		name := fmt.Sprintf("%+v", c)
		T := c.S
		q := attnRand(rng, int64(c.B), int64(c.hq), int64(c.S), int64(c.D))
		k := attnRand(rng, int64(c.B), int64(c.hkv), int64(T), int64(c.D))
		v := attnRand(rng, int64(c.B), int64(c.hkv), int64(T), int64(c.Dv))
		var pk, pv *ir.Tensor
		kAll, vAll := k.Data.([]float32), v.Data.([]float32)
		if c.P > 0 {
			pk = attnRand(rng, int64(c.B), int64(c.hkv), int64(c.P), int64(c.D))
			pv = attnRand(rng, int64(c.B), int64(c.hkv), int64(c.P), int64(c.Dv))
			kAll = attnCat(pk.Data.([]float32), kAll, c.B*c.hkv, c.P, T, c.D)
			vAll = attnCat(pv.Data.([]float32), vAll, c.B*c.hkv, c.P, T, c.Dv)
		}
		total := c.P + T
		var maskT *ir.Tensor
		var mask func(b, h, i, j int) float64
		switch c.mask {
		case "bool": // [S, total]: hide every third key, never key 0
			m := make([]bool, c.S*total)
			for i := range m {
				m[i] = (i%total)%3 != 2
			}
			maskT = ir.FromSlice(ir.Bool, []int64{int64(c.S), int64(total)}, m)
			mask = func(b, h, i, j int) float64 {
				if m[i*total+j] {
					return 0
				}
				return math.Inf(-1)
			}
		case "float": // [1, hq, 1, total]: a per-head bias
			m := make([]float32, c.hq*total)
			for i := range m {
				m[i] = float32(rng.NormFloat64())
			}
			maskT = ir.FromSlice(ir.Float32, []int64{1, int64(c.hq), 1, int64(total)}, m)
			mask = func(b, h, i, j int) float64 { return float64(m[h*total+j]) }
		}
		want := attnReference(q.Data.([]float32), kAll, vAll, c.B, c.hq, c.hkv, c.S, total, c.D, c.Dv, c.P, c.causal, 1/math.Sqrt(float64(c.D)), mask)
		attrs := map[string]*ir.Attr{"is_causal": ir.IntAttr(0)}
		if c.causal {
			attrs["is_causal"] = ir.IntAttr(1)
		}
		qi, ki, vi := q, k, v
		if c.threeD {
			attrs["q_num_heads"], attrs["kv_num_heads"] = ir.IntAttr(int64(c.hq)), ir.IntAttr(int64(c.hkv))
			qi, ki, vi = attnTo3D(q), attnTo3D(k), attnTo3D(v)
		}
		out, err := attnRun(context.Background(), "Attention", attrs, 3, qi, ki, vi, maskT, pk, pv)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		y := out[0]
		if c.threeD {
			y = attnFrom3D(y, c.hq)
		}
		attnClose(t, name+" y", y.Data.([]float32), want, 1e-5)
		attnClose(t, name+" present_key", out[1].Data.([]float32), attnF64(kAll), 0)
		attnClose(t, name+" present_value", out[2].Data.([]float32), attnF64(vAll), 0)
	}
}

// TestAttentionCache: with a cache bound, feeding a sequence in chunks
// gives what one uncached call over the whole sequence gives — bit for
// bit, because both read 64-token blocks from position 0 — and the cache
// holds the keys and values.
func TestAttentionCache(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const hq, hkv, D, N = 4, 2, 8, 150
	q := attnRand(rng, 1, N, hq*D)
	k := attnRand(rng, 1, N, hkv*D)
	v := attnRand(rng, 1, N, hkv*D)
	attrs := map[string]*ir.Attr{"is_causal": ir.IntAttr(1), "q_num_heads": ir.IntAttr(hq), "kv_num_heads": ir.IntAttr(hkv), "kv_layer": ir.IntAttr(1)}
	full, err := attnRun(context.Background(), "Attention", attrs, 1, q, k, v)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := kvcache.NewDense(kvcache.Spec{Layers: 2, KVHeads: hkv, HeadDim: D, ValDim: D}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := kvcache.NewContext(context.Background(), cache)
	var got []float32
	for _, chunk := range [][2]int{{0, 7}, {7, 64}, {64, 65}, {65, 149}, {149, 150}} {
		sl := func(x *ir.Tensor, w int) *ir.Tensor {
			d := x.Data.([]float32)[chunk[0]*w : chunk[1]*w]
			return ir.FromSlice(ir.Float32, []int64{1, int64(chunk[1] - chunk[0]), int64(w)}, d)
		}
		out, err := attnRun(ctx, "Attention", attrs, 1, sl(q, hq*D), sl(k, hkv*D), sl(v, hkv*D))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out[0].Data.([]float32)...)
	}
	want := full[0].Data.([]float32)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("y[%d] = %v chunked with the cache, %v in one call", i, got[i], want[i])
		}
	}
	if cache.Len(1) != N || cache.Len(0) != 0 {
		t.Errorf("cache lengths %d, %d", cache.Len(0), cache.Len(1))
	}
	// Key of token 100, head 1, read back through the view.
	view := cache.Head(1, 1)
	kb, _, n := view.Block(100/64, nil, nil)
	row := kb[(100%64)*D : (100%64+1)*D]
	if n != 64 || row[3] != k.Data.([]float32)[100*hkv*D+1*D+3] {
		t.Errorf("cached key %v", row)
	}
	// Errors leave the cache unchanged: a bad mask, past inputs.
	bad := ir.FromSlice(ir.Float32, []int64{3}, []float32{0, 0, 0})
	one := func(x *ir.Tensor, w int) *ir.Tensor {
		return ir.FromSlice(ir.Float32, []int64{1, 1, int64(w)}, x.Data.([]float32)[:w])
	}
	if _, err := attnRun(ctx, "Attention", attrs, 1, one(q, hq*D), one(k, hkv*D), one(v, hkv*D), bad); err == nil || !strings.Contains(err.Error(), "attn_mask") {
		t.Errorf("bad mask: %v", err)
	}
	if cache.Len(1) != N {
		t.Errorf("a failed node changed the cache: %d", cache.Len(1))
	}
	small, _ := kvcache.NewDense(kvcache.Spec{Layers: 2, KVHeads: 3, HeadDim: D, ValDim: D}, 0)
	if _, err := attnRun(kvcache.NewContext(context.Background(), small), "Attention", attrs, 1, one(q, hq*D), one(k, hkv*D), one(v, hkv*D)); err == nil || !strings.Contains(err.Error(), "bound cache") {
		t.Errorf("mismatched cache: %v", err)
	}
}

// TestRotaryHand: D = 4, position 1 with the tables cos = (0, 1), sin =
// (1, 0) (angles π/2 and 0). Interleaved pairs (x0,x1), (x2,x3): the first
// pair turns by 90° → (-x1, x0), the second stays. Halves pair (x0,x2)
// and (x1,x3): (x0,x2) → (-x2, x0).
func TestRotaryHand(t *testing.T) {
	x := ir.FromSlice(ir.Float32, []int64{1, 1, 1, 4}, []float32{1, 2, 3, 4})
	cos := ir.FromSlice(ir.Float32, []int64{2, 2}, []float32{1, 1, 0, 1})
	sin := ir.FromSlice(ir.Float32, []int64{2, 2}, []float32{0, 0, 1, 0})
	pos := ir.FromSlice(ir.Int64, []int64{1, 1}, []int64{1})
	for _, c := range []struct {
		interleaved int64
		want        []float64
	}{{1, []float64{-2, 1, 3, 4}}, {0, []float64{-3, 2, 1, 4}}} {
		out, err := attnRun(context.Background(), "RotaryEmbedding", map[string]*ir.Attr{"interleaved": ir.IntAttr(c.interleaved)}, 1, x, cos, sin, pos)
		if err != nil {
			t.Fatal(err)
		}
		attnClose(t, fmt.Sprint("interleaved=", c.interleaved), out[0].Data.([]float32), c.want, 1e-7)
	}
	// 3-D layout, two heads of 2, position 0 (identity) and a partial
	// rotary dim of 2 at position 1 on one head of 4.
	x3 := ir.FromSlice(ir.Float32, []int64{1, 1, 4}, []float32{1, 2, 3, 4})
	pos0 := ir.FromSlice(ir.Int64, []int64{1, 1}, []int64{0})
	c1 := ir.FromSlice(ir.Float32, []int64{2, 1}, []float32{1, 0})
	s1 := ir.FromSlice(ir.Float32, []int64{2, 1}, []float32{0, 1})
	out, err := attnRun(context.Background(), "RotaryEmbedding", map[string]*ir.Attr{"num_heads": ir.IntAttr(2), "interleaved": ir.IntAttr(1)}, 1, x3, c1, s1, pos0)
	if err != nil {
		t.Fatal(err)
	}
	attnClose(t, "3-D", out[0].Data.([]float32), []float64{1, 2, 3, 4}, 0)
	out, err = attnRun(context.Background(), "RotaryEmbedding", map[string]*ir.Attr{"num_heads": ir.IntAttr(1), "interleaved": ir.IntAttr(1), "rotary_embedding_dim": ir.IntAttr(2)}, 1,
		x3, c1, s1, ir.FromSlice(ir.Int64, []int64{1, 1}, []int64{1}))
	if err != nil {
		t.Fatal(err)
	}
	attnClose(t, "partial", out[0].Data.([]float32), []float64{-2, 1, 3, 4}, 0)
	if _, err := attnRun(context.Background(), "RotaryEmbedding", nil, 1, x, cos, sin, ir.FromSlice(ir.Int64, []int64{1, 1}, []int64{5})); err == nil || !strings.Contains(err.Error(), "position 5") {
		t.Errorf("out-of-table position: %v", err)
	}
}

func attnCat(a, b []float32, n, p, t, d int) []float32 {
	var out []float32
	for i := 0; i < n; i++ {
		out = append(out, a[i*p*d:(i+1)*p*d]...)
		out = append(out, b[i*t*d:(i+1)*t*d]...)
	}
	return out
}

func attnF64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// attnTo3D turns [B, H, L, d] into [B, L, H·d]; attnFrom3D reverses it.
func attnTo3D(x *ir.Tensor) *ir.Tensor {
	B, H, L, d := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	src := x.Data.([]float32)
	out := make([]float32, len(src))
	for b := int64(0); b < B; b++ {
		for h := int64(0); h < H; h++ {
			for l := int64(0); l < L; l++ {
				copy(out[((b*L+l)*H+h)*d:], src[((b*H+h)*L+l)*d:((b*H+h)*L+l+1)*d])
			}
		}
	}
	return ir.FromSlice(ir.Float32, []int64{B, L, H * d}, out)
}

func attnFrom3D(x *ir.Tensor, H int) *ir.Tensor {
	B, L, d := x.Shape[0], x.Shape[1], x.Shape[2]/int64(H)
	src := x.Data.([]float32)
	out := make([]float32, len(src))
	for b := int64(0); b < B; b++ {
		for h := int64(0); h < int64(H); h++ {
			for l := int64(0); l < L; l++ {
				copy(out[((b*int64(H)+h)*L+l)*d:], src[((b*L+l)*int64(H)+h)*d:((b*L+l)*int64(H)+h+1)*d])
			}
		}
	}
	return ir.FromSlice(ir.Float32, []int64{B, int64(H), L, d}, out)
}
