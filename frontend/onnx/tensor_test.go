package onnx

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/ir"
)

func pbTensor(dt onnxpb.TensorProto_DataType, dims ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{DataType: proto.Int32(int32(dt)), Dims: dims}
}

func TestDecodeTensor(t *testing.T) {
	with := func(tp *onnxpb.TensorProto, f func(*onnxpb.TensorProto)) *onnxpb.TensorProto { f(tp); return tp }
	cases := []struct {
		name  string
		tp    *onnxpb.TensorProto
		dtype ir.DType
		shape []int64
		data  any
	}{
		{"float_data", with(pbTensor(onnxpb.TensorProto_FLOAT, 2), func(p *onnxpb.TensorProto) { p.FloatData = []float32{1.5, -2} }),
			ir.Float32, []int64{2}, []float32{1.5, -2}},
		// IEEE 754: 1.0f = 0x3f800000, -2.0f = 0xc0000000, little endian.
		{"raw f32", with(pbTensor(onnxpb.TensorProto_FLOAT, 2), func(p *onnxpb.TensorProto) {
			p.RawData = []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}
		}), ir.Float32, []int64{2}, []float32{1, -2}},
		// 1.0 = 0x3ff0000000000000.
		{"raw f64", with(pbTensor(onnxpb.TensorProto_DOUBLE), func(p *onnxpb.TensorProto) {
			p.RawData = []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}
		}), ir.Float64, []int64{}, []float64{1}},
		{"double_data", with(pbTensor(onnxpb.TensorProto_DOUBLE, 1), func(p *onnxpb.TensorProto) { p.DoubleData = []float64{0.25} }),
			ir.Float64, []int64{1}, []float64{0.25}},
		{"int32_data i32", with(pbTensor(onnxpb.TensorProto_INT32, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{-7, 1 << 30} }),
			ir.Int32, []int64{2}, []int32{-7, 1 << 30}},
		{"int32_data i8", with(pbTensor(onnxpb.TensorProto_INT8, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{-1, 127} }),
			ir.Int8, []int64{2}, []int8{-1, 127}},
		{"int32_data u8", with(pbTensor(onnxpb.TensorProto_UINT8, 2), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{255, 0} }),
			ir.Uint8, []int64{2}, []uint8{255, 0}},
		{"int32_data i16", with(pbTensor(onnxpb.TensorProto_INT16, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{-300} }),
			ir.Int16, []int64{1}, []int16{-300}},
		{"int32_data u16", with(pbTensor(onnxpb.TensorProto_UINT16, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{65535} }),
			ir.Uint16, []int64{1}, []uint16{65535}},
		{"int32_data bool", with(pbTensor(onnxpb.TensorProto_BOOL, 3), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0, 1, 2} }),
			ir.Bool, []int64{3}, []bool{false, true, true}},
		// half 1.0 = 0x3c00; bfloat16 1.0 = 0x3f80.
		{"int32_data f16", with(pbTensor(onnxpb.TensorProto_FLOAT16, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0x3c00} }),
			ir.Float16, []int64{1}, []uint16{0x3c00}},
		{"int32_data bf16", with(pbTensor(onnxpb.TensorProto_BFLOAT16, 1), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0x3f80} }),
			ir.BFloat16, []int64{1}, []uint16{0x3f80}},
		{"raw f16", with(pbTensor(onnxpb.TensorProto_FLOAT16, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{0x00, 0x3c} }),
			ir.Float16, []int64{1}, []uint16{0x3c00}},
		{"int64_data", with(pbTensor(onnxpb.TensorProto_INT64, 2), func(p *onnxpb.TensorProto) { p.Int64Data = []int64{-5, 1 << 40} }),
			ir.Int64, []int64{2}, []int64{-5, 1 << 40}},
		// -2 as int64 little endian is fe ff ff ff ff ff ff ff.
		{"raw i64", with(pbTensor(onnxpb.TensorProto_INT64, 1), func(p *onnxpb.TensorProto) {
			p.RawData = []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		}), ir.Int64, []int64{1}, []int64{-2}},
		{"raw i16", with(pbTensor(onnxpb.TensorProto_INT16, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{0xfe, 0xff} }),
			ir.Int16, []int64{1}, []int16{-2}},
		{"raw u32", with(pbTensor(onnxpb.TensorProto_UINT32, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{1, 2, 0, 0} }),
			ir.Uint32, []int64{1}, []uint32{0x0201}},
		{"raw i8", with(pbTensor(onnxpb.TensorProto_INT8, 2), func(p *onnxpb.TensorProto) { p.RawData = []byte{0xff, 5} }),
			ir.Int8, []int64{2}, []int8{-1, 5}},
		{"raw bool", with(pbTensor(onnxpb.TensorProto_BOOL, 3), func(p *onnxpb.TensorProto) { p.RawData = []byte{0, 1, 7} }),
			ir.Bool, []int64{3}, []bool{false, true, true}},
		{"uint64_data u32", with(pbTensor(onnxpb.TensorProto_UINT32, 1), func(p *onnxpb.TensorProto) { p.Uint64Data = []uint64{4294967295} }),
			ir.Uint32, []int64{1}, []uint32{4294967295}},
		{"uint64_data u64", with(pbTensor(onnxpb.TensorProto_UINT64, 1), func(p *onnxpb.TensorProto) { p.Uint64Data = []uint64{1 << 63} }),
			ir.Uint64, []int64{1}, []uint64{1 << 63}},
		{"string_data", with(pbTensor(onnxpb.TensorProto_STRING, 2), func(p *onnxpb.TensorProto) { p.StringData = [][]byte{[]byte("a"), []byte("bc")} }),
			ir.String, []int64{2}, []string{"a", "bc"}},
		// 4-bit: bytes 0x21 0x0f hold nibbles 1, 2, 15 (low nibble first);
		// as int4, 15 is -1.
		{"raw i4", with(pbTensor(onnxInt4, 3), func(p *onnxpb.TensorProto) { p.RawData = []byte{0x21, 0x0f} }),
			ir.Int4, []int64{3}, []int8{1, 2, -1}},
		{"raw u4", with(pbTensor(onnxUint4, 3), func(p *onnxpb.TensorProto) { p.RawData = []byte{0x21, 0x0f} }),
			ir.Uint4, []int64{3}, []uint8{1, 2, 15}},
		{"int32_data i4", with(pbTensor(onnxInt4, 3), func(p *onnxpb.TensorProto) { p.Int32Data = []int32{0x21, 0x0f} }),
			ir.Int4, []int64{3}, []int8{1, 2, -1}},
		{"scalar", with(pbTensor(onnxpb.TensorProto_FLOAT), func(p *onnxpb.TensorProto) { p.FloatData = []float32{3} }),
			ir.Float32, []int64{}, []float32{3}},
		{"empty", pbTensor(onnxpb.TensorProto_FLOAT, 0, 3), ir.Float32, []int64{0, 3}, []float32{}},
		{"empty raw", with(pbTensor(onnxpb.TensorProto_INT64, 0), func(p *onnxpb.TensorProto) { p.RawData = []byte{} }),
			ir.Int64, []int64{0}, []int64{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Round-trip through the wire format, as a model file would.
			var tp onnxpb.TensorProto
			if err := proto.Unmarshal(mustMarshal(t, c.tp), &tp); err != nil {
				t.Fatal(err)
			}
			x, err := DecodeTensor(&tp, "")
			if err != nil {
				t.Fatal(err)
			}
			if x.DType != c.dtype || !reflect.DeepEqual(x.Shape, c.shape) || !reflect.DeepEqual(x.Data, c.data) {
				t.Fatalf("got %s %v %#v, want %s %v %#v", x.DType, x.Shape, x.Data, c.dtype, c.shape, c.data)
			}
		})
	}
}

func TestDecodeTensorErrors(t *testing.T) {
	with := func(tp *onnxpb.TensorProto, f func(*onnxpb.TensorProto)) *onnxpb.TensorProto { f(tp); return tp }
	cases := []struct {
		name string
		tp   *onnxpb.TensorProto
		want string
	}{
		{"short float_data", with(pbFloats("w", []int64{2, 3}, 1, 2, 3, 4, 5), func(*onnxpb.TensorProto) {}),
			`tensor "w": 5 float_data values, want 6 for shape [2 3] (6 elements)`},
		{"wrong field", with(pbTensor(onnxpb.TensorProto_INT64, 2), func(p *onnxpb.TensorProto) { p.FloatData = []float32{1, 2} }),
			"0 int64_data values, want 2"},
		{"short raw", with(pbTensor(onnxpb.TensorProto_FLOAT, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{1, 2, 3} }),
			"3 bytes of raw data, want 4"},
		{"negative dim", pbTensor(onnxpb.TensorProto_FLOAT, 2, -1), "negative dimension"},
		{"huge", pbTensor(onnxpb.TensorProto_FLOAT, 1<<40, 1<<40), "too large"},
		{"no data_type", &onnxpb.TensorProto{Dims: []int64{1}}, "no data_type"},
		{"undefined", pbTensor(onnxpb.TensorProto_UNDEFINED, 1), "UNDEFINED"},
		{"complex", pbTensor(onnxpb.TensorProto_COMPLEX64, 1), "COMPLEX64 is not supported"},
		{"unknown dtype", pbTensor(99, 1), "unknown element type 99"},
		{"raw string", with(pbTensor(onnxpb.TensorProto_STRING, 1), func(p *onnxpb.TensorProto) { p.RawData = []byte{1} }),
			"string tensors cannot use raw_data"},
		{"segment", with(pbTensor(onnxpb.TensorProto_FLOAT, 1), func(p *onnxpb.TensorProto) { p.Segment = &onnxpb.TensorProto_Segment{} }),
			"segmented tensors are not supported"},
		{"external without dir", with(pbTensor(onnxpb.TensorProto_FLOAT, 1), func(p *onnxpb.TensorProto) {
			p.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
			p.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("w.bin")}}
		}), "directory is unknown"},
		{"nil", nil, "missing tensor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeTensor(c.tp, "")
			wantErr(t, err, c.want)
		})
	}
}

// extModel is a model whose initializer w (2 floats) lives in an external
// file; kv are the external_data entries.
func extModel(kv ...string) *onnxpb.ModelProto {
	w := pbTensor(onnxpb.TensorProto_FLOAT, 2)
	w.Name = proto.String("w")
	w.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	for i := 0; i+1 < len(kv); i += 2 {
		w.ExternalData = append(w.ExternalData, &onnxpb.StringStringEntryProto{Key: proto.String(kv[i]), Value: proto.String(kv[i+1])})
	}
	m := pbReluModel()
	m.Graph.Initializer = []*onnxpb.TensorProto{w}
	return m
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	// weights.bin: 4 padding bytes, then 1.0f and -2.0f, then 4 more bytes.
	bin := []byte{9, 9, 9, 9, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 9, 9, 9, 9}
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), bin, 0o644); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.bin"), bin, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.bin"), filepath.Join(dir, "link.bin")); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(m *onnxpb.ModelProto) string {
		p := filepath.Join(sub, "model.onnx")
		if err := os.WriteFile(p, mustMarshal(t, m), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// The model lives in sub/; its data in sub/../weights.bin is outside
	// its directory, so place good models next to weights.bin.
	good := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(good, mustMarshal(t, extModel("location", "weights.bin", "offset", "4", "length", "8")), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := LoadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Consts[0].Const.Data; !reflect.DeepEqual(got, []float32{1, -2}) {
		t.Fatalf("external weights = %v, want [1 -2]", got)
	}
	// Without a length the tensor's own size is read.
	if err := os.WriteFile(good, mustMarshal(t, extModel("location", "weights.bin", "offset", "4")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(good); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		kv   []string
		want string
	}{
		{"missing file", []string{"location", "nothere.bin"}, "nothere.bin"},
		{"escaping", []string{"location", "../weights.bin"}, "outside the model's directory"},
		{"absolute", []string{"location", filepath.Join(dir, "weights.bin")}, "outside the model's directory"},
		{"symlink", []string{"location", "../link.bin"}, "outside the model's directory"},
		{"no location", []string{"offset", "0"}, "without a location"},
		{"bad offset", []string{"location", "x.bin", "offset", "-4"}, `bad offset "-4"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(extModel(c.kv...))
			_, err := LoadFile(p)
			wantErr(t, err, p+`: initializer: tensor "w": `, c.want)
		})
	}
	// Cases resolved next to weights.bin.
	for _, c := range []struct {
		name string
		kv   []string
		want string
	}{
		{"out of bounds", []string{"location", "weights.bin", "offset", "12"}, "bytes [12, 20) are beyond its end (16 bytes)"},
		{"huge offset", []string{"location", "weights.bin", "offset", "9223372036854775800"}, "beyond its end"},
		{"length mismatch", []string{"location", "weights.bin", "length", "12"}, "length 12, but the tensor needs 8 bytes"},
		{"symlink leaving dir", []string{"location", "link.bin"}, "link.bin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(good, mustMarshal(t, extModel(c.kv...)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadFile(good)
			wantErr(t, err, c.want)
		})
	}
}
