package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// GridSample (opset 16): X [N, C, H, W] sampled at the normalized
// positions of grid [N, Ho, Wo, 2] (x then y, in [-1, 1]) gives
// Y [N, C, Ho, Wo]. The semantics are PyTorch's grid_sample, which the
// ONNX operator follows: modes bilinear, nearest (round half to even) and
// bicubic (A = -0.75); padding zeros, border or reflection; align_corners.

func init() {
	Register("GridSample", gridSampleKernel)
}

// gridSampleParams are the node's attributes.
type gridSampleParams struct {
	mode         string
	padding      string
	alignCorners bool
}

func gridSampleKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	grid, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	n := c.Node
	p := gridSampleParams{
		mode:         n.AttrString("mode", "bilinear"),
		padding:      n.AttrString("padding_mode", "zeros"),
		alignCorners: n.AttrInt("align_corners", 0) != 0,
	}
	switch p.mode {
	case "bilinear", "nearest", "bicubic":
	default:
		return nil, c.Errorf("mode %q, want bilinear, nearest or bicubic", p.mode)
	}
	switch p.padding {
	case "zeros", "border", "reflection":
	default:
		return nil, c.Errorf("padding_mode %q, want zeros, border or reflection", p.padding)
	}
	if x.Rank() != 4 || grid.Rank() != 4 || grid.Shape[3] != 2 || grid.Shape[0] != x.Shape[0] {
		return nil, c.Errorf("X %v and grid %v: want [N, C, H, W] and [N, Ho, Wo, 2]", x.Shape, grid.Shape)
	}
	if !x.DType.IsFloat() || !grid.DType.IsFloat() {
		return nil, c.Errorf("X is %s and grid %s, want floating-point tensors", x.DType, grid.DType)
	}
	outShape := []int64{x.Shape[0], x.Shape[1], grid.Shape[1], grid.Shape[2]}
	switch x.DType {
	case ir.Float64:
		return one(ir.FromSlice(ir.Float64, outShape, gridSampleRun(ir.Elems[float64](x), x.Shape, gridSampleCoords[float64](grid), outShape, &p)))
	case ir.Float32:
		return one(ir.FromSlice(ir.Float32, outShape, gridSampleRun(ir.Elems[float32](x), x.Shape, gridSampleCoords[float32](grid), outShape, &p)))
	}
	y := gridSampleRun(resampleWiden(x).Data.([]float32), x.Shape, gridSampleCoords[float32](grid), outShape, &p)
	return one(resampleNarrow(ir.FromSlice(ir.Float32, outShape, y), x.DType))
}

// gridSampleCoords returns the grid's values in the compute type.
func gridSampleCoords[F rnnFloat](g *ir.Tensor) []F {
	if d, ok := g.Data.([]F); ok {
		return d
	}
	out := make([]F, g.Len())
	for i := range out {
		out[i] = F(g.Float64At(i))
	}
	return out
}

// gridSampleUnnormalize maps a normalized coordinate in [-1, 1] to a pixel
// coordinate of an axis of the given size.
func gridSampleUnnormalize[F rnnFloat](v F, size int, alignCorners bool) F {
	if alignCorners {
		return (v + 1) / 2 * F(size-1)
	}
	return ((v+1)*F(size) - 1) / 2
}

// gridSampleReflect reflects v into [lo2/2, hi2/2] (bounds given doubled,
// as PyTorch does, so half-pixel bounds stay integral).
func gridSampleReflect[F rnnFloat](v F, lo2, hi2 int) F {
	if lo2 == hi2 {
		return 0
	}
	lo := F(lo2) / 2
	span := F(hi2-lo2) / 2
	v = F(math.Abs(float64(v - lo)))
	extra := F(math.Mod(float64(v), float64(span)))
	flips := int(math.Floor(float64(v / span)))
	if flips%2 == 0 {
		return extra + lo
	}
	return span - extra + lo
}

// gridSamplePad applies the padding mode to a pixel coordinate: border
// clamps, reflection mirrors at the borders then clamps; zeros leaves it
// (out-of-range taps read 0).
func gridSamplePad[F rnnFloat](v F, size int, p *gridSampleParams) F {
	clip := func(v F) F { return F(math.Min(float64(size-1), math.Max(0, float64(v)))) }
	switch p.padding {
	case "border":
		return clip(v)
	case "reflection":
		if p.alignCorners {
			return clip(gridSampleReflect(v, 0, 2*(size-1)))
		}
		return clip(gridSampleReflect(v, -1, 2*size-1))
	}
	return v
}

// gridSampleCubic are the cubic convolution weights (A = -0.75) of the
// taps at floor-1 .. floor+2 for the fraction t.
func gridSampleCubic[F rnnFloat](t F) [4]F {
	const A = -0.75
	near := func(d F) F { return ((A+2)*d-(A+3))*d*d + 1 }
	far := func(d F) F { return ((A*d-5*A)*d+8*A)*d - 4*A }
	return [4]F{far(t + 1), near(t), near(1 - t), far(2 - t)}
}

func gridSampleRun[F rnnFloat](x []F, xShape []int64, grid []F, outShape []int64, p *gridSampleParams) []F {
	N, C, H, W := int(xShape[0]), int(xShape[1]), int(xShape[2]), int(xShape[3])
	Ho, Wo := int(outShape[2]), int(outShape[3])
	y := make([]F, N*C*Ho*Wo)
	for n := 0; n < N; n++ {
		for oh := 0; oh < Ho; oh++ {
			for ow := 0; ow < Wo; ow++ {
				g := grid[((n*Ho+oh)*Wo+ow)*2:]
				ix := gridSampleUnnormalize(g[0], W, p.alignCorners)
				iy := gridSampleUnnormalize(g[1], H, p.alignCorners)
				for ch := 0; ch < C; ch++ {
					plane := x[(n*C+ch)*H*W : (n*C+ch+1)*H*W]
					y[((n*C+ch)*Ho+oh)*Wo+ow] = gridSamplePoint(plane, H, W, ix, iy, p)
				}
			}
		}
	}
	return y
}

// gridSamplePoint interpolates one channel plane at pixel coordinates
// (ix, iy), before padding.
func gridSamplePoint[F rnnFloat](plane []F, H, W int, ix, iy F, p *gridSampleParams) F {
	at := func(xi, yi int) F {
		if xi < 0 || xi >= W || yi < 0 || yi >= H {
			return 0
		}
		return plane[yi*W+xi]
	}
	switch p.mode {
	case "nearest":
		px, py := gridSamplePad(ix, W, p), gridSamplePad(iy, H, p)
		return at(gridSampleToInt(math.RoundToEven(float64(px))), gridSampleToInt(math.RoundToEven(float64(py))))
	case "bicubic":
		// Taps around the unpadded coordinate; the padding applies to each
		// tap position.
		fx, fy := F(math.Floor(float64(ix))), F(math.Floor(float64(iy)))
		wx, wy := gridSampleCubic(ix-fx), gridSampleCubic(iy-fy)
		tap := func(xi, yi F) F {
			return at(gridSampleToInt(float64(gridSamplePad(xi, W, p))), gridSampleToInt(float64(gridSamplePad(yi, H, p))))
		}
		var sum F
		for j := 0; j < 4; j++ {
			var row F
			for i := 0; i < 4; i++ {
				row += wx[i] * tap(fx-1+F(i), fy-1+F(j))
			}
			sum += wy[j] * row
		}
		return sum
	}
	// bilinear
	px, py := gridSamplePad(ix, W, p), gridSamplePad(iy, H, p)
	fx, fy := math.Floor(float64(px)), math.Floor(float64(py))
	x0, y0 := gridSampleToInt(fx), gridSampleToInt(fy)
	tx, ty := px-F(fx), py-F(fy)
	return (1-ty)*((1-tx)*at(x0, y0)+tx*at(x0+1, y0)) + ty*((1-tx)*at(x0, y0+1)+tx*at(x0+1, y0+1))
}

// gridSampleToInt truncates a coordinate toward zero, mapping NaN and huge
// values to an index that is out of range.
func gridSampleToInt(v float64) int {
	if !(v > -1<<30 && v < 1<<30) {
		return -1 << 30
	}
	return int(v)
}
