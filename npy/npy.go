package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/optc-dev/optc/ir"
)

var magic = []byte("\x93NUMPY")

// maxHeaderLen bounds the header we are willing to read. NumPy itself
// refuses headers over 10000 bytes unless told otherwise; structured
// arrays (unsupported here) are the only ones that need more.
const maxHeaderLen = 1 << 20

// maxElements bounds the element count a header may declare, so that size
// arithmetic cannot overflow.
const maxElements = 1 << 50

// arrayAlign is the alignment numpy.save pads the header to.
const arrayAlign = 64

// growthAxisMaxDigits is numpy's spare room after the header dict
// (numpy >= 1.24 pads so the first axis can grow in place).
const growthAxisMaxDigits = 21

// header is the parsed .npy header.
type header struct {
	dtype    ir.DType
	order    binary.ByteOrder
	itemSize int64 // bytes per element in the file
	strKind  byte  // 'U' or 'S' for string dtypes
	shape    []int64
	fortran  bool
	n        int64 // number of elements
}

// Read decodes one .npy array from r. It reads exactly the header and the
// array data, so several arrays may follow each other in one stream.
func Read(r io.Reader) (*ir.Tensor, error) {
	h, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	data, err := readData(r, h)
	if err != nil {
		return nil, err
	}
	shape := make([]int64, len(h.shape))
	copy(shape, h.shape)
	return &ir.Tensor{DType: h.dtype, Shape: shape, Data: data}, nil
}

// ReadFile reads a .npy file. Bytes after the array data are an error.
func ReadFile(path string) (*ir.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := readAll(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("npy: %s: %w", path, err)
	}
	return t, nil
}

// readAll reads one array and checks that nothing follows it.
func readAll(r io.Reader) (*ir.Tensor, error) {
	t, err := Read(r)
	if err != nil {
		return nil, err
	}
	var extra [1]byte
	n, err := io.ReadFull(r, extra[:])
	if n != 0 {
		return nil, errors.New("npy: unexpected bytes after the array data")
	}
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("npy: after the array data: %w", err)
	}
	return t, nil
}

func readHeader(r io.Reader) (*header, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, truncated("magic string", err)
	}
	if !bytes.Equal(pre[:6], magic) {
		return nil, fmt.Errorf("npy: not a .npy file (bad magic %q)", pre[:6])
	}
	major, minor := pre[6], pre[7]
	var hlen int64
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, truncated("header length", err)
		}
		hlen = int64(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, truncated("header length", err)
		}
		hlen = int64(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d.%d (want 1.0, 2.0 or 3.0)", major, minor)
	}
	if minor != 0 {
		return nil, fmt.Errorf("npy: unsupported format version %d.%d (want 1.0, 2.0 or 3.0)", major, minor)
	}
	if hlen > maxHeaderLen {
		return nil, fmt.Errorf("npy: header length %d exceeds the limit of %d bytes", hlen, maxHeaderLen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, truncated("header", err)
	}
	if major == 3 && !utf8.Valid(hb) {
		return nil, errors.New("npy: version 3.0 header is not valid UTF-8")
	}
	return parseHeader(string(hb))
}

func truncated(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("npy: truncated input: file ends in the %s", what)
	}
	return fmt.Errorf("npy: reading the %s: %w", what, err)
}

// parseHeader interprets the Python dict literal of a .npy header.
func parseHeader(s string) (*header, error) {
	p := &pyParser{s: s}
	v, err := p.parseValue(0)
	if err == nil {
		p.skipSpace()
		if p.i != len(p.s) {
			err = fmt.Errorf("unexpected %q after the dict", p.rest())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("npy: cannot parse header %q: %v", s, err)
	}
	d, ok := v.(pyDict)
	if !ok {
		return nil, fmt.Errorf("npy: header is not a dict: %q", s)
	}
	if len(d) != 3 || d["descr"] == nil || d["fortran_order"] == nil || d["shape"] == nil {
		return nil, fmt.Errorf("npy: header must have exactly the keys descr, fortran_order and shape: %q", s)
	}
	h := &header{}
	switch descr := d["descr"].(type) {
	case string:
		if err := h.setDescr(descr); err != nil {
			return nil, err
		}
	case pyList:
		return nil, errors.New("npy: structured arrays (a list descr) are not supported")
	default:
		return nil, fmt.Errorf("npy: descr is not a string: %q", s)
	}
	fo, ok := d["fortran_order"].(bool)
	if !ok {
		return nil, fmt.Errorf("npy: fortran_order is not a bool: %q", s)
	}
	h.fortran = fo
	shape, ok := d["shape"].(pyTuple)
	if !ok {
		return nil, fmt.Errorf("npy: shape is not a tuple: %q", s)
	}
	h.n = 1
	zero := false
	for _, x := range shape {
		dim, ok := x.(int64)
		if !ok || dim < 0 {
			return nil, fmt.Errorf("npy: invalid shape %q", s)
		}
		h.shape = append(h.shape, dim)
		if dim == 0 {
			zero = true
			continue
		}
		if h.n > maxElements/dim {
			return nil, fmt.Errorf("npy: shape %v has too many elements", h.shape)
		}
		h.n *= dim
	}
	if zero {
		h.n = 0
	}
	if h.n > 0 && h.itemSize > maxElements/h.n {
		return nil, fmt.Errorf("npy: shape %v of %s is too large", h.shape, d["descr"])
	}
	if h.fortran {
		big := 0
		for _, dim := range h.shape {
			if dim > 1 {
				big++
			}
		}
		if big > 1 {
			return nil, fmt.Errorf("npy: Fortran-ordered arrays are not supported (shape %v); save a C-contiguous copy (numpy.ascontiguousarray)", h.shape)
		}
	}
	return h, nil
}

// setDescr parses a simple dtype string such as "<f4", "|b1" or "<U8".
func (h *header) setDescr(descr string) error {
	if len(descr) < 2 {
		return fmt.Errorf("npy: unsupported dtype %q", descr)
	}
	switch descr[0] {
	case '<', '|':
		h.order = binary.LittleEndian
	case '>':
		h.order = binary.BigEndian
	default:
		return fmt.Errorf("npy: unsupported dtype %q (want an explicit byte order <, > or |)", descr)
	}
	kind, size := descr[1], descr[2:]
	switch kind {
	case 'U', 'S':
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n < 0 || n > maxHeaderLen {
			return fmt.Errorf("npy: unsupported dtype %q", descr)
		}
		h.dtype, h.strKind, h.itemSize = ir.String, kind, n
		if kind == 'U' {
			h.itemSize = 4 * n
		}
		return nil
	}
	dt, ok := npyDTypes[descr[1:]]
	if !ok {
		if kind == 'O' {
			return fmt.Errorf("npy: object arrays (dtype %q, pickled) are not supported", descr)
		}
		return fmt.Errorf("npy: unsupported dtype %q", descr)
	}
	h.dtype, h.itemSize = dt, int64(dt.Bits()/8)
	return nil
}

// npyDTypes maps numpy type codes (kind + item size) to optc dtypes.
var npyDTypes = map[string]ir.DType{
	"f2": ir.Float16, "f4": ir.Float32, "f8": ir.Float64,
	"i1": ir.Int8, "i2": ir.Int16, "i4": ir.Int32, "i8": ir.Int64,
	"u1": ir.Uint8, "u2": ir.Uint16, "u4": ir.Uint32, "u8": ir.Uint64,
	"b1": ir.Bool,
}

// readData reads h.n elements. It grows its buffers as data arrives, so a
// header that claims more data than the input holds fails with "truncated"
// instead of allocating the claimed size up front.
func readData(r io.Reader, h *header) (any, error) {
	switch h.dtype {
	case ir.Float32:
		return readElems[float32](r, h)
	case ir.Float64:
		return readElems[float64](r, h)
	case ir.Float16, ir.Uint16:
		return readElems[uint16](r, h)
	case ir.Int8:
		return readElems[int8](r, h)
	case ir.Uint8:
		return readElems[uint8](r, h)
	case ir.Int16:
		return readElems[int16](r, h)
	case ir.Int32:
		return readElems[int32](r, h)
	case ir.Uint32:
		return readElems[uint32](r, h)
	case ir.Int64:
		return readElems[int64](r, h)
	case ir.Uint64:
		return readElems[uint64](r, h)
	case ir.Bool:
		return readElems[bool](r, h)
	case ir.String:
		return readStrings(r, h)
	}
	return nil, fmt.Errorf("npy: internal error: dtype %s", h.dtype)
}

const readChunk = 1 << 16 // elements per read

func readElems[T any](r io.Reader, h *header) ([]T, error) {
	out := make([]T, 0, min(h.n, readChunk))
	buf := make([]T, min(h.n, readChunk))
	for int64(len(out)) < h.n {
		k := min(h.n-int64(len(out)), readChunk)
		if err := binary.Read(r, h.order, buf[:k]); err != nil {
			return nil, truncated(fmt.Sprintf("array data (%d elements of %d read)", len(out), h.n), err)
		}
		out = append(out, buf[:k]...)
	}
	return out, nil
}

func readStrings(r io.Reader, h *header) ([]string, error) {
	out := make([]string, 0, min(h.n, readChunk))
	buf := make([]byte, h.itemSize)
	for int64(len(out)) < h.n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, truncated(fmt.Sprintf("array data (%d strings of %d read)", len(out), h.n), err)
		}
		if h.strKind == 'S' {
			out = append(out, string(bytes.TrimRight(buf, "\x00")))
			continue
		}
		var sb strings.Builder
		end := len(buf)
		for end >= 4 && h.order.Uint32(buf[end-4:end]) == 0 {
			end -= 4
		}
		for i := 0; i < end; i += 4 {
			c := h.order.Uint32(buf[i : i+4])
			if c > utf8.MaxRune || (c >= 0xD800 && c <= 0xDFFF) {
				return nil, fmt.Errorf("npy: string %d holds the invalid code point %#x", len(out), c)
			}
			sb.WriteRune(rune(c))
		}
		out = append(out, sb.String())
	}
	return out, nil
}

// Write encodes t as a .npy array (format 1.0, or 2.0 when the header does
// not fit 1.0) with the header numpy.save would write.
func Write(w io.Writer, t *ir.Tensor) error {
	hdr, body, err := encode(t)
	if err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err = w.Write(body)
	return err
}

// WriteFile writes t to path atomically (temporary file and rename).
func WriteFile(path string, t *ir.Tensor) error {
	hdr, body, err := encode(t)
	if err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	return writeAtomic(path, func(w io.Writer) error {
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		_, err := w.Write(body)
		return err
	})
}

// encode validates t and returns its header and data bytes.
func encode(t *ir.Tensor) (hdr, body []byte, err error) {
	if t == nil {
		return nil, nil, errors.New("npy: nil tensor")
	}
	t, err = t.Dense()
	if err != nil {
		return nil, nil, fmt.Errorf("npy: decoding %s: %w", t, err)
	}
	for _, d := range t.Shape {
		if d < 0 {
			return nil, nil, fmt.Errorf("npy: %s has a negative dim", t)
		}
	}
	n := ir.NumElements(t.Shape)
	var descr string
	switch t.DType {
	case ir.String:
		ss, ok := t.Data.([]string)
		if !ok || int64(len(ss)) != n {
			return nil, nil, badData(t)
		}
		descr, body = encodeStrings(ss)
	case ir.Bool, ir.Int8, ir.Uint8:
		descr = "|" + dtypeCode(t.DType)
	case ir.Float16, ir.Float32, ir.Float64, ir.Int16, ir.Int32, ir.Int64, ir.Uint16, ir.Uint32, ir.Uint64:
		descr = "<" + dtypeCode(t.DType)
	default:
		return nil, nil, fmt.Errorf("npy: dtype %s has no NumPy equivalent", t.DType)
	}
	if t.DType != ir.String {
		if t.Data == nil || binary.Size(t.Data) != int(n)*t.DType.Bits()/8 || !goTypeMatches(t) {
			return nil, nil, badData(t)
		}
		body, err = binary.Append(nil, binary.LittleEndian, t.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("npy: encoding %s: %w", t, err)
		}
	}
	return encodeHeader(descr, t.Shape), body, nil
}

func badData(t *ir.Tensor) error {
	return fmt.Errorf("npy: %s holds %T data with the wrong type or length", t, t.Data)
}

func goTypeMatches(t *ir.Tensor) bool {
	switch t.Data.(type) {
	case []float32:
		return t.DType == ir.Float32
	case []float64:
		return t.DType == ir.Float64
	case []uint16:
		return t.DType == ir.Float16 || t.DType == ir.Uint16
	case []int8:
		return t.DType == ir.Int8
	case []uint8:
		return t.DType == ir.Uint8
	case []int16:
		return t.DType == ir.Int16
	case []int32:
		return t.DType == ir.Int32
	case []uint32:
		return t.DType == ir.Uint32
	case []int64:
		return t.DType == ir.Int64
	case []uint64:
		return t.DType == ir.Uint64
	case []bool:
		return t.DType == ir.Bool
	}
	return false
}

func dtypeCode(d ir.DType) string {
	for code, dt := range npyDTypes {
		if dt == d {
			return code
		}
	}
	return ""
}

// encodeStrings writes strings as NumPy's '<U<n>' (UTF-32LE, NUL padded),
// n being the longest string in code points (at least 1, as in NumPy).
func encodeStrings(ss []string) (string, []byte) {
	width := 1
	for _, s := range ss {
		width = max(width, utf8.RuneCountInString(s))
	}
	body := make([]byte, 4*width*len(ss))
	for i, s := range ss {
		off := 4 * width * i
		for _, c := range s {
			binary.LittleEndian.PutUint32(body[off:], uint32(c))
			off += 4
		}
	}
	return "<U" + strconv.Itoa(width), body
}

// encodeHeader reproduces numpy.lib.format._write_array_header (numpy
// 1.24): sorted keys, repr of values, growth padding, 64-byte alignment.
func encodeHeader(descr string, shape []int64) []byte {
	var dims []string
	for _, d := range shape {
		dims = append(dims, strconv.FormatInt(d, 10))
	}
	shapeRepr := "(" + strings.Join(dims, ", ") + ")"
	if len(dims) == 1 {
		shapeRepr = "(" + dims[0] + ",)"
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shapeRepr)
	if len(dims) > 0 {
		dict += strings.Repeat(" ", max(0, growthAxisMaxDigits-len(dims[0])))
	}
	hlen := len(dict) + 1 // the final newline
	out := append([]byte{}, magic...)
	// Version 1.0 has a 2-byte header length, 2.0 a 4-byte one.
	pad := arrayAlign - (len(magic)+4+hlen)%arrayAlign
	if hlen+pad <= math.MaxUint16 {
		out = append(out, 1, 0)
		out = binary.LittleEndian.AppendUint16(out, uint16(hlen+pad))
	} else {
		pad = arrayAlign - (len(magic)+6+hlen)%arrayAlign
		out = append(out, 2, 0)
		out = binary.LittleEndian.AppendUint32(out, uint32(hlen+pad))
	}
	out = append(out, dict...)
	out = append(out, bytes.Repeat([]byte{' '}, pad)...)
	return append(out, '\n')
}

// writeAtomic writes a file via a temporary file in the same directory
// and a rename, removing the temporary file on any failure.
func writeAtomic(path string, fill func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = fill(bw); err != nil {
		return fmt.Errorf("npy: writing %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("npy: writing %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("npy: writing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("npy: writing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}
