package kvcache

import (
	"context"
	"fmt"
)

// Tree attention: speculative decoding verifies a tree of draft tokens in
// one forward pass, and drafts trees level by level. The most recent
// tokens of the sequence are then not a chain but a tree hanging off a
// shared prefix: each of them attends to the prefix, to its ancestors in
// the tree and to itself, and its position is the prefix length plus its
// depth.

// Tree describes the tokens at sequence positions Base, Base+1, … (the
// last len(Parents) tokens of the cache once a run has appended its
// tokens) as a tree over the prefix of the Base tokens before them.
type Tree struct {
	Base int
	// Parents[i] is the index (into Parents) of the parent of the token
	// at position Base+i, smaller than i, or -1 when its parent is the
	// last token of the prefix (position Base-1).
	Parents []int
}

type treeKey struct{}

// WithTree returns a context under which graph runs append the last
// tokens of t (their count is the run's token count). The caller keeps t
// unchanged while the context is in use.
func WithTree(ctx context.Context, t *Tree) context.Context {
	return context.WithValue(ctx, treeKey{}, t)
}

// TreeFromContext returns the tree bound to ctx, or nil (a chain).
func TreeFromContext(ctx context.Context) *Tree {
	t, _ := ctx.Value(treeKey{}).(*Tree)
	return t
}

// Check reports whether t is a tree whose last n tokens are appended to
// a sequence of held tokens.
func (t *Tree) Check(held, n int) error {
	if t.Base < 0 || t.Base+len(t.Parents) != held+n || n > len(t.Parents) {
		return fmt.Errorf("kvcache: a tree of %d tokens from position %d does not end with the %d tokens appended after %d", len(t.Parents), t.Base, n, held)
	}
	for i, p := range t.Parents {
		if p < -1 || p >= i {
			return fmt.Errorf("kvcache: tree token %d has parent %d (want -1 or an earlier token)", i, p)
		}
	}
	return nil
}

// Depths returns each tree token's depth: 0 for children of the prefix,
// its parent's depth + 1 otherwise. Its position is Base + depth.
func (t *Tree) Depths() []int {
	d := make([]int, len(t.Parents))
	for i, p := range t.Parents {
		if p >= 0 {
			d[i] = d[p] + 1
		}
	}
	return d
}

// Visible returns, for each of the last n tree tokens, which tree tokens
// it sees: row i (length len(Parents)) is true at its own index and at
// its ancestors'.
func (t *Tree) Visible(n int) [][]bool {
	l := len(t.Parents)
	anc := make([][]bool, l)
	flat := make([]bool, l*l)
	for i, p := range t.Parents {
		anc[i] = flat[i*l : (i+1)*l]
		if p >= 0 {
			copy(anc[i], anc[p])
		}
		anc[i][i] = true
	}
	return anc[l-n:]
}
