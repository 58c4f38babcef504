package codegen_test

import (
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen"
	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/targets"
)

// attnGraph is x·w (native) feeding a cache-bound optc.Attention (an
// interpreter step), so the module has a segment and the attention kernel.
func attnGraph() *ir.Graph {
	b := ir.NewBuilder("attn")
	g := b.Graph()
	g.Opsets[ir.DomainOptc] = 1
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(1, 2, 16)))
	q := b.Op("Relu", []*ir.Value{x}, nil, 1)[0]
	out := b.Op("Attention", []*ir.Value{q, x, x}, map[string]*ir.Attr{
		"is_causal": ir.IntAttr(1), "kv_layer": ir.IntAttr(0),
		"q_num_heads": ir.IntAttr(2), "kv_num_heads": ir.IntAttr(2),
	}, 1)
	g.Nodes[1].Domain = ir.DomainOptc
	b.Output(out...)
	return g
}

// TestAttentionModulesVerify: a graph with optc.Attention gets the
// attention block kernel (codegen.AttnKernelName) in its module, which
// passes opt -verify and llc on every target level.
func TestAttentionModulesVerify(t *testing.T) {
	verifyModules(t, []codegentest.Case{{Name: "attention", Build: attnGraph, Partitioned: true}}, allTargetLevels, false)
	target, err := targets.Lookup("x86_64", "x86-64-v4")
	if err != nil {
		t.Fatal(err)
	}
	res, err := codegen.Compile(attnGraph(), codegen.Options{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.Module), "@"+codegen.AttnKernelName+"(") {
		t.Errorf("the module of a graph with optc.Attention does not define %s", codegen.AttnKernelName)
	}
}
