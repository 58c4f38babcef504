package ir

import "sort"

// OpCount is how often an op occurs in a graph (subgraphs included).
type OpCount struct {
	Op    string // "Conv", or "domain.Op" outside the default domain
	Count int
}

// Stats summarizes a graph for inspection.
type Stats struct {
	Nodes      int       // nodes, subgraphs included
	Ops        []OpCount // sorted by count descending, then name
	Params     int64     // elements of all constant tensors
	ParamBytes int64     // stored bytes of all constant tensors
	Subgraphs  int
}

// QualifiedOp names an op with its domain when it is not the default one.
func QualifiedOp(domain, op string) string {
	if domain == "" || domain == "ai.onnx" {
		return op
	}
	return domain + "." + op
}

// ComputeStats walks g and its subgraphs.
func ComputeStats(g *Graph) Stats {
	var s Stats
	counts := map[string]int{}
	var visit func(g *Graph)
	visit = func(g *Graph) {
		for _, c := range g.Consts {
			s.Params += NumElements(c.Const.Shape)
			s.ParamBytes += c.Const.Bytes()
		}
		for _, n := range g.Nodes {
			s.Nodes++
			counts[QualifiedOp(n.Domain, n.Op)]++
			for _, sg := range n.Subgraphs() {
				s.Subgraphs++
				visit(sg)
			}
		}
	}
	visit(g)
	for op, c := range counts {
		s.Ops = append(s.Ops, OpCount{op, c})
	}
	sort.Slice(s.Ops, func(i, j int) bool {
		if s.Ops[i].Count != s.Ops[j].Count {
			return s.Ops[i].Count > s.Ops[j].Count
		}
		return s.Ops[i].Op < s.Ops[j].Op
	})
	return s
}
