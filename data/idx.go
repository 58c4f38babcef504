package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/optc-dev/optc/ir"
)

// maxIDXElems bounds what a header may claim, so a corrupt file cannot ask
// for an absurd allocation (Fashion-MNIST's largest file has 47M elements).
const maxIDXElems = 1 << 30

// ReadIDX reads one IDX array: a 4-byte magic (two zero bytes, a type code,
// the number of dims), the dims as big-endian uint32, then the elements in
// row-major order, big-endian. Type codes: 0x08 uint8, 0x09 int8, 0x0B
// int16, 0x0C int32, 0x0D float32, 0x0E float64. If the stream starts with
// the gzip magic it is decompressed first.
func ReadIDX(r io.Reader) (*ir.Tensor, error) {
	br := bufio.NewReader(r)
	if m, err := br.Peek(2); err == nil && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, idxTruncated("magic", err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("idx: bad magic % x (want 00 00 <type> <rank>)", magic)
	}
	dt, size, err := idxDType(magic[2])
	if err != nil {
		return nil, err
	}
	rank := int(magic[3])
	shape := make([]int64, rank)
	n := int64(1)
	for i := range shape {
		var d uint32
		if err := binary.Read(br, binary.BigEndian, &d); err != nil {
			return nil, idxTruncated("dims", err)
		}
		shape[i] = int64(d)
		n *= int64(d)
		if n > maxIDXElems {
			return nil, fmt.Errorf("idx: shape %v has more than %d elements", shape[:i+1], maxIDXElems)
		}
	}
	// Read through a LimitReader so a header lying about its size costs
	// only what the input provides.
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(br, n*int64(size))); err != nil {
		return nil, fmt.Errorf("idx: data: %w", err)
	}
	raw := buf.Bytes()
	if int64(len(raw)) != n*int64(size) {
		return nil, fmt.Errorf("idx: truncated data: shape %v needs %d bytes, got %d", shape, n*int64(size), len(raw))
	}
	if _, err := br.ReadByte(); err == nil {
		return nil, fmt.Errorf("idx: trailing bytes after %v array", shape)
	}
	t := ir.NewTensor(dt, shape...)
	idxDecode(t, raw)
	return t, nil
}

// ReadIDXFile reads an IDX file (gzipped or not).
func ReadIDXFile(path string) (*ir.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadIDX(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func idxTruncated(what string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("idx: reading %s: %w", what, err)
}

func idxDType(code byte) (ir.DType, int, error) {
	switch code {
	case 0x08:
		return ir.Uint8, 1, nil
	case 0x09:
		return ir.Int8, 1, nil
	case 0x0B:
		return ir.Int16, 2, nil
	case 0x0C:
		return ir.Int32, 4, nil
	case 0x0D:
		return ir.Float32, 4, nil
	case 0x0E:
		return ir.Float64, 8, nil
	}
	return 0, 0, fmt.Errorf("idx: unknown element type code 0x%02x", code)
}

func idxDecode(t *ir.Tensor, raw []byte) {
	be := binary.BigEndian
	switch d := t.Data.(type) {
	case []uint8:
		copy(d, raw)
	case []int8:
		for i := range d {
			d[i] = int8(raw[i])
		}
	case []int16:
		for i := range d {
			d[i] = int16(be.Uint16(raw[2*i:]))
		}
	case []int32:
		for i := range d {
			d[i] = int32(be.Uint32(raw[4*i:]))
		}
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(be.Uint32(raw[4*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(be.Uint64(raw[8*i:]))
		}
	}
}
