package onnx

import (
	"errors"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/ir"
)

// onnxUnknownType is the type of a value ONNX gives no type information
// for: a tensor of unknown element type and rank.
func onnxUnknownType() ir.Type { return ir.Type{Kind: ir.KindTensor} }

// onnxIsUnknown reports whether t carries no information at all.
func onnxIsUnknown(t ir.Type) bool {
	return t.Kind == ir.KindTensor && !t.Ranked && t.DType == ir.Undefined
}

// onnxType converts an ONNX TypeProto. A nil TypeProto, or one with no
// value set, is an unknown tensor type. Tensor shapes keep dim_value as a
// known size, dim_param as a symbolic dim and anything else (including a
// negative dim_value some exporters write) as an unknown dim; a tensor
// type without a shape is unranked.
func onnxType(tp *onnxpb.TypeProto) (ir.Type, error) {
	switch v := tp.GetValue().(type) {
	case nil:
		return onnxUnknownType(), nil
	case *onnxpb.TypeProto_TensorType:
		dt, err := onnxDType(v.TensorType.GetElemType())
		if err != nil {
			return ir.Type{}, err
		}
		t := ir.Type{Kind: ir.KindTensor, DType: dt}
		if sp := v.TensorType.GetShape(); sp != nil {
			t.Ranked = true
			t.Shape = make(ir.Shape, len(sp.GetDim()))
			for i, d := range sp.GetDim() {
				switch dv := d.GetValue().(type) {
				case *onnxpb.TensorShapeProto_Dimension_DimValue:
					if dv.DimValue >= 0 {
						t.Shape[i] = ir.D(dv.DimValue)
					} else {
						t.Shape[i] = ir.UnknownDim()
					}
				case *onnxpb.TensorShapeProto_Dimension_DimParam:
					if dv.DimParam != "" {
						t.Shape[i] = ir.Sym(dv.DimParam)
					} else {
						t.Shape[i] = ir.UnknownDim()
					}
				default:
					t.Shape[i] = ir.UnknownDim()
				}
			}
		}
		return t, nil
	case *onnxpb.TypeProto_SequenceType:
		return onnxElemType(ir.KindSequence, v.SequenceType.GetElemType())
	case *onnxpb.TypeProto_OptionalType:
		return onnxElemType(ir.KindOptional, v.OptionalType.GetElemType())
	case *onnxpb.TypeProto_MapType:
		return ir.Type{}, errors.New("map types are not supported")
	case *onnxpb.TypeProto_SparseTensorType:
		return ir.Type{}, errors.New("sparse tensor types are not supported")
	}
	return ir.Type{}, errors.New("unknown kind of type")
}

// onnxElemType builds a sequence or optional type; a missing element type
// leaves Elem nil.
func onnxElemType(kind ir.TypeKind, elem *onnxpb.TypeProto) (ir.Type, error) {
	t := ir.Type{Kind: kind}
	if elem != nil {
		et, err := onnxType(elem)
		if err != nil {
			return ir.Type{}, err
		}
		t.Elem = &et
	}
	return t, nil
}

// onnxTensorType is the exact type of a constant tensor.
func onnxTensorType(t *ir.Tensor) ir.Type { return ir.TensorType(t.DType, ir.ShapeOf(t.Shape...)) }
