package ir

import (
	"os"
	"strings"
	"testing"
)

// TestCloneGraph: the copy prints as the original (subgraphs included),
// shares no value or node with it (outer-scope references inside
// subgraphs point at the copies), and changing the copy's shapes or its
// subgraphs' nodes leaves the original alone.
func TestCloneGraph(t *testing.T) {
	src, err := os.ReadFile("testdata/control.txt")
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse(string(src))
	if err != nil {
		t.Fatal(err)
	}
	c := CloneGraph(g)
	print := func(g *Graph) string {
		var b strings.Builder
		if err := Print(&b, g); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	want := print(g)
	if got := print(c); got != want {
		t.Fatalf("copy prints as\n%s\nwant\n%s", got, want)
	}
	orig := map[*Value]bool{}
	var walk func(g *Graph, f func(*Value))
	walk = func(g *Graph, f func(*Value)) {
		for _, v := range append(append([]*Value{}, g.Inputs...), g.Consts...) {
			f(v)
		}
		for _, n := range g.Nodes {
			for _, v := range append(append([]*Value{}, n.Inputs...), n.Outputs...) {
				if v != nil {
					f(v)
				}
			}
			for _, sg := range n.Subgraphs() {
				walk(sg, f)
			}
		}
	}
	walk(g, func(v *Value) { orig[v] = true })
	walk(c, func(v *Value) {
		if orig[v] {
			t.Errorf("value %s is shared by the copy", v.Name)
		}
	})
	c.Inputs[1].Type.Shape[0] = D(7)
	c.Nodes[0].Attrs["then_branch"].Graph.Nodes[0].Name = "renamed"
	if got := print(g); got != want {
		t.Errorf("changing the copy changed the original:\n%s", got)
	}
}
