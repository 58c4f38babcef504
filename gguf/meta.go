package gguf

import (
	"fmt"
	"math"
)

// Lookup returns the metadata value of key.
func (f *File) Lookup(key string) (Value, bool) {
	i, ok := f.kv[key]
	if !ok {
		return Value{}, false
	}
	return f.KVs[i].Value, true
}

// String returns a string metadata value; an absent key or another type is
// an error naming the key.
func (f *File) String(key string) (string, error) {
	v, ok := f.Lookup(key)
	if !ok {
		return "", fmt.Errorf("metadata %q is missing", key)
	}
	s, ok := v.Data.(string)
	if !ok {
		return "", fmt.Errorf("metadata %q is a %s, want a string", key, v.Type)
	}
	return s, nil
}

// Uint returns an integer metadata value (any unsigned or non-negative
// signed integer type) as uint64.
func (f *File) Uint(key string) (uint64, error) {
	v, ok := f.Lookup(key)
	if !ok {
		return 0, fmt.Errorf("metadata %q is missing", key)
	}
	u, ok := v.Uint()
	if !ok {
		return 0, fmt.Errorf("metadata %q = %v (%s): want a non-negative integer", key, v.Data, v.Type)
	}
	return u, nil
}

// UintOr is Uint with a default for an absent key.
func (f *File) UintOr(key string, def uint64) (uint64, error) {
	if _, ok := f.Lookup(key); !ok {
		return def, nil
	}
	return f.Uint(key)
}

// Float returns a floating-point (or integer) metadata value as float64.
func (f *File) Float(key string) (float64, error) {
	v, ok := f.Lookup(key)
	if !ok {
		return 0, fmt.Errorf("metadata %q is missing", key)
	}
	x, ok := v.Float()
	if !ok {
		return 0, fmt.Errorf("metadata %q = %v (%s): want a number", key, v.Data, v.Type)
	}
	return x, nil
}

// FloatOr is Float with a default for an absent key.
func (f *File) FloatOr(key string, def float64) (float64, error) {
	if _, ok := f.Lookup(key); !ok {
		return def, nil
	}
	return f.Float(key)
}

// BoolOr returns a bool metadata value, or def when absent.
func (f *File) BoolOr(key string, def bool) (bool, error) {
	v, ok := f.Lookup(key)
	if !ok {
		return def, nil
	}
	b, ok := v.Data.(bool)
	if !ok {
		return false, fmt.Errorf("metadata %q is a %s, want a bool", key, v.Type)
	}
	return b, nil
}

// Strings returns a string-array metadata value.
func (f *File) Strings(key string) ([]string, error) {
	v, ok := f.Lookup(key)
	if !ok {
		return nil, fmt.Errorf("metadata %q is missing", key)
	}
	s, ok := v.Data.([]string)
	if !ok {
		return nil, fmt.Errorf("metadata %q is a %s of %s, want an array of strings", key, v.Type, v.Elem)
	}
	return s, nil
}

// Float32s returns a numeric array metadata value as []float32.
func (f *File) Float32s(key string) ([]float32, error) {
	v, ok := f.Lookup(key)
	if !ok {
		return nil, fmt.Errorf("metadata %q is missing", key)
	}
	if s, ok := v.Data.([]float32); ok {
		return s, nil
	}
	n, ok := v.arrayLen()
	if !ok {
		return nil, fmt.Errorf("metadata %q is a %s, want a numeric array", key, v.Type)
	}
	out := make([]float32, n)
	for i := range out {
		x, ok := v.Index(i).Float()
		if !ok {
			return nil, fmt.Errorf("metadata %q is an array of %s, want numbers", key, v.Elem)
		}
		out[i] = float32(x)
	}
	return out, nil
}

// Int64s returns an integer array metadata value as []int64.
func (f *File) Int64s(key string) ([]int64, error) {
	v, ok := f.Lookup(key)
	if !ok {
		return nil, fmt.Errorf("metadata %q is missing", key)
	}
	n, ok := v.arrayLen()
	if !ok {
		return nil, fmt.Errorf("metadata %q is a %s, want an integer array", key, v.Type)
	}
	out := make([]int64, n)
	for i := range out {
		x, ok := v.Index(i).Int()
		if !ok {
			return nil, fmt.Errorf("metadata %q is an array of %s, want integers", key, v.Elem)
		}
		out[i] = x
	}
	return out, nil
}

// Uint returns an integer value as uint64 (false for negative values and
// non-integers).
func (v Value) Uint() (uint64, bool) {
	i, ok := v.Int()
	if ok && i >= 0 {
		return uint64(i), true
	}
	if u, ok := v.Data.(uint64); ok {
		return u, true
	}
	return 0, false
}

// Int returns an integer value as int64 (false for uint64 values above
// MaxInt64 and for non-integers).
func (v Value) Int() (int64, bool) {
	switch x := v.Data.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case int64:
		return x, true
	}
	return 0, false
}

// Float returns a numeric value as float64.
func (v Value) Float() (float64, bool) {
	switch x := v.Data.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	if i, ok := v.Int(); ok {
		return float64(i), true
	}
	if u, ok := v.Data.(uint64); ok {
		return float64(u), true
	}
	return 0, false
}

// Len is the number of elements of an array value (0 for scalars).
func (v Value) Len() int { n, _ := v.arrayLen(); return n }

func (v Value) arrayLen() (int, bool) {
	if v.Type != TypeArray {
		return 0, false
	}
	switch x := v.Data.(type) {
	case []uint8:
		return len(x), true
	case []int8:
		return len(x), true
	case []bool:
		return len(x), true
	case []uint16:
		return len(x), true
	case []int16:
		return len(x), true
	case []uint32:
		return len(x), true
	case []int32:
		return len(x), true
	case []float32:
		return len(x), true
	case []uint64:
		return len(x), true
	case []int64:
		return len(x), true
	case []float64:
		return len(x), true
	case []string:
		return len(x), true
	case []Value:
		return len(x), true
	}
	return 0, false
}

// Index returns element i of an array value as a scalar Value.
func (v Value) Index(i int) Value {
	e := Value{Type: v.Elem}
	switch x := v.Data.(type) {
	case []uint8:
		e.Data = x[i]
	case []int8:
		e.Data = x[i]
	case []bool:
		e.Data = x[i]
	case []uint16:
		e.Data = x[i]
	case []int16:
		e.Data = x[i]
	case []uint32:
		e.Data = x[i]
	case []int32:
		e.Data = x[i]
	case []float32:
		e.Data = x[i]
	case []uint64:
		e.Data = x[i]
	case []int64:
		e.Data = x[i]
	case []float64:
		e.Data = x[i]
	case []string:
		e.Data = x[i]
	case []Value:
		return x[i]
	}
	return e
}

// Brief formats a value for listings: scalars in full, arrays as their
// element type, length and first elements.
func (v Value) Brief() string {
	if v.Type != TypeArray {
		if s, ok := v.Data.(string); ok {
			return fmt.Sprintf("%q", s)
		}
		return fmt.Sprint(v.Data)
	}
	n := v.Len()
	s := fmt.Sprintf("[%d × %s]", n, v.Elem)
	for i := 0; i < n && i < 4; i++ {
		s += " " + v.Index(i).Brief()
	}
	if n > 4 {
		s += " …"
	}
	return s
}

// Constructors for metadata values (used by Write and tests).

func ValStr(s string) Value         { return Value{Type: TypeString, Data: s} }
func ValU32(x uint32) Value         { return Value{Type: TypeUint32, Data: x} }
func ValI32(x int32) Value          { return Value{Type: TypeInt32, Data: x} }
func ValU64(x uint64) Value         { return Value{Type: TypeUint64, Data: x} }
func ValF32(x float32) Value        { return Value{Type: TypeFloat32, Data: x} }
func ValBool(x bool) Value          { return Value{Type: TypeBool, Data: x} }
func ValStrs(x []string) Value      { return Value{Type: TypeArray, Elem: TypeString, Data: x} }
func ValF32s(x []float32) Value     { return Value{Type: TypeArray, Elem: TypeFloat32, Data: x} }
func ValI32s(x []int32) Value       { return Value{Type: TypeArray, Elem: TypeInt32, Data: x} }
func ValArrays(elems []Value) Value { return Value{Type: TypeArray, Elem: TypeArray, Data: elems} }
