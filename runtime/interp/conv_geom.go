package interp

// Window geometry shared by Conv, ConvTranspose and the pooling ops, and
// the im2col / col2im walker both convolutions are built on.

// convGeom is the resolved geometry of a sliding window over the spatial
// dims of an N×C×D1×…×Dr tensor.
type convGeom struct {
	in     []int // spatial input dims
	kernel []int // spatial kernel dims
	stride []int
	dil    []int
	padB   []int // padding at the start of each dim
	padE   []int // padding at the end of each dim
	out    []int // spatial output dims
}

// convProd is the product of dims.
func convProd(d []int) int {
	n := 1
	for _, v := range d {
		n *= v
	}
	return n
}

// convIntsAttr reads an ints attribute of length r (def fills absent ones).
func convIntsAttr(c *Call, name string, r int, def int) ([]int, error) {
	v := c.Node.AttrInts(name, nil)
	out := make([]int, r)
	if v == nil {
		for i := range out {
			out[i] = def
		}
		return out, nil
	}
	if len(v) != r {
		return nil, c.Errorf("attribute %s has %d values, want %d (one per spatial dim)", name, len(v), r)
	}
	for i, x := range v {
		out[i] = int(x)
	}
	return out, nil
}

// convPadsAttr reads the pads attribute (every spatial dim's begin, then
// every end) into g.padB and g.padE, which stay zero when it is absent.
// Negative pads are an error unless allowNeg (ConvTranspose crops with
// them).
func convPadsAttr(c *Call, g *convGeom, allowNeg bool) error {
	p := c.Node.AttrInts("pads", nil)
	if p == nil {
		return nil
	}
	r := len(g.padB)
	if len(p) != 2*r {
		return c.Errorf("attribute pads has %d values, want %d", len(p), 2*r)
	}
	for i := 0; i < r; i++ {
		g.padB[i], g.padE[i] = int(p[i]), int(p[i+r])
		if !allowNeg && (g.padB[i] < 0 || g.padE[i] < 0) {
			return c.Errorf("negative pads %v", p)
		}
	}
	return nil
}

// convGeometry resolves the strides, dilations, pads and auto_pad
// attributes of c's node for the spatial input dims in and kernel dims
// kernel, and computes the output dims. ceil selects ceil_mode rounding of
// the pooling ops.
func convGeometry(c *Call, in, kernel []int, ceil bool) (*convGeom, error) {
	r := len(in)
	g := &convGeom{in: in, kernel: kernel}
	var err error
	if g.stride, err = convIntsAttr(c, "strides", r, 1); err != nil {
		return nil, err
	}
	if g.dil, err = convIntsAttr(c, "dilations", r, 1); err != nil {
		return nil, err
	}
	for i := 0; i < r; i++ {
		if g.stride[i] < 1 || g.dil[i] < 1 || kernel[i] < 1 {
			return nil, c.Errorf("strides %v, dilations %v and kernel %v must be positive", g.stride, g.dil, kernel)
		}
	}
	g.padB = make([]int, r)
	g.padE = make([]int, r)
	g.out = make([]int, r)
	autoPad := c.Node.AttrString("auto_pad", "NOTSET")
	switch autoPad {
	case "NOTSET", "":
		if err := convPadsAttr(c, g, false); err != nil {
			return nil, err
		}
		for i := 0; i < r; i++ {
			span := in[i] + g.padB[i] + g.padE[i] - ((kernel[i]-1)*g.dil[i] + 1)
			if span < 0 {
				return nil, c.Errorf("window %v (dilations %v) is larger than the padded input %v", kernel, g.dil, in)
			}
			o := span/g.stride[i] + 1
			if ceil && span%g.stride[i] != 0 {
				o++
				// The last window must start inside the input or its
				// leading padding.
				if (o-1)*g.stride[i] >= in[i]+g.padB[i] {
					o--
				}
			}
			g.out[i] = o
		}
	case "VALID":
		for i := 0; i < r; i++ {
			span := in[i] - ((kernel[i]-1)*g.dil[i] + 1)
			if span < 0 {
				return nil, c.Errorf("window %v (dilations %v) is larger than the input %v", kernel, g.dil, in)
			}
			g.out[i] = span/g.stride[i] + 1
		}
	case "SAME_UPPER", "SAME_LOWER":
		for i := 0; i < r; i++ {
			o := (in[i] + g.stride[i] - 1) / g.stride[i]
			total := (o-1)*g.stride[i] + (kernel[i]-1)*g.dil[i] + 1 - in[i]
			if total < 0 {
				total = 0
			}
			g.out[i] = o
			if autoPad == "SAME_UPPER" {
				g.padB[i] = total / 2
			} else {
				g.padB[i] = total - total/2
			}
			g.padE[i] = total - g.padB[i]
		}
	default:
		return nil, c.Errorf("unknown auto_pad %q", autoPad)
	}
	return g, nil
}

// convWalk moves data between one row of an im2col matrix and one
// channel plane, for a fixed kernel position. It walks the positions
// [p0, p0+len(row)) of the "walk" grid (the output grid for im2col, the
// input grid for col2im) in row-major order; position w maps to plane
// coordinate t[d] = w[d]*stride[d] + koff[d] in a plane of dims tgt.
// Gather (scatter == false) sets row[j] to the plane value or 0 when t is
// outside the plane; scatter adds row[j] into the plane where t is inside.
func convWalk[T convNum](row []T, plane []T, walk, tgt, stride, koff []int, p0 int, scatter bool) {
	r := len(walk)
	last := r - 1
	// Coordinates of p0 in the walk grid.
	wc := make([]int, r)
	rem := p0
	for d := last; d >= 0; d-- {
		wc[d] = rem % walk[d]
		rem /= walk[d]
	}
	tLast := tgt[last]
	sLast := stride[last]
	for j := 0; j < len(row); {
		run := walk[last] - wc[last]
		if run > len(row)-j {
			run = len(row) - j
		}
		base, valid := 0, true
		for d := 0; d < last; d++ {
			t := wc[d]*stride[d] + koff[d]
			if t < 0 || t >= tgt[d] {
				valid = false
				break
			}
			base = base*tgt[d] + t
		}
		seg := row[j : j+run]
		if valid {
			base *= tLast
			t0 := wc[last]*sLast + koff[last]
			// Positions q in [qLo, qHi) of the run land inside the plane.
			qLo, qHi := 0, 0
			if t0 < 0 {
				qLo = (-t0 + sLast - 1) / sLast
			}
			if tLast > t0 {
				qHi = min(run, (tLast-t0+sLast-1)/sLast)
			}
			qLo = min(qLo, run)
			if qHi < qLo {
				qHi = qLo
			}
			mid := seg[qLo:qHi]
			if len(mid) == 0 {
				if !scatter {
					clear(seg)
				}
			} else if scatter {
				if sLast == 1 {
					src := plane[base+t0+qLo : base+t0+qHi][:len(mid)]
					for q, v := range mid {
						src[q] += v
					}
				} else {
					t := base + t0 + qLo*sLast
					for _, v := range mid {
						plane[t] += v
						t += sLast
					}
				}
			} else {
				clear(seg[:qLo])
				clear(seg[qHi:])
				if sLast == 1 {
					copy(mid, plane[base+t0+qLo:base+t0+qHi])
				} else {
					t := base + t0 + qLo*sLast
					for q := range mid {
						mid[q] = plane[t]
						t += sLast
					}
				}
			}
		} else if !scatter {
			clear(seg)
		}
		j += run
		wc[last] += run
		for d := last; d > 0 && wc[d] == walk[d]; d-- {
			wc[d] = 0
			wc[d-1]++
		}
	}
}

// convKernelOffsets lists, for every kernel position in row-major order,
// its per-dim offset k[d]*dil[d] - padB[d] into the plane.
func convKernelOffsets(g *convGeom) [][]int {
	r := len(g.kernel)
	n := convProd(g.kernel)
	offs := make([][]int, n)
	kc := make([]int, r)
	for i := 0; i < n; i++ {
		o := make([]int, r)
		for d := 0; d < r; d++ {
			o[d] = kc[d]*g.dil[d] - g.padB[d]
		}
		offs[i] = o
		for d := r - 1; d >= 0; d-- {
			kc[d]++
			if kc[d] < g.kernel[d] {
				break
			}
			kc[d] = 0
		}
	}
	return offs
}
