package ort

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
)

const nodeTests = "/usr/share/libonnx-testdata/data/node"

func needORT(t *testing.T) {
	t.Helper()
	if _, ok := Available(); !ok {
		t.Skip(SkipReason())
	}
	if _, err := os.Stat(nodeTests); err != nil {
		t.Skip("ONNX test models not installed (Debian package libonnx-testdata)")
	}
}

// TestAPIVersion checks that the library loads through onnxruntime_go's
// C API version (24) and reports its own version.
func TestAPIVersion(t *testing.T) {
	needORT(t)
	v, err := Version()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ONNX Runtime %s", v)
	if os.Getenv("OPTC_ORT_LIB") == "" && !strings.HasPrefix(v, "1.30.") {
		t.Errorf("cached library reports version %q, want 1.30.x (tools/fetch-models.sh pins onnxruntime-node@1.30.0)", v)
	}
}

func iota32(n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i) * scale
	}
	return out
}

// TestRun runs ONNX's own node-test models on inputs made here; expected
// values are worked out by hand from each op's definition.
func TestRun(t *testing.T) {
	needORT(t)
	u8x, u8y, u8sum := make([]uint8, 60), make([]uint8, 60), make([]uint8, 60)
	for i := range u8x {
		u8x[i], u8y[i] = uint8(200), uint8(i)
		u8sum[i] = uint8((200 + i) % 256) // uint8 addition wraps
	}
	s345 := []int64{3, 4, 5}
	cases := []struct {
		model string
		in    map[string]*ir.Tensor
		want  map[string]*ir.Tensor
	}{
		{"test_add", map[string]*ir.Tensor{
			"x": ir.FromSlice(ir.Float32, s345, iota32(60, 1)),
			"y": ir.FromSlice(ir.Float32, s345, iota32(60, 2)),
		}, map[string]*ir.Tensor{"sum": ir.FromSlice(ir.Float32, s345, iota32(60, 3))}},
		{"test_add_uint8", map[string]*ir.Tensor{
			"x": ir.FromSlice(ir.Uint8, s345, u8x),
			"y": ir.FromSlice(ir.Uint8, s345, u8y),
		}, map[string]*ir.Tensor{"sum": ir.FromSlice(ir.Uint8, s345, u8sum)}},
		{"test_and2d", map[string]*ir.Tensor{
			"x": ir.FromSlice(ir.Bool, []int64{3, 4}, []bool{true, true, false, false, true, true, false, false, true, true, false, false}),
			"y": ir.FromSlice(ir.Bool, []int64{3, 4}, []bool{true, false, true, false, true, false, true, false, true, false, true, false}),
		}, map[string]*ir.Tensor{"and": ir.FromSlice(ir.Bool, []int64{3, 4}, []bool{true, false, false, false, true, false, false, false, true, false, false, false})}},
		// Integer Mod (fmod=0) takes the divisor's sign.
		{"test_mod_mixed_sign_int32", map[string]*ir.Tensor{
			"x": ir.FromSlice(ir.Int32, []int64{6}, []int32{-4, 7, 5, 4, -7, 8}),
			"y": ir.FromSlice(ir.Int32, []int64{6}, []int32{2, -3, 8, -2, 3, 5}),
		}, map[string]*ir.Tensor{"z": ir.FromSlice(ir.Int32, []int64{6}, []int32{0, -2, 5, 0, 2, 3})}},
		// Size has a rank-0 int64 output.
		{"test_size_example", map[string]*ir.Tensor{
			"x": ir.FromSlice(ir.Float32, []int64{2, 3}, iota32(6, 1)),
		}, map[string]*ir.Tensor{"y": ir.FromSlice(ir.Int64, []int64{}, []int64{6})}},
		{"test_argmax_default_axis_example", map[string]*ir.Tensor{
			"data": ir.FromSlice(ir.Float32, []int64{2, 2}, []float32{2, 1, 3, 10}),
		}, map[string]*ir.Tensor{"result": ir.FromSlice(ir.Int64, []int64{1, 2}, []int64{1, 1})}},
		// An empty axes input (zero elements) reduces over all axes: 0+1+…+11 = 66.
		{"test_reduce_sum_default_axes_keepdims_example", map[string]*ir.Tensor{
			"data": ir.FromSlice(ir.Float32, []int64{3, 2, 2}, iota32(12, 1)),
			"axes": ir.FromSlice(ir.Int64, []int64{0}, []int64{}),
		}, map[string]*ir.Tensor{"reduced": ir.FromSlice(ir.Float32, []int64{1, 1, 1}, []float32{66})}},
		// bfloat16 bits: 0x3F80 = 1, 0xC000 = -2, 0x3FC0 = 1.5, 0x0000 = 0.
		{"test_cast_BFLOAT16_to_FLOAT", map[string]*ir.Tensor{
			"input": {DType: ir.BFloat16, Shape: []int64{3, 4}, Data: []uint16{0x3F80, 0xC000, 0x3FC0, 0, 0x3F80, 0xC000, 0x3FC0, 0, 0x3F80, 0xC000, 0x3FC0, 0}},
		}, map[string]*ir.Tensor{"output": ir.FromSlice(ir.Float32, []int64{3, 4}, []float32{1, -2, 1.5, 0, 1, -2, 1.5, 0, 1, -2, 1.5, 0})}},
		{"test_cast_FLOAT_to_DOUBLE", map[string]*ir.Tensor{
			"input": ir.FromSlice(ir.Float32, []int64{3, 4}, iota32(12, 0.5)),
		}, map[string]*ir.Tensor{"output": ir.FromSlice(ir.Float64, []int64{3, 4}, []float64{0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5})}},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			got, err := Run(filepath.Join(nodeTests, c.model, "model.onnx"), c.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Errorf("got %d outputs, want %d", len(got), len(c.want))
			}
			for name, w := range c.want {
				g := got[name]
				if g == nil || g.DType != w.DType || !reflect.DeepEqual(g.Shape, w.Shape) || !reflect.DeepEqual(g.Data, w.Data) {
					t.Errorf("output %q: got %v %v, want %v %v", name, g, dataOf(g), w, w.Data)
				}
			}
		})
	}
}

func dataOf(t *ir.Tensor) any {
	if t == nil {
		return nil
	}
	return t.Data
}

func TestRunErrors(t *testing.T) {
	needORT(t)
	model := filepath.Join(nodeTests, "test_add", "model.onnx")
	x := ir.FromSlice(ir.Float32, []int64{3, 4, 5}, iota32(60, 1))
	for _, c := range []struct {
		name string
		in   map[string]*ir.Tensor
		want string
	}{
		{"missing", map[string]*ir.Tensor{"x": x}, `missing input "y"`},
		{"unknown", map[string]*ir.Tensor{"x": x, "y": x, "z": x}, `no input "z"`},
		{"bf16 for f32", map[string]*ir.Tensor{"x": x, "y": {DType: ir.BFloat16, Shape: []int64{3, 4, 5}, Data: make([]uint16, 60)}}, "data type"},
		{"i4", map[string]*ir.Tensor{"x": x, "y": {DType: ir.Int4, Shape: []int64{1}, Data: []int8{0}}}, "not supported"},
	} {
		_, err := Run(model, c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if _, err := Run(filepath.Join(t.TempDir(), "none.onnx"), nil); err == nil {
		t.Error("missing model file: no error")
	}
}

func TestLatency(t *testing.T) {
	needORT(t)
	model := filepath.Join(nodeTests, "test_add", "model.onnx")
	x := ir.FromSlice(ir.Float32, []int64{3, 4, 5}, iota32(60, 1))
	for _, threads := range []int{1, 0} {
		d, err := Latency(model, map[string]*ir.Tensor{"x": x, "y": x}, Options{Threads: threads}, 2, 5)
		if err != nil {
			t.Fatal(err)
		}
		if d <= 0 {
			t.Errorf("threads=%d: latency %v", threads, d)
		}
	}
}

func TestMedianLatency(t *testing.T) {
	calls := 0
	if _, err := MedianLatency(2, 5, func() error { calls++; return nil }); err != nil {
		t.Fatal(err)
	}
	if calls != 7 {
		t.Errorf("fn called %d times, want 2 warmup + 5 timed", calls)
	}
	boom := errors.New("boom")
	if _, err := MedianLatency(0, 3, func() error { return boom }); !errors.Is(err, boom) {
		t.Errorf("got %v, want boom", err)
	}
	if _, err := MedianLatency(0, 0, func() error { return nil }); err == nil {
		t.Error("zero iterations accepted")
	}
}
