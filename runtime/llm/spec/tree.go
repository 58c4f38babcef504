package spec

import (
	"context"
	"slices"
)

// draftTree is a tree of draft tokens below the root (the last token of
// the sequence). Nodes are stored parents first; parent -1 is the root.
type draftTree struct {
	tok    []int32
	parent []int
	// kids[i+1] lists node i's children in proposal order (kids[0]: the
	// root's).
	kids [][]int
	// q[i+1] is the draft distribution node i's children were drawn
	// from (q[0]: the root's); nil for candidate trees.
	q    [][]float64
	rule siblingRule
	// draws[i+1], for rule iid, are the next tokens of the drafts that
	// pass through node i, in draft order (with repeats).
	draws [][]int32
}

func (t *draftTree) len() int { return len(t.tok) }

// add appends a node and returns its index.
func (t *draftTree) add(tok int32, parent int) int {
	i := len(t.tok)
	t.tok = append(t.tok, tok)
	t.parent = append(t.parent, parent)
	if len(t.kids) == 0 {
		t.kids = append(t.kids, nil)
	}
	t.kids = append(t.kids, nil)
	t.kids[parent+1] = append(t.kids[parent+1], i)
	return i
}

// depth of node i (children of the root have depth 1).
func (t *draftTree) depth(i int) int {
	d := 0
	for ; i >= 0; i = t.parent[i] {
		d++
	}
	return d
}

// dfsOrder returns the nodes depth first, first child first: the
// first-child chain comes first, so when the verifier accepts a prefix
// of it, the target's cache keeps those tokens without recomputing them.
func (t *draftTree) dfsOrder() []int {
	order := make([]int, 0, t.len())
	var walk func(u int)
	walk = func(u int) {
		for _, c := range t.kids[u+1] {
			order = append(order, c)
			walk(c)
		}
	}
	if len(t.kids) > 0 {
		walk(-1)
	}
	return order
}

// verifyTree runs the target on the tree in one forward pass (tree
// attention) and walks it from the root: greedy decoding descends into
// the child equal to the target's argmax; sampling runs recursive
// rejection sampling over each node's children. It returns the accepted
// path's tokens followed by the target's token, and records the round.
func verifyTree(ctx context.Context, s *Session, t *draftTree, observe func(tok int32, logits []float32)) ([]int32, error) {
	if t.len() == 0 {
		return s.PlainRound(ctx) // nothing fits: the context is almost full
	}
	order := t.dfsOrder()
	pos := make([]int, t.len()) // node → index in the forward pass
	nodes := make([]int32, len(order))
	parents := make([]int, len(order))
	for i, u := range order {
		pos[u] = i
	}
	for i, u := range order {
		nodes[i] = t.tok[u]
		if p := t.parent[u]; p >= 0 {
			parents[i] = pos[p]
		} else {
			parents[i] = -1
		}
	}
	r, err := s.target.extend(ctx, s.Seq, nodes, parents, false)
	if err != nil {
		return nil, err
	}
	row := func(u int) []float32 { return r.Logits[pos[u]+1] } // u = -1: the root's row, 0
	if observe != nil {
		observe(s.Seq[len(s.Seq)-1], r.Logits[0])
		for i, u := range order {
			observe(t.tok[u], r.Logits[i+1])
		}
	}
	hist := slices.Clone(s.Seq)
	var out []int32
	u, reached := -1, 0
	for {
		kids := t.kids[u+1]
		var lg []float32
		if u < 0 {
			lg = r.Logits[0]
		} else {
			lg = row(u)
		}
		p := s.dist(lg, hist)
		if len(kids) > 0 {
			reached++
		}
		next, tok := -1, int32(0)
		if s.Greedy() {
			tok = argmax(p)
			for _, c := range kids {
				if t.tok[c] == tok {
					next = c
					break
				}
			}
		} else if len(kids) == 0 {
			tok = draw(s.rng, p) // a leaf: the bonus token
		} else {
			toks := make([]int32, len(kids))
			for i, c := range kids {
				toks[i] = t.tok[c]
			}
			var q []float64
			if t.q != nil {
				q = t.q[u+1]
			}
			if t.rule == iid {
				var j int
				if j, tok = kseq(s.rng, p, q, t.draws[u+1]); j >= 0 {
					for _, c := range kids {
						if t.tok[c] == tok {
							next = c
						}
					}
				}
			} else {
				var j int
				if j, tok = rrs(s.rng, t.rule, p, q, toks); j >= 0 {
					next = kids[j]
				}
			}
		}
		out = append(out, tok)
		if next < 0 {
			break
		}
		hist = append(hist, tok)
		u = next
	}
	s.Stats.round(t.len(), reached, len(out)-1, len(out))
	return out, nil
}
