package llm_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// TestNativePadding: passes of more than 8 tokens run on the bundle of
// the next power of two, the padding cut from the logits and the cache:
// an 11-token prefill with every row (run as 16), a decoding step, and a
// 10-token tree (run as 16, the padding tokens children of the prefix)
// give the interpreter's logits and cache. Passes of up to 8 tokens run
// at their own size (nativeCase covers them).
func TestNativePadding(t *testing.T) {
	m := stories(t)
	nm := nativeOf(t, m, llm.NativeOptions{})
	seq := goldenSequence(t)
	if len(seq) < 22 {
		t.Fatalf("golden sequence of %d tokens, want 22", len(seq))
	}
	ci, _ := m.NewCache()
	cn, _ := nm.NewCache()
	step := nativeStepper(t, m, nm, ci, cn)
	all := func(n int) []int {
		r := make([]int, n)
		for i := range r {
			r[i] = i
		}
		return r
	}
	step("prefill of 11", seq[:11], all(11), llm.ForwardOptions{})
	step("decode", seq[11:12], []int{0}, llm.ForwardOptions{})
	// Two branches from the prefix's last token, of depths 5 and 5.
	tree := &kvcache.Tree{Base: 12, Parents: []int{-1, 0, 1, 2, 3, -1, 5, 6, 7, 8}}
	step("tree of 10", seq[12:22], all(10), llm.ForwardOptions{Tree: tree})
}

// TestNativeLMTargetFolder: the fixture target loaded from its folder
// (graph by llama.Build, rotate-half RotaryEmbedding nodes, which the
// native backend rewrites into standard ops) gives the interpreter's
// logits natively, with no interpreted rotary step left in the bundles.
func TestNativeLMTargetFolder(t *testing.T) {
	if _, err := os.Stat(nativeBenchFixtureDirs["lm-target"] + "/config.json"); err != nil {
		t.Skipf("fixture %s is absent: %v", nativeBenchFixtureDirs["lm-target"], err)
	}
	m, err := llm.Load(nativeBenchFixtureDirs["lm-target"])
	if err != nil {
		t.Fatal(err)
	}
	nm := nativeOf(t, m, llm.NativeOptions{})
	seq := m.Tokenizer.Encode("func main() { fmt.Println(42) }")
	ci, _ := m.NewCache()
	cn, _ := nm.NewCache()
	for _, part := range [][]int32{seq[:9], seq[9:10], seq[10:13]} {
		nativeLastRow(t, fmt.Sprintf("%d tokens after %d", len(part), ci.Len(0)), m, nm, ci, cn, part)
	}
	if fb := nm.Stats().Fallback; fb["RotaryEmbedding"] != 0 {
		t.Errorf("interpreted ops %v: the rotary steps were not rewritten", fb)
	}
}
