package ir

import "testing"

func TestNameSetFresh(t *testing.T) {
	x := &Value{Name: "x"}
	w := &Value{Name: "x_1"}
	y := &Value{Name: "y"}
	g := &Graph{Inputs: []*Value{x}, Consts: []*Value{w}, Nodes: []*Node{{Name: "mm", Op: "MatMul", Inputs: []*Value{x, w}, Outputs: []*Value{y}}}}
	s := NewNameSet(g)
	// x and x_1 are taken, so x_2; the node's name counts too; a new base is free.
	for _, c := range []struct{ base, want string }{{"x", "x_2"}, {"x", "x_3"}, {"mm", "mm_1"}, {"y", "y_1"}, {"z", "z"}, {"z", "z_1"}} {
		if got := s.Fresh(c.base); got != c.want {
			t.Errorf("Fresh(%q) = %q, want %q", c.base, got, c.want)
		}
	}
}
