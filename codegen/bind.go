package codegen

import (
	"fmt"
	"sort"
	"strings"

	"github.com/optc-dev/optc/ir"
)

// Binding records how one dimension of a graph input was fixed.
type Binding struct {
	Input   string `json:"input"`
	Axis    int    `json:"axis"`
	Param   string `json:"param,omitempty"` // the symbolic name, "" for an anonymous dim
	Size    int64  `json:"size"`
	Default bool   `json:"default"` // true when no --shape gave it (bound to 1)
}

// bindShapes fixes every input dim of g: from shapes (by input name) or,
// for symbolic dims without one, 1. Symbolic dims inside the graph are
// substituted and the remaining unknown types re-inferred. g is changed
// in place.
func bindShapes(g *ir.Graph, shapes map[string][]int64) ([]Binding, error) {
	byName := map[string]*ir.Value{}
	for _, in := range g.Inputs {
		byName[in.Name] = in
	}
	names := make([]string, 0, len(shapes))
	for k := range shapes {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if byName[k] == nil {
			in := make([]string, len(g.Inputs))
			for i, v := range g.Inputs {
				in[i] = v.Name
			}
			return nil, fmt.Errorf("--shape %s: the model has no input %q (inputs: %s)", k, k, strings.Join(in, ", "))
		}
	}
	params := map[string]int64{}
	var binds []Binding
	for _, in := range g.Inputs {
		if in.Type.Kind != ir.KindTensor {
			if _, ok := shapes[in.Name]; ok {
				return nil, fmt.Errorf("--shape %s: input %q is a %s, not a tensor", in.Name, in.Name, in.Type)
			}
			continue // sequences and optionals stay dynamic (their nodes run on the interpreter)
		}
		if !in.Type.Ranked {
			if s, ok := shapes[in.Name]; ok {
				in.Type = ir.TensorType(in.Type.DType, ir.ShapeOf(s...))
			}
			continue
		}
		want, given := shapes[in.Name]
		if given && len(want) != len(in.Type.Shape) {
			return nil, fmt.Errorf("--shape %s: %d dims given, the input has rank %d (%s)", in.Name, len(want), len(in.Type.Shape), in.Type)
		}
		shape := make(ir.Shape, len(in.Type.Shape))
		for i, d := range in.Type.Shape {
			switch {
			case given && d.Known() && d.Size != want[i]:
				return nil, fmt.Errorf("--shape %s: dim %d is %d, the model declares %d", in.Name, i, want[i], d.Size)
			case given && want[i] < 0:
				return nil, fmt.Errorf("--shape %s: dim %d is negative", in.Name, i)
			case d.Known():
				shape[i] = d
				continue
			}
			size, def := int64(1), true
			if given {
				size, def = want[i], false
			} else if d.Param != "" {
				if s, ok := params[d.Param]; ok {
					size = s
				}
			}
			if d.Param != "" {
				if s, ok := params[d.Param]; ok && s != size {
					return nil, fmt.Errorf("--shape %s: dim %d (%s) is %d, but %s was bound to %d", in.Name, i, d.Param, size, d.Param, s)
				}
				params[d.Param] = size
			}
			shape[i] = ir.D(size)
			binds = append(binds, Binding{Input: in.Name, Axis: i, Param: d.Param, Size: size, Default: def})
		}
		in.Type = ir.TensorType(in.Type.DType, shape)
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == nil || o.Type.Kind != ir.KindTensor || !o.Type.Ranked {
				continue
			}
			s := make(ir.Shape, len(o.Type.Shape))
			known := true
			for i, d := range o.Type.Shape {
				if d.Param != "" {
					if v, ok := params[d.Param]; ok {
						d = ir.D(v)
					}
				}
				s[i] = d
				known = known && d.Known()
			}
			if known {
				o.Type.Shape = s
			} else {
				o.Type = ir.Type{Kind: ir.KindTensor, DType: o.Type.DType}
			}
		}
	}
	if err := ir.InferShapes(g); err != nil {
		return nil, fmt.Errorf("shape inference with the bound shapes: %w", err)
	}
	return binds, nil
}

// concreteShape returns v's shape when v is a ranked tensor with known dims.
func concreteShape(v *ir.Value) ([]int64, bool) {
	if v == nil || v.Type.Kind != ir.KindTensor || !v.Type.Ranked {
		return nil, false
	}
	return v.Type.Shape.Concrete()
}
