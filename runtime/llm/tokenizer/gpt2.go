package tokenizer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// GPT2 is GPT-2's byte-level BPE: text is split by GPT-2's pre-tokenizer
// pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// each piece's UTF-8 bytes are mapped to printable characters
// (bytes_to_unicode), and the lowest-ranked merge of vocab.bpe is applied
// until none applies; the resulting symbols are looked up in encoder.json.
type GPT2 struct {
	encoder map[string]int32
	decoder []string
	ranks   map[[2]string]int
	special Specials

	mu    sync.Mutex // guards cache
	cache map[string][]int32
}

// gpt2ByteChars maps a byte to its printable stand-in; gpt2CharBytes is
// the inverse (bytes_to_unicode of the GPT-2 encoder).
var gpt2ByteChars, gpt2CharBytes = gpt2ByteMaps()

func gpt2ByteMaps() ([256]string, map[rune]byte) {
	var fwd [256]string
	inv := map[rune]byte{}
	n := 0
	for b := 0; b < 256; b++ {
		r := rune(b)
		printable := (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
		if !printable {
			r = rune(256 + n)
			n++
		}
		fwd[b] = string(r)
		inv[r] = byte(b)
	}
	return fwd, inv
}

// LoadGPT2 reads encoder.json and vocab.bpe from dir.
func LoadGPT2(dir string) (*GPT2, error) {
	ef, err := os.Open(filepath.Join(dir, "encoder.json"))
	if err != nil {
		return nil, err
	}
	defer ef.Close()
	mf, err := os.Open(filepath.Join(dir, "vocab.bpe"))
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	return NewGPT2(ef, mf)
}

// NewGPT2 reads the vocabulary (encoder.json: token → id) and the merges
// (vocab.bpe: a "#version" line, then one "a b" pair per line, in rank
// order). "<|endoftext|>", when present, is BOS and EOS.
func NewGPT2(encoderJSON, merges io.Reader) (*GPT2, error) {
	var enc map[string]int32
	if err := json.NewDecoder(encoderJSON).Decode(&enc); err != nil {
		return nil, fmt.Errorf("tokenizer: encoder.json: %w", err)
	}
	t := &GPT2{encoder: enc, ranks: map[[2]string]int{}, special: NoSpecials, cache: map[string][]int32{}}
	for s, id := range enc {
		if id < 0 || id > 1<<24 {
			return nil, fmt.Errorf("tokenizer: encoder.json: token %q has id %d", s, id)
		}
		for int(id) >= len(t.decoder) {
			t.decoder = append(t.decoder, "")
		}
		t.decoder[id] = s
	}
	sc := bufio.NewScanner(merges)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		txt := sc.Text()
		if line == 1 && strings.HasPrefix(txt, "#version") {
			continue
		}
		f := strings.Fields(txt)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("tokenizer: vocab.bpe line %d: %q is not a pair", line, txt)
		}
		k := [2]string{f[0], f[1]}
		if _, dup := t.ranks[k]; !dup {
			t.ranks[k] = len(t.ranks)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenizer: vocab.bpe: %w", err)
	}
	if id, ok := enc["<|endoftext|>"]; ok {
		t.special.BOS, t.special.EOS = id, id
	}
	return t, nil
}

func (t *GPT2) VocabSize() int     { return len(t.decoder) }
func (t *GPT2) Specials() Specials { return t.special }

// Encode tokenizes text.
func (t *GPT2) Encode(text string) []int32 {
	var out []int32
	for _, piece := range gpt2Split(text) {
		out = append(out, t.bpe(piece)...)
	}
	return out
}

// bpe encodes one pre-tokenized piece.
func (t *GPT2) bpe(piece string) []int32 {
	t.mu.Lock()
	ids, ok := t.cache[piece]
	t.mu.Unlock()
	if ok {
		return ids
	}
	word := make([]string, 0, len(piece))
	for i := 0; i < len(piece); i++ {
		word = append(word, gpt2ByteChars[piece[i]])
	}
	for len(word) > 1 {
		best, at := -1, -1
		for i := 0; i+1 < len(word); i++ {
			if r, ok := t.ranks[[2]string{word[i], word[i+1]}]; ok && (best < 0 || r < best) {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		first, second := word[at], word[at+1]
		merged := word[:0:0]
		for i := 0; i < len(word); {
			if i+1 < len(word) && word[i] == first && word[i+1] == second {
				merged = append(merged, first+second)
				i += 2
				continue
			}
			merged = append(merged, word[i])
			i++
		}
		word = merged
	}
	ids = make([]int32, 0, len(word))
	for _, w := range word {
		if id, ok := t.encoder[w]; ok {
			ids = append(ids, id)
		}
	}
	t.mu.Lock()
	if len(t.cache) < 1<<16 {
		t.cache[piece] = ids
	}
	t.mu.Unlock()
	return ids
}

// Piece is the bytes of a token.
func (t *GPT2) Piece(id int32) []byte {
	if id < 0 || int(id) >= len(t.decoder) {
		return nil
	}
	var out []byte
	for _, r := range t.decoder[id] {
		if b, ok := gpt2CharBytes[r]; ok {
			out = append(out, b)
		}
	}
	return out
}

// Decode concatenates the tokens' bytes.
func (t *GPT2) Decode(ids []int32) string {
	var out []byte
	for _, id := range ids {
		out = append(out, t.Piece(id)...)
	}
	return string(out)
}

// gpt2IsSpace is JavaScript's \s (the reference implementation is the
// npm package gpt-3-encoder): ECMAScript WhiteSpace and LineTerminator.
func gpt2IsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// gpt2Class classifies a rune for the pre-tokenizer: letter, number,
// space or other.
func gpt2Class(r rune) byte {
	switch {
	case unicode.IsLetter(r):
		return 'L'
	case unicode.IsNumber(r):
		return 'N'
	case gpt2IsSpace(r):
		return 's'
	}
	return 'o'
}

// gpt2Split applies the pre-tokenizer pattern, trying its alternatives in
// order at each position as a backtracking regex engine would.
func gpt2Split(text string) []string {
	var out []string
	runeAt := func(i int) (rune, int) { return utf8.DecodeRuneInString(text[i:]) }
	// run returns the end of the longest run of class c from i.
	run := func(i int, c byte) int {
		for i < len(text) {
			r, n := runeAt(i)
			if gpt2Class(r) != c {
				break
			}
			i += n
		}
		return i
	}
	for i := 0; i < len(text); {
		end := -1
		if text[i] == '\'' {
			for _, s := range []string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"} {
				if strings.HasPrefix(text[i:], s) {
					end = i + len(s)
					break
				}
			}
		}
		if end < 0 {
			// ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': an optional
			// space, then a run of one class.
			j := i
			if text[j] == ' ' && j+1 < len(text) {
				j++
			}
			r, _ := runeAt(j)
			if c := gpt2Class(r); c == 'L' || c == 'N' || c == 'o' {
				if j > i || text[i] != ' ' {
					end = run(j, c)
				}
			}
		}
		if end < 0 {
			// \s+(?!\S): the whitespace run, less its last character when
			// a non-space follows; else \s+ (a single space before \S).
			r, n := runeAt(i)
			if gpt2Class(r) != 's' {
				end = i + n // unreachable: every rune has a class above
			} else {
				e := run(i, 's')
				if e < len(text) {
					_, last := utf8.DecodeLastRuneInString(text[i:e])
					if e-last > i {
						e -= last
					}
				}
				end = e
			}
		}
		out = append(out, text[i:end])
		i = end
	}
	return out
}
