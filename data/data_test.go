package data

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
)

func TestReadIDX(t *testing.T) {
	// Hand-written IDX: magic 00 00 <type> <rank>, big-endian dims, data.
	tests := []struct {
		name  string
		raw   []byte
		dtype ir.DType
		shape []int64
		want  any
	}{
		{"u8 2x3", []byte{0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 250, 251, 255}, ir.Uint8, []int64{2, 3}, []uint8{1, 2, 3, 250, 251, 255}},
		{"i8", []byte{0, 0, 9, 1, 0, 0, 0, 2, 0xff, 0x80}, ir.Int8, []int64{2}, []int8{-1, -128}},
		{"i16", []byte{0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe}, ir.Int16, []int64{2}, []int16{258, -2}},
		{"i32", []byte{0, 0, 0x0c, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfd}, ir.Int32, []int64{1}, []int32{-3}},
		// 0x3fc00000 = 1.5, 0xc0200000 = -2.5
		{"f32", []byte{0, 0, 0x0d, 1, 0, 0, 0, 2, 0x3f, 0xc0, 0, 0, 0xc0, 0x20, 0, 0}, ir.Float32, []int64{2}, []float32{1.5, -2.5}},
		// 0x4000000000000000 = 2.0
		{"f64", []byte{0, 0, 0x0e, 1, 0, 0, 0, 1, 0x40, 0, 0, 0, 0, 0, 0, 0}, ir.Float64, []int64{1}, []float64{2}},
		{"scalar", []byte{0, 0, 8, 0, 7}, ir.Uint8, []int64{}, []uint8{7}},
	}
	for _, tc := range tests {
		for _, gz := range []bool{false, true} {
			raw := tc.raw
			if gz {
				var b bytes.Buffer
				w := gzip.NewWriter(&b)
				w.Write(raw)
				w.Close()
				raw = b.Bytes()
			}
			got, err := ReadIDX(bytes.NewReader(raw))
			if err != nil {
				t.Errorf("%s (gzip %v): %v", tc.name, gz, err)
				continue
			}
			if got.DType != tc.dtype || !equalShape(got.Shape, tc.shape) {
				t.Errorf("%s: got %s %v, want %s %v", tc.name, got.DType, got.Shape, tc.dtype, tc.shape)
			}
			if g, w := fmtData(got.Data), fmtData(tc.want); g != w {
				t.Errorf("%s: data %s, want %s", tc.name, g, w)
			}
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"empty", "", "magic"},
		{"bad magic", "\x01\x00\x08\x01", "bad magic"},
		{"bad type", "\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown element type"},
		{"short dims", "\x00\x00\x08\x02\x00\x00\x00\x01\x00", "dims"},
		{"short data", "\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "truncated data"},
		{"trailing", "\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "trailing"},
		{"huge", "\x00\x00\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "more than"},
		{"bad gzip", "\x1f\x8b\x00", "gzip"},
	}
	for _, tc := range tests {
		_, err := ReadIDX(strings.NewReader(tc.raw))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add([]byte{0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 1, 1, 2})
	f.Add([]byte{0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, err := ReadIDX(bytes.NewReader(b)); err == nil && got.Len() > len(b) {
			t.Fatalf("%d elements from %d bytes", got.Len(), len(b))
		}
	})
}

func TestFashionMNIST(t *testing.T) {
	if _, err := os.Stat(FashionMNISTDir); err != nil {
		t.Skipf("Debian's dataset-fashion-mnist is not installed (%v); tools/install-deps.sh installs it", err)
	}
	// Expected values were computed with numpy from the same files
	// (np.frombuffer on the gunzipped bytes), not with this package.
	for _, tc := range []struct {
		split       string
		n           int64
		firstLabels []uint8
		pixelSum0   int
	}{
		{"test", 10000, []uint8{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}, 33456},
		{"train", 60000, []uint8{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}, 76247},
	} {
		img, lab, err := LoadFashionMNIST(FashionMNISTDir, tc.split)
		if err != nil {
			t.Fatal(err)
		}
		if !equalShape(img.Shape, []int64{tc.n, 28, 28}) || !equalShape(lab.Shape, []int64{tc.n}) {
			t.Fatalf("%s: shapes %v %v", tc.split, img.Shape, lab.Shape)
		}
		if g, w := fmtData(lab.Data.([]uint8)[:10]), fmtData(tc.firstLabels); g != w {
			t.Errorf("%s: first labels %s, want %s", tc.split, g, w)
		}
		sum := 0
		for _, v := range img.Data.([]uint8)[:784] {
			sum += int(v)
		}
		if sum != tc.pixelSum0 {
			t.Errorf("%s: first image pixel sum %d, want %d", tc.split, sum, tc.pixelSum0)
		}
		if tc.split == "test" {
			x, y := Normalize(img, lab, []int{9999, 0})
			if !equalShape(x.Shape, []int64{2, 1, 28, 28}) || y.Data.([]int64)[1] != 9 {
				t.Errorf("Normalize: %v %v", x.Shape, y.Data)
			}
			var s float64
			for _, v := range x.Data.([]float32)[784:] {
				s += float64(v)
			}
			if d := s - 33456.0/255; d > 1e-3 || d < -1e-3 {
				t.Errorf("Normalize: image 0 sums to %v, want %v", s, 33456.0/255)
			}
		}
	}
}

func TestCalibSample(t *testing.T) {
	a := CalibSample(60000, 512, 1)
	b := CalibSample(60000, 512, 1)
	c := CalibSample(60000, 512, 2)
	if len(a) != 512 || fmtData(a) != fmtData(b) || fmtData(a) == fmtData(c) {
		t.Fatalf("sample not deterministic per seed")
	}
	seen := map[int]bool{}
	for _, i := range a {
		if i < 0 || i >= 60000 || seen[i] {
			t.Fatalf("bad or repeated index %d", i)
		}
		seen[i] = true
	}
	if got := CalibSample(3, 10, 1); len(got) != 3 {
		t.Fatalf("k > n: got %d rows", len(got))
	}
}

func TestCorpusSplit(t *testing.T) {
	// FNV-1a-32 values computed in Python (h = (h ^ byte) * 16777619 mod 2^32
	// from 2166136261): crypto/sha256 1337284850, go/ast 2818565160 (both
	// 0 mod 10); fmt 3203343032, net/http 3628066581.
	tests := []struct{ path, want string }{
		{"crypto/sha256/sha256.go", "valid"},
		{"go/ast/ast_test.go", "valid"},
		{"fmt/print.go", "train"},
		{"net/http/server.go", "train"},
		{"go/ast/testdata/x.go", ""},
		{"fmt/README", ""},
	}
	for _, tc := range tests {
		if got := CorpusSplit(tc.path); got != tc.want {
			t.Errorf("CorpusSplit(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestWriteCorpus(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"fmt/print.go":            "package fmt\n",
		"fmt/scan.go":             "package fmt // scan\n",
		"go/ast/ast.go":           "package ast\n",
		"go/ast/testdata/bad.go":  "not go\n",
		"crypto/sha256/sha256.go": "package sha256\n",
		"crypto/sha256/notes.txt": "ignored\n",
	}
	for p, s := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(s), 0o644)
	}
	out := filepath.Join(t.TempDir(), "c")
	man, err := WriteCorpus(root, out)
	if err != nil {
		t.Fatal(err)
	}
	train, _ := os.ReadFile(filepath.Join(out, "train.txt"))
	valid, _ := os.ReadFile(filepath.Join(out, "valid.txt"))
	if string(train) != "package fmt\npackage fmt // scan\n" {
		t.Errorf("train = %q", train)
	}
	if string(valid) != "package sha256\npackage ast\n" {
		t.Errorf("valid = %q", valid)
	}
	if v := man.Splits["valid"]; v.Files != 2 || v.NumPkgs != 2 || fmtData(v.Packages) != "[crypto/sha256 go/ast]" {
		t.Errorf("valid manifest %+v", v)
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); err != nil {
		t.Error(err)
	}
}

func equalShape(a, b []int64) bool { return fmtData(a) == fmtData(b) }

func fmtData(v any) string { return strings.TrimSpace(strings.ReplaceAll(fmt.Sprint(v), "  ", " ")) }
