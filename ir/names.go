package ir

import "fmt"

// NameSet is the set of names taken in a graph, for passes that add
// values or nodes and need names no existing one has.
type NameSet map[string]bool

// NewNameSet returns the names of g's inputs, constants, nodes and node
// outputs, subgraphs included.
func NewNameSet(g *Graph) NameSet {
	s := NameSet{}
	for _, v := range g.Inputs {
		s[v.Name] = true
	}
	for _, v := range g.Consts {
		s[v.Name] = true
	}
	_ = g.Walk(func(_ *Graph, n *Node) error {
		s[n.Name] = true
		for _, o := range n.Outputs {
			if o != nil {
				s[o.Name] = true
			}
		}
		return nil
	})
	return s
}

// Fresh returns base, or the first of base_1, base_2, … not yet in s,
// and adds it to s.
func (s NameSet) Fresh(base string) string {
	name := base
	for i := 1; s[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	s[name] = true
	return name
}
