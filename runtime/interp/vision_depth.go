package interp

import (
	"fmt"

	"github.com/optc-dev/optc/ir"
)

// DepthToSpace and SpaceToDepth (index permutations valid for every
// dtype), and visionMove, the dtype-generic gather/scatter they and
// MaxUnpool use.

func init() {
	Register("DepthToSpace", visionDepthToSpace)
	Register("SpaceToDepth", visionSpaceToDepth)
}

// visionMoveT gathers (out[i] = src[idx[i]], n == len(idx)) or scatters
// (out[idx[i]] = src[i] into n zero elements).
func visionMoveT[T any](src []T, n int, idx []int, scatter bool) []T {
	out := make([]T, n)
	if scatter {
		for i, j := range idx {
			out[j] = src[i]
		}
	} else {
		for i, j := range idx {
			out[i] = src[j]
		}
	}
	return out
}

// visionMove builds a tensor of the given shape and t's dtype from t's
// elements moved by idx (see visionMoveT).
func visionMove(t *ir.Tensor, shape []int64, idx []int, scatter bool) (*ir.Tensor, error) {
	n := int(ir.NumElements(shape))
	var data any
	switch d := t.Data.(type) {
	case []float32:
		data = visionMoveT(d, n, idx, scatter)
	case []float64:
		data = visionMoveT(d, n, idx, scatter)
	case []int8:
		data = visionMoveT(d, n, idx, scatter)
	case []uint8:
		data = visionMoveT(d, n, idx, scatter)
	case []int16:
		data = visionMoveT(d, n, idx, scatter)
	case []uint16:
		data = visionMoveT(d, n, idx, scatter)
	case []int32:
		data = visionMoveT(d, n, idx, scatter)
	case []uint32:
		data = visionMoveT(d, n, idx, scatter)
	case []int64:
		data = visionMoveT(d, n, idx, scatter)
	case []uint64:
		data = visionMoveT(d, n, idx, scatter)
	case []bool:
		data = visionMoveT(d, n, idx, scatter)
	case []string:
		data = visionMoveT(d, n, idx, scatter)
	default:
		return nil, fmt.Errorf("unsupported tensor data %T", t.Data)
	}
	return &ir.Tensor{DType: t.DType, Shape: append([]int64{}, shape...), Data: data}, nil
}

// visionBlockArgs returns the rank-4 input and its blocksize.
func visionBlockArgs(c *Call, in []Value) (*ir.Tensor, int, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, 0, err
	}
	if len(x.Shape) != 4 {
		return nil, 0, c.Errorf("input must have shape N×C×H×W, got %v", x.Shape)
	}
	bs := c.Node.AttrInt("blocksize", 0)
	if bs < 1 {
		return nil, 0, c.Errorf("blocksize must be positive, got %d", bs)
	}
	return x, int(bs), nil
}

func visionDepthToSpace(c *Call, in []Value) ([]Value, error) {
	x, bs, err := visionBlockArgs(c, in)
	if err != nil {
		return nil, err
	}
	n, ch, h, w := int(x.Shape[0]), int(x.Shape[1]), int(x.Shape[2]), int(x.Shape[3])
	if ch%(bs*bs) != 0 {
		return nil, c.Errorf("channels %d are not divisible by blocksize² = %d", ch, bs*bs)
	}
	mode := c.Node.AttrString("mode", "DCR")
	if mode != "DCR" && mode != "CRD" {
		return nil, c.Errorf("unknown mode %q (want DCR or CRD)", mode)
	}
	oc, oh, ow := ch/(bs*bs), h*bs, w*bs
	idx := make([]int, x.Len())
	i := 0
	for b := 0; b < n; b++ {
		for co := 0; co < oc; co++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					blk := (oy%bs)*bs + ox%bs
					ci := blk*oc + co
					if mode == "CRD" {
						ci = co*bs*bs + blk
					}
					idx[i] = ((b*ch+ci)*h+oy/bs)*w + ox/bs
					i++
				}
			}
		}
	}
	y, err := visionMove(x, []int64{int64(n), int64(oc), int64(oh), int64(ow)}, idx, false)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return one(y)
}

func visionSpaceToDepth(c *Call, in []Value) ([]Value, error) {
	x, bs, err := visionBlockArgs(c, in)
	if err != nil {
		return nil, err
	}
	n, ch, h, w := int(x.Shape[0]), int(x.Shape[1]), int(x.Shape[2]), int(x.Shape[3])
	if h%bs != 0 || w%bs != 0 {
		return nil, c.Errorf("height %d and width %d must be divisible by blocksize %d", h, w, bs)
	}
	oc, oh, ow := ch*bs*bs, h/bs, w/bs
	idx := make([]int, x.Len())
	i := 0
	for b := 0; b < n; b++ {
		for co := 0; co < oc; co++ {
			blk, ci := co/ch, co%ch
			by, bx := blk/bs, blk%bs
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					idx[i] = ((b*ch+ci)*h+oy*bs+by)*w + ox*bs + bx
					i++
				}
			}
		}
	}
	y, err := visionMove(x, []int64{int64(n), int64(oc), int64(oh), int64(ow)}, idx, false)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	return one(y)
}
