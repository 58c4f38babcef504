package interp

import (
	"testing"

	"github.com/optc-dev/optc/ir"
)

func TestQuantizeLinear(t *testing.T) {
	// Round half to even, then add the zero point, then saturate:
	// x/2 = [0.25, 0.75, 1.25, -1.25, 2.5, 3.5, 600, -600] rounds to
	// [0, 1, 1, -1, 2, 4, 600, -600]; + 128 and clamp to [0, 255].
	x := laF32(laShape(8), 0.5, 1.5, 2.5, -2.5, 5, 7, 1200, -1200)
	y := laMust(t, 13, "QuantizeLinear", nil, 1, x, laF32(nil, 2), laU8(nil, 128))[0]
	laCheck(t, "uint8", y, ir.Uint8, laShape(8), []float64{128, 129, 129, 127, 130, 132, 255, 0}, 0)
	// int8 zero point -1; clamp to [-128, 127].
	y = laMust(t, 13, "QuantizeLinear", nil, 1, x, laF32(nil, 2), laI8(nil, -1))[0]
	laCheck(t, "int8", y, ir.Int8, laShape(8), []float64{-1, 0, 0, -2, 1, 3, 127, -128}, 0)
	// No zero point: uint8 with zero point 0 (negative values clamp).
	y = laMust(t, 10, "QuantizeLinear", nil, 1, x, laF32(nil, 2))[0]
	laCheck(t, "default zp", y, ir.Uint8, laShape(8), []float64{0, 1, 1, 0, 2, 4, 255, 0}, 0)
	// Per axis (axis 1 of [2, 2]): column scales 1 and 10, zero points 0
	// and 10.
	xa := laF32(laShape(2, 2), 3, 30, 4, 45)
	y = laMust(t, 13, "QuantizeLinear", nil, 1, xa, laF32(laShape(2), 1, 10), laU8(laShape(2), 0, 10))[0]
	laCheck(t, "per-axis", y, ir.Uint8, laShape(2, 2), []float64{3, 13, 4, 14}, 0) // 4.5 → 4
	y = laMust(t, 13, "QuantizeLinear", map[string]*ir.Attr{"axis": ir.IntAttr(0)}, 1, xa, laF32(laShape(2), 1, 10), laU8(laShape(2), 0, 10))[0]
	laCheck(t, "per-axis 0", y, ir.Uint8, laShape(2, 2), []float64{3, 30, 10, 14}, 0) // 0.4 → 0, 4.5 → 4
	// int32 input.
	y = laMust(t, 13, "QuantizeLinear", nil, 1, laI32(laShape(2), 7, -7), laF32(nil, 2), laI8(nil, 0))[0]
	laCheck(t, "int32 x", y, ir.Int8, laShape(2), []float64{4, -4}, 0)
	// Per-axis parameters need opset 13.
	if _, err := laRunOp(10, "QuantizeLinear", nil, 1, xa, laF32(laShape(2), 1, 10), laU8(laShape(2), 0, 10)); err == nil {
		t.Fatal("per-axis scale at opset 10 must be rejected")
	}
	if _, err := laRunOp(13, "QuantizeLinear", nil, 1, xa, laF32(laShape(3), 1, 2, 3)); err == nil {
		t.Fatal("a scale of the wrong length must be rejected")
	}
}

func TestDequantizeLinear(t *testing.T) {
	// (x - zp)·scale.
	y := laMust(t, 13, "DequantizeLinear", nil, 1, laU8(laShape(4), 0, 3, 128, 255), laF32(nil, 2), laU8(nil, 128))[0]
	laCheck(t, "uint8", y, ir.Float32, laShape(4), []float64{-256, -250, 0, 254}, 0)
	y = laMust(t, 13, "DequantizeLinear", nil, 1, laI8(laShape(2), -128, 127), laF32(nil, 0.5))[0]
	laCheck(t, "int8 no zp", y, ir.Float32, laShape(2), []float64{-64, 63.5}, 0)
	y = laMust(t, 13, "DequantizeLinear", nil, 1, laI32(laShape(2), -1000, 3), laF32(nil, 0.25))[0]
	laCheck(t, "int32", y, ir.Float32, laShape(2), []float64{-250, 0.75}, 0)
	// Per axis 1 of [1, 2, 2]: channel scales 1 and 2, zero points 1 and 2.
	y = laMust(t, 13, "DequantizeLinear", nil, 1, laU8(laShape(1, 2, 2), 1, 2, 3, 4), laF32(laShape(2), 1, 2), laU8(laShape(2), 1, 2))[0]
	laCheck(t, "per-axis", y, ir.Float32, laShape(1, 2, 2), []float64{0, 1, 2, 4}, 0)
}

func TestDynamicQuantizeLinear(t *testing.T) {
	// Cases and expected values from the ONNX conformance data
	// (test_dynamicquantizelinear, test_dynamicquantizelinear_min_adjusted).
	out := laMust(t, 11, "DynamicQuantizeLinear", nil, 3, laF32(laShape(6), 0, 2, -3, -2.5, 1.34, 0.5))
	laCheck(t, "y", out[0], ir.Uint8, laShape(6), []float64{153, 255, 0, 26, 221, 179}, 0)
	laCheck(t, "scale", out[1], ir.Float32, laShape(), []float64{0.019607843831181526}, 1e-7)
	laCheck(t, "zp", out[2], ir.Uint8, laShape(), []float64{153}, 0)
	out = laMust(t, 11, "DynamicQuantizeLinear", nil, 3, laF32(laShape(3, 4), 1, 2.1, 1.3, 2.5, 3.34, 4, 1.5, 2.6, 3.9, 4, 3, 2.345))
	laCheck(t, "y min adjusted", out[0], ir.Uint8, laShape(3, 4), []float64{64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149}, 0)
	laCheck(t, "scale min adjusted", out[1], ir.Float32, laShape(), []float64{0.01568627543747425}, 1e-7)
	laCheck(t, "zp min adjusted", out[2], ir.Uint8, laShape(), []float64{0}, 0)
	// All zeros: scale 0, everything quantizes to the zero point 0.
	out = laMust(t, 11, "DynamicQuantizeLinear", nil, 3, laF32(laShape(2), 0, 0))
	laCheck(t, "zeros", out[0], ir.Uint8, laShape(2), []float64{0, 0}, 0)
}
