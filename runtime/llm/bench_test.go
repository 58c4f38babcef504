package llm_test

import (
	"context"
	"testing"
)

// BenchmarkDecode is one single-token forward pass of stories260K with a
// KV cache holding 64 tokens (tg in llama-bench terms).
func BenchmarkDecode(b *testing.B) {
	m := stories(b)
	ctx := context.Background()
	cache, _ := m.NewCache()
	prompt := make([]int32, 64)
	for i := range prompt {
		prompt[i] = int32(3 + i)
	}
	if _, err := m.Forward(ctx, cache, prompt, nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Forward(ctx, cache, []int32{42}, []int{0}); err != nil {
			b.Fatal(err)
		}
		cache.Truncate(64)
	}
}

// BenchmarkPrefill is a 64-token prefill into an empty cache (pp64).
func BenchmarkPrefill(b *testing.B) {
	m := stories(b)
	ctx := context.Background()
	prompt := make([]int32, 64)
	for i := range prompt {
		prompt[i] = int32(3 + i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cache, _ := m.NewCache()
		if _, err := m.Forward(ctx, cache, prompt, []int{63}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
