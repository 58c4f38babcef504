// Package spec is speculative decoding for optc's language-model runtime:
// one decoding loop, many strategies behind one interface, the same
// statistics from all.
//
// A Strategy proposes tokens and verifies them against the target model
// in one forward pass per round:
//
//   - Fixed: a draft model proposes K tokens, the lossless verifier
//     (Leviathan et al.; Chen et al.) accepts or rejects them with
//     residual resampling (greedy: argmax matching);
//   - SpecDec++: the same with an adaptive candidate length, stopped by an
//     acceptance-prediction head on the draft's hidden state (AcceptHead,
//     trained in Go by TrainAcceptHead);
//   - Token Recycling: draft-free; an adjacency matrix of the top-k
//     successors seen for each token fills a static tree, verified with
//     tree attention (kvcache.Tree) in one pass;
//   - PEARL: drafting and verification concurrently on two goroutines
//     (pre-verify / post-verify);
//   - SpecTr (K-SEQ over i.i.d. drafts) and RSD (Gumbel-top-k draft trees,
//     recursive rejection sampling): multi-draft verification.
//
// AutoDraft derives a draft from a target by graph surgery (its first k
// decoder layers) followed by optc's dead-code elimination, for models
// that have no published draft. The Decoder's guard decodes plainly when
// the rolling speed of speculation falls below plain decoding's.
//
// Every strategy is lossless: with sampling, the tokens are distributed
// as the target's (after the same temperature, top-k, top-p and
// repetition penalty); with greedy decoding they are the target's greedy
// tokens.
//
// Strategies run on any Model: the interpreter (*llm.Model) or the native
// backend (*llm.NativeModel); Bench compares plain and speculative
// decoding on one backend in one process, and MEASURED.md holds the
// measured tables of both backends.
//
// It imports runtime/llm (the LM interface, sampler, forward hooks),
// runtime/llm/kvcache, ir, passes and safetensors; cmd/optc imports it.
package spec
