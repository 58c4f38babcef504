package spec

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/optc-dev/optc/runtime/llm"
)

// treeDrafter grows draft trees level by level with a draft model: one
// draft forward pass per level, over all of the level's nodes (tree
// attention).
type treeDrafter struct {
	Draft Model
	st    *seqState
	qwarp *llm.Sampler
}

func (d *treeDrafter) draft() *seqState { return d.st }

func (d *treeDrafter) start(ctx context.Context, s *Session) error {
	var err error
	if d.st, err = s.newDraft(d.Draft); err != nil {
		return err
	}
	d.qwarp = llm.NewSampler(s.cfg)
	return warm(ctx, d.st, s.Seq)
}

// level runs the draft on the tree's nodes from index from on and
// returns its logits and warped distributions after each of them; from
// < 0 starts a new tree and returns those after the root (the last token
// of s.Seq).
func (d *treeDrafter) level(ctx context.Context, s *Session, t *draftTree, from int) ([][]float32, [][]float64, error) {
	var r *llm.ForwardResult
	var err error
	if from < 0 {
		d.st.tree = nil
		r, err = d.st.grow(ctx, s.Seq, nil, nil)
	} else {
		r, err = d.st.grow(ctx, s.Seq, t.tok[from:], t.parent)
	}
	if err != nil {
		return nil, nil, err
	}
	qs := make([][]float64, len(r.Logits))
	for i, lg := range r.Logits {
		hist := s.Seq
		if from >= 0 {
			hist = t.history(s.Seq, from+i)
		}
		qs[i] = d.qwarp.Probs(lg, hist, nil)
	}
	return r.Logits, qs, nil
}

// history is seq followed by the path to node i (inclusive).
func (t *draftTree) history(seq []int32, i int) []int32 {
	var path []int32
	for ; i >= 0; i = t.parent[i] {
		path = append(path, t.tok[i])
	}
	h := append(make([]int32, 0, len(seq)+len(path)), seq...)
	for j := len(path) - 1; j >= 0; j-- {
		h = append(h, path[j])
	}
	return h
}

// RSD is Recursive Speculative Decoding with constant branching (RSD-C,
// Jeon et al. 2024): the draft tree's nodes at depth l each get
// Branch[l-1] children, drawn from the draft without replacement by the
// Gumbel-top-k trick (greedy: the draft's top tokens), and the target
// verifies the tree in one pass by recursive rejection sampling.
type RSD struct {
	treeDrafter
	Branch []int
}

// NewRSD is RSD-C with per-level branching factors.
func NewRSD(draft Model, branch []int) *RSD { return &RSD{treeDrafter{Draft: draft}, branch} }

func (r *RSD) Name() string { return "rsd:" + joinInts(r.Branch, "-") }

func (r *RSD) Start(ctx context.Context, s *Session) error {
	if len(r.Branch) == 0 {
		return fmt.Errorf("spec: rsd needs branching factors")
	}
	for _, b := range r.Branch {
		if b < 1 {
			return fmt.Errorf("spec: rsd branching factor %d", b)
		}
	}
	return r.start(ctx, s)
}

func (r *RSD) Round(ctx context.Context, s *Session) ([]int32, error) {
	depth := min(len(r.Branch), s.draftRoom(r.Draft))
	if depth == 0 {
		return s.PlainRound(ctx)
	}
	t := &draftTree{rule: withoutReplacement}
	capN := s.treeCap(r.Draft)
	frontier := []int{-1}
	from := -1
	// A level is drafted only if the tree can take all of its nodes.
	for l := 0; l < depth && t.len()+len(frontier)*r.Branch[l] <= capN; l++ {
		lg, qs, err := r.level(ctx, s, t, from)
		if err != nil {
			return nil, err
		}
		from = t.len()
		var next []int
		for i, u := range frontier {
			for len(t.q) <= u+1 {
				t.q = append(t.q, nil)
			}
			t.q[u+1] = qs[i]
			var kids []int32
			if s.Greedy() {
				kids = make([]int32, min(r.Branch[l], len(lg[i])))
				topK(lg[i], kids)
			} else {
				kids = gumbelTopK(s, qs[i], r.Branch[l])
			}
			for _, k := range kids {
				next = append(next, t.add(k, u))
			}
		}
		frontier = next
	}
	for len(t.q) < t.len()+1 {
		t.q = append(t.q, nil)
	}
	return verifyTree(ctx, s, t, nil)
}

// gumbelTopK draws up to k distinct tokens from q without replacement,
// in draw order: the top k of log q + Gumbel noise.
func gumbelTopK(s *Session, q []float64, k int) []int32 {
	type cand struct {
		tok   int32
		score float64
	}
	var cs []cand
	for i, v := range q {
		if v > 0 {
			g := -math.Log(-math.Log(1 - s.rng.Float64())) // Gumbel(0,1); 1-U ∈ (0,1]
			cs = append(cs, cand{int32(i), math.Log(v) + g})
		}
	}
	sort.Slice(cs, func(a, b int) bool { return cs[a].score > cs[b].score })
	out := make([]int32, 0, min(k, len(cs)))
	for _, c := range cs[:min(k, len(cs))] {
		out = append(out, c.tok)
	}
	return out
}

// SpecTr drafts K sequences of length L i.i.d. from the draft (in
// lockstep: one draft pass per position over the distinct prefixes) and
// verifies them as a trie with K-SEQ (Sun et al., NeurIPS 2023): at each
// position the drafts still consistent with the accepted prefix offer
// their next tokens, accepted with probability min(1, p/(ρ q)).
type SpecTr struct {
	treeDrafter
	K, L int
}

// NewSpecTr is SpecTr K-SEQ with k drafts of length l.
func NewSpecTr(draft Model, k, l int) *SpecTr { return &SpecTr{treeDrafter{Draft: draft}, k, l} }

func (r *SpecTr) Name() string { return fmt.Sprintf("spectr:%dx%d", r.K, r.L) }

func (r *SpecTr) Start(ctx context.Context, s *Session) error {
	if r.K < 1 || r.L < 1 {
		return fmt.Errorf("spec: spectr needs k ≥ 1 drafts of length l ≥ 1 (got %d, %d)", r.K, r.L)
	}
	return r.start(ctx, s)
}

func (r *SpecTr) Round(ctx context.Context, s *Session) ([]int32, error) {
	depth := min(r.L, s.draftRoom(r.Draft))
	capN := s.treeCap(r.Draft)
	if depth == 0 || capN < r.K {
		return s.PlainRound(ctx)
	}
	t := &draftTree{rule: iid}
	at := make([]int, r.K) // each draft's current node (-1: the root)
	for j := range at {
		at[j] = -1
	}
	from := -1
	// A level is drafted only if the tree can take a new node for every
	// draft, so which drafts continue never depends on their tokens.
	for l := 0; l < depth && t.len()+r.K <= capN; l++ {
		_, qs, err := r.level(ctx, s, t, from)
		if err != nil {
			return nil, err
		}
		level := from // qs holds the distributions after nodes level… (root: -1)
		from = t.len()
		for len(t.q) < t.len()+1 {
			t.q, t.draws = append(t.q, nil), append(t.draws, nil)
		}
		child := map[[2]int]int{} // (node, token) → child
		for j, u := range at {
			qi := 0
			if level >= 0 {
				qi = u - level
			}
			q := qs[qi]
			t.q[u+1] = q
			var x int32
			if s.Greedy() {
				x = argmax(q)
			} else {
				x = draw(s.rng, q)
			}
			t.draws[u+1] = append(t.draws[u+1], x)
			key := [2]int{u, int(x)}
			c, ok := child[key]
			if !ok {
				c = t.add(x, u)
				child[key] = c
			}
			at[j] = c
		}
	}
	for len(t.q) < t.len()+1 {
		t.q, t.draws = append(t.q, nil), append(t.draws, nil)
	}
	return verifyTree(ctx, s, t, nil)
}

func joinInts(xs []int, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}

// DraftModel is the draft model.
func (d *treeDrafter) DraftModel() Model { return d.Draft }
