package native_test

import (
	"context"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/native"
)

// TestEWIntOps compares Cast, Where and integer arithmetic with the
// interpreter: integer and bool outputs exactly, float ones within
// atol/rtol.
func TestEWIntOps(t *testing.T) { runInputCases(t, codegentest.EWIntCases()) }

// runInputCases compiles each case for the host, requires it fully native
// and compares it with the interpreter on its fixed inputs (compareSame).
func runInputCases(t *testing.T, cases []codegentest.InputCase) {
	host := codegentest.Host(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Build()
			m := openFullyNative(t, g, host, c.Shapes)
			compareSame(t, g, m, codegentest.CaseInputs(g, c.Fixed, 1))
		})
	}
}

// compareSame is compare for outputs of any dtype: integer and bool
// outputs must equal the interpreter's exactly.
func compareSame(t *testing.T, g *ir.Graph, m *native.Model, in map[string]*ir.Tensor) {
	t.Helper()
	got, err := m.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := interpRun(t, g, in)
	for _, o := range g.Outputs {
		if err := codegentest.Same(got[o.Name], want[o.Name], atol, rtol); err != nil {
			t.Errorf("output %q (%s): %v", o.Name, o.Type, err)
		}
	}
}

// TestEWIntDivZero: an integer Div by zero fails the run with
// StatusDivZero (4) instead of trapping.
func TestEWIntDivZero(t *testing.T) {
	host := codegentest.Host(t)
	c := codegentest.EWIntCases()[2]
	g := c.Build()
	m := openFullyNative(t, g, host, c.Shapes)
	fixed := map[string]*ir.Tensor{}
	for k, v := range c.Fixed {
		fixed[k] = v
	}
	fixed["d"] = ir.FromSlice(ir.Int64, []int64{4}, []int64{2, 0, -1, 7})
	_, err := m.Run(context.Background(), codegentest.CaseInputs(g, fixed, 1))
	if err == nil || !strings.Contains(err.Error(), "code 4: an integer Div by zero") {
		t.Errorf("err %v, want code 4 (Div by zero)", err)
	}
}
