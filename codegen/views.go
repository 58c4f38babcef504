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
		inputs:   firstInput,
		ownTypes: true,
		check:    viewCheck,
		lower:    func(*lowering, *ir.Node) (kernel, error) { return nil, nil },
	}
	for _, op := range []string{"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"} {
		registerLowering(op, view)
	}
	registerLowering("Dropout", &opLowering{
		inputs:   firstInput,
		ownTypes: true,
		check: func(n *ir.Node, opset int64) error {
			if err := viewCheck(n, opset); err != nil {
				return err
			}
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

// viewCheck admits a view of any dtype the kernels handle (f32, the
// integer and bool types of ew_int): it moves no data, and a graph output
// that is a view is copied byte for byte. A constant non-f32 input stays
// on the interpreter (weights are stored as f32).
func viewCheck(n *ir.Node, _ int64) error {
	if len(n.Outputs) == 0 || n.Outputs[0] == nil || n.Inputs[0] == nil {
		return fmt.Errorf("%s without its data input or output", n.Op)
	}
	for _, o := range n.Outputs[1:] {
		if o != nil {
			return fmt.Errorf("only single-output nodes are lowered")
		}
	}
	in, out := n.Inputs[0], n.Outputs[0]
	for _, v := range []*ir.Value{in, out} {
		if v.Type.Kind != ir.KindTensor {
			return fmt.Errorf("value %q is %s (only tensors are lowered)", v.Name, v.Type)
		}
		if _, ok := concreteShape(v); !ok {
			return fmt.Errorf("value %q has no static shape (%s)", v.Name, v.Type)
		}
	}
	if in.Type.DType != out.Type.DType {
		return fmt.Errorf("view from %s to %s", in.Type.DType, out.Type.DType)
	}
	if in.Type.DType == ir.Float32 {
		return nil
	}
	if _, _, ok := ewiType(in.Type.DType); !ok {
		return fmt.Errorf("value %q is %s (not a lowered dtype)", in.Name, in.Type)
	}
	if in.Const != nil {
		return fmt.Errorf("constant %q is %s, not f32", in.Name, in.Type.DType)
	}
	return nil
}
