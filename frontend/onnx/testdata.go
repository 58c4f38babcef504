package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/ir"
)

// TestValue is one input or output of an ONNX conformance test case.
//
//   - a tensor: Tensor is set, Present is true;
//   - a sequence of tensors: Seq holds the elements (possibly none),
//     Present is true;
//   - an optional: Present says whether it holds a value, which is in
//     Tensor or Seq according to the element type.
//
// Type is the type of the value read: the tensor's exact dtype and shape,
// or the sequence/optional kind with its element type.
type TestValue struct {
	Type    ir.Type
	Tensor  *ir.Tensor
	Seq     []*ir.Tensor
	Present bool
}

// ReadTestData reads a conformance test file (input_N.pb, output_N.pb) as a
// TensorProto, SequenceProto or OptionalProto according to t.Kind, the
// type of the graph input or output the file belongs to. External data of
// the tensors is resolved relative to the file's directory. A UINT16
// tensor where t declares bfloat16 is read as bfloat16: ONNX 1.12's test
// data stores bfloat16 bits that way.
func ReadTestData(path string, t ir.Type) (TestValue, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return TestValue{}, err
	}
	v, err := onnxTestValue(data, filepath.Dir(path), t)
	if err != nil {
		return TestValue{}, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func onnxTestValue(data []byte, dir string, t ir.Type) (TestValue, error) {
	switch t.Kind {
	case ir.KindTensor:
		tp := &onnxpb.TensorProto{}
		if err := proto.Unmarshal(data, tp); err != nil {
			return TestValue{}, fmt.Errorf("not a TensorProto: %v", err)
		}
		return onnxTestTensor(tp, dir, &t)
	case ir.KindSequence:
		sp := &onnxpb.SequenceProto{}
		if err := proto.Unmarshal(data, sp); err != nil {
			return TestValue{}, fmt.Errorf("not a SequenceProto: %v", err)
		}
		return onnxTestSequence(sp, dir, t.Elem)
	case ir.KindOptional:
		op := &onnxpb.OptionalProto{}
		if err := proto.Unmarshal(data, op); err != nil {
			return TestValue{}, fmt.Errorf("not an OptionalProto: %v", err)
		}
		return onnxTestOptional(op, dir, t.Elem)
	}
	return TestValue{}, fmt.Errorf("unknown value kind %d", t.Kind)
}

func onnxTestTensor(tp *onnxpb.TensorProto, dir string, declared *ir.Type) (TestValue, error) {
	x, err := onnxTestDecode(tp, dir, declared)
	if err != nil {
		return TestValue{}, err
	}
	return TestValue{Type: onnxTensorType(x), Tensor: x, Present: true}, nil
}

// onnxTestDecode decodes a test tensor. ONNX 1.12 stores bfloat16 test
// data as UINT16 tensors of the same bits (NumPy has no bfloat16); where
// the graph declares bfloat16, such a tensor is read as bfloat16.
func onnxTestDecode(tp *onnxpb.TensorProto, dir string, declared *ir.Type) (*ir.Tensor, error) {
	x, err := DecodeTensor(tp, dir)
	if err == nil && x.DType == ir.Uint16 && declared != nil && declared.Kind == ir.KindTensor && declared.DType == ir.BFloat16 {
		x.DType = ir.BFloat16
	}
	return x, err
}

// onnxTestSequence decodes a sequence of tensors. elem is the declared
// element type (may be nil); it is the element type of an empty result,
// otherwise the elements give it (onnxCommonType).
func onnxTestSequence(sp *onnxpb.SequenceProto, dir string, elem *ir.Type) (TestValue, error) {
	switch onnxpb.SequenceProto_DataType(sp.GetElemType()) {
	case onnxpb.SequenceProto_TENSOR, onnxpb.SequenceProto_UNDEFINED:
	default:
		return TestValue{}, fmt.Errorf("sequences of %s are not supported", onnxpb.SequenceProto_DataType(sp.GetElemType()))
	}
	if onnxpb.SequenceProto_DataType(sp.GetElemType()) == onnxpb.SequenceProto_UNDEFINED && len(sp.GetTensorValues()) > 0 {
		return TestValue{}, errors.New("sequence with elem_type UNDEFINED holds tensors")
	}
	v := TestValue{Type: ir.Type{Kind: ir.KindSequence, Elem: elem}, Seq: []*ir.Tensor{}, Present: true}
	for i, tp := range sp.GetTensorValues() {
		x, err := onnxTestDecode(tp, dir, elem)
		if err != nil {
			return TestValue{}, fmt.Errorf("element #%d: %w", i, err)
		}
		v.Seq = append(v.Seq, x)
	}
	if len(v.Seq) > 0 {
		et := onnxCommonType(v.Seq)
		v.Type.Elem = &et
	}
	return v, nil
}

func onnxTestOptional(op *onnxpb.OptionalProto, dir string, elem *ir.Type) (TestValue, error) {
	v := TestValue{Type: ir.Type{Kind: ir.KindOptional, Elem: elem}}
	var x TestValue
	var err error
	switch onnxpb.OptionalProto_DataType(op.GetElemType()) {
	case onnxpb.OptionalProto_UNDEFINED:
		return v, nil // no value
	case onnxpb.OptionalProto_TENSOR:
		if op.TensorValue == nil {
			return v, nil
		}
		x, err = onnxTestTensor(op.TensorValue, dir, elem)
	case onnxpb.OptionalProto_SEQUENCE:
		if op.SequenceValue == nil {
			return v, nil
		}
		var selem *ir.Type
		if elem != nil && elem.Kind == ir.KindSequence {
			selem = elem.Elem
		}
		x, err = onnxTestSequence(op.SequenceValue, dir, selem)
	default:
		return TestValue{}, fmt.Errorf("optionals of %s are not supported", onnxpb.OptionalProto_DataType(op.GetElemType()))
	}
	if err != nil {
		return TestValue{}, err
	}
	et := x.Type
	x.Type = ir.Type{Kind: ir.KindOptional, Elem: &et}
	return x, nil
}

// onnxCommonType is the most precise tensor type all of ts have: their
// dtype if they agree (else Undefined), ranked if they agree on the rank,
// with each dim known where they agree on it.
func onnxCommonType(ts []*ir.Tensor) ir.Type {
	t := onnxTensorType(ts[0])
	for _, x := range ts[1:] {
		if x.DType != t.DType {
			t.DType = ir.Undefined
		}
		if !t.Ranked || len(x.Shape) != len(t.Shape) {
			t.Ranked, t.Shape = false, nil
			continue
		}
		for i, d := range x.Shape {
			if t.Shape[i].Known() && t.Shape[i].Size != d {
				t.Shape[i] = ir.UnknownDim()
			}
		}
	}
	return t
}
