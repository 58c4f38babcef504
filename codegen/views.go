package codegen

import (
	"fmt"

	"github.com/optc-dev/optc/ir"
)

// View ops change only the shape: their output shares its input's bytes
// (the memory plan resolves aliases to a storage root; a graph output that
// is a view of an input or constant is copied).
func init() {
	view := &opLowering{
		inputs: firstInput,
		lower:  func(*lowering, *ir.Node) (kernel, error) { return nil, nil },
	}
	for _, op := range []string{"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"} {
		registerLowering(op, view)
	}
	registerLowering("Dropout", &opLowering{
		inputs: firstInput,
		check: func(n *ir.Node, _ int64) error {
			if t := n.Input(2); t != nil {
				if tc, ok := ir.ConstValue(t); !ok || tc.Len() != 1 || tc.Int64At(0) != 0 {
					return fmt.Errorf("training_mode is not a constant false")
				}
			}
			return nil
		},
		lower: view.lower,
	})
}
