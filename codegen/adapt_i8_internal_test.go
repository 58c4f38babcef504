package codegen

import (
	"math"
	"testing"

	"github.com/optc-dev/optc/ir"
)

// i8WeightScales takes AdaPT fixed point of any word length up to 8 bits
// (scale 2^−FL for every column, by definition of the format) and still
// refuses what the int8 kernels cannot compute on.
func TestI8WeightScalesFixed(t *testing.T) {
	const K, N = 6, 4
	mk := func(bits int, scheme ir.QuantScheme, signed bool) *ir.Quantized {
		codes := make([]int32, K*N)
		packed, err := ir.PackCodes(codes, bits, signed)
		if err != nil {
			t.Fatal(err)
		}
		q := &ir.Quantized{Bits: bits, Scheme: scheme, Signed: signed, Axis: -1, Codes: packed}
		if scheme == ir.QuantFixed {
			q.FracLength = 5
		} else {
			q.Scales = []float32{0.25}
		}
		return q
	}
	for _, bits := range []int{2, 3, 4, 5, 6, 7, 8} {
		sc, why := i8WeightScales(mk(bits, ir.QuantFixed, true), []int64{K, N}, N, false)
		if sc == nil {
			t.Fatalf("fixed %d bits refused: %s", bits, why)
		}
		for _, s := range sc {
			if s != float32(math.Ldexp(1, -5)) {
				t.Fatalf("fixed %d bits: scale %g, want 2^-5", bits, s)
			}
		}
	}
	for _, c := range []struct {
		name string
		q    *ir.Quantized
	}{
		{"fixed 9 bits", mk(9, ir.QuantFixed, true)},
		{"fixed 16 bits", mk(16, ir.QuantFixed, true)},
		{"uniform 4 bits", mk(4, ir.QuantUniform, true)},
		{"unsigned uniform 8 bits", mk(8, ir.QuantUniform, false)},
	} {
		if sc, _ := i8WeightScales(c.q, []int64{K, N}, N, false); sc != nil {
			t.Errorf("%s accepted", c.name)
		}
	}
}
