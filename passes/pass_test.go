package passes

import (
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
)

func TestParsePipeline(t *testing.T) {
	ps, err := ParsePipeline(" fold , dce,fold(max-elements=10)")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name())
	}
	if got := strings.Join(names, ","); got != "fold,dce,fold" {
		t.Errorf("got %s", got)
	}
	if f := ps[2].(Fold); f.MaxElements != 10 {
		t.Errorf("max-elements = %d, want 10", f.MaxElements)
	}
	for spec, want := range map[string]string{
		"nosuch":               `unknown pass "nosuch"`,
		"fold(max-elements)":   "is not key=value",
		"fold(x=1)":            "unknown argument(s) x",
		"fold(max-elements=1":  "missing ')'",
		"dce,":                 "trailing ','",
		"fold(max-elements=a)": "want an integer",
		"fold(a=1,a=2)":        "given twice",
	} {
		if _, err := ParsePipeline(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error containing %q", spec, err, want)
		}
	}
}

// foldGraph builds y = x + (c1 * c2) with a dead chain Exp(Neg(x)) and a Shape(x):
// fold must turn c1*c2 and Shape(x) into constants, dce must drop the whole chain in one run.
func foldGraph() (*ir.Graph, *ir.Value) {
	b := ir.NewBuilder("g")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(2)))
	c1 := b.Const("c1", ir.FromSlice(ir.Float32, []int64{2}, []float32{2, 3}))
	c2 := b.Const("c2", ir.FromSlice(ir.Float32, []int64{2}, []float32{4, 5}))
	prod := b.Op1("Mul", nil, c1, c2)
	y := b.Op1("Add", nil, x, prod)
	// A dead chain: Exp(Neg(x)) is never used.
	b.Op1("Exp", nil, b.Op1("Neg", nil, x))
	shape := b.Op1("Shape", nil, x)
	b.Output(y, shape)
	return b.Graph(), prod
}

func TestFoldAndDCE(t *testing.T) {
	g, prod := foldGraph()
	ps, err := ParsePipeline("fold,dce")
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(NewContext(1), g, ps); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 1 || g.Nodes[0].Op != "Add" {
		var ops []string
		for _, n := range g.Nodes {
			ops = append(ops, n.Op)
		}
		t.Fatalf("nodes after fold,dce: %v, want [Add]", ops)
	}
	if prod.Const == nil || prod.Const.Float64At(0) != 8 || prod.Const.Float64At(1) != 15 {
		t.Errorf("folded product = %v, want [8 15]", prod.Const)
	}
	shape := g.Outputs[1]
	if shape.Const == nil || shape.Const.Int64At(0) != 2 {
		t.Errorf("Shape(x) not folded to [2]: %v", shape.Const)
	}
	// c1 and c2 are dead now; the folded product and shape remain.
	if len(g.Consts) != 2 {
		t.Errorf("%d consts remain, want 2", len(g.Consts))
	}
}
