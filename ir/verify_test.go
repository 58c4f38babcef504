package ir

import (
	"strings"
	"testing"
)

func TestVerifyAccepts(t *testing.T) {
	for _, tc := range testGraphs {
		if tc.valid {
			if err := Verify(tc.build()); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
	}
}

// TestVerifyRejects breaks one invariant at a time in valid graphs; each
// error must name the node or value concerned.
func TestVerifyRejects(t *testing.T) {
	cases := []struct {
		name  string
		build func() *Graph
		mod   func(g *Graph)
		want  string
	}{
		{"nil node", testCNN, func(g *Graph) { g.Nodes[1] = nil }, "node 1 is nil"},
		{"unregistered op", testCNN, func(g *Graph) { g.Nodes[2].Op = "Frobnicate" }, `Frobnicate node "relu_node": op is not registered`},
		{"too few inputs", testCNN, func(g *Graph) { g.Nodes[6].Inputs = g.Nodes[6].Inputs[:1] }, `Gemm node "gemm_node": 1 inputs, want 2 to 3`},
		{"too many outputs", testCNN, func(g *Graph) {
			n := g.Nodes[2]
			n.Outputs = append(n.Outputs, &Value{Name: "extra", Def: n})
		}, `Relu node "relu_node": 2 outputs, want 1`},
		{"use before def", testCNN, func(g *Graph) { g.Nodes[1], g.Nodes[2] = g.Nodes[2], g.Nodes[1] }, `Relu node "relu_node" input 0: value "batchNormalization" is used before it is defined`},
		{"defined twice", testCNN, func(g *Graph) { g.Nodes[3].Outputs[0] = g.Nodes[2].Outputs[0] }, `MaxPool node "maxPool_node" output 0: value "relu" is defined more than once`},
		{"duplicate name", testCNN, func(g *Graph) { g.Nodes[3].Outputs[0].Name = "relu" }, `value name "relu" is already used`},
		{"wrong Def", testCNN, func(g *Graph) { g.Nodes[3].Outputs[0].Def = g.Nodes[2] }, `MaxPool node "maxPool_node" output 0: value "maxPool" does not name this node`},
		{"undefined output", testCNN, func(g *Graph) { g.Outputs[0] = &Value{Name: "ghost"} }, `graph "cnn" output 0: value "ghost" is used before it is defined`},
		{"nil output", testCNN, func(g *Graph) { g.Outputs[0] = nil }, `graph "cnn": output 0 is nil`},
		{"const dtype", testCNN, func(g *Graph) { g.Consts[1].Type.DType = Float64 }, `constant "conv1.b" has type f64[8] but holds tensor<f32[8]>`},
		{"const shape", testCNN, func(g *Graph) { g.Consts[1].Type.Shape = ShapeOf(4) }, `has type f32[4] but holds`},
		{"const data", testCNN, func(g *Graph) { g.Consts[1].Const.Data = []float32{1} }, `constant "conv1.b": 1 elements for shape [8]`},
		{"const nil tensor", testCNN, func(g *Graph) { g.Consts[1].Const = nil }, `value "conv1.b" has no tensor`},
		{"attr kind", testCNN, func(g *Graph) { g.Nodes[0].Attrs["strides"] = IntAttr(2) }, `Conv node "conv_node" attribute strides: kind int, want ints`},
		{"attr default kind", testCNN, func(g *Graph) { g.Nodes[1].Attrs["epsilon"] = IntAttr(1) }, `attribute epsilon: kind int, want float`},
		{"unknown attr", testCNN, func(g *Graph) { g.Nodes[2].Attrs["alpha"] = FloatAttr(1) }, `Relu node "relu_node" attribute alpha: not an attribute of Relu`},
		{"nil attr", testCNN, func(g *Graph) { g.Nodes[2].Attrs["x"] = nil }, `attribute x: nil`},
		{"domain not imported", testCNN, func(g *Graph) { delete(g.Opsets, "") }, `domain "" is not imported`},
		{"opset too old", testCNN, func(g *Graph) { g.Opsets[""] = 3 }, `Gemm node "gemm_node": opset 3 is older than the oldest supported version 6`},
		{"input with Def", testCNN, func(g *Graph) { g.Inputs[0].Def = g.Nodes[0] }, `input "x" has a defining node`},
		{"empty name", testCNN, func(g *Graph) { g.Nodes[2].Outputs[0].Name = "" }, `value without a name`},
		{"nil graph attr", testControl, func(g *Graph) { g.Nodes[0].Attrs["then_branch"].Graph = nil }, `If node "if_node" attribute then_branch: nil graph`},
		{"subgraph reads later value", testControl, func(g *Graph) {
			body := g.Nodes[1].Attrs["body"].Graph
			body.Nodes[0].Inputs[1] = g.Nodes[1].Outputs[0] // the Loop's own output
		}, `Mul node "mul_node" input 1: value "loop" is used before it is defined`},
		{"sibling scope", testControl, func(g *Graph) {
			thenG := g.Nodes[0].Attrs["then_branch"].Graph
			elseG := g.Nodes[0].Attrs["else_branch"].Graph
			thenG.Outputs[0] = elseG.Outputs[0] // else_branch is checked first
		}, `graph "then" output 0: value "if" is used out of scope`},
		{"subgraph arity", testControl, func(g *Graph) {
			inner := g.Nodes[0].Attrs["then_branch"].Graph
			inner.Nodes[0].Inputs = inner.Nodes[0].Inputs[:1]
		}, `Add node "add_node": 1 inputs, want 2`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.build()
			c.mod(g)
			err := Verify(g)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Verify error:\n  %v\nwant it to contain\n  %s", err, c.want)
			}
		})
	}
}
