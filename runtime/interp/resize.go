package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// Resize (opsets 10, 11, 13) and the deprecated Upsample (opsets 7, 9).
//
// The resampling is separable: for every axis a table gives, per output
// index, the input indices ("taps") and weights that produce it (one tap
// for nearest, two for linear, four for cubic; indices clamped to the
// edge). Nearest mode gathers elements, so it works for every dtype.
// Linear and cubic modes apply the axis tables one axis at a time, the
// innermost first, which is the nesting of the ONNX reference
// implementation: arithmetic is float32 for f32/f16/bf16 and float64 for
// f64 and integer types (integers are converted back truncating toward zero
// and saturating; ONNX Runtime's integer bilinear uses 10-bit fixed-point
// weights, so it can differ from this by one).
//
// Coordinates are computed in float32 in ONNX Runtime's order (so ties of
// the nearest modes resolve alike), and an axis of scale 1 is copied
// unchanged, as in ONNX Runtime. One deliberate difference: with a scales
// input, "length_resized" of align_corners and tf_crop_and_resize is
// input_length * scale unrounded, as in the ONNX reference implementation
// and its conformance tests (ONNX Runtime uses the rounded output length;
// the two agree whenever input_length * scale is an integer). With sizes,
// the scale is output_length / input_length.

func init() {
	Register("Resize", resizeKernel)
	Register("Upsample", upsampleKernel)
}

// Resampling modes.
const (
	resizeNearest = iota
	resizeLinear
	resizeCubic
)

// resizeParams is everything the axis tables depend on.
type resizeParams struct {
	mode        int
	coordMode   string // coordinate_transformation_mode
	nearestMode string // nearest_mode, "simple" for Resize-10 and Upsample
	cubicA      float64
	excludeOut  bool
	extrapolate float64
	roi         []float64 // starts then ends, one per axis (tf_crop_and_resize)
}

// resizeAxis maps the output indices of one axis to input taps.
type resizeAxis struct {
	in, out int
	taps    int       // taps per output index
	idx     []int     // out*taps input indices
	wts     []float64 // out*taps weights
	outside []bool    // per output index: tf_crop_and_resize extrapolates
}

func resizeKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	n := c.Node
	p := resizeParams{
		coordMode:   n.AttrString("coordinate_transformation_mode", "half_pixel"),
		nearestMode: n.AttrString("nearest_mode", "round_prefer_floor"),
		cubicA:      float64(n.AttrFloat("cubic_coeff_a", -0.75)),
		excludeOut:  n.AttrInt("exclude_outside", 0) != 0,
		extrapolate: float64(n.AttrFloat("extrapolation_value", 0)),
	}
	if p.mode, err = resizeParseMode(c, n.AttrString("mode", "nearest")); err != nil {
		return nil, err
	}
	var scalesT, sizesT, roiT *ir.Tensor
	if c.Opset > 0 && c.Opset < 11 {
		// Resize-10: X, scales; asymmetric coordinates, the old nearest rule.
		p.coordMode, p.nearestMode = "asymmetric", "simple"
		if scalesT, err = tensorArg(c, in, 1); err != nil {
			return nil, err
		}
	} else {
		if roiT, err = optTensorArg(c, in, 1); err != nil {
			return nil, err
		}
		if scalesT, err = optTensorArg(c, in, 2); err != nil {
			return nil, err
		}
		if sizesT, err = optTensorArg(c, in, 3); err != nil {
			return nil, err
		}
	}
	// Empty tensors stand for absent inputs (opset 11 requires scales
	// even when sizes are given).
	if scalesT != nil && scalesT.Len() == 0 {
		scalesT = nil
	}
	if sizesT != nil && sizesT.Len() == 0 {
		sizesT = nil
	}
	rank := x.Rank()
	var scales []float64
	var outShape []int64
	switch {
	case scalesT != nil && sizesT != nil:
		return nil, c.Errorf("only one of scales and sizes may be given")
	case scalesT != nil:
		if scales, err = resizeScalesOf(c, scalesT, rank); err != nil {
			return nil, err
		}
	case sizesT != nil:
		if sizesT.Len() != rank || !sizesT.DType.IsInt() {
			return nil, c.Errorf("sizes is %s, want %d integers (the rank of X)", sizesT, rank)
		}
		outShape = sizesT.Int64s()
		scales = make([]float64, rank)
		for i, s := range outShape {
			if s < 0 {
				return nil, c.Errorf("sizes[%d] = %d is negative", i, s)
			}
			scales[i] = 1
			if x.Shape[i] > 0 {
				scales[i] = float64(s) / float64(x.Shape[i])
			} else if s != 0 {
				return nil, c.Errorf("sizes[%d] = %d for an empty input axis", i, s)
			}
		}
	default:
		return nil, c.Errorf("one of scales and sizes is required")
	}
	if p.coordMode == "tf_crop_and_resize" {
		if roiT == nil || roiT.Len() != 2*rank {
			return nil, c.Errorf("tf_crop_and_resize needs roi with %d values (starts, then ends)", 2*rank)
		}
		p.roi = make([]float64, 2*rank)
		for i := range p.roi {
			p.roi[i] = roiT.Float64At(i)
		}
	}
	return resizeRun(c, x, scales, outShape, &p)
}

// upsampleKernel: Upsample-7 (scales attribute), Upsample-9 (scales
// input), and Upsample-1's height_scale/width_scale. Coordinates are
// asymmetric with the old nearest rule, as ONNX Runtime does.
func upsampleKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	n := c.Node
	mode := n.AttrString("mode", "nearest")
	if mode == "bilinear" {
		mode = "linear"
	}
	p := resizeParams{coordMode: "asymmetric", nearestMode: "simple"}
	if p.mode, err = resizeParseMode(c, mode); err != nil {
		return nil, err
	}
	if p.mode == resizeCubic {
		return nil, c.Errorf("mode %q, want nearest or linear", mode)
	}
	var scales []float64
	switch {
	case len(in) > 1 && in[1] != nil:
		st, err := tensorArg(c, in, 1)
		if err != nil {
			return nil, err
		}
		if scales, err = resizeScalesOf(c, st, x.Rank()); err != nil {
			return nil, err
		}
	case n.HasAttr("scales"):
		fs := n.AttrFloats("scales", nil)
		if len(fs) != x.Rank() {
			return nil, c.Errorf("%d scales for rank %d", len(fs), x.Rank())
		}
		for _, f := range fs {
			scales = append(scales, float64(f))
		}
	case n.HasAttr("height_scale") || n.HasAttr("width_scale"):
		if x.Rank() != 4 {
			return nil, c.Errorf("height_scale/width_scale need a 4-D input, got %v", x.Shape)
		}
		scales = []float64{1, 1, float64(n.AttrFloat("height_scale", 1)), float64(n.AttrFloat("width_scale", 1))}
	default:
		return nil, c.Errorf("scales are required")
	}
	for i, s := range scales {
		if s < 1 {
			return nil, c.Errorf("scales[%d] = %v, Upsample needs scales >= 1", i, s)
		}
	}
	return resizeRun(c, x, scales, nil, &p)
}

func resizeParseMode(c *Call, mode string) (int, error) {
	switch mode {
	case "nearest":
		return resizeNearest, nil
	case "linear":
		return resizeLinear, nil
	case "cubic":
		return resizeCubic, nil
	}
	return 0, c.Errorf("mode %q, want nearest, linear or cubic", mode)
}

// resizeScalesOf reads a scales tensor: rank positive values.
func resizeScalesOf(c *Call, t *ir.Tensor, rank int) ([]float64, error) {
	if t.Len() != rank || !t.DType.IsFloat() {
		return nil, c.Errorf("scales is %s, want %d floats (the rank of X)", t, rank)
	}
	s := make([]float64, rank)
	for i := range s {
		s[i] = t.Float64At(i)
		if !(s[i] > 0) || math.IsInf(s[i], 0) {
			return nil, c.Errorf("scales[%d] = %v, want a positive finite value", i, s[i])
		}
	}
	return s, nil
}

// resizeRun builds the axis tables and resamples x. outShape is nil when
// it follows from the scales (floor(input * scale)).
func resizeRun(c *Call, x *ir.Tensor, scales []float64, outShape []int64, p *resizeParams) ([]Value, error) {
	rank := x.Rank()
	fromSizes := outShape != nil
	if !fromSizes {
		outShape = make([]int64, rank)
		for i := range outShape {
			outShape[i] = int64(math.Floor(float64(x.Shape[i]) * scales[i]))
		}
	}
	if ir.NumElements(outShape) > 1<<34 {
		return nil, c.Errorf("output shape %v is too large", outShape)
	}
	axes := make([]*resizeAxis, rank)
	for a := 0; a < rank; a++ {
		g := resizeGeom{lenIn: int(x.Shape[a]), lenOut: int(outShape[a]), scale: float32(scales[a])}
		// "length_resized" of the coordinate transformations: the output
		// length, or with scales input_length * scale unrounded (as the
		// ONNX reference implementation computes it).
		g.lenResized = float32(outShape[a])
		if !fromSizes {
			g.lenResized = float32(float64(x.Shape[a]) * scales[a])
		}
		if p.roi != nil {
			g.roiStart, g.roiEnd = float32(p.roi[a]), float32(p.roi[rank+a])
		}
		axes[a] = resizeAxisTable(&g, p)
	}
	if p.mode == resizeNearest {
		return one(resizeGather(x, outShape, axes, p.extrapolate))
	}
	switch x.DType {
	case ir.Float32:
		return one(ir.FromSlice(ir.Float32, outShape, resizeSeparable(ir.Elems[float32](x), x.Shape, axes, float32(p.extrapolate))))
	case ir.Float64:
		return one(ir.FromSlice(ir.Float64, outShape, resizeSeparable(ir.Elems[float64](x), x.Shape, axes, p.extrapolate)))
	case ir.Float16, ir.BFloat16:
		y := resizeSeparable(resampleWiden(x).Data.([]float32), x.Shape, axes, float32(p.extrapolate))
		return one(resampleNarrow(ir.FromSlice(ir.Float32, outShape, y), x.DType))
	}
	if !x.DType.IsInt() {
		return nil, c.Errorf("mode linear/cubic does not support dtype %s", x.DType)
	}
	src := make([]float64, x.Len())
	for i := range src {
		src[i] = x.Float64At(i)
	}
	y := resizeSeparable(src, x.Shape, axes, p.extrapolate)
	out := ir.NewTensor(x.DType, outShape...)
	lo, hi := resizeIntRange(x.DType)
	for i, v := range y {
		out.SetFloat64(i, math.Max(lo, math.Min(hi, math.Trunc(v))))
	}
	return one(out)
}

// resizeIntRange is the representable range of an integer dtype.
func resizeIntRange(d ir.DType) (float64, float64) {
	bits := d.Bits()
	if d.IsSigned() {
		return -math.Ldexp(1, bits-1), math.Ldexp(1, bits-1) - 1
	}
	return 0, math.Ldexp(1, bits) - 1
}

// resizeGeom describes the resampling of one axis.
type resizeGeom struct {
	lenIn, lenOut    int
	scale            float32
	lenResized       float32
	roiStart, roiEnd float32 // tf_crop_and_resize
}

// resizeOriginal maps an output coordinate to the input coordinate system.
// The arithmetic is float32, in the order ONNX Runtime uses, so that ties
// of the nearest modes resolve the same way.
func resizeOriginal(mode string, x float32, g *resizeGeom) float32 {
	in := float32(g.lenIn)
	switch mode {
	case "asymmetric":
		return x / g.scale
	case "pytorch_half_pixel":
		if g.lenResized > 1 {
			return (x+0.5)/g.scale - 0.5
		}
		return 0
	case "tf_half_pixel_for_nn":
		return (x + 0.5) / g.scale
	case "align_corners":
		if g.lenResized == 1 {
			return 0
		}
		return x * (in - 1) / (g.lenResized - 1)
	case "tf_crop_and_resize":
		if g.lenResized > 1 {
			return g.roiStart*(in-1) + (x*(g.roiEnd-g.roiStart)*(in-1))/(g.lenResized-1)
		}
		return float32(0.5 * float64(g.roiStart+g.roiEnd) * float64(in-1))
	}
	return (x+0.5)/g.scale - 0.5 // half_pixel
}

// resizeNearestIndex rounds an input coordinate per nearest_mode.
func resizeNearestIndex(mode string, xo float64, downsample bool) int {
	fl := math.Floor(xo)
	switch mode {
	case "simple": // Resize-10 and Upsample
		if downsample {
			return int(math.Ceil(xo))
		}
		return int(math.Trunc(xo))
	case "floor":
		return int(fl)
	case "ceil":
		return int(math.Ceil(xo))
	case "round_prefer_ceil":
		if xo-fl >= 0.5 {
			return int(fl) + 1
		}
		return int(fl)
	}
	// round_prefer_floor
	if xo-fl > 0.5 {
		return int(fl) + 1
	}
	return int(fl)
}

// resizeCubicCoeffs are the Keys cubic convolution weights of the taps at
// floor-1 .. floor+2 for the fraction r in [0, 1).
func resizeCubicCoeffs(r, A float64) [4]float64 {
	far := func(d float64) float64 { return ((A*d-5*A)*d+8*A)*d - 4*A } // 1 <= d < 2
	near := func(d float64) float64 { return ((A+2)*d-(A+3))*d*d + 1 }  // 0 <= d <= 1
	return [4]float64{far(r + 1), near(r), near(1 - r), far(2 - r)}
}

// resizeAxisTable computes the taps of one axis. An axis of scale 1 maps
// each index to itself (as ONNX Runtime does; the transformations other
// than tf_crop_and_resize are the identity there, or shift by half a pixel
// for tf_half_pixel_for_nn).
func resizeAxisTable(g *resizeGeom, p *resizeParams) *resizeAxis {
	lenIn, lenOut := g.lenIn, g.lenOut
	ax := &resizeAxis{in: lenIn, out: lenOut}
	switch p.mode {
	case resizeNearest:
		ax.taps = 1
	case resizeLinear:
		ax.taps = 2
	default:
		ax.taps = 4
	}
	ax.idx = make([]int, lenOut*ax.taps)
	ax.wts = make([]float64, lenOut*ax.taps)
	ax.outside = make([]bool, lenOut)
	clamp := func(i int) int { return max(0, min(lenIn-1, i)) }
	identity := g.scale == 1 && lenIn == lenOut && p.coordMode != "tf_crop_and_resize"
	for o := 0; o < lenOut; o++ {
		idx, wts := ax.idx[o*ax.taps:(o+1)*ax.taps], ax.wts[o*ax.taps:(o+1)*ax.taps]
		if identity {
			idx[0], wts[0] = o, 1
			for k := 1; k < ax.taps; k++ {
				idx[k] = o
			}
			continue
		}
		xo := float64(resizeOriginal(p.coordMode, float32(o), g))
		if p.coordMode == "tf_crop_and_resize" && (xo < 0 || xo > float64(lenIn-1)) {
			ax.outside[o] = true
		}
		if lenIn == 0 {
			continue
		}
		fl := math.Floor(xo)
		r := xo - fl
		base := int(fl)
		switch p.mode {
		case resizeNearest:
			idx[0], wts[0] = clamp(resizeNearestIndex(p.nearestMode, xo, g.scale < 1)), 1
			continue
		case resizeLinear:
			idx[0], idx[1] = base, base+1
			wts[0], wts[1] = 1-r, r
		default:
			cf := resizeCubicCoeffs(r, p.cubicA)
			for k := 0; k < 4; k++ {
				idx[k], wts[k] = base-1+k, cf[k]
			}
		}
		if p.excludeOut {
			sum := 0.0
			for k := range idx {
				if idx[k] < 0 || idx[k] >= lenIn {
					wts[k] = 0
				}
				sum += wts[k]
			}
			if sum != 0 {
				for k := range wts {
					wts[k] /= sum
				}
			}
		}
		for k := range idx {
			idx[k] = clamp(idx[k])
		}
	}
	return ax
}

// identity reports whether the axis copies its input unchanged.
func (ax *resizeAxis) identity() bool {
	if ax.in != ax.out {
		return false
	}
	for o := 0; o < ax.out; o++ {
		if ax.outside[o] {
			return false
		}
		for k := 0; k < ax.taps; k++ {
			i, w := ax.idx[o*ax.taps+k], ax.wts[o*ax.taps+k]
			if (i == o && w != 1) || (i != o && w != 0) {
				return false
			}
		}
	}
	return true
}

// resizeSeparable applies the axis tables to src of the given shape, one
// axis at a time from the innermost.
func resizeSeparable[F rnnFloat](src []F, shape []int64, axes []*resizeAxis, extrap F) []F {
	cur := src
	curShape := append([]int64{}, shape...)
	for a := len(axes) - 1; a >= 0; a-- {
		ax := axes[a]
		if ax.identity() {
			continue
		}
		outer := int(ir.NumElements(curShape[:a]))
		inner := int(ir.NumElements(curShape[a+1:]))
		dst := make([]F, outer*ax.out*inner)
		for o := 0; o < outer; o++ {
			for xo := 0; xo < ax.out; xo++ {
				d := dst[(o*ax.out+xo)*inner : (o*ax.out+xo+1)*inner]
				if ax.outside[xo] {
					for k := range d {
						d[k] = extrap
					}
					continue
				}
				if ax.in == 0 {
					continue
				}
				for t := 0; t < ax.taps; t++ {
					w := F(ax.wts[xo*ax.taps+t])
					if w == 0 {
						continue
					}
					s := cur[(o*ax.in+ax.idx[xo*ax.taps+t])*inner:]
					for k := range d {
						d[k] += w * s[k]
					}
				}
			}
		}
		cur = dst
		curShape[a] = int64(ax.out)
	}
	if len(cur) > 0 && len(src) > 0 && &cur[0] == &src[0] {
		cur = append([]F{}, cur...) // every axis was an identity
	}
	return cur
}

// resizeGather implements nearest mode for any dtype: every output element
// copies one input element, or takes the extrapolation value where a
// tf_crop_and_resize coordinate falls outside the input.
func resizeGather(x *ir.Tensor, outShape []int64, axes []*resizeAxis, extrap float64) *ir.Tensor {
	out := ir.NewTensor(x.DType, outShape...)
	if out.Len() == 0 {
		return out
	}
	// offs[a][o]: offset of output index o of axis a in the input, or -1
	// where it extrapolates.
	inStrides := strides(x.Shape)
	offs := make([][]int, len(axes))
	extrapolates := false
	for a, ax := range axes {
		offs[a] = make([]int, ax.out)
		for o := range offs[a] {
			if ax.outside[o] || ax.in == 0 {
				offs[a][o] = -1
				extrapolates = true
				continue
			}
			offs[a][o] = ax.idx[o] * int(inStrides[a])
		}
	}
	if x.Rank() == 0 {
		return x.Clone()
	}
	switch d := out.Data.(type) {
	case []float32:
		resizeGatherT(d, x.Data.([]float32), offs)
	case []float64:
		resizeGatherT(d, x.Data.([]float64), offs)
	case []int8:
		resizeGatherT(d, x.Data.([]int8), offs)
	case []uint8:
		resizeGatherT(d, x.Data.([]uint8), offs)
	case []int16:
		resizeGatherT(d, x.Data.([]int16), offs)
	case []uint16:
		resizeGatherT(d, x.Data.([]uint16), offs)
	case []int32:
		resizeGatherT(d, x.Data.([]int32), offs)
	case []uint32:
		resizeGatherT(d, x.Data.([]uint32), offs)
	case []int64:
		resizeGatherT(d, x.Data.([]int64), offs)
	case []uint64:
		resizeGatherT(d, x.Data.([]uint64), offs)
	case []bool:
		resizeGatherT(d, x.Data.([]bool), offs)
	case []string:
		resizeGatherT(d, x.Data.([]string), offs)
	}
	if extrapolates && x.DType != ir.String {
		resizeEachOutside(offs, func(i int) { out.SetFloat64(i, extrap) })
	}
	return out
}

// resizeGatherT copies dst[i] = src[sum of offs[a][index_a(i)]] row by row
// (rows along the last axis); extrapolated elements are left alone.
func resizeGatherT[T any](dst, src []T, offs [][]int) {
	last := offs[len(offs)-1]
	outer := offs[:len(offs)-1]
	counter := make([]int, len(outer))
	for row := 0; row*len(last) < len(dst); row++ {
		base := 0
		for a, o := range counter {
			if offs[a][o] < 0 {
				base = -1
				break
			}
			base += offs[a][o]
		}
		if base >= 0 {
			d := dst[row*len(last) : (row+1)*len(last)]
			for j, off := range last {
				if off >= 0 {
					d[j] = src[base+off]
				}
			}
		}
		for a := len(counter) - 1; a >= 0; a-- {
			counter[a]++
			if counter[a] < len(offs[a]) {
				break
			}
			counter[a] = 0
		}
	}
}

// resizeEachOutside calls fn with the flat index of every output element
// that one of its coordinates puts outside the input.
func resizeEachOutside(offs [][]int, fn func(i int)) {
	n := 1
	for _, o := range offs {
		n *= len(o)
	}
	counter := make([]int, len(offs))
	for i := 0; i < n; i++ {
		for a, o := range counter {
			if offs[a][o] < 0 {
				fn(i)
				break
			}
		}
		for a := len(counter) - 1; a >= 0; a-- {
			counter[a]++
			if counter[a] < len(offs[a]) {
				break
			}
			counter[a] = 0
		}
	}
}

// resampleWiden converts an f16/bf16 tensor to f32 (other dtypes pass
// through). Shared by the recurrent and resampling kernels.
func resampleWiden(t *ir.Tensor) *ir.Tensor {
	if t.DType != ir.Float16 && t.DType != ir.BFloat16 {
		return t
	}
	bits := t.Data.([]uint16)
	out := make([]float32, len(bits))
	for i, b := range bits {
		if t.DType == ir.Float16 {
			out[i] = ir.F16ToF32(b)
		} else {
			out[i] = ir.BF16ToF32(b)
		}
	}
	return ir.FromSlice(ir.Float32, t.Shape, out)
}

// resampleNarrow rounds an f32 tensor to f16 or bf16.
func resampleNarrow(t *ir.Tensor, d ir.DType) *ir.Tensor {
	src := t.Data.([]float32)
	bits := make([]uint16, len(src))
	for i, v := range src {
		if d == ir.Float16 {
			bits[i] = ir.F32ToF16(v)
		} else {
			bits[i] = ir.F32ToBF16(v)
		}
	}
	return ir.FromSlice(d, t.Shape, bits)
}
