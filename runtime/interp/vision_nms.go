package interp

import (
	"math"
	"sort"

	"github.com/optc-dev/optc/ir"
)

// NonMaxSuppression: per batch and class, boxes scoring above
// score_threshold are visited by decreasing score (ties by index) and kept
// unless their IoU with an already kept box exceeds iou_threshold, up to
// max_output_boxes_per_class. The result lists [batch, class, box] triples
// by batch, then class, then selection order.

func init() { Register("NonMaxSuppression", visionNMSKernel) }

// visionBox is a box as [y1, x1, y2, x2] with y1 <= y2 and x1 <= x2.
type visionBox [4]float64

// visionIoU is intersection over union (0 for empty boxes).
func visionIoU(a, b visionBox) float64 {
	ih := math.Min(a[2], b[2]) - math.Max(a[0], b[0])
	iw := math.Min(a[3], b[3]) - math.Max(a[1], b[1])
	if ih <= 0 || iw <= 0 {
		return 0
	}
	inter := ih * iw
	areaA := (a[2] - a[0]) * (a[3] - a[1])
	areaB := (b[2] - b[0]) * (b[3] - b[1])
	union := areaA + areaB - inter
	if areaA <= 0 || areaB <= 0 || union <= 0 {
		return 0
	}
	return inter / union
}

func visionNMSKernel(c *Call, in []Value) ([]Value, error) {
	boxes, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	scores, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	var opt [3]*ir.Tensor
	for i := range opt {
		if opt[i], err = optTensorArg(c, in, i+2); err != nil {
			return nil, err
		}
		if opt[i] != nil && opt[i].Len() != 1 {
			return nil, c.Errorf("input %d must be a scalar, got shape %v", i+2, opt[i].Shape)
		}
	}
	if len(boxes.Shape) != 3 || boxes.Shape[2] != 4 {
		return nil, c.Errorf("boxes must have shape [batches, boxes, 4], got %v", boxes.Shape)
	}
	if len(scores.Shape) != 3 || scores.Shape[0] != boxes.Shape[0] || scores.Shape[2] != boxes.Shape[1] {
		return nil, c.Errorf("scores must have shape [%d, classes, %d], got %v", boxes.Shape[0], boxes.Shape[1], scores.Shape)
	}
	maxOut := int64(0)
	if opt[0] != nil {
		maxOut = opt[0].Int64At(0)
	}
	iouTh, scoreTh, useScore := 0.0, 0.0, false
	if opt[1] != nil {
		iouTh = opt[1].Float64At(0)
	}
	if opt[2] != nil {
		scoreTh, useScore = opt[2].Float64At(0), true
	}
	center := c.Node.AttrInt("center_point_box", 0)
	if center != 0 && center != 1 {
		return nil, c.Errorf("center_point_box must be 0 or 1, got %d", center)
	}
	nb, nc, nbox := int(scores.Shape[0]), int(scores.Shape[1]), int(scores.Shape[2])
	bv, sv := convElems[float64](boxes), convElems[float64](scores)
	var sel []int64
	order := make([]int, 0, nbox)
	kept := make([]visionBox, 0, nbox)
	for b := 0; b < nb; b++ {
		bx := make([]visionBox, nbox)
		for i := range bx {
			v := bv[(b*nbox+i)*4 : (b*nbox+i+1)*4]
			if center == 1 {
				// [x_center, y_center, width, height]
				bx[i] = visionBox{v[1] - v[3]/2, v[0] - v[2]/2, v[1] + v[3]/2, v[0] + v[2]/2}
			} else {
				bx[i] = visionBox{math.Min(v[0], v[2]), math.Min(v[1], v[3]), math.Max(v[0], v[2]), math.Max(v[1], v[3])}
			}
		}
		for cl := 0; cl < nc; cl++ {
			sc := sv[(b*nc+cl)*nbox : (b*nc+cl+1)*nbox]
			order = order[:0]
			for i, s := range sc {
				if !useScore || s > scoreTh {
					order = append(order, i)
				}
			}
			sort.SliceStable(order, func(i, j int) bool { return sc[order[i]] > sc[order[j]] })
			kept = kept[:0]
			for _, i := range order {
				if int64(len(kept)) >= maxOut {
					break
				}
				ok := true
				for _, k := range kept {
					if visionIoU(bx[i], k) > iouTh {
						ok = false
						break
					}
				}
				if ok {
					kept = append(kept, bx[i])
					sel = append(sel, int64(b), int64(cl), int64(i))
				}
			}
		}
	}
	return one(ir.FromSlice(ir.Int64, []int64{int64(len(sel) / 3), 3}, sel))
}
