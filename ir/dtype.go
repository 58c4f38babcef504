package ir

import "fmt"

// DType is the element type of a tensor.
type DType uint8

// The element types optc knows. Int4 and Uint4 are packed two per byte when
// serialized (low nibble first); in memory a dense tensor keeps one element
// per Go int8/uint8.
const (
	Undefined DType = iota
	Float32
	Float16
	BFloat16
	Float64
	Int4
	Uint4
	Int8
	Uint8
	Int16
	Uint16
	Int32
	Uint32
	Int64
	Uint64
	Bool
	String
)

var dtypeNames = [...]string{
	Undefined: "undefined",
	Float32:   "f32",
	Float16:   "f16",
	BFloat16:  "bf16",
	Float64:   "f64",
	Int4:      "i4",
	Uint4:     "u4",
	Int8:      "i8",
	Uint8:     "u8",
	Int16:     "i16",
	Uint16:    "u16",
	Int32:     "i32",
	Uint32:    "u32",
	Int64:     "i64",
	Uint64:    "u64",
	Bool:      "bool",
	String:    "string",
}

// String returns the short name used in the text format ("f32", "i64", …).
func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// ParseDType is the inverse of DType.String.
func ParseDType(s string) (DType, error) {
	for i, n := range dtypeNames {
		if n == s && i != int(Undefined) {
			return DType(i), nil
		}
	}
	return Undefined, fmt.Errorf("unknown dtype %q", s)
}

// Bits is the storage width of one element in bits (0 for String).
func (d DType) Bits() int {
	switch d {
	case Int4, Uint4:
		return 4
	case Int8, Uint8, Bool:
		return 8
	case Float16, BFloat16, Int16, Uint16:
		return 16
	case Float32, Int32, Uint32:
		return 32
	case Float64, Int64, Uint64:
		return 64
	}
	return 0
}

// StorageBytes is the number of bytes n elements occupy when serialized
// (packed for 4-bit types; 0 for strings, whose size is data dependent).
func (d DType) StorageBytes(n int64) int64 { return (n*int64(d.Bits()) + 7) / 8 }

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float16 || d == BFloat16 || d == Float64
}

// IsInt reports whether d is a (signed or unsigned) integer type.
func (d DType) IsInt() bool {
	switch d {
	case Int4, Uint4, Int8, Uint8, Int16, Uint16, Int32, Uint32, Int64, Uint64:
		return true
	}
	return false
}

// IsSigned reports whether d is a signed integer or floating-point type.
func (d DType) IsSigned() bool {
	switch d {
	case Int4, Int8, Int16, Int32, Int64:
		return true
	}
	return d.IsFloat()
}
