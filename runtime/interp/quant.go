package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// Quantization kernels: QuantizeLinear, DequantizeLinear (per tensor, and
// per axis since opset 13) and DynamicQuantizeLinear.

func init() {
	Register("QuantizeLinear", quantQuantizeKernel)
	Register("DequantizeLinear", quantDequantizeKernel)
	Register("DynamicQuantizeLinear", quantDynamicKernel)
}

// laQuantRange is the representable range of a quantized dtype.
func laQuantRange(d ir.DType) (lo, hi float32) {
	switch d {
	case ir.Int8:
		return -128, 127
	case ir.Uint8:
		return 0, 255
	case ir.Int16:
		return -32768, 32767
	case ir.Uint16:
		return 0, 65535
	case ir.Int4:
		return -8, 7
	case ir.Uint4:
		return 0, 15
	case ir.Int32:
		return math.MinInt32, math.MaxInt32
	}
	return float32(math.Inf(-1)), float32(math.Inf(1))
}

// laRoundEven32 rounds to the nearest integer, ties to even (C's
// nearbyint in the default rounding mode).
func laRoundEven32(v float32) float32 { return float32(math.RoundToEven(float64(v))) }

// laClamp32 saturates v into [lo, hi]; NaN maps to 0 (then clamped).
func laClamp32(v, lo, hi float32) float32 {
	if v != v {
		v = 0
	}
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// quantParamLayout resolves how a scale or zero-point tensor p applies to
// the elements of x: per tensor (one element), or per axis (1-D with
// x.Shape[axis] elements). It returns the function giving the parameter
// index of flat element i of x.
func quantParamLayout(c *Call, x, p *ir.Tensor, what string) (func(i int) int, error) {
	if p.Len() == 1 && p.Rank() <= 1 {
		return func(int) int { return 0 }, nil
	}
	if p.Rank() != 1 || c.Opset < 13 {
		return nil, c.Errorf("%s of shape %v: want a scalar (per-tensor) or, since opset 13, a 1-D per-axis tensor", what, p.Shape)
	}
	axis, err := normAxis(c, c.Node.AttrInt("axis", 1), x.Rank())
	if err != nil {
		return nil, err
	}
	dim := int(x.Shape[axis])
	if p.Len() != dim {
		return nil, c.Errorf("%s has %d elements, input dim %d (axis %d) is %d", what, p.Len(), axis, axis, dim)
	}
	inner := int(ir.NumElements(x.Shape[axis+1:]))
	return func(i int) int { return (i / inner) % dim }, nil
}

// quantParams resolves the layouts of a scale and an optional zero point
// (quantParamLayout; prefix "x" or "y" names them <prefix>_scale and
// <prefix>_zero_point) and returns the scale and zero point (0 without
// one) of flat element i of x.
func quantParams(c *Call, x, scale, zp *ir.Tensor, prefix string) (func(i int) (float32, int64), error) {
	sIdx, err := quantParamLayout(c, x, scale, prefix+"_scale")
	if err != nil {
		return nil, err
	}
	ss := scale.Float32s()
	if zp == nil {
		return func(i int) (float32, int64) { return ss[sIdx(i)], 0 }, nil
	}
	zIdx, err := quantParamLayout(c, x, zp, prefix+"_zero_point")
	if err != nil {
		return nil, err
	}
	return func(i int) (float32, int64) { return ss[sIdx(i)], zp.Int64At(zIdx(i)) }, nil
}

func quantQuantizeKernel(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 2, 3)
	if err != nil {
		return nil, err
	}
	x, scale, zp := args[0], args[1], args[2]
	if err := laRequire(c, "x", x.DType, ir.Float32, ir.Float16, ir.BFloat16, ir.Int32); err != nil {
		return nil, err
	}
	if err := laRequire(c, "y_scale", scale.DType, laFloatTypes[:3]...); err != nil {
		return nil, err
	}
	outType := ir.Uint8
	if zp != nil {
		outType = zp.DType
		if err := laRequire(c, "y_zero_point", outType, ir.Int8, ir.Uint8, ir.Int16, ir.Uint16); err != nil {
			return nil, err
		}
	}
	param, err := quantParams(c, x, scale, zp, "y")
	if err != nil {
		return nil, err
	}
	lo, hi := laQuantRange(outType)
	out := ir.NewTensor(outType, x.Shape...)
	for i, v := range x.Float32s() {
		s, z := param(i)
		q := laClamp32(laRoundEven32(v/s)+float32(z), lo, hi)
		out.SetFloat64(i, float64(q))
	}
	return one(out)
}

func quantDequantizeKernel(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 2, 3)
	if err != nil {
		return nil, err
	}
	x, scale, zp := args[0], args[1], args[2]
	if err := laRequire(c, "x", x.DType, ir.Int8, ir.Uint8, ir.Int16, ir.Uint16, ir.Int32); err != nil {
		return nil, err
	}
	if err := laRequire(c, "x_scale", scale.DType, laFloatTypes[:3]...); err != nil {
		return nil, err
	}
	if zp != nil && zp.DType != x.DType {
		return nil, c.Errorf("x_zero_point dtype %s differs from x dtype %s", zp.DType, x.DType)
	}
	param, err := quantParams(c, x, scale, zp, "x")
	if err != nil {
		return nil, err
	}
	y := make([]float32, x.Len())
	for i := range y {
		s, z := param(i)
		y[i] = float32(int32(x.Int64At(i)-z)) * s
	}
	return one(laConvert(ir.FromSlice(ir.Float32, x.Shape, y), scale.DType))
}

func quantDynamicKernel(c *Call, in []Value) ([]Value, error) {
	x, err := laTypedArg(c, in, 0, "x", ir.Float32)
	if err != nil {
		return nil, err
	}
	xs := x.Data.([]float32)
	// The range always includes 0 so that 0 is exactly representable.
	var mn, mx float32
	for _, v := range xs {
		mn = min(mn, v)
		mx = max(mx, v)
	}
	const qmin, qmax = 0, 255
	scale := (mx - mn) / (qmax - qmin)
	zp := float32(0)
	if scale != 0 {
		zp = laRoundEven32(laClamp32(qmin-mn/scale, qmin, qmax))
	}
	y := make([]uint8, len(xs))
	for i, v := range xs {
		q := zp
		if scale != 0 {
			q = laClamp32(laRoundEven32(v/scale)+zp, qmin, qmax)
		}
		y[i] = uint8(q)
	}
	return []Value{
		ir.FromSlice(ir.Uint8, x.Shape, y),
		ir.ScalarF32(scale),
		ir.FromSlice(ir.Uint8, nil, []uint8{uint8(zp)}),
	}, nil
}
