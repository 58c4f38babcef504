package codegen

import (
	"fmt"

	"github.com/optc-dev/optc/ir"
)

// Pad in reflect and edge modes (Silero VAD pads its audio by
// reflection): one regionKernel that copies the input into the interior
// and then, axis by axis, fills each border slab from the output itself,
// reading the mirrored positions with a negative stride (reflect) or the
// edge position with stride 0 (edge). Slabs of axis d span the whole
// (already padded) extent of the axes before d and the interior of the
// axes after it.

// padBorderCheck says whether a reflect/edge Pad of an input of shape in
// with pads (begin..., end...) lowers.
func padBorderCheck(in, pads []int64, mode string) error {
	r := len(in)
	for d := range in {
		b, e := pads[d], pads[d+r]
		if b < 0 || e < 0 {
			return fmt.Errorf("Pad mode %s with negative pads", mode)
		}
		if (b > 0 || e > 0) && (in[d] == 0 || (mode == "reflect" && (b >= in[d] || e >= in[d]))) {
			return fmt.Errorf("Pad mode %s: pads %d,%d of an axis of size %d", mode, b, e, in[d])
		}
	}
	return nil
}

// lowerPadBorder builds the kernel of a reflect or edge Pad.
func lowerPadBorder(l *lowering, n *ir.Node, pads []int64, mode string) (*regionKernel, error) {
	in, out := mustShape(n.Inputs[0]), mustShape(n.Outputs[0])
	if err := padBorderCheck(in, pads, mode); err != nil {
		return nil, err
	}
	r := len(in)
	ist, ost := copyContig(in), copyContig(out)
	src, err := copySrc(l.c, n.Inputs[0])
	if err != nil {
		return nil, err
	}
	var interior int64
	for d := range in {
		interior += pads[d] * ost[d]
	}
	k := &regionKernel{op: "pad " + mode, out: n.Outputs[0], pieces: []copyPiece{{src: src, dims: in, srcSt: ist, dstSt: ost, dstOff: interior}}}
	self := buf{v: n.Outputs[0]}
	for d := 0; d < r; d++ {
		for side, cnt := range []int64{pads[d], pads[d+r]} {
			if cnt == 0 {
				continue
			}
			dims := make([]int64, r)
			srcSt := append([]int64(nil), ost...)
			var off int64
			for a := range dims {
				switch {
				case a < d:
					dims[a] = out[a]
				case a > d:
					dims[a] = in[a]
					off += pads[a] * ost[a]
				}
			}
			dims[d] = cnt
			b := pads[d]
			// Output positions along d: 0..b-1 (begin) or b+in..b+in+e-1
			// (end); their sources mirror about the first or last
			// interior element (reflect) or repeat it (edge).
			dst, first := int64(0), 2*b
			if side == 1 {
				dst, first = b+in[d], b+in[d]-2
			}
			srcSt[d] = -ost[d]
			if mode == "edge" {
				first, srcSt[d] = b, 0
				if side == 1 {
					first = b + in[d] - 1
				}
			}
			k.pieces = append(k.pieces, copyPiece{src: self, dims: dims, srcSt: srcSt, srcOff: off + first*ost[d], dstSt: ost, dstOff: off + dst*ost[d]})
		}
	}
	return k, nil
}
