package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// WriteTensor is one tensor to write: its row-major shape, its type and
// its stored bytes (Size bytes as RowBytes gives for the shape).
type WriteTensor struct {
	Name  string
	Shape []int64
	Type  TensorType
	Data  []byte
}

// Write writes a GGUF version 3 file: the metadata in the given order,
// the tensor directory, and the data with every tensor aligned to
// general.alignment (32 when absent).
func Write(w io.Writer, kvs []KV, tensors []WriteTensor) error {
	align := uint64(DefaultAlignment)
	for _, kv := range kvs {
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.Uint()
			if !ok || a == 0 || a&(a-1) != 0 {
				return fmt.Errorf("gguf: general.alignment %v is not a power of two", kv.Value.Data)
			}
			align = a
		}
	}
	bw := bufio.NewWriter(w)
	e := &enc{w: bw}
	e.raw([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		e.u32(uint32(kv.Value.Type))
		if err := e.value(kv.Value); err != nil {
			return fmt.Errorf("gguf: metadata %q: %w", kv.Key, err)
		}
	}
	var off uint64
	for _, t := range tensors {
		n := int64(1)
		for _, d := range t.Shape {
			n *= d
		}
		size, err := t.Type.RowBytes(n)
		if err != nil {
			return fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		if int64(len(t.Data)) != size {
			return fmt.Errorf("gguf: tensor %q: %d bytes of data, %s %v needs %d", t.Name, len(t.Data), t.Type, t.Shape, size)
		}
		e.str(t.Name)
		e.u32(uint32(len(t.Shape)))
		for j := len(t.Shape) - 1; j >= 0; j-- {
			e.u64(uint64(t.Shape[j]))
		}
		e.u32(uint32(t.Type))
		e.u64(off)
		off = (off + uint64(size) + align - 1) / align * align
	}
	e.pad(align)
	for i, t := range tensors {
		e.raw(t.Data)
		if i+1 < len(tensors) {
			e.pad(align)
		}
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

// enc writes little-endian fields, remembering the first error and the
// byte count (for padding).
type enc struct {
	w   io.Writer
	n   uint64
	err error
}

func (e *enc) raw(b []byte) {
	if e.err != nil {
		return
	}
	var k int
	k, e.err = e.w.Write(b)
	e.n += uint64(k)
}

func (e *enc) u32(x uint32) { e.raw(binary.LittleEndian.AppendUint32(nil, x)) }
func (e *enc) u64(x uint64) { e.raw(binary.LittleEndian.AppendUint64(nil, x)) }
func (e *enc) str(s string) { e.u64(uint64(len(s))); e.raw([]byte(s)) }

func (e *enc) pad(align uint64) {
	if r := e.n % align; r != 0 {
		e.raw(make([]byte, align-r))
	}
}

func (e *enc) value(v Value) error {
	if v.Type == TypeArray {
		n, ok := v.arrayLen()
		if !ok {
			return fmt.Errorf("array value holds %T", v.Data)
		}
		e.u32(uint32(v.Elem))
		e.u64(uint64(n))
		for i := 0; i < n; i++ {
			el := v.Index(i)
			if el.Type != v.Elem {
				return fmt.Errorf("array element %d is %s, want %s", i, el.Type, v.Elem)
			}
			// A nested array element carries its own element type and
			// length, exactly as a top-level array value does.
			if err := e.value(el); err != nil {
				return err
			}
		}
		return nil
	}
	le := binary.LittleEndian
	switch x := v.Data.(type) {
	case string:
		e.str(x)
	case uint8:
		e.raw([]byte{x})
	case int8:
		e.raw([]byte{byte(x)})
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		e.raw([]byte{b})
	case uint16:
		e.raw(le.AppendUint16(nil, x))
	case int16:
		e.raw(le.AppendUint16(nil, uint16(x)))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	default:
		return fmt.Errorf("cannot encode %T", v.Data)
	}
	return nil
}
