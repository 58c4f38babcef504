package gguf

import (
	"fmt"
	"math"
	"sort"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// ValueType is the type tag of a metadata value.
type ValueType uint32

// The metadata value types of the GGUF specification.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = map[ValueType]string{
	TypeUint8: "u8", TypeInt8: "i8", TypeUint16: "u16", TypeInt16: "i16",
	TypeUint32: "u32", TypeInt32: "i32", TypeFloat32: "f32", TypeBool: "bool",
	TypeString: "string", TypeArray: "array", TypeUint64: "u64", TypeInt64: "i64",
	TypeFloat64: "f64",
}

func (t ValueType) String() string {
	if s, ok := valueTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// scalarSize is the encoded size of a fixed-size scalar type (0 for
// strings and arrays, -1 for an unknown type).
func (t ValueType) scalarSize() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	case TypeString, TypeArray:
		return 0
	}
	return -1
}

// Value is one metadata value. Data holds the Go value: uint8, int8,
// uint16, int16, uint32, int32, float32, bool, string, uint64, int64,
// float64; an array holds a typed slice of those ([]uint32, []string, …)
// or, for arrays of arrays, []Value. Elem is the element type of an array.
type Value struct {
	Type ValueType
	Elem ValueType
	Data any
}

// KV is one metadata entry.
type KV struct {
	Key   string
	Value Value
}

// TensorType is a ggml tensor element type.
type TensorType uint32

// The ggml tensor types. Only the ones with a block layout in blockInfo
// can be read as values; the others are listed so errors can name them.
const (
	F32  TensorType = 0
	F16  TensorType = 1
	Q4_0 TensorType = 2
	Q4_1 TensorType = 3
	Q5_0 TensorType = 6
	Q5_1 TensorType = 7
	Q8_0 TensorType = 8
	Q8_1 TensorType = 9
	Q2_K TensorType = 10
	Q3_K TensorType = 11
	Q4_K TensorType = 12
	Q5_K TensorType = 13
	Q6_K TensorType = 14
	Q8_K TensorType = 15
	I8   TensorType = 24
	I16  TensorType = 25
	I32  TensorType = 26
	I64  TensorType = 27
	F64  TensorType = 28
	BF16 TensorType = 30
)

var tensorTypeNames = map[TensorType]string{
	F32: "F32", F16: "F16", Q4_0: "Q4_0", Q4_1: "Q4_1", Q5_0: "Q5_0", Q5_1: "Q5_1",
	Q8_0: "Q8_0", Q8_1: "Q8_1", Q2_K: "Q2_K", Q3_K: "Q3_K", Q4_K: "Q4_K", Q5_K: "Q5_K",
	Q6_K: "Q6_K", Q8_K: "Q8_K", I8: "I8", I16: "I16", I32: "I32", I64: "I64", F64: "F64",
	BF16: "BF16",
}

func (t TensorType) String() string {
	if s, ok := tensorTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("ggml_type(%d)", uint32(t))
}

// blockInfo is the storage layout of a tensor type: blockElems elements
// are stored in blockBytes bytes; decodable says whether this package
// can turn them into values. Layouts of the k-quants are known so the
// directory of any llama.cpp file can be checked, but their values are
// not decoded.
type blockInfo struct {
	blockElems, blockBytes int64
	decodable              bool
}

var blockInfos = map[TensorType]blockInfo{
	F32:  {1, 4, true},
	F16:  {1, 2, true},
	BF16: {1, 2, true},
	F64:  {1, 8, true},
	I8:   {1, 1, true},
	I16:  {1, 2, true},
	I32:  {1, 4, true},
	I64:  {1, 8, true},
	Q8_0: {32, 34, true}, // f16 scale d, 32 × int8
	Q4_0: {32, 18, true}, // f16 scale d, 16 bytes of packed nibbles
	Q4_1: {32, 20, true}, // f16 scale d, f16 min m, 16 bytes of packed nibbles
	Q5_0: {32, 22, false},
	Q5_1: {32, 24, false},
	Q8_1: {32, 36, false},
	Q2_K: {256, 84, false},
	Q3_K: {256, 110, false},
	Q4_K: {256, 144, false},
	Q5_K: {256, 176, false},
	Q6_K: {256, 210, false},
	Q8_K: {256, 292, false},
}

// Supported reports whether the package can read the values of tensors
// of type t.
func (t TensorType) Supported() bool { return blockInfos[t].decodable }

// BlockElems is the number of elements per storage block (1 for plain
// types; 0 when unsupported).
func (t TensorType) BlockElems() int64 { return blockInfos[t].blockElems }

// RowBytes returns the stored size of n elements of type t; n must be a
// multiple of the block size.
func (t TensorType) RowBytes(n int64) (int64, error) {
	bi, ok := blockInfos[t]
	if !ok {
		return 0, fmt.Errorf("unknown tensor type %s", t)
	}
	if n%bi.blockElems != 0 {
		return 0, fmt.Errorf("%d elements of %s: not a multiple of its block size %d", n, t, bi.blockElems)
	}
	if n/bi.blockElems > math.MaxInt64/bi.blockBytes {
		return 0, fmt.Errorf("%d elements of %s: size overflows", n, t)
	}
	return n / bi.blockElems * bi.blockBytes, nil
}

func supportedTypes() string {
	var names []string
	for t, bi := range blockInfos {
		if bi.decodable {
			names = append(names, t.String())
		}
	}
	sort.Strings(names)
	return fmt.Sprint(names)
}

// TensorInfo is one entry of the tensor directory.
type TensorInfo struct {
	Name string
	// Dims in GGUF order: Dims[0] is the fastest-varying (ggml's ne[0]).
	Dims []uint64
	Type TensorType
	// Offset is relative to the start of the data section.
	Offset uint64
	// Size is the stored size in bytes.
	Size int64
}

// Shape returns the tensor's row-major (NumPy-order) shape: Dims reversed.
func (ti *TensorInfo) Shape() []int64 {
	s := make([]int64, len(ti.Dims))
	for i, d := range ti.Dims {
		s[len(s)-1-i] = int64(d)
	}
	return s
}

// Elems is the number of elements.
func (ti *TensorInfo) Elems() int64 {
	n := int64(1)
	for _, d := range ti.Dims {
		n *= int64(d)
	}
	return n
}
