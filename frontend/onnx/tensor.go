package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/ir"
)

// ONNX data type numbers newer than ONNX 1.12's enum (onnx.proto of ONNX
// 1.16 and later); optc's IR has these types.
const (
	onnxUint4 = 21
	onnxInt4  = 22
)

// onnxMaxElements bounds the element count of one tensor, so that sizes
// computed from it (bytes, bits) cannot overflow int64.
const onnxMaxElements = int64(1) << 56

// onnxDType maps an ONNX TensorProto.DataType number to an ir.DType.
// UNDEFINED (0) maps to ir.Undefined without error; callers that need a
// concrete type check for it.
func onnxDType(dt int32) (ir.DType, error) {
	switch onnxpb.TensorProto_DataType(dt) {
	case onnxpb.TensorProto_UNDEFINED:
		return ir.Undefined, nil
	case onnxpb.TensorProto_FLOAT:
		return ir.Float32, nil
	case onnxpb.TensorProto_UINT8:
		return ir.Uint8, nil
	case onnxpb.TensorProto_INT8:
		return ir.Int8, nil
	case onnxpb.TensorProto_UINT16:
		return ir.Uint16, nil
	case onnxpb.TensorProto_INT16:
		return ir.Int16, nil
	case onnxpb.TensorProto_INT32:
		return ir.Int32, nil
	case onnxpb.TensorProto_INT64:
		return ir.Int64, nil
	case onnxpb.TensorProto_STRING:
		return ir.String, nil
	case onnxpb.TensorProto_BOOL:
		return ir.Bool, nil
	case onnxpb.TensorProto_FLOAT16:
		return ir.Float16, nil
	case onnxpb.TensorProto_DOUBLE:
		return ir.Float64, nil
	case onnxpb.TensorProto_UINT32:
		return ir.Uint32, nil
	case onnxpb.TensorProto_UINT64:
		return ir.Uint64, nil
	case onnxpb.TensorProto_BFLOAT16:
		return ir.BFloat16, nil
	case onnxUint4:
		return ir.Uint4, nil
	case onnxInt4:
		return ir.Int4, nil
	}
	if name, ok := onnxpb.TensorProto_DataType_name[dt]; ok {
		return ir.Undefined, fmt.Errorf("element type %s is not supported", name)
	}
	return ir.Undefined, fmt.Errorf("unknown element type %d", dt)
}

// onnxNumElements checks dims and returns their product.
func onnxNumElements(dims []int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", dims)
		}
		if d != 0 && n > onnxMaxElements/d {
			return 0, fmt.Errorf("shape %v is too large", dims)
		}
		n *= d
	}
	return n, nil
}

// DecodeTensor converts a TensorProto into a dense ir.Tensor. It accepts
// every encoding ONNX defines: raw_data (little endian; 4-bit types packed
// two per byte, low nibble first), the typed fields (float_data,
// int32_data also carrying int8/uint8/int16/uint16/bool/float16/bfloat16
// and packed 4-bit values, int64_data, double_data, uint64_data carrying
// uint32/uint64, string_data) and external data (data_location EXTERNAL),
// read from a file relative to dir; dir == "" forbids external data. The
// amount of data must match the dims exactly.
func DecodeTensor(tp *onnxpb.TensorProto, dir string) (*ir.Tensor, error) {
	t, err := onnxDecodeTensor(tp, dir)
	if err != nil && tp.GetName() != "" {
		return nil, fmt.Errorf("tensor %q: %w", tp.GetName(), err)
	}
	return t, err
}

func onnxDecodeTensor(tp *onnxpb.TensorProto, dir string) (*ir.Tensor, error) {
	if tp == nil {
		return nil, errors.New("missing tensor")
	}
	if tp.Segment != nil {
		return nil, errors.New("segmented tensors are not supported")
	}
	if tp.DataType == nil {
		return nil, errors.New("tensor has no data_type")
	}
	dt, err := onnxDType(tp.GetDataType())
	if err != nil {
		return nil, err
	}
	if dt == ir.Undefined {
		return nil, errors.New("tensor has data_type UNDEFINED")
	}
	shape := append([]int64{}, tp.GetDims()...)
	n, err := onnxNumElements(shape)
	if err != nil {
		return nil, err
	}
	raw, hasRaw := tp.RawData, tp.RawData != nil
	switch tp.GetDataLocation() {
	case onnxpb.TensorProto_DEFAULT:
	case onnxpb.TensorProto_EXTERNAL:
		if dt == ir.String {
			return nil, errors.New("string tensors cannot hold external data")
		}
		raw, err = onnxReadExternal(tp, dir, dt.StorageBytes(n))
		if err != nil {
			return nil, err
		}
		hasRaw = true
	default:
		return nil, fmt.Errorf("unknown data_location %d", tp.GetDataLocation())
	}
	var data any
	if hasRaw {
		data, err = onnxDecodeRaw(dt, n, raw)
	} else {
		data, err = onnxDecodeTyped(tp, dt, n)
	}
	if err != nil {
		return nil, fmt.Errorf("%w for shape %v (%d elements)", err, shape, n)
	}
	return &ir.Tensor{DType: dt, Shape: shape, Data: data}, nil
}

// onnxReadExternal reads the bytes of an external-data tensor, refusing
// locations outside dir (including through symbolic links) and ranges
// beyond the end of the file.
func onnxReadExternal(tp *onnxpb.TensorProto, dir string, want int64) ([]byte, error) {
	var loc string
	offset, length := int64(0), int64(-1)
	for _, kv := range tp.GetExternalData() {
		var err error
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset":
			offset, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		}
		if err != nil || offset < 0 || (kv.GetKey() == "length" && length < 0) {
			return nil, fmt.Errorf("external data: bad %s %q", kv.GetKey(), kv.GetValue())
		}
	}
	if loc == "" {
		return nil, errors.New("external data without a location")
	}
	if dir == "" {
		return nil, fmt.Errorf("external data %q, but the model's directory is unknown", loc)
	}
	rel := filepath.FromSlash(loc)
	if !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("external data location %q is outside the model's directory", loc)
	}
	if length < 0 {
		length = want
	}
	if length != want {
		return nil, fmt.Errorf("external data %q: length %d, but the tensor needs %d bytes", loc, length, want)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("external data %q: %w", loc, err)
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	if offset > st.Size() || length > st.Size()-offset {
		return nil, fmt.Errorf("external data %q: bytes [%d, %d) are beyond its end (%d bytes)", loc, offset, offset+length, st.Size())
	}
	buf := make([]byte, length)
	if _, err := io.ReadFull(io.NewSectionReader(f, offset, length), buf); err != nil {
		return nil, fmt.Errorf("external data %q: %w", loc, err)
	}
	return buf, nil
}

// onnxLE decodes n little-endian fixed-size elements.
func onnxLE[T any](raw []byte, n int64, size int, get func([]byte) T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = get(raw[i*size:])
	}
	return out
}

// onnxUnpack4 unpacks n 4-bit values stored two per byte, low nibble first.
// bytes yields the byte holding the pair i/2.
func onnxUnpack4[T int8 | uint8](n int64, bytes func(i int) uint8, signed bool) []T {
	out := make([]T, n)
	for i := range out {
		nib := bytes(i/2) >> (4 * (i % 2)) & 0xf
		if signed {
			out[i] = T(int8(nib<<4) >> 4)
		} else {
			out[i] = T(nib)
		}
	}
	return out
}

func onnxDecodeRaw(dt ir.DType, n int64, raw []byte) (any, error) {
	if dt == ir.String {
		return nil, errors.New("string tensors cannot use raw_data")
	}
	if want := dt.StorageBytes(n); int64(len(raw)) != want {
		return nil, fmt.Errorf("%d bytes of raw data, want %d", len(raw), want)
	}
	le := binary.LittleEndian
	switch dt {
	case ir.Float32:
		return onnxLE(raw, n, 4, func(b []byte) float32 { return math.Float32frombits(le.Uint32(b)) }), nil
	case ir.Float64:
		return onnxLE(raw, n, 8, func(b []byte) float64 { return math.Float64frombits(le.Uint64(b)) }), nil
	case ir.Float16, ir.BFloat16, ir.Uint16:
		return onnxLE(raw, n, 2, le.Uint16), nil
	case ir.Int16:
		return onnxLE(raw, n, 2, func(b []byte) int16 { return int16(le.Uint16(b)) }), nil
	case ir.Int32:
		return onnxLE(raw, n, 4, func(b []byte) int32 { return int32(le.Uint32(b)) }), nil
	case ir.Uint32:
		return onnxLE(raw, n, 4, le.Uint32), nil
	case ir.Int64:
		return onnxLE(raw, n, 8, func(b []byte) int64 { return int64(le.Uint64(b)) }), nil
	case ir.Uint64:
		return onnxLE(raw, n, 8, le.Uint64), nil
	case ir.Int8:
		return onnxLE(raw, n, 1, func(b []byte) int8 { return int8(b[0]) }), nil
	case ir.Uint8:
		return onnxLE(raw, n, 1, func(b []byte) uint8 { return b[0] }), nil
	case ir.Bool:
		return onnxLE(raw, n, 1, func(b []byte) bool { return b[0] != 0 }), nil
	case ir.Int4:
		return onnxUnpack4[int8](n, func(i int) uint8 { return raw[i] }, true), nil
	case ir.Uint4:
		return onnxUnpack4[uint8](n, func(i int) uint8 { return raw[i] }, false), nil
	}
	return nil, fmt.Errorf("raw data of type %s is not supported", dt)
}

// onnxConvert converts the elements of a typed data field.
func onnxConvert[S, D any](src []S, conv func(S) D) []D {
	out := make([]D, len(src))
	for i, v := range src {
		out[i] = conv(v)
	}
	return out
}

// onnxCount checks that a typed field holds exactly want values.
func onnxCount(field string, got int, want int64) error {
	if int64(got) != want {
		return fmt.Errorf("%d %s values, want %d", got, field, want)
	}
	return nil
}

func onnxDecodeTyped(tp *onnxpb.TensorProto, dt ir.DType, n int64) (any, error) {
	i32 := tp.GetInt32Data()
	switch dt {
	case ir.Float32:
		return onnxConvert(tp.GetFloatData(), func(v float32) float32 { return v }), onnxCount("float_data", len(tp.GetFloatData()), n)
	case ir.Float64:
		return onnxConvert(tp.GetDoubleData(), func(v float64) float64 { return v }), onnxCount("double_data", len(tp.GetDoubleData()), n)
	case ir.Int64:
		return onnxConvert(tp.GetInt64Data(), func(v int64) int64 { return v }), onnxCount("int64_data", len(tp.GetInt64Data()), n)
	case ir.Uint64:
		return onnxConvert(tp.GetUint64Data(), func(v uint64) uint64 { return v }), onnxCount("uint64_data", len(tp.GetUint64Data()), n)
	case ir.Uint32:
		return onnxConvert(tp.GetUint64Data(), func(v uint64) uint32 { return uint32(v) }), onnxCount("uint64_data", len(tp.GetUint64Data()), n)
	case ir.String:
		return onnxConvert(tp.GetStringData(), func(v []byte) string { return string(v) }), onnxCount("string_data", len(tp.GetStringData()), n)
	case ir.Int4, ir.Uint4:
		if err := onnxCount("int32_data", len(i32), (n+1)/2); err != nil {
			return nil, err
		}
		if dt == ir.Int4 {
			return onnxUnpack4[int8](n, func(i int) uint8 { return uint8(i32[i]) }, true), nil
		}
		return onnxUnpack4[uint8](n, func(i int) uint8 { return uint8(i32[i]) }, false), nil
	}
	if err := onnxCount("int32_data", len(i32), n); err != nil {
		return nil, err
	}
	switch dt {
	case ir.Int32:
		return onnxConvert(i32, func(v int32) int32 { return v }), nil
	case ir.Int8:
		return onnxConvert(i32, func(v int32) int8 { return int8(v) }), nil
	case ir.Uint8:
		return onnxConvert(i32, func(v int32) uint8 { return uint8(v) }), nil
	case ir.Int16:
		return onnxConvert(i32, func(v int32) int16 { return int16(v) }), nil
	case ir.Uint16, ir.Float16, ir.BFloat16:
		return onnxConvert(i32, func(v int32) uint16 { return uint16(v) }), nil
	case ir.Bool:
		return onnxConvert(i32, func(v int32) bool { return v != 0 }), nil
	}
	return nil, fmt.Errorf("typed data of type %s is not supported", dt)
}
