package interp

import (
	"testing"

	"github.com/optc-dev/optc/ir"
)

// TestEveryRegisteredOpHasAKernel: the frontend accepts exactly the ops of
// the ir registry, so every one of them must run on the reference
// interpreter.
func TestEveryRegisteredOpHasAKernel(t *testing.T) {
	for _, s := range ir.RegisteredOps() {
		if !HasKernel(s.Domain, s.Name) {
			t.Errorf("op %s is accepted by the frontend but has no interpreter kernel", ir.QualifiedOp(s.Domain, s.Name))
		}
	}
}
