package native_test

import (
	"context"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
)

// TestGatherRuntimeIndices compares Gathers whose indices are run-time
// inputs (int32/int64, negative, scalar, 2-D, an embedding table) or
// whose data are integers or bool with the interpreter.
func TestGatherRuntimeIndices(t *testing.T) { runInputCases(t, codegentest.GatherCases()) }

// TestGatherIndexOutOfRange: an index outside [-D, D) makes the run fail
// with the segment's StatusIndexRange code (2), never a read outside the
// data; a valid run afterwards succeeds.
func TestGatherIndexOutOfRange(t *testing.T) {
	host := codegentest.Host(t)
	c := codegentest.GatherCases()[0] // x f32[5,7], i i64[2,3], axis 0
	g := c.Build()
	m := openFullyNative(t, g, host, c.Shapes)
	for _, bad := range [][]int64{{0, 1, 2, 3, 4, 5}, {-6, 0, 0, 0, 0, 0}, {1 << 40, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, -1 << 62}} {
		in := codegentest.CaseInputs(g, map[string]*ir.Tensor{"i": ir.FromSlice(ir.Int64, []int64{2, 3}, bad)}, 1)
		_, err := m.Run(context.Background(), in)
		if err == nil || !strings.Contains(err.Error(), "code 2: a Gather index is outside") {
			t.Errorf("indices %v: err %v, want the out-of-range code 2", bad, err)
		}
	}
	compare(t, g, m, codegentest.CaseInputs(g, c.Fixed, 1))
}
