// Package tokenizer turns text into token ids and back for the language
// models optc runs: the SentencePiece-style BPE that GGUF files carry in
// their metadata (tokens, scores, token types; merges chosen by score, byte
// fallback <0xNN>, "▁" for spaces), GPT-2's byte-level BPE (encoder.json
// and vocab.bpe), and a plain byte-level tokenizer (one token per byte,
// as optc's fixture language models use).
//
// Each reproduces its reference implementation token for token: llama.cpp's
// SPM tokenizer (llm_tokenizer_spm) and detokenizer, and the GPT-2 encoder
// (as the npm package gpt-3-encoder implements it).
//
// It imports gguf (to read a vocabulary from GGUF metadata) and nothing
// else of optc.
package tokenizer
