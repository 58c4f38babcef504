package interp_test

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// convRun runs one node of op (opset 17 unless opset > 0) on the given
// inputs (nil = omitted) with nOut outputs.
func convRun(op string, opset int64, attrs map[string]*ir.Attr, nOut int, inputs ...*ir.Tensor) ([]*ir.Tensor, error) {
	b := ir.NewBuilder("t")
	if opset > 0 {
		b.Graph().Opsets[""] = opset
	}
	feeds := map[string]interp.Value{}
	var vals []*ir.Value
	for i, x := range inputs {
		if x == nil {
			vals = append(vals, nil)
			continue
		}
		v := b.Input(fmt.Sprintf("in%d", i), ir.TensorType(x.DType, ir.ShapeOf(x.Shape...)))
		feeds[v.Name] = x
		vals = append(vals, v)
	}
	outs := b.Op(op, vals, attrs, nOut)
	b.Output(outs...)
	res, err := interp.Run(context.Background(), b.Graph(), feeds)
	if err != nil {
		return nil, err
	}
	var ts []*ir.Tensor
	for _, o := range outs {
		t, _ := res[o.Name].(*ir.Tensor)
		ts = append(ts, t)
	}
	return ts, nil
}

func convRand(r *rand.Rand, shape ...int64) *ir.Tensor {
	t := ir.NewTensor(ir.Float64, shape...)
	for i := range t.Data.([]float64) {
		t.Data.([]float64)[i] = r.Float64()*2 - 1
	}
	return t
}

func convTo32(t *ir.Tensor) *ir.Tensor {
	return ir.FromSlice(ir.Float32, t.Shape, t.Float32s())
}

// convNaive is the textbook definition of Conv: for every output element
// the sum over its input channels and kernel positions, skipping padding.
func convNaive(x, w *ir.Tensor, bias []float64, group int, stride, dil, padB []int, out []int) *ir.Tensor {
	r := len(out)
	n, cin, cout := int(x.Shape[0]), int(x.Shape[1]), int(w.Shape[0])
	cinG, mG := cin/group, cout/group
	shape := []int64{int64(n), int64(cout)}
	for _, o := range out {
		shape = append(shape, int64(o))
	}
	y := ir.NewTensor(ir.Float64, shape...)
	in := x.Shape[2:]
	k := w.Shape[2:]
	outN := int(ir.NumElements(shape[2:]))
	kN := int(ir.NumElements(k))
	for b := 0; b < n; b++ {
		for co := 0; co < cout; co++ {
			gi := co / mG
			for o := 0; o < outN; o++ {
				oc := convUnflat(o, shape[2:])
				sum := 0.0
				if bias != nil {
					sum = bias[co]
				}
				for ci := 0; ci < cinG; ci++ {
					for kp := 0; kp < kN; kp++ {
						kc := convUnflat(kp, k)
						xi, ok := (b*cin + gi*cinG + ci), true
						for d := 0; d < r; d++ {
							p := oc[d]*stride[d] + kc[d]*dil[d] - padB[d]
							if p < 0 || p >= int(in[d]) {
								ok = false
								break
							}
							xi = xi*int(in[d]) + p
						}
						if ok {
							sum += x.Float64At(xi) * w.Float64At((co*cinG+ci)*kN+kp)
						}
					}
				}
				y.Data.([]float64)[(b*cout+co)*outN+o] = sum
			}
		}
	}
	return y
}

func convUnflat(i int, shape []int64) []int {
	c := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		c[d] = i % int(shape[d])
		i /= int(shape[d])
	}
	return c
}

func convInts(v []int) *ir.Attr {
	a := make([]int64, len(v))
	for i, x := range v {
		a[i] = int64(x)
	}
	return ir.IntsAttr(a...)
}

// TestConvMatchesNaive checks the im2col, pointwise and depthwise paths of
// Conv against the direct definition on random problems of rank 1 to 3
// with groups, strides, dilations and asymmetric pads, in f32 and f64.
func TestConvMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	type tc struct {
		in, k, stride, dil, padB, padE []int
		cin, cout, group               int
	}
	cases := []tc{
		{in: []int{9}, k: []int{3}, stride: []int{2}, dil: []int{1}, padB: []int{1}, padE: []int{0}, cin: 4, cout: 6, group: 2},
		{in: []int{7, 8}, k: []int{3, 3}, stride: []int{1, 1}, dil: []int{1, 1}, padB: []int{1, 1}, padE: []int{1, 1}, cin: 3, cout: 5, group: 1},
		{in: []int{7, 8}, k: []int{1, 1}, stride: []int{1, 1}, dil: []int{1, 1}, padB: []int{0, 0}, padE: []int{0, 0}, cin: 6, cout: 4, group: 1},
		{in: []int{7, 8}, k: []int{1, 1}, stride: []int{2, 2}, dil: []int{1, 1}, padB: []int{0, 0}, padE: []int{0, 0}, cin: 6, cout: 4, group: 2},
		{in: []int{9, 7}, k: []int{3, 3}, stride: []int{2, 1}, dil: []int{1, 2}, padB: []int{1, 2}, padE: []int{0, 1}, cin: 4, cout: 4, group: 4},
		{in: []int{9, 7}, k: []int{3, 2}, stride: []int{2, 3}, dil: []int{2, 1}, padB: []int{2, 0}, padE: []int{1, 1}, cin: 3, cout: 6, group: 3},
		{in: []int{11}, k: []int{5}, stride: []int{3}, dil: []int{2}, padB: []int{3}, padE: []int{2}, cin: 2, cout: 4, group: 2},
		{in: []int{5, 6, 4}, k: []int{2, 3, 2}, stride: []int{1, 2, 1}, dil: []int{2, 1, 1}, padB: []int{1, 1, 0}, padE: []int{0, 1, 1}, cin: 4, cout: 2, group: 2},
		{in: []int{40, 40}, k: []int{3, 3}, stride: []int{1, 1}, dil: []int{1, 1}, padB: []int{1, 1}, padE: []int{1, 1}, cin: 16, cout: 24, group: 1},
		// Few output positions, many channels: the output channels are
		// split across workers.
		{in: []int{4, 5}, k: []int{3, 3}, stride: []int{1, 1}, dil: []int{1, 1}, padB: []int{1, 1}, padE: []int{1, 1}, cin: 8, cout: 64, group: 2},
		{in: []int{4, 5}, k: []int{1, 1}, stride: []int{1, 1}, dil: []int{1, 1}, padB: []int{0, 0}, padE: []int{0, 0}, cin: 8, cout: 70, group: 1},
	}
	for i, c := range cases {
		x := convRand(r, append([]int64{2, int64(c.cin)}, convI64(c.in)...)...)
		w := convRand(r, append([]int64{int64(c.cout), int64(c.cin / c.group)}, convI64(c.k)...)...)
		bias := convRand(r, int64(c.cout))
		out := make([]int, len(c.in))
		for d := range out {
			out[d] = (c.in[d]+c.padB[d]+c.padE[d]-(c.k[d]-1)*c.dil[d]-1)/c.stride[d] + 1
		}
		want := convNaive(x, w, bias.Data.([]float64), c.group, c.stride, c.dil, c.padB, out)
		attrs := map[string]*ir.Attr{
			"strides": convInts(c.stride), "dilations": convInts(c.dil),
			"pads": convInts(append(append([]int{}, c.padB...), c.padE...)), "group": ir.IntAttr(int64(c.group)),
		}
		for _, f32 := range []bool{false, true} {
			xs, ws, bs := x, w, bias
			tol := 1e-12
			if f32 {
				xs, ws, bs = convTo32(x), convTo32(w), convTo32(bias)
				tol = 1e-4
			}
			got, err := convRun("Conv", 0, attrs, 1, xs, ws, bs)
			if err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			if msg := convClose(got[0], want, tol); msg != "" {
				t.Errorf("case %d (f32=%v): %s", i, f32, msg)
			}
		}
	}
}

func convI64(v []int) []int64 {
	o := make([]int64, len(v))
	for i, x := range v {
		o[i] = int64(x)
	}
	return o
}

// convClose compares got with want (any float dtypes, same shape) within
// an absolute tolerance.
func convClose(got, want *ir.Tensor, tol float64) string {
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
	}
	for i := 0; i < want.Len(); i++ {
		if d := math.Abs(got.Float64At(i) - want.Float64At(i)); !(d <= tol) {
			return fmt.Sprintf("element %d: got %v, want %v", i, got.Float64At(i), want.Float64At(i))
		}
	}
	return ""
}

// TestConvTransposeMatchesNaive checks ConvTranspose against its
// definition: every input element scatters x·W into the output at
// i·stride + k·dilation - pad_begin.
func TestConvTransposeMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	type tc struct {
		in, k, stride, dil, padB, padE, outPad []int
		cin, cout, group                       int
	}
	cases := []tc{
		{in: []int{5}, k: []int{3}, stride: []int{2}, dil: []int{1}, padB: []int{1}, padE: []int{0}, outPad: []int{1}, cin: 4, cout: 6, group: 2},
		{in: []int{4, 5}, k: []int{3, 2}, stride: []int{2, 3}, dil: []int{1, 2}, padB: []int{1, 0}, padE: []int{0, 2}, outPad: []int{0, 1}, cin: 3, cout: 2, group: 1},
		{in: []int{6, 6}, k: []int{2, 2}, stride: []int{2, 2}, dil: []int{1, 1}, padB: []int{0, 0}, padE: []int{0, 0}, outPad: []int{0, 0}, cin: 8, cout: 8, group: 4},
		{in: []int{3, 4, 2}, k: []int{2, 3, 2}, stride: []int{1, 2, 2}, dil: []int{1, 1, 2}, padB: []int{0, 1, 1}, padE: []int{1, 0, 0}, outPad: []int{0, 0, 1}, cin: 2, cout: 4, group: 2},
	}
	for i, c := range cases {
		x := convRand(r, append([]int64{2, int64(c.cin)}, convI64(c.in)...)...)
		w := convRand(r, append([]int64{int64(c.cin), int64(c.cout / c.group)}, convI64(c.k)...)...)
		bias := convRand(r, int64(c.cout))
		rk := len(c.in)
		out := make([]int64, rk)
		for d := range out {
			out[d] = int64(c.stride[d]*(c.in[d]-1) + c.outPad[d] + (c.k[d]-1)*c.dil[d] + 1 - c.padB[d] - c.padE[d])
		}
		want := ir.NewTensor(ir.Float64, append([]int64{2, int64(c.cout)}, out...)...)
		wd := want.Data.([]float64)
		outN, inN, kN := int(ir.NumElements(out)), int(ir.NumElements(convI64(c.in))), int(ir.NumElements(convI64(c.k)))
		cinG, mG := c.cin/c.group, c.cout/c.group
		for b := 0; b < 2; b++ {
			for co := 0; co < c.cout; co++ {
				for o := 0; o < outN; o++ {
					wd[(b*c.cout+co)*outN+o] = bias.Float64At(co)
				}
			}
			for ci := 0; ci < c.cin; ci++ {
				gi := ci / cinG
				for p := 0; p < inN; p++ {
					ic := convUnflat(p, convI64(c.in))
					xv := x.Float64At((b*c.cin+ci)*inN + p)
					for m := 0; m < mG; m++ {
						co := gi*mG + m
						for kp := 0; kp < kN; kp++ {
							kc := convUnflat(kp, convI64(c.k))
							oi, ok := 0, true
							for d := 0; d < rk; d++ {
								q := ic[d]*c.stride[d] + kc[d]*c.dil[d] - c.padB[d]
								if q < 0 || q >= int(out[d]) {
									ok = false
									break
								}
								oi = oi*int(out[d]) + q
							}
							if ok {
								wd[(b*c.cout+co)*outN+oi] += xv * w.Float64At(((ci*mG)+m)*kN+kp)
							}
						}
					}
				}
			}
		}
		attrs := map[string]*ir.Attr{
			"strides": convInts(c.stride), "dilations": convInts(c.dil), "output_padding": convInts(c.outPad),
			"pads": convInts(append(append([]int{}, c.padB...), c.padE...)), "group": ir.IntAttr(int64(c.group)),
		}
		got, err := convRun("ConvTranspose", 0, attrs, 1, x, w, bias)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if msg := convClose(got[0], want, 1e-12); msg != "" {
			t.Errorf("case %d: %s", i, msg)
		}
	}
}

// TestConvFloat16 runs a 1×1×2×2 input through a 1×1×2×2 all-ones kernel
// in f16: the single output is the sum 1+2+3+4.5 = 10.5 (exact in f16).
func TestConvFloat16(t *testing.T) {
	h := func(v ...float32) []uint16 {
		o := make([]uint16, len(v))
		for i, x := range v {
			o[i] = ir.F32ToF16(x)
		}
		return o
	}
	x := ir.FromSlice(ir.Float16, []int64{1, 1, 2, 2}, h(1, 2, 3, 4.5))
	w := ir.FromSlice(ir.Float16, []int64{1, 1, 2, 2}, h(1, 1, 1, 1))
	got, err := convRun("Conv", 0, nil, 1, x, w)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].DType != ir.Float16 || got[0].Float64At(0) != 10.5 {
		t.Fatalf("got %v %v, want f16 10.5", got[0], got[0].Float64At(0))
	}
}

// TestConvErrors checks that malformed problems are errors naming the
// node, not panics.
func TestConvErrors(t *testing.T) {
	x := ir.NewTensor(ir.Float32, 1, 4, 5, 5)
	cases := []struct {
		op    string
		attrs map[string]*ir.Attr
		in    []*ir.Tensor
		want  string
	}{
		{"Conv", map[string]*ir.Attr{"group": ir.IntAttr(3)}, []*ir.Tensor{x, ir.NewTensor(ir.Float32, 2, 4, 3, 3)}, "group"},
		{"Conv", nil, []*ir.Tensor{x, ir.NewTensor(ir.Float32, 2, 4, 7, 7)}, "larger than"},
		{"Conv", nil, []*ir.Tensor{x, ir.NewTensor(ir.Float32, 2, 4, 3)}, "rank"},
		{"Conv", map[string]*ir.Attr{"strides": ir.IntsAttr(0, 1)}, []*ir.Tensor{x, ir.NewTensor(ir.Float32, 2, 4, 3, 3)}, "positive"},
		{"Conv", map[string]*ir.Attr{"auto_pad": ir.StringAttr("SAME")}, []*ir.Tensor{x, ir.NewTensor(ir.Float32, 2, 4, 3, 3)}, "auto_pad"},
		{"Conv", nil, []*ir.Tensor{x, ir.NewTensor(ir.Float32, 2, 4, 3, 3), ir.NewTensor(ir.Float32, 3)}, "bias"},
		{"Conv", nil, []*ir.Tensor{ir.NewTensor(ir.Int32, 1, 4, 5, 5), ir.NewTensor(ir.Int32, 2, 4, 3, 3)}, "dtype"},
		{"ConvTranspose", nil, []*ir.Tensor{x, ir.NewTensor(ir.Float32, 3, 2, 3, 3)}, "group"},
		{"MaxPool", nil, []*ir.Tensor{x}, "kernel_shape"},
		{"AveragePool", map[string]*ir.Attr{"kernel_shape": ir.IntsAttr(2, 2), "pads": ir.IntsAttr(1, 1)}, []*ir.Tensor{x}, "pads"},
		{"DepthToSpace", map[string]*ir.Attr{"blocksize": ir.IntAttr(3)}, []*ir.Tensor{x}, "divisible"},
		{"MaxUnpool", map[string]*ir.Attr{"kernel_shape": ir.IntsAttr(2, 2), "strides": ir.IntsAttr(2, 2)},
			[]*ir.Tensor{ir.NewTensor(ir.Float32, 1, 1, 1, 1), ir.FromSlice(ir.Int64, []int64{1, 1, 1, 1}, []int64{4})}, "outside"},
	}
	for _, c := range cases {
		_, err := convRun(c.op, 0, c.attrs, 1, c.in...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.op) {
			t.Errorf("%s %v: got error %v, want one naming the node and %q", c.op, c.attrs, err, c.want)
		}
	}
}

// BenchmarkConv measures the layer shapes that dominate MobileNet-style
// models: a 3×3 stem, a depthwise 3×3 and a pointwise 1×1 convolution.
func BenchmarkConv(b *testing.B) {
	r := rand.New(rand.NewSource(3))
	cases := []struct {
		name  string
		x, w  []int64
		attrs map[string]*ir.Attr
	}{
		{"stem3x3s2", []int64{1, 3, 320, 320}, []int64{16, 3, 3, 3}, map[string]*ir.Attr{"strides": ir.IntsAttr(2, 2), "pads": ir.IntsAttr(1, 1, 1, 1)}},
		{"conv3x3", []int64{1, 64, 80, 80}, []int64{64, 64, 3, 3}, map[string]*ir.Attr{"pads": ir.IntsAttr(1, 1, 1, 1)}},
		{"depthwise3x3", []int64{1, 128, 80, 80}, []int64{128, 1, 3, 3}, map[string]*ir.Attr{"group": ir.IntAttr(128), "pads": ir.IntsAttr(1, 1, 1, 1)}},
		{"pointwise", []int64{1, 128, 80, 80}, []int64{128, 128, 1, 1}, nil},
	}
	for _, c := range cases {
		x, w := convTo32(convRand(r, c.x...)), convTo32(convRand(r, c.w...))
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := convRun("Conv", 0, c.attrs, 1, x, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
