package tokenizer

// Bytes is the byte-level tokenizer: token i < 256 is byte i; ids from 256
// up are special tokens (optc's fixture LMs use 256 as BOS).
type Bytes struct {
	// Extra is the number of special ids after the 256 bytes.
	Extra   int
	Special Specials
}

// NewBytes returns a byte-level tokenizer with extra special ids
// 256…256+extra-1 and the given specials (which must lie in that range or
// be -1).
func NewBytes(extra int, sp Specials) *Bytes {
	return &Bytes{Extra: extra, Special: sp}
}

// Encode returns the bytes of text as ids.
func (b *Bytes) Encode(text string) []int32 {
	ids := make([]int32, len(text))
	for i := 0; i < len(text); i++ {
		ids[i] = int32(text[i])
	}
	return ids
}

// Decode concatenates the bytes; special and out-of-range ids are dropped.
func (b *Bytes) Decode(ids []int32) string {
	out := make([]byte, 0, len(ids))
	for _, id := range ids {
		out = append(out, b.Piece(id)...)
	}
	return string(out)
}

// Piece is the byte of a byte token, nothing for a special token.
func (b *Bytes) Piece(id int32) []byte {
	if id >= 0 && id < 256 {
		return []byte{byte(id)}
	}
	return nil
}

func (b *Bytes) VocabSize() int     { return 256 + b.Extra }
func (b *Bytes) Specials() Specials { return b.Special }
