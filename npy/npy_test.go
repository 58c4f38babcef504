package npy

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
)

// The fixtures in testdata were written by NumPy 1.24 (testdata/gen.py);
// the expected values here are the arrays of gen.py written out by hand
// (f16 bit patterns computed by hand: 0.5 = 0x3800, -2 = 0xC000,
// 65504 = 0x7BFF, 2^-24 = 0x0001).
var fixtures = []struct {
	file  string
	want  *ir.Tensor
	numpy bool // the file is what Write produces (little-endian, v1.0)
}{
	{"f4.npy", ir.FromSlice(ir.Float32, []int64{2, 3}, []float32{0, -1.5, 3.25, float32(math.Inf(1)), float32(math.Inf(-1)), 1e-40}), true},
	{"f8_be.npy", ir.FromSlice(ir.Float64, []int64{3}, []float64{1.5, -2, 1e300}), false},
	{"f2.npy", ir.FromSlice(ir.Float16, []int64{2, 2}, []uint16{0x3800, 0xC000, 0x7BFF, 0x0001}), true},
	{"i1.npy", ir.FromSlice(ir.Int8, []int64{3}, []int8{-128, 0, 127}), true},
	{"i2_be.npy", ir.FromSlice(ir.Int16, []int64{3}, []int16{-32768, 1, 32767}), false},
	{"i4.npy", ir.FromSlice(ir.Int32, []int64{2, 2}, []int32{math.MinInt32, 7, math.MaxInt32, 0}), true},
	{"i8.npy", ir.FromSlice(ir.Int64, []int64{3}, []int64{math.MinInt64, 42, math.MaxInt64}), true},
	{"u1.npy", ir.FromSlice(ir.Uint8, []int64{3}, []uint8{0, 200, 255}), true},
	{"u2.npy", ir.FromSlice(ir.Uint16, []int64{2}, []uint16{0, 65535}), true},
	{"u4_be.npy", ir.FromSlice(ir.Uint32, []int64{2}, []uint32{1, math.MaxUint32}), false},
	{"u8.npy", ir.FromSlice(ir.Uint64, []int64{2}, []uint64{math.MaxUint64, 3}), true},
	{"b1.npy", ir.FromSlice(ir.Bool, []int64{1, 3}, []bool{true, false, true}), true},
	{"scalar.npy", ir.FromSlice(ir.Float32, []int64{}, []float32{2.5}), true},
	{"empty.npy", ir.FromSlice(ir.Int64, []int64{0, 3}, []int64{}), true},
	{"unicode.npy", ir.FromSlice(ir.String, []int64{2, 2}, []string{"a", "héllo", "", "日本"}), true},
	{"bytes.npy", ir.FromSlice(ir.String, []int64{2}, []string{"ab", "c"}), false},
	{"v2.npy", ir.FromSlice(ir.Int32, []int64{3}, []int32{1, 2, 3}), false},
	{"v3.npy", ir.FromSlice(ir.Int32, []int64{3}, []int32{1, 2, 3}), false},
}

func sameTensor(t *testing.T, what string, got, want *ir.Tensor) {
	t.Helper()
	if got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) || !reflect.DeepEqual(got.Data, want.Data) {
		t.Errorf("%s: got %s %v, want %s %v", what, got, got.Data, want, want.Data)
	}
}

func TestReadNumPyFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			path := filepath.Join("testdata", fx.file)
			got, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sameTensor(t, fx.file, got, fx.want)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got2, err := Read(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			sameTensor(t, fx.file+" via Read", got2, fx.want)
		})
	}
}

// TestWriteMatchesNumPy checks that Write produces exactly numpy.save's
// bytes for the same array.
func TestWriteMatchesNumPy(t *testing.T) {
	for _, fx := range fixtures {
		if !fx.numpy {
			continue
		}
		t.Run(fx.file, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", fx.file))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Write(&buf, fx.want); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("Write differs from numpy.save:\n got %q\nwant %q", buf.Bytes(), want)
			}
		})
	}
}

func TestRoundTripFile(t *testing.T) {
	dir := t.TempDir()
	for _, fx := range fixtures {
		path := filepath.Join(dir, fx.file)
		if err := WriteFile(path, fx.want); err != nil {
			t.Fatalf("%s: %v", fx.file, err)
		}
		got, err := ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", fx.file, err)
		}
		sameTensor(t, fx.file, got, fx.want)
	}
	st, err := os.Stat(filepath.Join(dir, "f4.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
}

func TestLargeHeaderUsesVersion2(t *testing.T) {
	// 30000 dims of 1: the header dict is > 64 KiB, so NumPy (and we)
	// switch to format 2.0.
	shape := make([]int64, 30000)
	for i := range shape {
		shape[i] = 1
	}
	x := ir.FromSlice(ir.Float32, shape, []float32{7})
	var buf bytes.Buffer
	if err := Write(&buf, x); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if b[6] != 2 || b[7] != 0 {
		t.Fatalf("version %d.%d, want 2.0", b[6], b[7])
	}
	if (len(b)-4)%64 != 0 {
		t.Errorf("data offset %d not 64-byte aligned", len(b)-4)
	}
	got, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	sameTensor(t, "v2", got, x)
}

func TestNPZFixtures(t *testing.T) {
	want := map[string]*ir.Tensor{
		"x":   ir.FromSlice(ir.Float32, []int64{2}, []float32{1, 2}),
		"ids": ir.FromSlice(ir.Int64, []int64{1, 2}, []int64{1, 2}),
	}
	for _, f := range []string{"stored.npz", "deflated.npz"} {
		m, names, err := ReadNPZ(filepath.Join("testdata", f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !reflect.DeepEqual(names, []string{"ids", "x"}) {
			t.Errorf("%s: names %v", f, names)
		}
		for k, w := range want {
			sameTensor(t, f+":"+k, m[k], w)
		}
	}
}

func TestNPZRoundTripDeterministic(t *testing.T) {
	arrays := map[string]*ir.Tensor{}
	for _, fx := range fixtures {
		arrays[strings.TrimSuffix(fx.file, ".npy")] = fx.want
	}
	dir := t.TempDir()
	for _, compress := range []bool{false, true} {
		var a, b bytes.Buffer
		if err := WriteNPZTo(&a, arrays, compress); err != nil {
			t.Fatal(err)
		}
		if err := WriteNPZTo(&b, arrays, compress); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("compress=%v: two writes differ", compress)
		}
		path := filepath.Join(dir, "x.npz")
		write := WriteNPZ
		if compress {
			write = WriteNPZCompressed
		}
		if err := write(path, arrays); err != nil {
			t.Fatal(err)
		}
		onDisk, _ := os.ReadFile(path)
		if !bytes.Equal(onDisk, a.Bytes()) {
			t.Errorf("compress=%v: file differs from WriteNPZTo", compress)
		}
		m, names, err := ReadNPZ(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != len(arrays) {
			t.Errorf("got %d names, want %d", len(names), len(arrays))
		}
		for k, w := range arrays {
			sameTensor(t, k, m[k], w)
		}
	}
}

func TestAtomicWriteLeavesNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.npz")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := map[string]*ir.Tensor{
		"a": ir.FromSlice(ir.Float32, []int64{1}, []float32{1}),
		"b": {DType: ir.BFloat16, Shape: []int64{1}, Data: []uint16{0}}, // fails after "a" was written
	}
	if err := WriteNPZ(path, bad); err == nil {
		t.Fatal("WriteNPZ with a bf16 array succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("destination changed to %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after a failed write, want 1", len(ents))
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.npy"), ir.ScalarF32(1)); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

func TestReadErrors(t *testing.T) {
	f4, err := os.ReadFile("testdata/f4.npy")
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(dict string) []byte {
		b := append([]byte("\x93NUMPY\x01\x00"), byte(len(dict)+1), 0)
		return append(append(b, dict...), '\n')
	}
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"bad magic", []byte("PK\x03\x04xxxxxxxxxx"), "not a .npy file"},
		{"version", []byte("\x93NUMPY\x04\x00\x00\x00"), "unsupported format version 4.0"},
		{"short header", f4[:40], "truncated"},
		{"short data", f4[:len(f4)-1], "truncated input: file ends in the array data"},
		{"trailing", append(append([]byte{}, f4...), 0), "unexpected bytes after"},
		{"fortran", mustRead(t, "testdata/fortran.npy"), "Fortran-ordered"},
		{"object", mustRead(t, "testdata/object.npy"), "object arrays"},
		{"complex", hdr("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }"), "unsupported dtype \"<c8\""},
		{"structured", hdr("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"), "structured"},
		{"missing key", hdr("{'descr': '<f4', 'shape': (1,), }"), "exactly the keys"},
		{"negative dim", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"), "invalid shape"},
		{"huge", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000000000), }"), "too many elements"},
		{"garbage", hdr("{'descr': '<f4', 'fortran_order': Fals"), "cannot parse header"},
		{"bad utf32", append(hdr("{'descr': '<U1', 'fortran_order': False, 'shape': (1,), }"), 0, 0xD8, 0, 0), "invalid code point"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readAll(bytes.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
	// Every prefix of a valid file fails cleanly.
	for n := range len(f4) {
		if _, err := readAll(bytes.NewReader(f4[:n])); err == nil {
			t.Errorf("prefix of %d bytes read without error", n)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	cases := []struct {
		name string
		t    *ir.Tensor
		want string
	}{
		{"nil", nil, "nil tensor"},
		{"bf16", &ir.Tensor{DType: ir.BFloat16, Shape: []int64{1}, Data: []uint16{1}}, "no NumPy equivalent"},
		{"i4", &ir.Tensor{DType: ir.Int4, Shape: []int64{1}, Data: []int8{1}}, "no NumPy equivalent"},
		{"wrong go type", &ir.Tensor{DType: ir.Float32, Shape: []int64{1}, Data: []float64{1}}, "wrong type or length"},
		{"wrong length", &ir.Tensor{DType: ir.Int64, Shape: []int64{3}, Data: []int64{1}}, "wrong type or length"},
		{"nil data", &ir.Tensor{DType: ir.Int64, Shape: []int64{3}}, "wrong type or length"},
	}
	for _, c := range cases {
		err := Write(&bytes.Buffer{}, c.t)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestNPZErrors(t *testing.T) {
	stored := mustRead(t, "testdata/stored.npz")
	corrupt := append([]byte{}, stored...)
	// Flip a byte inside the first member's data: the CRC check catches it.
	i := bytes.Index(corrupt, []byte("\x00\x00\x80?"))
	if i < 0 {
		t.Fatal("fixture layout changed")
	}
	corrupt[i+3] ^= 1
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"not zip", []byte("hello"), "not a valid zip"},
		{"truncated", stored[:len(stored)/2], "not a valid zip"},
		{"crc", corrupt, "checksum"},
	} {
		_, _, err := ReadNPZFrom(bytes.NewReader(c.in), int64(len(c.in)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if err := WriteNPZTo(&bytes.Buffer{}, map[string]*ir.Tensor{"": ir.ScalarF32(1)}, false); err == nil {
		t.Error("empty array name accepted")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fuzzSeeds(f *testing.F, glob string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", glob))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzRead checks that arbitrary input never panics and that whatever
// reads successfully survives a write/read round trip unchanged.
func FuzzRead(f *testing.F) {
	fuzzSeeds(f, "*.npy")
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := readAll(bytes.NewReader(b))
		if err != nil {
			return
		}
		var w1, w2 bytes.Buffer
		if err := Write(&w1, x); err != nil {
			t.Fatalf("read %s but cannot write it: %v", x, err)
		}
		y, err := readAll(bytes.NewReader(w1.Bytes()))
		if err != nil {
			t.Fatalf("cannot re-read what Write wrote: %v", err)
		}
		if err := Write(&w2, y); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w1.Bytes(), w2.Bytes()) {
			t.Fatalf("round trip changed %s", x)
		}
	})
}

func FuzzReadNPZ(f *testing.F) {
	fuzzSeeds(f, "*.npz")
	f.Fuzz(func(t *testing.T, b []byte) {
		m, names, err := ReadNPZFrom(bytes.NewReader(b), int64(len(b)))
		if err == nil && len(m) != len(names) {
			t.Fatalf("%d arrays, %d names", len(m), len(names))
		}
	})
}
