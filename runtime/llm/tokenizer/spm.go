package tokenizer

import (
	"container/heap"
	"fmt"
	"strings"

	"github.com/optc-dev/optc/gguf"
)

// Token types of the GGUF vocabulary (tokenizer.ggml.token_type), as
// llama.cpp numbers them.
const (
	TypeNormal      = 1
	TypeUnknown     = 2
	TypeControl     = 3
	TypeUserDefined = 4
	TypeUnused      = 5
	TypeByte        = 6
)

// spaceMark is SentencePiece's visible space, U+2581.
const spaceMark = "\u2581"

// SPM is the SentencePiece-style BPE tokenizer llama.cpp builds from GGUF
// metadata (tokenizer.ggml.model = "llama"): the text (with a leading
// space when AddSpacePrefix) has its spaces replaced by "▁", is split into
// UTF-8 characters, and adjacent symbols are merged greedily, always the
// pair whose concatenation is the highest-scoring vocabulary token (ties:
// leftmost first). Symbols left that are not tokens become their bytes'
// <0xNN> tokens.
type SPM struct {
	Tokens         []string
	Scores         []float32
	Types          []int32
	AddSpacePrefix bool
	Special        Specials

	ids    map[string]int32
	bytes  [256]int32 // id of <0xNN>, or -1
	pieces [][]byte
}

// NewSPM builds the tokenizer. scores and types may be nil (all 0 and all
// normal).
func NewSPM(tokens []string, scores []float32, types []int32, addSpacePrefix bool, sp Specials) (*SPM, error) {
	n := len(tokens)
	if n == 0 {
		return nil, fmt.Errorf("tokenizer: empty vocabulary")
	}
	if scores == nil {
		scores = make([]float32, n)
	}
	if types == nil {
		types = make([]int32, n)
		for i := range types {
			types[i] = TypeNormal
		}
	}
	if len(scores) != n || len(types) != n {
		return nil, fmt.Errorf("tokenizer: %d tokens but %d scores and %d token types", n, len(scores), len(types))
	}
	for _, id := range []int32{sp.BOS, sp.EOS, sp.UNK, sp.PAD} {
		if id >= int32(n) {
			return nil, fmt.Errorf("tokenizer: special token id %d outside the vocabulary of %d", id, n)
		}
	}
	t := &SPM{Tokens: tokens, Scores: scores, Types: types, AddSpacePrefix: addSpacePrefix, Special: sp, ids: make(map[string]int32, n)}
	for i, s := range tokens {
		t.ids[s] = int32(i) // a repeated string maps to its last id, as in llama.cpp
	}
	for b := range t.bytes {
		t.bytes[b] = -1
		if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			t.bytes[b] = id
		}
	}
	t.pieces = make([][]byte, n)
	for i := range tokens {
		t.pieces[i] = t.render(int32(i))
	}
	return t, nil
}

// FromGGUF builds the tokenizer stored in a GGUF file's metadata. Only
// the SentencePiece model ("llama") is supported.
func FromGGUF(f *gguf.File) (*SPM, error) {
	model, err := f.String("tokenizer.ggml.model")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", f.Name, err)
	}
	if model != "llama" {
		return nil, fmt.Errorf("tokenizer: %s: tokenizer model %q is not supported (optc reads the SentencePiece model \"llama\")", f.Name, model)
	}
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", f.Name, err)
	}
	var scores []float32
	if _, ok := f.Lookup("tokenizer.ggml.scores"); ok {
		if scores, err = f.Float32s("tokenizer.ggml.scores"); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", f.Name, err)
		}
	}
	var types []int32
	if _, ok := f.Lookup("tokenizer.ggml.token_type"); ok {
		ts, err := f.Int64s("tokenizer.ggml.token_type")
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", f.Name, err)
		}
		types = make([]int32, len(ts))
		for i, x := range ts {
			types[i] = int32(x)
		}
	}
	sp := Specials{}
	for _, s := range []struct {
		key string
		dst *int32
		def int32
	}{
		{"tokenizer.ggml.bos_token_id", &sp.BOS, 1},
		{"tokenizer.ggml.eos_token_id", &sp.EOS, 2},
		{"tokenizer.ggml.unknown_token_id", &sp.UNK, 0},
		{"tokenizer.ggml.padding_token_id", &sp.PAD, -1},
	} {
		v, err := f.UintOr(s.key, uint64(uint32(s.def)))
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", f.Name, err)
		}
		*s.dst = int32(v) // 0xFFFFFFFF (unset in llama.cpp's files) becomes -1
		if v >= uint64(len(tokens)) {
			*s.dst = -1
		}
	}
	if sp.AddBOS, err = f.BoolOr("tokenizer.ggml.add_bos_token", true); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", f.Name, err)
	}
	addSpace, err := f.BoolOr("tokenizer.ggml.add_space_prefix", true)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", f.Name, err)
	}
	t, err := NewSPM(tokens, scores, types, addSpace, sp)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, f.Name)
	}
	return t, nil
}

func (t *SPM) VocabSize() int     { return len(t.Tokens) }
func (t *SPM) Specials() Specials { return t.Special }

// spmSymbol is a span of the escaped text in a doubly linked list.
type spmSymbol struct {
	start, n   int
	prev, next int
}

// spmBigram is a candidate merge of two adjacent symbols.
type spmBigram struct {
	left, right int
	score       float32
	size        int
}

type spmQueue []spmBigram

func (q spmQueue) Len() int { return len(q) }
func (q spmQueue) Less(i, j int) bool {
	if q[i].score != q[j].score {
		return q[i].score > q[j].score
	}
	return q[i].left < q[j].left
}
func (q spmQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *spmQueue) Push(x any)   { *q = append(*q, x.(spmBigram)) }
func (q *spmQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// utf8Len is llama.cpp's unicode_len_utf8: the sequence length announced
// by a lead byte (1 for continuation and invalid bytes).
func utf8Len(b byte) int {
	return [16]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4}[b>>4]
}

// Encode tokenizes text (no BOS). The empty string gives no tokens.
func (t *SPM) Encode(text string) []int32 {
	if text == "" {
		return nil
	}
	if t.AddSpacePrefix {
		text = " " + text
	}
	text = strings.ReplaceAll(text, " ", spaceMark)
	var syms []spmSymbol
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		next := len(syms) + 1
		if off+n == len(text) {
			next = -1
		}
		syms = append(syms, spmSymbol{start: off, n: n, prev: len(syms) - 1, next: next})
		off += n
	}
	q := &spmQueue{}
	try := func(left, right int) {
		if left < 0 || right < 0 {
			return
		}
		l, r := syms[left], syms[right]
		id, ok := t.ids[text[l.start:r.start+r.n]]
		if !ok {
			return
		}
		heap.Push(q, spmBigram{left: left, right: right, score: t.Scores[id], size: l.n + r.n})
	}
	for i := 1; i < len(syms); i++ {
		try(i-1, i)
	}
	for q.Len() > 0 {
		b := heap.Pop(q).(spmBigram)
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue // one side was merged since this pair was queued
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		try(l.prev, b.left)
		try(b.left, l.next)
	}
	var out []int32
	for i := 0; i >= 0 && i < len(syms); i = syms[i].next {
		s := syms[i]
		if id, ok := t.ids[text[s.start:s.start+s.n]]; ok {
			out = append(out, id)
			continue
		}
		for j := s.start; j < s.start+s.n; j++ {
			if id := t.bytes[text[j]]; id >= 0 {
				out = append(out, id)
			} else if t.Special.UNK >= 0 {
				out = append(out, t.Special.UNK)
			}
		}
	}
	return out
}

// unknownPiece is what llama.cpp prints for an unknown-type token (▅).
const unknownPiece = "\u2585"

// Piece renders a token as llama.cpp's token_to_piece does without
// special tokens: normal tokens with "▁" as spaces, byte tokens as their
// byte, user-defined tokens verbatim, control and unused tokens as
// nothing, unknown-type tokens as ▅. The slice must not be modified.
func (t *SPM) Piece(id int32) []byte {
	if id < 0 || int(id) >= len(t.Tokens) {
		return nil
	}
	return t.pieces[id]
}

func (t *SPM) render(id int32) []byte {
	s := t.Tokens[id]
	switch t.Types[id] {
	case TypeNormal:
		return []byte(strings.ReplaceAll(s, spaceMark, " "))
	case TypeUserDefined:
		return []byte(s)
	case TypeByte:
		var b byte
		if _, err := fmt.Sscanf(s, "<0x%02X>", &b); err == nil {
			return []byte{b}
		}
		return nil
	case TypeUnknown:
		return []byte(unknownPiece)
	}
	return nil
}

// Decode is llama.cpp's detokenizer: the pieces concatenated, with the
// leading space of the first token's piece removed when AddSpacePrefix.
func (t *SPM) Decode(ids []int32) string {
	var out []byte
	for i, id := range ids {
		p := t.Piece(id)
		if i == 0 && t.AddSpacePrefix && len(p) > 0 && p[0] == ' ' {
			p = p[1:]
		}
		out = append(out, p...)
	}
	return string(out)
}
