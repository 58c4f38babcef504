package safetensors

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// file assembles a safetensors image by hand, as the format describes it:
// u64 little-endian header length, the JSON header, the data.
func file(header string, data []byte) []byte {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	return append(append(n[:], header...), data...)
}

func TestParseHandBuilt(t *testing.T) {
	// Two tensors: a = F32[2] = {1.0, -2.0}, b = I64[1] = {7}.
	data := []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 7, 0, 0, 0, 0, 0, 0, 0}
	hdr := `{"__metadata__":{"k":"v"},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	f, err := Parse(file(hdr, data))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 2 || f.Tensors[0].Name != "a" || f.Tensors[1].Name != "b" || f.Metadata["k"] != "v" {
		t.Fatalf("parsed %+v, metadata %v", f.Tensors, f.Metadata)
	}
	a, err := f.Float32s("a")
	if err != nil || len(a) != 2 || a[0] != 1 || a[1] != -2 {
		t.Errorf("a = %v (%v), want [1 -2]", a, err)
	}
	if b, _ := f.Bytes("b"); b[0] != 7 {
		t.Errorf("b = %v", b)
	}
	if _, err := f.Float32s("b"); err == nil {
		t.Error("Float32s of an I64 tensor: no error")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		img  []byte
		msg  string
	}{
		{"short", []byte{1, 2}, "not a safetensors file"},
		{"header too long", file(`{}`, nil)[:9], "header length"},
		{"not json", file(`nope`, nil), "not a JSON object"},
		{"bad dtype", file(`{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `unknown dtype "F33"`},
		{"size mismatch", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "4 bytes for F32[2]"},
		{"outside", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "outside the 4 data bytes"},
		{"hole", file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, make([]byte, 4)), "starts at 2, expected 0"},
		{"trailing", file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, make([]byte, 4)), "cover 2 of the 4 data bytes"},
		{"bad metadata", file(`{"__metadata__":{"k":1}}`, nil), "__metadata__"},
	} {
		_, err := Parse(tt.img)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.msg)
		}
	}
}

func TestWriteDeterministicAligned(t *testing.T) {
	ts := []WriteTensor{
		{Name: "w", DType: "F32", Shape: []int64{3}, Data: Float32Bytes([]float32{1, 2, 3})},
		{Name: "s", DType: "U8", Shape: nil, Data: []byte{9}},
	}
	var b1, b2 bytes.Buffer
	if err := Write(&b1, ts, map[string]string{"z": "1", "a": "2"}, 64); err != nil {
		t.Fatal(err)
	}
	Write(&b2, ts, map[string]string{"a": "2", "z": "1"}, 64)
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Error("two writes of the same content differ")
	}
	hlen := binary.LittleEndian.Uint64(b1.Bytes()[:8])
	if (8+hlen)%64 != 0 {
		t.Errorf("data starts at %d, not 64-byte aligned", 8+hlen)
	}
	// Keys are sorted: __metadata__ first, then s, then w; offsets follow
	// the order the tensors were given.
	want := `{"__metadata__":{"a":"2","z":"1"},"s":{"dtype":"U8","shape":[],"data_offsets":[12,13]},"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}`
	if got := strings.TrimRight(string(b1.Bytes()[8:8+hlen]), " "); got != want {
		t.Errorf("header\n%s\nwant\n%s", got, want)
	}
	p := filepath.Join(t.TempDir(), "x.safetensors")
	if err := os.WriteFile(p, b1.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := f.Float32s("w")
	if err != nil || len(w) != 3 || w[2] != 3 {
		t.Errorf("w = %v (%v)", w, err)
	}
	if f.DataOffset%64 != 0 {
		t.Errorf("DataOffset %d", f.DataOffset)
	}
}

func TestWriteErrors(t *testing.T) {
	for _, ts := range [][]WriteTensor{
		{{Name: "a", DType: "F32", Shape: []int64{2}, Data: make([]byte, 4)}},
		{{Name: "a", DType: "X", Data: nil}},
		{{Name: "a", DType: "U8", Shape: []int64{1}, Data: []byte{1}}, {Name: "a", DType: "U8", Shape: []int64{1}, Data: []byte{1}}},
		{{Name: "__metadata__", DType: "U8", Shape: []int64{1}, Data: []byte{1}}},
	} {
		if err := Write(&bytes.Buffer{}, ts, nil, 8); err == nil {
			t.Errorf("Write(%+v): no error", ts)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if sf, err := Parse(b); err == nil {
			for _, tn := range sf.Tensors {
				if _, err := sf.Bytes(tn.Name); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
