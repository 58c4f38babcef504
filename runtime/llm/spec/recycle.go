package spec

import (
	"context"
	"fmt"
	"sort"
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

	m      [][]int32
	shape  []templateNode // the template's nodes, parents first
	vocab  int
	target Model
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

func (r *Recycle) Name() string {
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
		r.shape = cutTemplate(shape, r.MaxNodes)
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

func (r *Recycle) Round(ctx context.Context, s *Session) ([]int32, error) {
	room := s.room()
	if room == 0 {
		return s.PlainRound(ctx)
	}
	root := s.Seq[len(s.Seq)-1]
	t := &draftTree{rule: candidates}
	idx := make([]int, len(r.shape)) // template node → tree node (-2: cut by depth)
	depth := make([]int, len(r.shape))
	for i, nd := range r.shape {
		idx[i] = -2
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
	return verifyTree(ctx, s, t, r.observe)
}
