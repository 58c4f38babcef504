package spec

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Recycle is Token Recycling (Luo et al., ACL 2025): draft-free
// speculation from an adjacency matrix M whose row M[v] holds the K
// tokens the target most recently ranked highest after token v. Each
// round fills a static tree template from M breadth first (a node of
// rank r below a node holding token v holds M[v][r]), verifies the whole
// tree in one target pass with tree attention, and overwrites M[x] with
// the target's top K after every token x of the pass.
type Recycle struct {
	K int // successors per token (default 8)
	// Template[d][j] lists the candidate ranks of the children of node j
	// of depth d (depth 0: the root). Default: the paper's 6-level tree.
	Template [][][]int
	// MaxNodes, when > 0, keeps only that many nodes of the template: the
	// ones with the highest prior path score (a product of per-rank
	// weights), which is a subtree.
	MaxNodes int
	// Cold resets M at the start of every generation (it is then filled
	// from the prompt); otherwise M carries over (the paper's hot start).
	Cold bool
	// Adaptive sizes the tree every round: it keeps the N template nodes
	// most often on the accepted path (counted per node, starting from a
	// prior by rank) with N maximizing the expected tokens per unit of
	// verification cost, (1 + Σ P(node accepted)) / t(1+N), for the
	// target's forward cost t(n) measured at n = 1…8, 16, 32, … up to
	// the whole tree, a pass costing what the next measured size costs
	// (at most MaxNodes).
	Adaptive bool

	m      [][]int32
	shape  []templateNode // the template's nodes, parents first
	vocab  int
	target Model
	// Adaptive: per template node, rounds it was in the tree and rounds
	// it was accepted; the target's forward cost in ms.
	present, hits []float64
	costs         []CostPoint
}

// templateNode is one node of the static tree: its parent (-1 = root)
// and the rank of its token among the parent's successors.
type templateNode struct{ parent, rank int }

// TokenRecyclingTree is the static tree of Token Recycling's Figure 5:
// per depth, per node of the previous depth, the candidate ranks of its
// children (80 draft nodes below the root, 6 levels).
var TokenRecyclingTree = [][][]int{
	{{0, 1, 2, 3, 4, 5, 6, 7}},
	{{0, 1, 2, 3, 4, 5, 6, 7}, {0, 1, 2, 3}, {0, 1, 2}, {0, 1}, {0}, {0}, {0}, {0}},
	{{0, 1, 2, 3, 4, 5, 6, 7}, {0, 1, 2}, {0, 1}, {0}, {0}, {0}, {0}, {0}, {0, 1}, {0}, {}, {}, {0}, {}, {}, {0}, {}, {0}, {0}, {}, {}},
	{{0, 1, 2, 3, 4}, {0, 1}, {0}, {0}, {0}, {}, {}, {}, {0}, {}, {}, {0}, {}, {}, {}, {}, {}, {}, {0}, {}, {}, {0}, {0}, {}, {}},
	{{0, 1, 2}, {0}, {0}, {}, {}, {0}, {}, {}, {}, {}, {0}, {}, {0}, {}, {}},
	{{0, 1}, {}, {}, {0}, {}, {}, {}, {}},
}

// NewRecycle is Token Recycling with the paper's tree cut to maxNodes
// nodes (0: all).
func NewRecycle(maxNodes int) *Recycle { return &Recycle{MaxNodes: maxNodes} }

// NewAdaptiveRecycle is Token Recycling whose tree is cut, every round,
// to the size with the best expected tokens per verification cost.
func NewAdaptiveRecycle() *Recycle { return &Recycle{Adaptive: true} }

func (r *Recycle) Name() string {
	if r.Adaptive {
		return "recycle:auto"
	}
	if r.MaxNodes > 0 {
		return fmt.Sprintf("recycle:%d", r.MaxNodes)
	}
	return "recycle"
}

// rankPrior weighs candidate ranks when the template is cut: the
// chance, roughly, that rank r is the target's next token.
var rankPrior = []float64{0.55, 0.15, 0.07, 0.045, 0.03, 0.02, 0.015, 0.01}

func (r *Recycle) Start(ctx context.Context, s *Session) error {
	if r.K <= 0 {
		r.K = 8
	}
	if r.Template == nil {
		r.Template = TokenRecyclingTree
	}
	if r.shape == nil {
		shape, err := flattenTemplate(r.Template, r.K)
		if err != nil {
			return err
		}
		if r.Adaptive {
			r.shape = shape
		} else {
			r.shape = cutTemplate(shape, r.MaxNodes)
		}
		r.present, r.hits = make([]float64, len(r.shape)), make([]float64, len(r.shape))
	}
	if r.Adaptive && r.costs == nil {
		if err := r.measureCost(ctx, s); err != nil {
			return err
		}
	}
	v := s.target.m.VocabSize()
	if r.m == nil || r.Cold || r.vocab != v || r.target != s.target.m {
		r.vocab, r.target = v, s.target.m
		r.m = make([][]int32, v)
		flat := make([]int32, v*r.K)
		for i := range r.m {
			r.m[i] = flat[i*r.K : (i+1)*r.K]
			for j := range r.m[i] {
				r.m[i][j] = int32(j % v)
			}
		}
		// Cold start: the prompt's positions fill M.
		return r.fromPrompt(ctx, s)
	}
	return nil
}

// fromPrompt fills M from the target's logits at every prompt position
// (one uncached pass over the prompt).
func (r *Recycle) fromPrompt(ctx context.Context, s *Session) error {
	n := len(s.Seq)
	if n < 2 {
		return nil
	}
	toks := s.Seq[:n-1] // the last token's row comes with the first round
	if n-1 > s.chunk {
		toks = toks[n-1-s.chunk:]
	}
	rows := make([]int, len(toks))
	for i := range rows {
		rows[i] = i
	}
	lg, err := s.target.m.Forward(ctx, nil, toks, rows)
	if err != nil {
		return err
	}
	for i, t := range toks {
		r.observe(t, lg[i])
	}
	return nil
}

// observe sets M[tok] to the top K tokens of the logits after it.
func (r *Recycle) observe(tok int32, logits []float32) {
	topK(logits, r.m[tok])
}

// topK writes the indices of the len(dst) largest values of x into dst
// (descending; ties: lower index first).
func topK(x []float32, dst []int32) {
	k := len(dst)
	n := 0
	for i, v := range x {
		if n == k && v <= x[dst[k-1]] {
			continue
		}
		j := min(n, k-1)
		for j > 0 && x[dst[j-1]] < v {
			if j < k {
				dst[j] = dst[j-1]
			}
			j--
		}
		dst[j] = int32(i)
		if n < k {
			n++
		}
	}
}

// flattenTemplate turns per-depth child-rank lists into nodes, parents
// first (breadth first).
func flattenTemplate(tpl [][][]int, k int) ([]templateNode, error) {
	var nodes []templateNode
	prev := []int{-1}
	for d, level := range tpl {
		if len(level) != len(prev) {
			return nil, fmt.Errorf("spec: tree template level %d lists %d nodes' children for %d nodes", d, len(level), len(prev))
		}
		var next []int
		for j, ranks := range level {
			for _, rk := range ranks {
				if rk < 0 || rk >= k {
					return nil, fmt.Errorf("spec: tree template rank %d outside 0…%d", rk, k-1)
				}
				nodes = append(nodes, templateNode{parent: prev[j], rank: rk})
				next = append(next, len(nodes)-1)
			}
		}
		prev = next
	}
	return nodes, nil
}

// cutTemplate keeps the n nodes of highest prior path score (all when
// n ≤ 0 or n ≥ len): a subtree, since a child scores below its parent.
func cutTemplate(nodes []templateNode, n int) []templateNode {
	if n <= 0 || n >= len(nodes) {
		return nodes
	}
	score := make([]float64, len(nodes))
	for i, nd := range nodes {
		w := rankPrior[min(nd.rank, len(rankPrior)-1)]
		score[i] = w
		if nd.parent >= 0 {
			score[i] *= score[nd.parent]
		}
	}
	idx := make([]int, len(nodes))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return score[idx[a]] > score[idx[b]] })
	keep := idx[:n]
	sort.Ints(keep) // parents first again
	remap := map[int]int{-1: -1}
	out := make([]templateNode, 0, n)
	for _, i := range keep {
		remap[i] = len(out)
		out = append(out, templateNode{parent: remap[nodes[i].parent], rank: nodes[i].rank})
	}
	return out
}

// costCache holds measured forward costs per target model, so that
// adaptive Token Recycling times a model once per process.
var costCache sync.Map // Model → []CostPoint

// measureCost times the target's forward passes of 1…8, 16, 32, …
// tokens up to the whole tree after the prompt (on a scratch cache). A
// line fitted to a few small passes does not do: beyond a handful of
// rows the cost per row changes (the native backend runs more than 8
// tokens on the bundle of the next power of two, a GEMM leaves its
// one-row-tile regime), so a cheap 8-token pass made large trees look
// cheap.
func (r *Recycle) measureCost(ctx context.Context, s *Session) error {
	if c, ok := costCache.Load(s.target.m); ok {
		r.costs = c.([]CostPoint)
		return nil
	}
	ctxLen := min(len(s.Seq), s.chunk)
	var sizes []int
	for n := 1; ; n = recycleNextSize(n) {
		if ctxLen+n > s.target.m.MaxLen() {
			break
		}
		sizes = append(sizes, n)
		if n >= len(r.shape)+1 {
			break
		}
	}
	if len(sizes) == 0 {
		sizes = []int{1}
	}
	fc, err := MeasureForward(ctx, s.target.m, ctxLen, sizes, 5)
	if err != nil {
		return err
	}
	r.costs = fc.Points
	costCache.Store(s.target.m, r.costs)
	return nil
}

// recycleNextSize is the pass size measured after n: every size up to
// 8, then powers of two.
func recycleNextSize(n int) int {
	if n < 8 {
		return n + 1
	}
	return 2 * n
}

// passCost is the measured cost of a forward pass of n tokens: the CPU
// time (wall time where CPU time is not measured) of the smallest
// measured size at or above n (what a padding backend runs; an upper
// bound elsewhere), extended along the last two sizes beyond them.
func (r *Recycle) passCost(n int) float64 {
	pts := r.costs
	t := func(p CostPoint) float64 {
		if p.CPUMS > 0 {
			return p.CPUMS
		}
		return p.MS
	}
	if len(pts) == 0 {
		return float64(n)
	}
	for _, p := range pts {
		if p.Tokens >= n {
			return max(t(p), 1e-6)
		}
	}
	last := pts[len(pts)-1]
	if len(pts) == 1 {
		return max(t(last)*float64(n)/float64(last.Tokens), 1e-6)
	}
	prev := pts[len(pts)-2]
	slope := max((t(last)-t(prev))/float64(last.Tokens-prev.Tokens), 0)
	return max(t(last)+slope*float64(n-last.Tokens), 1e-6)
}

// pick returns the template nodes of this round's tree (parents first):
// all of them, or for an adaptive tree the best-valued subtree.
func (r *Recycle) pick() []int {
	all := make([]int, len(r.shape))
	for i := range all {
		all[i] = i
	}
	if !r.Adaptive {
		return all
	}
	// P(node accepted), smoothed towards the rank prior with 4 rounds.
	const k = 4
	pi := make([]float64, len(r.shape))
	for i, nd := range r.shape {
		prior := rankPrior[min(nd.rank, len(rankPrior)-1)]
		if nd.parent >= 0 {
			prior *= pi[nd.parent]
		}
		pi[i] = (r.hits[i] + k*prior) / (r.present[i] + k)
	}
	order := append([]int(nil), all...)
	sort.SliceStable(order, func(a, b int) bool { return pi[order[a]] > pi[order[b]] })
	limit := len(r.shape)
	if r.MaxNodes > 0 {
		limit = min(limit, r.MaxNodes)
	}
	in := make([]bool, len(r.shape))
	var chosen []int
	best, bestN, sum := 0.0, 1, 0.0
	for _, u := range order {
		if len(chosen) == limit {
			break
		}
		if p := r.shape[u].parent; p >= 0 && !in[p] {
			continue // keep it a subtree
		}
		in[u] = true
		chosen = append(chosen, u)
		sum += pi[u]
		n := len(chosen)
		if v := (1 + sum) / r.passCost(1+n); v > best {
			best, bestN = v, n
		}
	}
	chosen = chosen[:bestN]
	sort.Ints(chosen)
	return chosen
}

func (r *Recycle) Round(ctx context.Context, s *Session) ([]int32, error) {
	room := s.room()
	if room == 0 {
		return s.PlainRound(ctx)
	}
	root := s.Seq[len(s.Seq)-1]
	t := &draftTree{rule: candidates}
	nodes := r.pick()
	idx := make([]int, len(r.shape)) // template node → tree node (-2: not in the tree)
	depth := make([]int, len(r.shape))
	for i := range idx {
		idx[i] = -2
	}
	capN := s.treeCap(nil)
	for _, i := range nodes {
		if t.len() == capN {
			break
		}
		nd := r.shape[i]
		src, par := root, -1
		if nd.parent >= 0 {
			if idx[nd.parent] < 0 {
				continue
			}
			par = idx[nd.parent]
			src = t.tok[par]
			depth[i] = depth[nd.parent] + 1
		} else {
			depth[i] = 1
		}
		if depth[i] > room {
			continue
		}
		idx[i] = t.add(r.m[src][nd.rank], par)
	}
	out, err := verifyTree(ctx, s, t, r.observe)
	if err != nil || !r.Adaptive {
		return out, err
	}
	// Count which template nodes were in the tree and accepted.
	node := -1 // tree node of the accepted path
	accepted := map[int]bool{}
	for _, tok := range out[:len(out)-1] {
		for _, c := range t.kids[node+1] {
			if t.tok[c] == tok {
				node = c
				break
			}
		}
		accepted[node] = true
	}
	for _, i := range nodes {
		if idx[i] >= 0 {
			r.present[i]++
			if accepted[idx[i]] {
				r.hits[i]++
			}
		}
	}
	return out, nil
}
