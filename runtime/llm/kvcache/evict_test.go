package kvcache

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestEvictByHand follows accumulated attention mass through six tokens
// with budget 4, one sink and one recent token (scores summed by hand in
// the comments).
func TestEvictByHand(t *testing.T) {
	e, err := NewEvict(Spec{Layers: 1, KVHeads: 1, HeadDim: 1, ValDim: 1}, EvictConfig{Budget: 4, Sink: 1, Recent: 1})
	if err != nil {
		t.Fatal(err)
	}
	weights := [][]float32{
		{1},                       // t0
		{0.5, 0.5},                // t1: scores after fold 1
		{0.2, 0.1, 0.7},           // t2: 1.5, 0.5
		{0.1, 0.6, 0.1, 0.2},      // t3: 1.7, 0.6, 0.7
		{0.1, 0.1, 0.1, 0.5, 0.2}, // t4: 1.8, 1.2, 0.8, 0.2 (4 held: no eviction)
	}
	for p := 0; p < 6; p++ {
		// t5: fold → 1.9, 1.3, 0.9, 0.7, 0.2; 5 held > 4: position 0 is a
		// sink, 4 the most recent; of 1, 2, 3 (1.3, 0.9, 0.7) keep two:
		// position 3 goes.
		if err := e.Append(0, []float32{float32(p)}, []float32{float32(-p)}, 1); err != nil {
			t.Fatal(err)
		}
		if p < len(weights) {
			e.ObserveAttention(0, 0, weights[p], 1, p+1)
		}
	}
	k, v := readAll(e.Head(0, 0), 1, 1)
	if !slices.Equal(k, []float32{0, 1, 2, 4, 5}) || !slices.Equal(v, []float32{0, -1, -2, -4, -5}) || e.Len(0) != 6 {
		t.Fatalf("held keys %v values %v, len %d", k, v, e.Len(0))
	}
	if sc := e.layers[0].heads[0].score; math.Abs(float64(sc[1]-1.3)) > 1e-6 || sc[4] != 0 {
		t.Errorf("scores %v", sc)
	}
	// 5 held tokens × (2 floats × 4 + position 4 + score 4) = 80 bytes.
	if e.Bytes() != 80 || e.Stats().Evicted != 1 {
		t.Errorf("bytes %d, evicted %d", e.Bytes(), e.Stats().Evicted)
	}
	if err := e.Truncate(5); err != nil {
		t.Fatal(err)
	}
	if k, _ := readAll(e.Head(0, 0), 1, 1); !slices.Equal(k, []float32{0, 1, 2, 4}) || e.Len(0) != 5 {
		t.Errorf("after truncate: %v, len %d", k, e.Len(0))
	}
	// The retaining head: CIS = SiLU(k₀) (W1 picks the key's first
	// channel, W2 = 1), so the largest keys survive.
	head := &RetainingHead{Layers: 1, QHeads: 2, KVHeads: 1, HeadDim: 2, Hidden: 1,
		W1: [][]float32{{0, 0, 0, 0, 1, 0, 0, 0}}, W2: [][]float32{{1}}}
	lc, err := NewEvict(Spec{Layers: 1, KVHeads: 1, HeadDim: 2, ValDim: 2}, EvictConfig{Budget: 3, Head: head})
	if err != nil {
		t.Fatal(err)
	}
	keys := []float32{5, -1, 3, 0.5, -2, 4}
	for p, x := range keys {
		q := make([]float32, 4)
		lc.ObserveQueries(0, q, 2, 1)
		if err := lc.Append(0, []float32{x, 7}, []float32{float32(p), 0}, 1); err != nil {
			t.Fatal(err)
		}
	}
	// After 5 tokens (5, −1, 3, 0.5, −2) at the 6th Append: keep the 3 best
	// by SiLU: 5, 3, 0.5; then 4 is appended.
	if k, _ := readAll(lc.Head(0, 0), 2, 2); !slices.Equal(k, []float32{5, 7, 3, 7, 0.5, 7, 4, 7}) {
		t.Errorf("retaining-head eviction kept %v", k)
	}
	silu := func(x float64) float64 { return x / (1 + math.Exp(-x)) }
	if sc := lc.layers[0].heads[0].score; math.Abs(float64(sc[0])-silu(5)) > 1e-6 || math.Abs(float64(sc[3])-silu(4)) > 1e-6 {
		t.Errorf("CIS %v", sc)
	}
	if err := lc.Append(0, []float32{1, 1}, []float32{1, 1}, 1); err == nil {
		t.Error("retaining-head cache accepted an Append without queries")
	}
}

// kvDriver feeds deterministic tokens into caches the way the attention
// kernel does: queries first (QueryObserver), then Append, then the
// causal softmax weights of the new queries over each head's view
// (AttentionObserver).
type kvDriver struct {
	s      Spec
	qHeads int
}

func (d kvDriver) token(pos int) (q, k, v []float32) {
	rng := rand.New(rand.NewPCG(uint64(pos), 99))
	q = make([]float32, d.qHeads*d.s.HeadDim)
	k = make([]float32, d.s.KVHeads*d.s.HeadDim)
	v = make([]float32, d.s.KVHeads*d.s.ValDim)
	for _, x := range [][]float32{q, k, v} {
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
	}
	return
}

func (d kvDriver) feed(t *testing.T, c Cache, n int) {
	t.Helper()
	s, hd, vd := d.s, d.s.HeadDim, d.s.ValDim
	start := c.Len(0)
	q := make([]float32, d.qHeads*n*hd)
	k := make([]float32, s.KVHeads*n*hd)
	v := make([]float32, s.KVHeads*n*vd)
	for i := 0; i < n; i++ {
		qi, ki, vi := d.token(start + i)
		for h := 0; h < d.qHeads; h++ {
			copy(q[(h*n+i)*hd:], qi[h*hd:(h+1)*hd])
		}
		for h := 0; h < s.KVHeads; h++ {
			copy(k[(h*n+i)*hd:], ki[h*hd:(h+1)*hd])
			copy(v[(h*n+i)*vd:], vi[h*vd:(h+1)*vd])
		}
	}
	for l := 0; l < s.Layers; l++ {
		if o, ok := c.(QueryObserver); ok {
			o.ObserveQueries(l, q, d.qHeads, n)
		}
		if err := c.Append(l, k, v, n); err != nil {
			t.Fatal(err)
		}
		o, ok := c.(AttentionObserver)
		if !ok {
			continue
		}
		rep := d.qHeads / s.KVHeads
		for h := 0; h < s.KVHeads; h++ {
			keys, _ := readAll(c.Head(l, h), hd, vd)
			total := len(keys) / hd
			w := make([]float32, rep*n*total)
			for r := 0; r < rep*n; r++ {
				i := r % n
				qr := q[((h*rep+r/n)*n+i)*hd:][:hd]
				visible := total - n + i + 1
				sc := make([]float64, visible)
				mx := math.Inf(-1)
				for j := range sc {
					for e := 0; e < hd; e++ {
						sc[j] += float64(qr[e] * keys[j*hd+e])
					}
					mx = max(mx, sc[j])
				}
				var sum float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for j := range sc {
					w[r*total+j] = float32(sc[j] / sum)
				}
			}
			o.ObserveAttention(l, h, w, rep*n, total)
		}
	}
}

// kvState is everything a cache lets one read.
func kvState(c Cache) string {
	s := c.Spec()
	var b strings.Builder
	fmt.Fprintf(&b, "bytes %d;", c.Bytes())
	for l := 0; l < s.Layers; l++ {
		fmt.Fprintf(&b, " L%d len %d:", l, c.Len(l))
		for h := 0; h < s.KVHeads; h++ {
			k, v := readAll(c.Head(l, h), s.HeadDim, s.ValDim)
			fmt.Fprintf(&b, " %v %v", k, v)
		}
	}
	return b.String()
}

// kvKinds are small instances of every cache kind, for geometry s.
func kvKinds(t *testing.T, s Spec) map[string]Constructor {
	head := &RetainingHead{Layers: s.Layers, QHeads: 4, KVHeads: s.KVHeads, HeadDim: s.HeadDim, Hidden: 3,
		Rope: RopeParams{Dim: 2, Theta: 100}}
	rng := rand.New(rand.NewPCG(5, 5))
	for l := 0; l < s.Layers; l++ {
		w1, w2 := make([]float32, head.Hidden*head.In()), make([]float32, s.KVHeads*head.Hidden)
		for i := range w1 {
			w1[i] = float32(rng.NormFloat64())
		}
		for i := range w2 {
			w2[i] = float32(rng.NormFloat64())
		}
		head.W1, head.W2 = append(head.W1, w1), append(head.W2, w2)
	}
	kinds := map[string]Constructor{
		"dense": func(s Spec) (Cache, error) { return NewDense(s, 4) },
		"f16":   func(s Spec) (Cache, error) { return NewF16(s) },
		"gear v1": func(s Spec) (Cache, error) {
			return NewGEAR(s, GEARConfig{Bits: 4, Buffer: 5, Outliers: 0.1, PrefillRank: 3, DecodeRank: 1, Loop: 2})
		},
		"gear kivi": func(s Spec) (Cache, error) {
			return NewGEAR(s, GEARConfig{Bits: 2, KIVI: true, Group: 4, Buffer: 4, Outliers: 0.2, PrefillRank: 2, DecodeRank: 1, Loop: 3})
		},
		"evict mass":  func(s Spec) (Cache, error) { return NewEvict(s, EvictConfig{Budget: 6, Sink: 1, Recent: 2}) },
		"evict ample": func(s Spec) (Cache, error) { return NewEvict(s, EvictConfig{Budget: 100, Sink: 4, Recent: 25}) },
	}
	if s.HeadDim == s.ValDim { // retaining heads read models whose keys and values have one size
		kinds["evict head"] = func(s Spec) (Cache, error) { return NewEvict(s, EvictConfig{Budget: 5, Recent: 1, Head: head}) }
	}
	return kinds
}

// TestTruncate: for every cache kind, cutting the last Append after j of
// its m tokens leaves exactly the state of appending only those j (and
// the two stay identical as more tokens come: eviction scores included);
// cutting further back keeps the surviving tokens as they read before.
func TestTruncate(t *testing.T) {
	for _, vd := range []int{3, 4} {
		kvTruncate(t, Spec{Layers: 2, KVHeads: 2, HeadDim: 4, ValDim: vd})
	}
}

func kvTruncate(t *testing.T, s Spec) {
	d := kvDriver{s: s, qHeads: 4}
	chunks := []int{7, 1, 1, 5, 1, 1, 1, 3, 1, 1, 4, 1, 1}
	for name, mk := range kvKinds(t, s) {
		t.Run(fmt.Sprintf("%s/vd=%d", name, s.ValDim), func(t *testing.T) {
			build := func(cs []int) Cache {
				c, err := mk(s)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range cs {
					d.feed(t, c, n)
				}
				return c
			}
			for i, m := range chunks {
				if m < 2 {
					continue
				}
				for j := 1; j < m; j++ {
					a := build(chunks[:i+1])
					if err := a.Truncate(a.Len(0) - (m - j)); err != nil {
						t.Fatal(err)
					}
					b := build(append(slices.Clone(chunks[:i]), j))
					for step := 0; step < 4; step++ {
						if sa, sb := kvState(a), kvState(b); sa != sb {
							t.Fatalf("chunk %d cut after %d of %d, %d more tokens:\n truncated %s\n appended  %s", i, j, m, step, sa, sb)
						}
						d.feed(t, a, 1)
						d.feed(t, b, 1)
					}
				}
			}
			// Deeper cuts: what survives reads as it did.
			c := build(chunks)
			for _, n := range []int{20, 9, 3, 0} {
				before := map[string]bool{}
				for l := 0; l < s.Layers; l++ {
					for h := 0; h < s.KVHeads; h++ {
						k, v := readAll(c.Head(l, h), s.HeadDim, s.ValDim)
						for i := 0; i < len(k)/s.HeadDim; i++ {
							before[fmt.Sprint(l, h, k[i*s.HeadDim:(i+1)*s.HeadDim], v[i*s.ValDim:(i+1)*s.ValDim])] = true
						}
					}
				}
				if err := c.Truncate(n); err != nil {
					t.Fatal(err)
				}
				for l := 0; l < s.Layers; l++ {
					if c.Len(l) != n {
						t.Fatalf("len %d after truncating to %d", c.Len(l), n)
					}
					held := c.Head(l, 0).Len()
					for h := 0; h < s.KVHeads; h++ {
						k, v := readAll(c.Head(l, h), s.HeadDim, s.ValDim)
						if len(k)/s.HeadDim != held || held > n {
							t.Fatalf("truncate to %d: head %d holds %d, head 0 %d", n, h, len(k)/s.HeadDim, held)
						}
						for i := 0; i < held; i++ {
							if !before[fmt.Sprint(l, h, k[i*s.HeadDim:(i+1)*s.HeadDim], v[i*s.ValDim:(i+1)*s.ValDim])] {
								t.Fatalf("truncate to %d: layer %d head %d token %d changed", n, l, h, i)
							}
						}
					}
				}
				d.feed(t, c, 2) // still usable
				c.Truncate(n)
			}
			if err := c.Truncate(1); err == nil {
				t.Error("truncate beyond the length accepted")
			}
		})
	}
}

// TestEvictAmpleEqualsDense: with a budget at least the sequence length,
// the evicting cache reads exactly as the dense one.
func TestEvictAmpleEqualsDense(t *testing.T) {
	s := Spec{Layers: 2, KVHeads: 2, HeadDim: 4, ValDim: 3}
	d := kvDriver{s: s, qHeads: 4}
	dense, _ := NewDense(s, DefaultBlockSize)
	ev, _ := NewEvict(s, EvictConfig{Budget: 30, Sink: 4, Recent: 4})
	for _, n := range []int{7, 1, 1, 12, 1, 1, 1, 3, 1, 2} { // 30 tokens
		d.feed(t, dense, n)
		d.feed(t, ev, n)
	}
	if a, b := kvState(dense), kvState(ev); a[strings.Index(a, ";"):] != b[strings.Index(b, ";"):] || ev.Stats().Evicted != 0 {
		t.Errorf("evicting cache with ample budget differs from dense:\n%s\n%s", a, b)
	}
}

// TestParseSpec maps each documented string to its cache.
func TestParseSpec(t *testing.T) {
	var buf bytes.Buffer
	head := &RetainingHead{Layers: 1, QHeads: 2, KVHeads: 1, HeadDim: 8, Hidden: 2, Rope: RopeParams{Dim: 8, Theta: 10000},
		W1: [][]float32{make([]float32, 2*32)}, W2: [][]float32{make([]float32, 2)}}
	if _, err := head.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/head.bin"
	if err := osWriteFile(path, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	s := Spec{Layers: 1, KVHeads: 1, HeadDim: 8, ValDim: 8, MaxLen: 512}
	for _, c := range []struct{ spec, want string }{
		{"dense", "*kvcache.Dense"},
		{"f32", "*kvcache.Dense"},
		{"f16", "*kvcache.F16"},
		{"gear:4", "gear:4,buffer=20,outliers=0.02,rank=4/2,loop=3"},
		{"gear:2", "gear:2,buffer=20,outliers=0.02,rank=4/2,loop=3"},
		{"gear:4,kivi", "gear:4,kivi,group=64,buffer=64,outliers=0.02,rank=4/2,loop=3"},
		{"gear:2,kivi,group=32,buffer=32,outliers=0.05,rank=2", "gear:2,kivi,group=32,buffer=32,outliers=0.05,rank=2/2,loop=3"},
		{"gear:3,rank=8/4,loop=1", "gear:3,buffer=20,outliers=0.02,rank=8/4,loop=1"},
		{"evict:100", "evict:100,sink=4,recent=50"},
		{"evict:25%", "evict:128,sink=4,recent=64"}, // ⌈0.25 · 512⌉
		{"evict:10%,sink=0,recent=8", "evict:52,sink=0,recent=8"},
		{"evict:3", "evict:3,sink=2,recent=1"},
		{"locret:25%,head=" + path, "locret:128,sink=4,recent=64"},
	} {
		mk, err := ParseSpec(c.spec)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		cache, err := mk(s)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		got := fmt.Sprintf("%T", cache)
		switch x := cache.(type) {
		case *GEAR:
			got = x.Config().String()
		case *Evict:
			got = x.Config().String()
		}
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.spec, got, c.want)
		}
	}
	for _, bad := range []string{"", "gear", "gear:0", "gear:9", "gear:4,fast", "gear:4,rank=x", "gear:4,buffer=0",
		"evict", "evict:0", "evict:0%", "evict:120%", "evict:10,sink=8,recent=8", "evict:10,head=x",
		"locret:10", "locret:10,head=/nonexistent", "f16:2", "dense,x=1", "gear:4,group=2,group=3", "zip"} {
		mk, err := ParseSpec(bad)
		if err == nil {
			if _, err = mk(s); err == nil {
				t.Errorf("%q accepted", bad)
			}
		}
	}
	if mk, _ := ParseSpec("evict:25%"); mk != nil {
		if _, err := mk(Spec{Layers: 1, KVHeads: 1, HeadDim: 1, ValDim: 1}); err == nil {
			t.Error("a percentage budget without the context length accepted")
		}
	}
	// The head file round-trips, and a head for another geometry is refused.
	back, err := LoadRetainingHead(path)
	if err != nil || back.Hidden != 2 || back.Rope.Theta != 10000 || len(back.W1[0]) != 64 {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	if _, err := NewEvict(Spec{Layers: 2, KVHeads: 1, HeadDim: 8, ValDim: 8}, EvictConfig{Budget: 4, Head: back}); err == nil {
		t.Error("retaining head for 1 layer used on 2")
	}
	if _, err := ReadRetainingHead(bytes.NewReader(buf.Bytes()[:buf.Len()-1])); err == nil {
		t.Error("truncated head file accepted")
	}
}

func osWriteFile(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }
