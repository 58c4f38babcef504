package spec

import (
	"context"
	"fmt"
	"time"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/kvcache"
)

// Model is what speculative decoding needs of a language model: an
// llm.LM whose forward pass can also run token trees and return hidden
// states. *llm.Model (the interpreter) and *llm.NativeModel (compiled) are.
type Model interface {
	llm.LM
	ForwardWith(ctx context.Context, cache kvcache.Cache, tokens []int32, rows []int, opt llm.ForwardOptions) (*llm.ForwardResult, error)
}

// seqState is one model with its KV cache. held is the chain of tokens
// whose keys and values the cache holds exactly as plain decoding would
// have computed them; a tree of tokens may follow it in the cache (while
// a draft tree is being built level by level).
type seqState struct {
	m     Model
	cache kvcache.Cache
	chunk int // prefill chunk
	held  []int32
	tree  *kvcache.Tree // tokens after held, or nil
	// Costs: forward passes, tokens fed and time spent.
	calls, fed int
	dur        time.Duration
}

func newSeqState(m Model, newCache func(kvcache.Spec) (kvcache.Cache, error), chunk int) (*seqState, error) {
	c, err := newCache(m.CacheSpec())
	if err != nil {
		return nil, err
	}
	if chunk <= 0 {
		chunk = llm.DefaultChunk
	}
	return &seqState{m: m, cache: c, chunk: chunk}, nil
}

// sync rolls the cache back to the longest prefix of held shared with
// seq, leaving at least the last token of seq unfed, and returns the
// tokens of seq to feed next (at least one).
func (s *seqState) sync(seq []int32) ([]int32, error) {
	n := 0
	for n < len(s.held) && n < len(seq)-1 && s.held[n] == seq[n] {
		n++
	}
	if n < len(s.held) || s.tree != nil || s.cache.Len(0) != n {
		if err := s.cache.Truncate(n); err != nil {
			return nil, err
		}
		s.held, s.tree = s.held[:n], nil
	}
	return seq[n:], nil
}

// run is one timed forward pass.
func (s *seqState) run(ctx context.Context, toks []int32, rows []int, opt llm.ForwardOptions) (*llm.ForwardResult, error) {
	t0 := time.Now()
	r, err := s.m.ForwardWith(ctx, s.cache, toks, rows, opt)
	s.dur += time.Since(t0)
	s.calls++
	s.fed += len(toks)
	return r, err
}

// prefill feeds all but the last chunk of pending tokens (a prompt) and
// returns what is left, at most one chunk.
func (s *seqState) prefill(ctx context.Context, pending []int32) ([]int32, error) {
	for len(pending) > s.chunk {
		c := pending[:s.chunk]
		if _, err := s.run(ctx, c, nil, llm.ForwardOptions{}); err != nil {
			return nil, err
		}
		s.held = append(s.held, c...)
		pending = pending[s.chunk:]
	}
	return pending, nil
}

// step extends seq by the draft tokens ext (a chain) and returns the
// logits (and hidden states when hidden) after the last token of seq and
// after each token of ext: len(ext)+1 rows.
func (s *seqState) step(ctx context.Context, seq, ext []int32, hidden bool) (*llm.ForwardResult, error) {
	return s.extend(ctx, seq, ext, chainParents(len(ext)), hidden)
}

// extend feeds seq's pending tokens and then nodes, a tree below seq's
// last token (parents[i] < i indexes nodes; -1 is seq's last token), in
// one forward pass, and returns the logits (and hidden states) after
// seq's last token and after each node: len(nodes)+1 rows. Afterwards the
// cache keeps seq and the nodes that continue it as a chain from the
// first (their keys and values are those plain decoding computes).
func (s *seqState) extend(ctx context.Context, seq, nodes []int32, parents []int, hidden bool) (*llm.ForwardResult, error) {
	pending, err := s.sync(seq)
	if err != nil {
		return nil, err
	}
	if pending, err = s.prefill(ctx, pending); err != nil {
		return nil, err
	}
	toks := append(append(make([]int32, 0, len(pending)+len(nodes)), pending...), nodes...)
	rows := make([]int, len(nodes)+1)
	for i := range rows {
		rows[i] = len(pending) - 1 + i
	}
	lead := leadingChain(parents)
	var opt llm.ForwardOptions
	opt.Hidden = hidden
	if lead < len(nodes) {
		tp := make([]int, len(toks))
		for i := range pending {
			tp[i] = i - 1
		}
		for i, p := range parents {
			if p < 0 {
				tp[len(pending)+i] = len(pending) - 1
			} else {
				tp[len(pending)+i] = len(pending) + p
			}
		}
		opt.Tree = &kvcache.Tree{Base: len(s.held), Parents: tp}
	}
	r, err := s.run(ctx, toks, rows, opt)
	if err != nil {
		return nil, err
	}
	s.held = append(append(s.held, pending...), nodes[:lead]...)
	if lead < len(nodes) {
		if err := s.cache.Truncate(len(s.held)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// grow appends one more level to a tree being drafted: the first call
// (s.tree nil) feeds seq's pending tokens and the first level; later
// calls feed only the new nodes. parents index the tree's nodes so far
// (all levels, in the order fed); -1 is seq's last token. It returns the
// logits after each new node (and, on the first call, first the logits
// after seq's last token).
func (s *seqState) grow(ctx context.Context, seq, nodes []int32, parents []int) (*llm.ForwardResult, error) {
	if s.tree == nil {
		pending, err := s.sync(seq)
		if err != nil {
			return nil, err
		}
		if pending, err = s.prefill(ctx, pending); err != nil {
			return nil, err
		}
		// The pending tokens are a chain at the root of the tree.
		tp := make([]int, len(pending), len(pending)+len(nodes))
		for i := range tp {
			tp[i] = i - 1
		}
		t := &kvcache.Tree{Base: len(s.held), Parents: tp}
		toks := append(append([]int32{}, pending...), nodes...)
		rows := make([]int, len(nodes)+1)
		for i := range rows {
			rows[i] = len(pending) - 1 + i
		}
		for _, p := range parents {
			t.Parents = append(t.Parents, treeIndex(p, len(pending)))
		}
		var opt llm.ForwardOptions
		if len(nodes) > 0 {
			opt.Tree = t
		}
		r, err := s.run(ctx, toks, rows, opt)
		if err != nil {
			return nil, err
		}
		s.held = append(s.held, pending...)
		// The tree now lives after held: its root chain is part of held,
		// so rebase it.
		s.tree = &kvcache.Tree{Base: len(s.held), Parents: append([]int{}, parents...)}
		return r, nil
	}
	t := s.tree
	n0 := len(t.Parents)
	if len(parents) != n0+len(nodes) {
		return nil, fmt.Errorf("spec: tree level of %d nodes with %d parents after %d", len(nodes), len(parents), n0)
	}
	t.Parents = append(t.Parents, parents[n0:]...)
	rows := make([]int, len(nodes))
	for i := range rows {
		rows[i] = i
	}
	r, err := s.run(ctx, nodes, rows, llm.ForwardOptions{Tree: t})
	if err != nil {
		t.Parents = t.Parents[:n0]
		return nil, err
	}
	return r, nil
}

// treeIndex maps a node parent (-1 = the root token, the last of npend
// pending tokens) to an index in a tree whose first npend entries are the
// pending chain.
func treeIndex(p, npend int) int {
	if p < 0 {
		return npend - 1
	}
	return npend + p
}

// chainParents is a chain of n nodes below the root.
func chainParents(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i - 1
	}
	return p
}

// leadingChain is the number of nodes that continue the root as a chain
// from the first: parents[i] == i-1.
func leadingChain(parents []int) int {
	n := 0
	for n < len(parents) && parents[n] == n-1 {
		n++
	}
	return n
}
