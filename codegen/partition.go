package codegen

import (
	"github.com/optc-dev/optc/ir"
)

// Fallback is a node that runs on the interpreter, with the reason codegen
// did not lower it.
type Fallback struct {
	Node   string `json:"node"`
	Op     string `json:"op"`
	Reason string `json:"reason"`
}

// segment is a maximal run of consecutive nodes that are all native or all
// interpreted. Inputs are the values it reads that are produced elsewhere
// (constants excluded); outputs the values it produces that are read
// later or are graph outputs.
type segment struct {
	native  bool
	nodes   []*ir.Node
	inputs  []*ir.Value
	outputs []*ir.Value
}

// nodeUses returns the values n reads: its inputs (or, for nodes lowered
// as views, only the data input) and the outer-scope values its subgraphs
// read.
func nodeUses(n *ir.Node, native bool) []*ir.Value {
	var uses []*ir.Value
	ins := n.Inputs
	if native {
		ins = nativeInputs(n)
	}
	for _, v := range ins {
		if v != nil {
			uses = append(uses, v)
		}
	}
	for _, sg := range n.Subgraphs() {
		uses = append(uses, freeValues(sg)...)
	}
	return uses
}

// freeValues lists the values g's nodes read that g does not define.
func freeValues(g *ir.Graph) []*ir.Value {
	defined := map[*ir.Value]bool{}
	for _, v := range g.Inputs {
		defined[v] = true
	}
	for _, v := range g.Consts {
		defined[v] = true
	}
	var free []*ir.Value
	seen := map[*ir.Value]bool{}
	var walk func(g *ir.Graph)
	walk = func(g *ir.Graph) {
		for _, v := range g.Inputs {
			defined[v] = true
		}
		for _, v := range g.Consts {
			defined[v] = true
		}
		for _, n := range g.Nodes {
			for _, v := range n.Inputs {
				if v != nil && !defined[v] && !seen[v] && v.Const == nil {
					seen[v] = true
					free = append(free, v)
				}
			}
			for _, sg := range n.Subgraphs() {
				walk(sg)
			}
			for _, v := range n.Outputs {
				if v != nil {
					defined[v] = true
				}
			}
		}
		for _, v := range g.Outputs {
			if v != nil && !defined[v] && !seen[v] && v.Const == nil {
				seen[v] = true
				free = append(free, v)
			}
		}
	}
	walk(g)
	return free
}

// partition classifies g's nodes, drops those whose outputs nobody needs
// and groups the rest into segments.
func partition(g *ir.Graph) ([]*segment, []Fallback) {
	native := make([]bool, len(g.Nodes))
	reasons := make([]string, len(g.Nodes))
	for i, n := range g.Nodes {
		if err := checkNode(n, g.Opset("")); err != nil {
			reasons[i] = err.Error()
		} else {
			native[i] = true
		}
	}
	// Liveness from the graph outputs backwards.
	needed := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		needed[v] = true
	}
	keep := make([]bool, len(g.Nodes))
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		for _, o := range n.Outputs {
			if o != nil && needed[o] {
				keep[i] = true
			}
		}
		if !keep[i] {
			continue
		}
		for _, v := range nodeUses(n, native[i]) {
			needed[v] = true
		}
	}
	var segs []*segment
	var fb []Fallback
	for i, n := range g.Nodes {
		if !keep[i] {
			continue
		}
		if !native[i] {
			fb = append(fb, Fallback{Node: nodeName(n), Op: n.Op, Reason: reasons[i]})
		}
		if len(segs) == 0 || segs[len(segs)-1].native != native[i] {
			segs = append(segs, &segment{native: native[i]})
		}
		s := segs[len(segs)-1]
		s.nodes = append(s.nodes, n)
	}
	if len(segs) == 0 {
		segs = []*segment{{native: true}}
	}
	segIO(g, segs)
	return segs, fb
}

// nodeName is a node's source name, or its first output's name.
func nodeName(n *ir.Node) string {
	if n.Name != "" {
		return n.Name
	}
	if len(n.Outputs) > 0 && n.Outputs[0] != nil {
		return n.Outputs[0].Name
	}
	return n.Op
}

// segIO fills the inputs and outputs of every segment. A graph run by one
// native segment gets exactly the graph's inputs and outputs, in order, so
// that its entry point has the graph's C signature.
func segIO(g *ir.Graph, segs []*segment) {
	if len(segs) == 1 && segs[0].native {
		segs[0].inputs = append([]*ir.Value(nil), g.Inputs...)
		segs[0].outputs = append([]*ir.Value(nil), g.Outputs...)
		return
	}
	producer := map[*ir.Value]int{}
	for si, s := range segs {
		for _, n := range s.nodes {
			for _, o := range n.Outputs {
				if o != nil {
					producer[o] = si
				}
			}
		}
	}
	isOut := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		isOut[v] = true
	}
	usedLater := map[*ir.Value]bool{}
	for si, s := range segs {
		seen := map[*ir.Value]bool{}
		for _, n := range s.nodes {
			for _, v := range nodeUses(n, s.native) {
				p, ok := producer[v]
				if v.Const != nil || (ok && p == si) || seen[v] {
					continue
				}
				seen[v] = true
				s.inputs = append(s.inputs, v)
				usedLater[v] = true
			}
		}
	}
	for _, s := range segs {
		for _, n := range s.nodes {
			for _, o := range n.Outputs {
				if o != nil && (usedLater[o] || isOut[o]) {
					s.outputs = append(s.outputs, o)
				}
			}
		}
	}
}
