package tokenizer

// Tokenizer encodes text to token ids and decodes them back.
type Tokenizer interface {
	// Encode tokenizes text as the model's reference tokenizer does for a
	// prompt, without BOS/EOS (the caller adds BOS when Specials says so).
	Encode(text string) []int32
	// Decode turns ids into text as the reference detokenizer does (for
	// SentencePiece, the first piece's leading space is dropped; control
	// tokens render as nothing).
	Decode(ids []int32) string
	// Piece is the bytes a token contributes to running text, for
	// streaming: concatenating the pieces of generated tokens after a
	// prompt gives the generated text. A piece may be part of a UTF-8
	// character (byte-fallback and byte-level tokens).
	Piece(id int32) []byte
	// VocabSize is the number of token ids.
	VocabSize() int
	// Specials returns the special token ids.
	Specials() Specials
}

// Specials are a vocabulary's special tokens; an id of -1 means none.
type Specials struct {
	BOS, EOS, UNK, PAD int32
	// AddBOS says whether prompts start with BOS.
	AddBOS bool
}

// NoSpecials has every special id unset.
var NoSpecials = Specials{BOS: -1, EOS: -1, UNK: -1, PAD: -1}

// IsEnd reports whether id ends generation (EOS).
func (s Specials) IsEnd(id int32) bool { return s.EOS >= 0 && id == s.EOS }

// EncodePrompt encodes text and prepends BOS when the vocabulary asks for
// it.
func EncodePrompt(t Tokenizer, text string) []int32 {
	ids := t.Encode(text)
	if sp := t.Specials(); sp.AddBOS && sp.BOS >= 0 {
		ids = append([]int32{sp.BOS}, ids...)
	}
	return ids
}
