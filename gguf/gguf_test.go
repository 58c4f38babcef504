package gguf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/optc-dev/optc/gguf"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/llm/llmtest"
)

// TestStories260K reads the real file and checks its header against what
// /work/shared/llm/README.md and llama.cpp's gguf dump say it holds.
func TestStories260K(t *testing.T) {
	f, err := gguf.Open(llmtest.Path(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 3 || len(f.Tensors) != 48 || len(f.KVs) != 19 {
		t.Fatalf("version %d, %d tensors, %d metadata entries; want 3, 48, 19", f.Version, len(f.Tensors), len(f.KVs))
	}
	if a, _ := f.String("general.architecture"); a != "llama" {
		t.Errorf("architecture %q", a)
	}
	for key, want := range map[string]uint64{
		"llama.embedding_length": 64, "llama.feed_forward_length": 172, "llama.block_count": 5,
		"llama.attention.head_count": 8, "llama.attention.head_count_kv": 4, "llama.context_length": 2048,
		"tokenizer.ggml.bos_token_id": 1, "tokenizer.ggml.eos_token_id": 2,
	} {
		if got, err := f.Uint(key); err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", key, got, err, want)
		}
	}
	if eps, _ := f.Float("llama.attention.layer_norm_rms_epsilon"); float32(eps) != 1e-5 {
		t.Errorf("rms eps %v", eps)
	}
	toks, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil || len(toks) != 512 || toks[1] != "<s>" || toks[3] != "<0x00>" {
		t.Errorf("tokens: %d, %v (%q…)", len(toks), err, toks[:4])
	}
	types, err := f.Int64s("tokenizer.ggml.token_type")
	if err != nil || types[0] != 2 || types[1] != 3 || types[3] != 6 || types[300] != 1 {
		t.Errorf("token types %v, %v", types[:4], err)
	}
	if _, err := f.Uint("general.architecture"); err == nil {
		t.Error("a string read as an integer")
	}
	emb, err := f.Tensor("token_embd.weight")
	if err != nil {
		t.Fatal(err)
	}
	if emb.DType != ir.Float32 || !reflect.DeepEqual(emb.Shape, []int64{512, 64}) {
		t.Errorf("token_embd: %s", emb)
	}
	if ti, _ := f.Info("blk.0.ffn_down.weight"); !reflect.DeepEqual(ti.Shape(), []int64{64, 172}) || ti.Dims[0] != 172 {
		t.Errorf("ffn_down dims %v shape %v", ti.Dims, ti.Shape())
	}
}

// TestMatchesLlama2c compares every tensor of the GGUF with the same
// weights in llama2.c's legacy checkpoint (an independent file written by
// a different program; the README says they are bit-identical), which
// also checks that GGUF dims are reversed into row-major shapes.
func TestMatchesLlama2c(t *testing.T) {
	f, err := gguf.Open(llmtest.Path(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := os.ReadFile(llmtest.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	var hdr [7]int32
	binary.Read(bytes.NewReader(raw), binary.LittleEndian, &hdr)
	dim, hidden, layers, heads, kvHeads, vocab := int(hdr[0]), int(hdr[1]), int(hdr[2]), int(hdr[3]), int(hdr[4]), int(hdr[5])
	if vocab < 0 {
		vocab = -vocab
	}
	kvDim := dim / heads * kvHeads
	floats := raw[28:]
	next := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(floats[4*i:]))
		}
		floats = floats[4*n:]
		return out
	}
	// llama2.c order: embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final.
	check := func(name string, shape []int64, want []float32) {
		t.Helper()
		got, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Shape, shape) {
			t.Fatalf("%s: shape %v, want %v", name, got.Shape, shape)
		}
		g := got.Data.([]float32)
		for i := range want {
			if math.Float32bits(g[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s[%d] = %v, llama2.c has %v", name, i, g[i], want[i])
			}
		}
	}
	check("token_embd.weight", []int64{int64(vocab), int64(dim)}, next(vocab*dim))
	per := func(suffix string, rows, cols int) {
		all := next(layers * rows * cols)
		for l := 0; l < layers; l++ {
			shape := []int64{int64(rows), int64(cols)}
			if rows == 1 {
				shape = []int64{int64(cols)}
			}
			check(fmt.Sprintf("blk.%d.%s.weight", l, suffix), shape, all[l*rows*cols:(l+1)*rows*cols])
		}
	}
	per("attn_norm", 1, dim)
	per("attn_q", dim, dim)
	per("attn_k", kvDim, dim)
	per("attn_v", kvDim, dim)
	per("attn_output", dim, dim)
	per("ffn_norm", 1, dim)
	per("ffn_gate", hidden, dim)
	per("ffn_down", dim, hidden)
	per("ffn_up", hidden, dim)
	check("output_norm.weight", []int64{int64(dim)}, next(dim))
}

func writeFile(t *testing.T, kvs []gguf.KV, ts []gguf.WriteTensor) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gguf.Write(&buf, kvs, ts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func parse(b []byte) (*gguf.File, error) {
	return gguf.Parse(bytes.NewReader(b), int64(len(b)), "test.gguf")
}

// TestRoundTrip writes every metadata type and the readable tensor types
// and reads them back.
func TestRoundTrip(t *testing.T) {
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.ValStr("llama")},
		{Key: "u8", Value: gguf.Value{Type: gguf.TypeUint8, Data: uint8(200)}},
		{Key: "i8", Value: gguf.Value{Type: gguf.TypeInt8, Data: int8(-5)}},
		{Key: "u16", Value: gguf.Value{Type: gguf.TypeUint16, Data: uint16(60000)}},
		{Key: "i16", Value: gguf.Value{Type: gguf.TypeInt16, Data: int16(-30000)}},
		{Key: "u32", Value: gguf.ValU32(4000000000)},
		{Key: "i32", Value: gguf.ValI32(-7)},
		{Key: "f32", Value: gguf.ValF32(1.5)},
		{Key: "bool", Value: gguf.ValBool(true)},
		{Key: "u64", Value: gguf.ValU64(1 << 40)},
		{Key: "i64", Value: gguf.Value{Type: gguf.TypeInt64, Data: int64(-1 << 40)}},
		{Key: "f64", Value: gguf.Value{Type: gguf.TypeFloat64, Data: 0.1}},
		{Key: "strs", Value: gguf.ValStrs([]string{"a", "", "▁the"})},
		{Key: "f32s", Value: gguf.ValF32s([]float32{-1, 0.25})},
		{Key: "nested", Value: gguf.ValArrays([]gguf.Value{gguf.ValI32s([]int32{1, 2}), gguf.ValI32s([]int32{})})},
		{Key: "general.alignment", Value: gguf.ValU32(64)},
	}
	f32 := make([]byte, 4*3)
	for i, v := range []float32{1, -2.5, 3e-8} {
		binary.LittleEndian.PutUint32(f32[4*i:], math.Float32bits(v))
	}
	q8 := make([]byte, 34*2)
	ts := []gguf.WriteTensor{
		{Name: "a", Shape: []int64{3}, Type: gguf.F32, Data: f32},
		{Name: "b", Shape: []int64{2, 32}, Type: gguf.Q8_0, Data: q8},
		{Name: "c", Shape: []int64{1, 2}, Type: gguf.F16, Data: []byte{0x00, 0x3c, 0x00, 0xc0}},
	}
	b := writeFile(t, kvs, ts)
	f, err := parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.KVs, kvs) {
		t.Errorf("metadata:\n got %+v\nwant %+v", f.KVs, kvs)
	}
	if f.Alignment != 64 || f.DataOffset%64 != 0 {
		t.Errorf("alignment %d, data offset %d", f.Alignment, f.DataOffset)
	}
	for _, w := range ts {
		raw, ti, err := f.Raw(w.Name)
		if err != nil || !bytes.Equal(raw, w.Data) || !reflect.DeepEqual(ti.Shape(), w.Shape) || ti.Offset%64 != 0 {
			t.Errorf("%s: %v, shape %v, offset %d", w.Name, err, ti.Shape(), ti.Offset)
		}
	}
	c, err := f.Float32("c")
	if err != nil || !reflect.DeepEqual(c.Data, []float32{1, -2}) {
		t.Errorf("F16 as f32: %v %v", c, err)
	}
	if v, _ := f.Lookup("nested"); v.Index(0).Len() != 2 || v.Index(0).Index(1).Data != int32(2) {
		t.Errorf("nested array %+v", v)
	}
	if u, err := f.Uint("u32"); err != nil || u != 4000000000 {
		t.Errorf("u32 %d %v", u, err)
	}
	if _, err := f.Uint("i32"); err == nil {
		t.Error("negative value read as unsigned")
	}
}

// TestDequantize checks each block type against values computed by hand
// from the ggml block definitions.
func TestDequantize(t *testing.T) {
	f16 := func(bits uint16) []byte { return []byte{byte(bits), byte(bits >> 8)} }
	// Q8_0: d = 0.5 (f16 0x3800); q = -128, -1, 0, 1, 127, then zeros.
	q8 := append(f16(0x3800), 0x80, 0xff, 0, 1, 0x7f)
	q8 = append(q8, make([]byte, 27)...)
	want8 := append([]float32{-64, -0.5, 0, 0.5, 63.5}, make([]float32, 27)...)
	// Q4_0: d = 0.25 (0x3400); byte 0 = 0x0f: lo 15 → (15-8)·0.25 = 1.75 at
	// j=0, hi 0 → (0-8)·0.25 = -2 at j=16; byte 1 = 0x98: lo 8 → 0 at j=1,
	// hi 9 → 0.25 at j=17; other bytes 0x88 → 0.
	q4 := append(f16(0x3400), 0x0f, 0x98)
	for i := 2; i < 16; i++ {
		q4 = append(q4, 0x88)
	}
	want4 := make([]float32, 32)
	want4[0], want4[16], want4[17] = 1.75, -2, 0.25
	// Q4_1: d = 0.5 (0x3800), m = -1 (0xbc00); byte 0 = 0x3a: lo 10 →
	// 10·0.5-1 = 4 at j=0, hi 3 → 0.5 at j=16; other bytes 0x22 → 0.
	q41 := append(append(f16(0x3800), f16(0xbc00)...), 0x3a)
	for i := 1; i < 16; i++ {
		q41 = append(q41, 0x22)
	}
	want41 := make([]float32, 32)
	want41[0], want41[16] = 4, 0.5
	for _, c := range []struct {
		typ  gguf.TensorType
		data []byte
		want []float32
	}{{gguf.Q8_0, q8, want8}, {gguf.Q4_0, q4, want4}, {gguf.Q4_1, q41, want41}} {
		b := writeFile(t, nil, []gguf.WriteTensor{{Name: "w", Shape: []int64{32}, Type: c.typ, Data: c.data}})
		f, err := parse(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Float32("w")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Data, c.want) {
			t.Errorf("%s: got %v\nwant %v", c.typ, got.Data, c.want)
		}
	}
	// F16 specials: 1, -2, the largest half 65504, the smallest subnormal 2^-24.
	b := writeFile(t, nil, []gguf.WriteTensor{{Name: "h", Shape: []int64{4}, Type: gguf.F16,
		Data: []byte{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00}}})
	f, _ := parse(b)
	h, err := f.Float32("h")
	if err != nil || !reflect.DeepEqual(h.Data, []float32{1, -2, 65504, float32(math.Ldexp(1, -24))}) {
		t.Errorf("F16: %v %v", h.Data, err)
	}
}

// TestQuantize: ggml's reference quantizers on a block whose scale is
// exact in f16. x = j-16 (j = 0..31): Q8_0 has d = 16/127 and q(x=16) =
// 127, q(x=-16) = -127; Q4_0 takes the signed extreme m = -16, d = 2,
// q = trunc(x/2 + 8.5) so x = -16 → 0 and x = 15 → 15 (clamped 16).
func TestQuantize(t *testing.T) {
	x := make([]float32, 32)
	for j := range x {
		x[j] = float32(j - 16)
	}
	q4, err := gguf.Quantize(gguf.Q4_0, x)
	if err != nil {
		t.Fatal(err)
	}
	if d := binary.LittleEndian.Uint16(q4); d != 0x4000 {
		t.Errorf("Q4_0 scale bits %#x, want 0x4000 (2.0)", d)
	}
	if q4[2]&0x0f != 0 || q4[17]>>4 != 15 {
		t.Errorf("Q4_0 codes %#x %#x", q4[2], q4[17])
	}
	y := make([]float32, 32)
	if err := gguf.Dequantize(gguf.Q4_0, y, q4); err != nil {
		t.Fatal(err)
	}
	for j := range x {
		if math.Abs(float64(y[j]-x[j])) > 1 {
			t.Errorf("Q4_0 round trip x=%v → %v (more than d/2 off)", x[j], y[j])
		}
	}
	q8, _ := gguf.Quantize(gguf.Q8_0, x)
	if int8(q8[2]) != -127 || int8(q8[2+17]) != 8 { // x=1: round(127/16) = 8
		t.Errorf("Q8_0 codes %d %d", int8(q8[2]), int8(q8[19]))
	}
	if _, err := gguf.Quantize(gguf.Q8_0, x[:31]); err == nil {
		t.Error("31 values quantized")
	}
}

// TestMalformed makes broken files from the real one and from written
// ones; each gives one clear error and never panics.
func TestMalformed(t *testing.T) {
	good, err := os.ReadFile(llmtest.Path(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	mod := func(fn func(b []byte) []byte) []byte { return fn(append([]byte{}, good...)) }
	cases := []struct {
		name    string
		data    []byte
		is      error
		wantErr string
	}{
		{"bad magic", mod(func(b []byte) []byte { copy(b, "PK\x03\x04"); return b }), gguf.ErrBadMagic, `bad magic "PK\x03\x04"`},
		{"empty", nil, gguf.ErrBadMagic, "too short"},
		{"truncated data", good[:len(good)-100], gguf.ErrTruncated, `tensor "blk.4.ffn_norm.weight"`},
		{"truncated header", good[:5000], gguf.ErrTruncated, "file ends at byte 5000"},
		{"version 1", mod(func(b []byte) []byte { b[4] = 1; return b }), nil, "version 1 is not supported"},
		{"version 7", mod(func(b []byte) []byte { b[4] = 7; return b }), nil, "version 7 is not supported"},
		{"huge count", mod(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[8:], 1<<60); return b }), gguf.ErrTruncated, "more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(c.data)
			if err == nil {
				t.Fatal("no error")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.wantErr) || !strings.HasPrefix(err.Error(), "gguf: test.gguf: ") {
				t.Errorf("error %q, want it to contain %q", err, c.wantErr)
			}
		})
	}
	// Every prefix of a small written file fails cleanly.
	small := writeFile(t, []gguf.KV{{Key: "k", Value: gguf.ValStrs([]string{"x", "yz"})}},
		[]gguf.WriteTensor{{Name: "t", Shape: []int64{2}, Type: gguf.F32, Data: make([]byte, 8)}})
	for n := 0; n < len(small); n++ {
		if _, err := parse(small[:n]); err == nil {
			t.Errorf("prefix of %d bytes parsed", n)
		}
	}
	// A k-quant tensor opens (its layout is known) but cannot be read.
	kq := writeFile(t, nil, []gguf.WriteTensor{{Name: "k", Shape: []int64{256}, Type: gguf.Q4_K, Data: make([]byte, 144)}})
	f, err := parse(kq)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Tensor("k"); err == nil || !strings.Contains(err.Error(), "Q4_K is not supported") {
		t.Errorf("Q4_K read: %v", err)
	}
	if _, err := f.Tensor("nope"); err == nil || !strings.Contains(err.Error(), `no tensor "nope"`) {
		t.Errorf("missing tensor: %v", err)
	}
}

func TestOpenMissing(t *testing.T) {
	if _, err := gguf.Open(filepath.Join(t.TempDir(), "none.gguf")); err == nil {
		t.Error("no error")
	}
}
