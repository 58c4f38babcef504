package llm_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/optc-dev/optc/runtime/llm"
)

// TestNativeReuseCounts: the native backend opens its bundles with
// runtime/native's ReuseBuffers (the values between a bundle's steps
// kept and rewritten by each pass) and the Attention steps pool their
// scratch. Passes whose token counts change from one to the next (3, 1,
// 3, 2, 1, 2 tokens: each count's bundle run again after others) give
// the interpreter's logits and cache at every pass, and the logits a
// caller kept from earlier passes do not change when later passes run.
func TestNativeReuseCounts(t *testing.T) {
	m := stories(t)
	nm := nativeOf(t, m, llm.NativeOptions{})
	seq := goldenSequence(t)
	ci, _ := m.NewCache()
	cn, _ := nm.NewCache()
	step := nativeStepper(t, m, nm, ci, cn)
	type kept struct {
		got  [][]float32
		copy [][]float32
	}
	var keep []kept
	pos := 0
	for i, k := range []int{3, 1, 3, 2, 1, 2} {
		toks := seq[pos : pos+k]
		pos += k
		rows := make([]int, k)
		for r := range rows {
			rows[r] = r
		}
		// The stepper compares with the interpreter; the native logits are
		// then taken again from a pass of the same tokens after a rollback.
		step(fmt.Sprintf("pass %d of %d tokens", i, k), toks, rows, llm.ForwardOptions{})
		if err := cn.Truncate(cn.Len(0) - k); err != nil {
			t.Fatal(err)
		}
		got, err := nm.Forward(t.Context(), cn, toks, rows)
		if err != nil {
			t.Fatal(err)
		}
		c := make([][]float32, len(got))
		for r := range got {
			c[r] = slices.Clone(got[r])
		}
		keep = append(keep, kept{got, c})
	}
	for i, k := range keep {
		for r := range k.got {
			if !slices.Equal(k.got[r], k.copy[r]) {
				t.Errorf("pass %d: logit row %d changed after later passes", i, r)
			}
		}
	}
}
