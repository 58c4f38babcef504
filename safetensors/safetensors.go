package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"syscall"
	"unsafe"
)

// MaxHeader bounds the JSON header (the format's own limit is 100 MB).
const MaxHeader = 100 << 20

// dtypeSizes are the element sizes of the format's dtypes.
var dtypeSizes = map[string]int64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// DTypeSize returns the byte size of a dtype name, or 0 if unknown.
func DTypeSize(dtype string) int64 { return dtypeSizes[dtype] }

// Tensor describes one tensor of a file.
type Tensor struct {
	Name  string
	DType string
	Shape []int64
	// Begin and End are byte offsets into the data section.
	Begin, End int64
}

// File is an opened (memory-mapped) safetensors file.
type File struct {
	// Header is the raw JSON header, padding included.
	Header   []byte
	Metadata map[string]string
	// Tensors are sorted by Begin.
	Tensors []Tensor
	// DataOffset is where the data section starts in the file.
	DataOffset int64
	mapped     []byte
	mmapped    bool // mapped came from mmap (Open), not from Parse
	byName     map[string]int
}

type headerEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// Open memory-maps path and validates its header.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("%s: not a safetensors file (%d bytes)", path, size)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: mmap: %w", path, err)
	}
	sf, err := parse(m)
	if err != nil {
		syscall.Munmap(m)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sf.mapped, sf.mmapped = m, true
	return sf, nil
}

// Parse reads a safetensors image held in memory (the File refers to b).
func Parse(b []byte) (*File, error) { return parse(b) }

func parse(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("not a safetensors file (%d bytes)", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > MaxHeader || n > uint64(len(b)-8) {
		return nil, fmt.Errorf("header length %d does not fit the file (%d bytes)", n, len(b))
	}
	hdr := b[8 : 8+n]
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("header is not a JSON object: %v", err)
	}
	sf := &File{Header: hdr, DataOffset: int64(8 + n), byName: map[string]int{}}
	dataLen := int64(len(b)) - sf.DataOffset
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &sf.Metadata); err != nil {
				return nil, fmt.Errorf("__metadata__ is not a map of strings: %v", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: %v", name, err)
		}
		es := dtypeSizes[e.DType]
		if es == 0 {
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", name, e.DType)
		}
		cnt := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && cnt > math.MaxInt64/d) {
				return nil, fmt.Errorf("tensor %q: bad shape %v", name, e.Shape)
			}
			cnt *= d
		}
		bg, en := e.DataOffsets[0], e.DataOffsets[1]
		if bg < 0 || en < bg || en > dataLen {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d) outside the %d data bytes", name, bg, en, dataLen)
		}
		if cnt > (math.MaxInt64/es) || en-bg != cnt*es {
			return nil, fmt.Errorf("tensor %q: %d bytes for %s%v (want %d)", name, en-bg, e.DType, e.Shape, cnt*es)
		}
		sf.Tensors = append(sf.Tensors, Tensor{Name: name, DType: e.DType, Shape: e.Shape, Begin: bg, End: en})
	}
	sort.Slice(sf.Tensors, func(i, j int) bool {
		if sf.Tensors[i].Begin != sf.Tensors[j].Begin {
			return sf.Tensors[i].Begin < sf.Tensors[j].Begin
		}
		return sf.Tensors[i].Name < sf.Tensors[j].Name
	})
	pos := int64(0)
	for i, t := range sf.Tensors {
		if t.Begin != pos {
			return nil, fmt.Errorf("tensor %q starts at %d, expected %d (the data must be contiguous, without holes or overlaps)", t.Name, t.Begin, pos)
		}
		pos = t.End
		sf.byName[t.Name] = i
	}
	if pos != dataLen {
		return nil, fmt.Errorf("tensors cover %d of the %d data bytes", pos, dataLen)
	}
	sf.mapped = b
	return sf, nil
}

// Close unmaps the file. Slices returned by Bytes become invalid.
func (f *File) Close() error {
	if f.mapped == nil {
		return nil
	}
	m := f.mapped
	f.mapped = nil
	if !f.mmapped {
		return nil
	}
	return syscall.Munmap(m)
}

// Data returns the whole data section.
func (f *File) Data() []byte { return f.mapped[f.DataOffset:] }

// Lookup returns the tensor with the given name.
func (f *File) Lookup(name string) (Tensor, bool) {
	i, ok := f.byName[name]
	if !ok {
		return Tensor{}, false
	}
	return f.Tensors[i], true
}

// Bytes returns a tensor's bytes (read-only, valid until Close).
func (f *File) Bytes(name string) ([]byte, error) {
	t, ok := f.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	d := f.Data()
	return d[t.Begin:t.End:t.End], nil
}

// Float32s returns an F32 tensor's elements without copying (read-only;
// little-endian hosts only).
func (f *File) Float32s(name string) ([]float32, error) {
	t, ok := f.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	if t.DType != "F32" {
		return nil, fmt.Errorf("tensor %q is %s, not F32", name, t.DType)
	}
	b, _ := f.Bytes(name)
	if len(b) == 0 {
		return nil, nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		out := make([]float32, len(b)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4), nil
}

// WriteTensor is a tensor to write.
type WriteTensor struct {
	Name  string
	DType string
	Shape []int64
	Data  []byte
}

// EncodeHeader returns the header bytes (JSON padded with spaces so that
// the data starts at a multiple of align from the file start) Write
// produces for tensors stored in the given order.
func EncodeHeader(tensors []WriteTensor, meta map[string]string, align int) ([]byte, error) {
	entries := map[string]any{}
	if len(meta) > 0 {
		entries["__metadata__"] = meta
	}
	pos := int64(0)
	for _, t := range tensors {
		if t.Name == "__metadata__" {
			return nil, fmt.Errorf("tensor name __metadata__ is reserved")
		}
		if _, dup := entries[t.Name]; dup {
			return nil, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		es := dtypeSizes[t.DType]
		if es == 0 {
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		cnt := int64(1)
		for _, d := range t.Shape {
			cnt *= d
		}
		if int64(len(t.Data)) != cnt*es {
			return nil, fmt.Errorf("tensor %q: %d bytes for %s%v (want %d)", t.Name, len(t.Data), t.DType, t.Shape, cnt*es)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		entries[t.Name] = headerEntry{DType: t.DType, Shape: shape, DataOffsets: [2]int64{pos, pos + int64(len(t.Data))}}
		pos += int64(len(t.Data))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(entries); err != nil {
		return nil, err
	}
	hdr := bytes.TrimRight(buf.Bytes(), "\n")
	if align < 8 {
		align = 8
	}
	for (8+len(hdr))%align != 0 {
		hdr = append(hdr, ' ')
	}
	return hdr, nil
}

// Write writes a safetensors file: the tensors' data in the given order.
func Write(w io.Writer, tensors []WriteTensor, meta map[string]string, align int) error {
	hdr, err := EncodeHeader(tensors, meta, align)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// Float32Bytes returns the little-endian bytes of xs.
func Float32Bytes(xs []float32) []byte {
	b := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}
