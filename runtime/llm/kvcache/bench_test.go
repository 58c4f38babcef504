package kvcache_test

import (
	"context"
	"testing"

	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// BenchmarkDecode is one single-token forward pass of the fixture LM
// (stories260K where the fixture is absent) over 448 cached tokens, per
// cache kind: what reading compressed blocks costs the decoder.
func BenchmarkDecode(b *testing.B) {
	km := kvModels(b)[0]
	seq := make([]int32, 449)
	for i := range seq {
		seq[i] = km.seq[i%len(km.seq)]
	}
	ctx := context.Background()
	for _, kind := range []string{"dense", "f16", "gear:4", "gear:4,kivi", "gear:2,kivi", "evict:25%"} {
		b.Run(kind, func(b *testing.B) {
			mk, err := kvcache.ParseSpec(kind)
			if err != nil {
				b.Fatal(err)
			}
			c, err := mk(km.m.CacheSpec())
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < 448; i += 64 {
				if _, err := km.m.Forward(ctx, c, seq[i:min(i+64, 448)], nil); err != nil {
					b.Fatal(err)
				}
			}
			// One warm-up step compresses/evicts the prompt; each timed
			// step is then rolled back.
			if _, err := km.m.Forward(ctx, c, seq[448:449], []int{0}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := km.m.Forward(ctx, c, seq[100:101], []int{0}); err != nil {
					b.Fatal(err)
				}
				c.Truncate(449)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}
