package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// ErrBadMagic and ErrTruncated classify the two ways a file is not a
// readable GGUF at all; errors returned by Open and Parse wrap them (test
// with errors.Is).
var (
	ErrBadMagic  = errors.New("not a GGUF file")
	ErrTruncated = errors.New("truncated file")
)

// maxDims is ggml's GGML_MAX_DIMS.
const maxDims = 4

// File is an opened GGUF file: its header, metadata and tensor directory.
// Tensor data is read on demand through the underlying io.ReaderAt.
type File struct {
	Name       string // the path or name given to Open/Parse, for errors
	Version    uint32
	KVs        []KV // in file order
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset int64 // absolute offset of the data section
	Size       int64 // file size in bytes

	kv      map[string]int
	tensors map[string]int
	r       io.ReaderAt
	closer  io.Closer
}

// Open opens and parses a GGUF file. The file stays open for tensor reads
// until Close.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	f, err := Parse(fh, st.Size(), filepath.Base(path))
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Close releases the underlying file (a no-op for Parse'd readers).
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}

// Parse reads the header, metadata and tensor directory from r, which
// holds size bytes, and checks that every tensor's data lies inside it.
// name labels errors.
func Parse(r io.ReaderAt, size int64, name string) (*File, error) {
	f := &File{Name: name, Size: size, r: r, kv: map[string]int{}, tensors: map[string]int{}}
	if err := f.parse(); err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", name, err)
	}
	return f, nil
}

// hdr reads the header sequentially, tracking the offset so that every
// length can be checked against the bytes that remain.
type hdr struct {
	br   *bufio.Reader
	off  int64
	size int64
	buf  [8]byte
}

func (h *hdr) truncated(what string) error {
	return fmt.Errorf("%w: the file ends at byte %d while reading %s", ErrTruncated, h.size, what)
}

func (h *hdr) read(n int, what string) ([]byte, error) {
	if int64(n) > h.size-h.off {
		return nil, h.truncated(what)
	}
	b := h.buf[:n]
	if _, err := io.ReadFull(h.br, b); err != nil {
		return nil, h.truncated(what)
	}
	h.off += int64(n)
	return b, nil
}

func (h *hdr) u32(what string) (uint32, error) {
	b, err := h.read(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (h *hdr) u64(what string) (uint64, error) {
	b, err := h.read(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (h *hdr) str(what string) (string, error) {
	n, err := h.u64(what + " length")
	if err != nil {
		return "", err
	}
	if n > uint64(h.size-h.off) {
		return "", fmt.Errorf("%w: %s of %d bytes at byte %d runs past the end of the file (%d bytes)", ErrTruncated, what, n, h.off, h.size)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(h.br, b); err != nil {
		return "", h.truncated(what)
	}
	h.off += int64(n)
	return string(b), nil
}

func (f *File) parse() error {
	h := &hdr{br: bufio.NewReaderSize(io.NewSectionReader(f.r, 0, f.Size), 1<<16), size: f.Size}
	if f.Size < 4 {
		return fmt.Errorf("%w: %d bytes, too short for the magic %q", ErrBadMagic, f.Size, Magic)
	}
	m, _ := h.read(4, "magic")
	if string(m) != Magic {
		return fmt.Errorf("%w: bad magic %q (want %q)", ErrBadMagic, m, Magic)
	}
	var err error
	if f.Version, err = h.u32("version"); err != nil {
		return err
	}
	switch {
	case f.Version == 1:
		return fmt.Errorf("GGUF version 1 is not supported (obsolete since 2023; re-convert the model): optc reads versions 2 and 3")
	case f.Version&0xffff == 0 && f.Version != 0:
		return fmt.Errorf("GGUF version %#x looks byte-swapped: big-endian GGUF files are not supported", f.Version)
	case f.Version != 2 && f.Version != 3:
		return fmt.Errorf("GGUF version %d is not supported (optc reads versions 2 and 3)", f.Version)
	}
	nt, err := h.u64("tensor count")
	if err != nil {
		return err
	}
	nkv, err := h.u64("metadata count")
	if err != nil {
		return err
	}
	// Every entry takes at least 8+4+1 (kv) or 8+4+8+4+8 (tensor) bytes;
	// counts beyond what the file can hold are corrupt.
	if nkv > uint64(f.Size)/13 || nt > uint64(f.Size)/32 {
		return fmt.Errorf("%w: header claims %d metadata entries and %d tensors, more than %d bytes can hold", ErrTruncated, nkv, nt, f.Size)
	}
	for i := uint64(0); i < nkv; i++ {
		key, err := h.str(fmt.Sprintf("metadata key %d", i))
		if err != nil {
			return err
		}
		if _, dup := f.kv[key]; dup {
			return fmt.Errorf("metadata key %q appears twice", key)
		}
		t, err := h.u32(fmt.Sprintf("type of metadata %q", key))
		if err != nil {
			return err
		}
		v, err := h.value(ValueType(t), key, 0)
		if err != nil {
			return err
		}
		f.kv[key] = len(f.KVs)
		f.KVs = append(f.KVs, KV{Key: key, Value: v})
	}
	f.Alignment = DefaultAlignment
	if v, ok := f.Lookup("general.alignment"); ok {
		a, ok := v.Uint()
		if !ok || a == 0 || a&(a-1) != 0 {
			return fmt.Errorf("general.alignment %v is not a power of two", v.Data)
		}
		f.Alignment = a
	}
	for i := uint64(0); i < nt; i++ {
		ti, err := h.tensorInfo(i)
		if err != nil {
			return err
		}
		if _, dup := f.tensors[ti.Name]; dup {
			return fmt.Errorf("tensor %q appears twice", ti.Name)
		}
		f.tensors[ti.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, ti)
	}
	al := int64(f.Alignment)
	f.DataOffset = (h.off + al - 1) / al * al
	data := f.Size - f.DataOffset
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if ti.Offset%f.Alignment != 0 {
			return fmt.Errorf("tensor %q: data offset %d is not a multiple of the alignment %d", ti.Name, ti.Offset, f.Alignment)
		}
		if ti.Offset > uint64(max(data, 0)) || ti.Size > data-int64(ti.Offset) {
			return fmt.Errorf("%w: tensor %q (%s %v, %d bytes) at data offset %d ends past the end of the file, which holds %d bytes of tensor data",
				ErrTruncated, ti.Name, ti.Type, ti.Shape(), ti.Size, ti.Offset, max(data, 0))
		}
	}
	return nil
}

func (h *hdr) tensorInfo(i uint64) (TensorInfo, error) {
	var ti TensorInfo
	var err error
	if ti.Name, err = h.str(fmt.Sprintf("name of tensor %d", i)); err != nil {
		return ti, err
	}
	nd, err := h.u32(fmt.Sprintf("rank of tensor %q", ti.Name))
	if err != nil {
		return ti, err
	}
	if nd > maxDims {
		return ti, fmt.Errorf("tensor %q: rank %d exceeds ggml's maximum of %d", ti.Name, nd, maxDims)
	}
	elems := uint64(1)
	for d := uint32(0); d < nd; d++ {
		n, err := h.u64(fmt.Sprintf("dim %d of tensor %q", d, ti.Name))
		if err != nil {
			return ti, err
		}
		if n > math.MaxInt64 || (n != 0 && elems > math.MaxInt64/n) {
			return ti, fmt.Errorf("tensor %q: dims %v overflow", ti.Name, append(ti.Dims, n))
		}
		elems *= n
		ti.Dims = append(ti.Dims, n)
	}
	t, err := h.u32(fmt.Sprintf("type of tensor %q", ti.Name))
	if err != nil {
		return ti, err
	}
	ti.Type = TensorType(t)
	if ti.Offset, err = h.u64(fmt.Sprintf("offset of tensor %q", ti.Name)); err != nil {
		return ti, err
	}
	if len(ti.Dims) > 0 && ti.Type.BlockElems() > 1 && ti.Dims[0]%uint64(ti.Type.BlockElems()) != 0 {
		return ti, fmt.Errorf("tensor %q: row length %d is not a multiple of the %s block size %d", ti.Name, ti.Dims[0], ti.Type, ti.Type.BlockElems())
	}
	if ti.Size, err = ti.Type.RowBytes(int64(elems)); err != nil {
		return ti, fmt.Errorf("tensor %q: %v", ti.Name, err)
	}
	return ti, nil
}

// value reads one metadata value of type t.
func (h *hdr) value(t ValueType, key string, depth int) (Value, error) {
	what := fmt.Sprintf("value of metadata %q", key)
	v := Value{Type: t}
	switch t {
	case TypeString:
		s, err := h.str(what)
		v.Data = s
		return v, err
	case TypeArray:
		if depth > 4 {
			return v, fmt.Errorf("metadata %q: arrays nested deeper than 4", key)
		}
		et, err := h.u32(what + " element type")
		if err != nil {
			return v, err
		}
		v.Elem = ValueType(et)
		n, err := h.u64(what + " length")
		if err != nil {
			return v, err
		}
		min := int64(v.Elem.scalarSize())
		if min < 0 {
			return v, fmt.Errorf("metadata %q: unknown array element type %d", key, et)
		}
		if min == 0 {
			min = 8 // a string or nested array is at least a length
		}
		if n > uint64((h.size-h.off)/min) {
			return v, fmt.Errorf("%w: metadata %q: array of %d %s at byte %d runs past the end of the file (%d bytes)", ErrTruncated, key, n, v.Elem, h.off, h.size)
		}
		v.Data, err = h.array(v.Elem, int(n), key, depth)
		return v, err
	}
	sz := t.scalarSize()
	if sz <= 0 {
		return v, fmt.Errorf("metadata %q: unknown value type %d", key, uint32(t))
	}
	b, err := h.read(sz, what)
	if err != nil {
		return v, err
	}
	v.Data = decodeScalar(t, b)
	return v, nil
}

func decodeScalar(t ValueType, b []byte) any {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return b[0]
	case TypeInt8:
		return int8(b[0])
	case TypeBool:
		return b[0] != 0
	case TypeUint16:
		return le.Uint16(b)
	case TypeInt16:
		return int16(le.Uint16(b))
	case TypeUint32:
		return le.Uint32(b)
	case TypeInt32:
		return int32(le.Uint32(b))
	case TypeFloat32:
		return math.Float32frombits(le.Uint32(b))
	case TypeUint64:
		return le.Uint64(b)
	case TypeInt64:
		return int64(le.Uint64(b))
	case TypeFloat64:
		return math.Float64frombits(le.Uint64(b))
	}
	return nil
}

// arrayOf reads n scalars into a typed slice.
func arrayOf[T any](h *hdr, t ValueType, n int, key string) ([]T, error) {
	out := make([]T, n)
	sz := t.scalarSize()
	for i := range out {
		b, err := h.read(sz, fmt.Sprintf("element %d of metadata %q", i, key))
		if err != nil {
			return nil, err
		}
		out[i] = decodeScalar(t, b).(T)
	}
	return out, nil
}

func (h *hdr) array(t ValueType, n int, key string, depth int) (any, error) {
	switch t {
	case TypeUint8:
		return arrayOf[uint8](h, t, n, key)
	case TypeInt8:
		return arrayOf[int8](h, t, n, key)
	case TypeBool:
		return arrayOf[bool](h, t, n, key)
	case TypeUint16:
		return arrayOf[uint16](h, t, n, key)
	case TypeInt16:
		return arrayOf[int16](h, t, n, key)
	case TypeUint32:
		return arrayOf[uint32](h, t, n, key)
	case TypeInt32:
		return arrayOf[int32](h, t, n, key)
	case TypeFloat32:
		return arrayOf[float32](h, t, n, key)
	case TypeUint64:
		return arrayOf[uint64](h, t, n, key)
	case TypeInt64:
		return arrayOf[int64](h, t, n, key)
	case TypeFloat64:
		return arrayOf[float64](h, t, n, key)
	case TypeString:
		out := make([]string, n)
		for i := range out {
			s, err := h.str(fmt.Sprintf("element %d of metadata %q", i, key))
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	case TypeArray:
		out := make([]Value, n)
		for i := range out {
			v, err := h.value(TypeArray, key, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("metadata %q: unknown array element type %d", key, uint32(t))
}
