package runtime

import "github.com/optc-dev/optc/ir"

// FromGraph wraps an in-memory graph as a Model on the reference
// interpreter; name is used in error messages (tests, generated graphs).
func FromGraph(g *ir.Graph, name string) *Model {
	return &Model{path: name, backend: "interp", graph: g}
}
