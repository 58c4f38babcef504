package tokenizer_test

import (
	"reflect"
	"testing"

	"github.com/optc-dev/optc/gguf"
	"github.com/optc-dev/optc/runtime/llm/llmtest"
	"github.com/optc-dev/optc/runtime/llm/tokenizer"
)

func stories(t *testing.T) *tokenizer.SPM {
	t.Helper()
	f, err := gguf.Open(llmtest.Path(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestSPMGolden: llama.cpp's tokenization of the golden prompts (with BOS)
// and its detokenization of the 200 generated tokens of each.
func TestSPMGolden(t *testing.T) {
	tok := stories(t)
	g := llmtest.LoadGolden(t)
	for _, c := range g.Cases {
		if got := tokenizer.EncodePrompt(tok, c.Prompt); !reflect.DeepEqual(got, c.PromptTokens) {
			t.Errorf("prompt %q: tokens %v, llama.cpp %v", c.Prompt, got, c.PromptTokens)
		}
		if got := tok.Decode(c.OutTokens); got != c.Text {
			t.Errorf("prompt %q: decoded\n%q\nllama.cpp\n%q", c.Prompt, got, c.Text)
		}
	}
	if sp := tok.Specials(); sp.BOS != 1 || sp.EOS != 2 || sp.UNK != 0 || sp.PAD != -1 || !sp.AddBOS {
		t.Errorf("specials %+v", sp)
	}
}

// TestSPMRoundTrip: decoding an encoding gives the text back, including
// characters outside the 512-token vocabulary (byte fallback) and runs of
// spaces and newlines. (Invalid UTF-8 does not round-trip, in llama.cpp
// either: a lead byte claims the bytes after it, "▁" included.)
func TestSPMRoundTrip(t *testing.T) {
	tok := stories(t)
	for _, s := range []string{
		"Once upon a time", "  two  spaces ", "line\nbreak\n\n", "naïve café — 日本語 🙂",
		"tab\there", "x", "<s> is text, not BOS",
	} {
		ids := tok.Encode(s)
		if got := tok.Decode(ids); got != s {
			t.Errorf("%q → %v → %q", s, ids, got)
		}
	}
	// "日" is not a token of tok512: it falls back to its three UTF-8
	// bytes E6 97 A5, whose tokens <0xNN> have ids 3+0xNN.
	ids := tok.Encode("日")
	if n := len(ids); n < 3 || !reflect.DeepEqual(ids[n-3:], []int32{3 + 0xe6, 3 + 0x97, 3 + 0xa5}) {
		t.Errorf("日 → %v, want … 233 154 168", ids)
	}
	if ids := tok.Encode(""); len(ids) != 0 {
		t.Errorf("empty → %v", ids)
	}
}

// TestSPMMerges checks the merge order on a hand-made vocabulary:
// highest score first, the leftmost pair among equal scores, and merges
// only into vocabulary tokens.
func TestSPMMerges(t *testing.T) {
	tokens := []string{"<unk>", "<s>", "</s>", "<0x41>", "▁", "a", "b", "c", "ab", "bc", "▁a", "▁ab", "abc"}
	scores := []float32{0, 0, 0, 0, -10, -5, -5, -5, -1, -2, -3, -4, -0.5}
	types := []int32{2, 3, 3, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	sp := tokenizer.Specials{BOS: 1, EOS: 2, UNK: 0, PAD: -1, AddBOS: true}
	tok, err := tokenizer.NewSPM(tokens, scores, types, true, sp)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		text string
		want []int32
	}{
		// "▁abc": pairs ▁a (-3), ab (-1), bc (-2) → ab first; then ▁ab (-4)
		// vs abc (-0.5) → abc; "▁"+"abc" is no token: [▁, abc].
		{"abc", []int32{4, 12}},
		// "▁ab": ab (-1) beats ▁a (-3), then ▁ab (-4): [▁ab].
		{"ab", []int32{11}},
		// "▁bc": only bc: [▁, bc].
		{"bc", []int32{4, 9}},
		// "A" is not a token but <0x41> is: byte fallback. "D" has no
		// byte token: <unk>.
		{"A", []int32{4, 3}},
		{"D", []int32{4, 0}},
	} {
		if got := tok.Encode(c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %v, want %v", c.text, got, c.want)
		}
	}
	// Equal scores: in "▁aaa" with "aa" the only merge, the leftmost pair
	// merges first: [▁, aa, a].
	tok2, _ := tokenizer.NewSPM([]string{"<unk>", "▁", "a", "aa"}, []float32{0, -1, -1, -1}, nil, true, tokenizer.NoSpecials)
	if got := tok2.Encode("aaa"); !reflect.DeepEqual(got, []int32{1, 3, 2}) {
		t.Errorf("aaa: %v, want [1 3 2]", got)
	}
	if _, err := tokenizer.NewSPM(tokens, scores[:3], types, true, sp); err == nil {
		t.Error("mismatched scores accepted")
	}
}

func TestBytes(t *testing.T) {
	b := tokenizer.NewBytes(1, tokenizer.Specials{BOS: 256, EOS: -1, UNK: -1, PAD: -1, AddBOS: true})
	ids := tokenizer.EncodePrompt(b, "hé")
	if !reflect.DeepEqual(ids, []int32{256, 'h', 0xc3, 0xa9}) {
		t.Errorf("ids %v", ids)
	}
	if got := b.Decode(ids); got != "hé" || b.VocabSize() != 257 {
		t.Errorf("decode %q, vocab %d", got, b.VocabSize())
	}
}

// TestGPT2 checks encodings against the test file of the npm package
// gpt-3-encoder (Encoder.test.js in its repository: the first six cases)
// and against the package itself run under Node.js (the others: encode()
// of gpt-3-encoder 1.1.4).
func TestGPT2(t *testing.T) {
	tok, err := tokenizer.LoadGPT2(llmtest.NPMPackage(t, "gpt-3-encoder", "vocab.bpe"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		text string
		want []int32
	}{
		{"", nil},
		{" ", []int32{220}},
		{"\t", []int32{197}},
		{"This is some text", []int32{1212, 318, 617, 2420}},
		{"indivisible", []int32{521, 452, 12843}},
		{"hello 👋 world 🌍", []int32{31373, 50169, 233, 995, 12520, 234, 235}},
		{"I'm sure you'll see it's done", []int32{40, 1101, 1654, 345, 1183, 766, 340, 338, 1760}},
		{"a   b\n\nc  ", []int32{64, 220, 220, 275, 198, 198, 66, 220, 220}},
		{"In 2023, 42 cats ate 3.14 pies!!", []int32{818, 1160, 1954, 11, 5433, 11875, 15063, 513, 13, 1415, 47199, 3228}},
		{"naïve café — 日本語", []int32{2616, 38776, 40304, 851, 10545, 245, 98, 17312, 105, 45739, 252}},
		{"  leading\ttabs\t\n", []int32{220, 3756, 197, 8658, 82, 197, 198}},
		{"def f(x):\n    return x**2", []int32{4299, 277, 7, 87, 2599, 198, 220, 220, 220, 1441, 2124, 1174, 17}},
	} {
		got := tok.Encode(c.text)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %v, want %v", c.text, got, c.want)
		}
		if d := tok.Decode(got); d != c.text {
			t.Errorf("%q decodes to %q", c.text, d)
		}
	}
	if sp := tok.Specials(); sp.EOS != 50256 || tok.VocabSize() != 50257 {
		t.Errorf("specials %+v, vocab %d", sp, tok.VocabSize())
	}
}
