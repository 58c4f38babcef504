package onnx

import (
	"errors"
	"fmt"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/ir"
)

// onnxAttrKindName names an IR attribute kind the way ONNX spells it.
func onnxAttrKindName(k ir.AttrKind) string {
	names := map[ir.AttrKind]onnxpb.AttributeProto_AttributeType{
		ir.AttrFloat: onnxpb.AttributeProto_FLOAT, ir.AttrInt: onnxpb.AttributeProto_INT,
		ir.AttrString: onnxpb.AttributeProto_STRING, ir.AttrTensor: onnxpb.AttributeProto_TENSOR,
		ir.AttrGraph: onnxpb.AttributeProto_GRAPH, ir.AttrFloats: onnxpb.AttributeProto_FLOATS,
		ir.AttrInts: onnxpb.AttributeProto_INTS, ir.AttrStrings: onnxpb.AttributeProto_STRINGS,
		ir.AttrTensors: onnxpb.AttributeProto_TENSORS, ir.AttrGraphs: onnxpb.AttributeProto_GRAPHS,
		ir.AttrTypeProto: onnxpb.AttributeProto_TYPE_PROTO,
	}
	return names[k].String()
}

// onnxAttrType is the attribute's declared type or, for models written
// before AttributeProto.type existed, the type its filled field implies.
func onnxAttrType(ap *onnxpb.AttributeProto) onnxpb.AttributeProto_AttributeType {
	if ap.Type != nil {
		return ap.GetType()
	}
	switch {
	case len(ap.GetFloats()) > 0:
		return onnxpb.AttributeProto_FLOATS
	case len(ap.GetInts()) > 0:
		return onnxpb.AttributeProto_INTS
	case len(ap.GetStrings()) > 0:
		return onnxpb.AttributeProto_STRINGS
	case len(ap.GetTensors()) > 0:
		return onnxpb.AttributeProto_TENSORS
	case len(ap.GetGraphs()) > 0:
		return onnxpb.AttributeProto_GRAPHS
	case ap.T != nil:
		return onnxpb.AttributeProto_TENSOR
	case ap.G != nil:
		return onnxpb.AttributeProto_GRAPH
	case ap.S != nil:
		return onnxpb.AttributeProto_STRING
	case ap.F != nil:
		return onnxpb.AttributeProto_FLOAT
	case ap.I != nil:
		return onnxpb.AttributeProto_INT
	}
	return onnxpb.AttributeProto_UNDEFINED
}

// attr converts one attribute. Subgraphs are imported with sc, the scope
// of the graph holding the node, as their enclosing scope.
func (im *onnxImporter) attr(ap *onnxpb.AttributeProto, sc *onnxScope) (*ir.Attr, error) {
	if ap.GetRefAttrName() != "" {
		return nil, fmt.Errorf("refers to function attribute %q outside a function body", ap.GetRefAttrName())
	}
	switch k := onnxAttrType(ap); k {
	case onnxpb.AttributeProto_FLOAT:
		return &ir.Attr{Kind: ir.AttrFloat, Float: ap.GetF()}, nil
	case onnxpb.AttributeProto_INT:
		return &ir.Attr{Kind: ir.AttrInt, Int: ap.GetI()}, nil
	case onnxpb.AttributeProto_STRING:
		return &ir.Attr{Kind: ir.AttrString, String: string(ap.GetS())}, nil
	case onnxpb.AttributeProto_FLOATS:
		return &ir.Attr{Kind: ir.AttrFloats, Floats: append([]float32{}, ap.GetFloats()...)}, nil
	case onnxpb.AttributeProto_INTS:
		return &ir.Attr{Kind: ir.AttrInts, Ints: append([]int64{}, ap.GetInts()...)}, nil
	case onnxpb.AttributeProto_STRINGS:
		return &ir.Attr{Kind: ir.AttrStrings, Strings: onnxConvert(ap.GetStrings(), func(b []byte) string { return string(b) })}, nil
	case onnxpb.AttributeProto_TENSOR:
		if ap.T == nil {
			return nil, errors.New("TENSOR attribute without a tensor")
		}
		t, err := DecodeTensor(ap.T, im.dir)
		if err != nil {
			return nil, err
		}
		return &ir.Attr{Kind: ir.AttrTensor, Tensor: t}, nil
	case onnxpb.AttributeProto_TENSORS:
		a := &ir.Attr{Kind: ir.AttrTensors}
		for i, tp := range ap.GetTensors() {
			t, err := DecodeTensor(tp, im.dir)
			if err != nil {
				return nil, fmt.Errorf("tensor #%d: %w", i, err)
			}
			a.Tensors = append(a.Tensors, t)
		}
		return a, nil
	case onnxpb.AttributeProto_GRAPH:
		if ap.G == nil {
			return nil, errors.New("GRAPH attribute without a graph")
		}
		g, err := im.graph(ap.G, sc)
		if err != nil {
			return nil, err
		}
		return &ir.Attr{Kind: ir.AttrGraph, Graph: g}, nil
	case onnxpb.AttributeProto_GRAPHS:
		a := &ir.Attr{Kind: ir.AttrGraphs}
		for i, gp := range ap.GetGraphs() {
			g, err := im.graph(gp, sc)
			if err != nil {
				return nil, fmt.Errorf("graph #%d: %w", i, err)
			}
			a.Graphs = append(a.Graphs, g)
		}
		return a, nil
	case onnxpb.AttributeProto_TYPE_PROTO, onnxpb.AttributeProto_TYPE_PROTOS:
		// The IR keeps the kind only; ops that need the type (Optional)
		// are handled by the node importer.
		return &ir.Attr{Kind: ir.AttrTypeProto}, nil
	case onnxpb.AttributeProto_SPARSE_TENSOR, onnxpb.AttributeProto_SPARSE_TENSORS:
		return nil, errors.New("sparse tensor attributes are not supported")
	case onnxpb.AttributeProto_UNDEFINED:
		return nil, errors.New("attribute has neither a type nor a value")
	default:
		return nil, fmt.Errorf("unknown attribute type %d", int32(k))
	}
}
