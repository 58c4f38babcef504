package quant

import (
	"fmt"
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// layer is one quantizable node: a Gemm, MatMul or Conv whose weight is a
// dense float32 constant and whose other operand is a run-time activation.
type layer struct {
	name   string
	node   *ir.Node
	op     string
	wIdx   int       // weight input
	aIdx   int       // activation input
	weight *ir.Value // the float weight constant
	axis   int       // output-channel axis of the weight
	shape  []int64
	conv   *qConvGeom // Conv layers
	params int
}

// qConvGeom is a 2-D (or 1-D, as H = 1) convolution's geometry.
type qConvGeom struct {
	group                  int
	kh, kw                 int
	sh, sw, dh, dw         int
	padT, padL, padB, padR int
	autoPad                string
}

// findLayers lists the quantizable layers of g's top level in program
// order. A weight used by several layers is listed once, with the first.
func findLayers(g *ir.Graph) []*layer {
	var out []*layer
	seen := map[*ir.Value]bool{}
	names := map[string]int{}
	for _, n := range g.Nodes {
		l := classifyLayer(n)
		if l == nil || seen[l.weight] {
			continue
		}
		seen[l.weight] = true
		base := n.Name
		if base == "" {
			base = l.weight.Name
		}
		names[base]++
		l.name = base
		if names[base] > 1 {
			l.name = fmt.Sprintf("%s#%d", base, names[base])
		}
		out = append(out, l)
	}
	return out
}

func isFloatWeight(v *ir.Value) bool {
	return v != nil && v.Const != nil && v.Const.Enc == nil && v.Const.DType == ir.Float32 && v.Const.Len() > 0
}

func isActivation(v *ir.Value) bool { return v != nil && v.Const == nil }

func classifyLayer(n *ir.Node) *layer {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return nil
	}
	l := &layer{node: n, op: n.Op}
	switch n.Op {
	case "Gemm":
		if !isFloatWeight(n.Input(1)) || !isActivation(n.Input(0)) || n.Input(1).Const.Rank() != 2 {
			return nil
		}
		l.wIdx, l.aIdx = 1, 0
		if n.AttrInt("transB", 0) != 0 {
			l.axis = 0
		} else {
			l.axis = 1
		}
	case "MatMul":
		if !isFloatWeight(n.Input(1)) || !isActivation(n.Input(0)) || n.Input(1).Const.Rank() != 2 {
			return nil
		}
		l.wIdx, l.aIdx, l.axis = 1, 0, 1
	case "Conv":
		w := n.Input(1)
		if !isFloatWeight(w) || !isActivation(n.Input(0)) || (w.Const.Rank() != 4 && w.Const.Rank() != 3) {
			return nil
		}
		l.wIdx, l.aIdx, l.axis = 1, 0, 0
		g := &qConvGeom{group: int(n.AttrInt("group", 1)), autoPad: n.AttrString("auto_pad", "NOTSET")}
		ks := w.Const.Shape[2:]
		pads := n.AttrInts("pads", nil)
		st := n.AttrInts("strides", nil)
		dl := n.AttrInts("dilations", nil)
		at := func(xs []int64, i int, def int) int {
			if i < len(xs) {
				return int(xs[i])
			}
			return def
		}
		if len(ks) == 1 {
			g.kh, g.kw, g.sh, g.dh = 1, int(ks[0]), 1, 1
			g.sw, g.dw = at(st, 0, 1), at(dl, 0, 1)
			g.padL, g.padR = at(pads, 0, 0), at(pads, 1, 0)
		} else {
			g.kh, g.kw = int(ks[0]), int(ks[1])
			g.sh, g.sw = at(st, 0, 1), at(st, 1, 1)
			g.dh, g.dw = at(dl, 0, 1), at(dl, 1, 1)
			g.padT, g.padL, g.padB, g.padR = at(pads, 0, 0), at(pads, 1, 0), at(pads, 2, 0), at(pads, 3, 0)
		}
		if g.group < 1 {
			return nil
		}
		l.conv = g
	default:
		return nil
	}
	l.weight = n.Inputs[l.wIdx]
	l.shape = l.weight.Const.Shape
	l.params = l.weight.Const.Len()
	return l
}

// channels returns the number of output channels C and the elements R
// per channel (the reduction length of one output).
func (l *layer) channels() (C, R int) {
	C = int(l.shape[l.axis])
	return C, l.params / C
}

// groupsOfRows is the number of distinct input groups (conv groups), and
// which group output channel c reads.
func (l *layer) inputGroup(c int) int {
	if l.conv == nil || l.conv.group == 1 {
		return 0
	}
	C, _ := l.channels()
	return c / (C / l.conv.group)
}

func (l *layer) numInputGroups() int {
	if l.conv == nil {
		return 1
	}
	return l.conv.group
}

// rows returns the weight as C rows of R elements in the order of the
// Quantized layout (row-major over the axes other than the channel axis),
// which is the order of the layer's input features.
func (l *layer) rows(w []float32) [][]float64 {
	C, R := l.channels()
	out := make([][]float64, C)
	for c := range out {
		out[c] = make([]float64, R)
	}
	l.eachElem(func(i, c, r int) { out[c][r] = float64(w[i]) })
	return out
}

// eachElem calls f(flat index, channel, position in channel) for every
// weight element.
func (l *layer) eachElem(f func(i, c, r int)) {
	C, _ := l.channels()
	inner := 1
	for _, d := range l.shape[l.axis+1:] {
		inner *= int(d)
	}
	for i := 0; i < l.params; i++ {
		o := i / (C * inner)
		f(i, (i/inner)%C, o*inner+i%inner)
	}
}

// tokens appends to dst the input-feature vectors (length R) that the
// layer sees in activation x, keeping at most max of them (a seeded
// uniform sample when there are more). For convolutions these are the
// im2col patches of each group, tagged with their group.
func (l *layer) tokens(x *ir.Tensor, maxTok int, rng *rand.Rand, f func(group int, tok []float64)) error {
	xs := x.Float32s()
	_, R := l.channels()
	emit := func(total int, get func(t int, buf []float64) int) {
		keep := 1.0
		if maxTok > 0 && total > maxTok {
			keep = float64(maxTok) / float64(total)
		}
		buf := make([]float64, R)
		for t := 0; t < total; t++ {
			if keep < 1 && rng.Float64() >= keep {
				continue
			}
			g := get(t, buf)
			f(g, buf)
		}
	}
	switch l.op {
	case "Gemm", "MatMul":
		transA := l.op == "Gemm" && l.node.AttrInt("transA", 0) != 0
		if transA {
			if x.Rank() != 2 || int(x.Shape[0]) != R {
				return fmt.Errorf("%s: activation %v does not match weight %v", l.node.Describe(), x.Shape, l.shape)
			}
			T := int(x.Shape[1])
			emit(T, func(t int, buf []float64) int {
				for r := 0; r < R; r++ {
					buf[r] = float64(xs[r*T+t])
				}
				return 0
			})
			return nil
		}
		if x.Rank() < 1 || int(x.Shape[x.Rank()-1]) != R {
			return fmt.Errorf("%s: activation %v does not match weight %v", l.node.Describe(), x.Shape, l.shape)
		}
		emit(x.Len()/R, func(t int, buf []float64) int {
			for r := 0; r < R; r++ {
				buf[r] = float64(xs[t*R+r])
			}
			return 0
		})
		return nil
	}
	cg := l.conv
	var N, Cin, H, W int
	switch x.Rank() {
	case 4:
		N, Cin, H, W = int(x.Shape[0]), int(x.Shape[1]), int(x.Shape[2]), int(x.Shape[3])
	case 3:
		N, Cin, H, W = int(x.Shape[0]), int(x.Shape[1]), 1, int(x.Shape[2])
	default:
		return fmt.Errorf("%s: activation rank %d", l.node.Describe(), x.Rank())
	}
	cpg := Cin / cg.group
	if cpg*cg.kh*cg.kw != R {
		return fmt.Errorf("%s: activation %v does not match weight %v", l.node.Describe(), x.Shape, l.shape)
	}
	pt, pl := cg.padT, cg.padL
	outDim := func(in, k, s, d, p0, p1 int, pad *int) int {
		ek := (k-1)*d + 1
		if cg.autoPad == "SAME_UPPER" || cg.autoPad == "SAME_LOWER" {
			o := (in + s - 1) / s
			tot := max((o-1)*s+ek-in, 0)
			*pad = tot / 2
			if cg.autoPad == "SAME_LOWER" {
				*pad = tot - tot/2
			}
			return o
		}
		if cg.autoPad == "VALID" {
			*pad = 0
			return (in-ek)/s + 1
		}
		return (in+p0+p1-ek)/s + 1
	}
	OH := outDim(H, cg.kh, cg.sh, cg.dh, cg.padT, cg.padB, &pt)
	OW := outDim(W, cg.kw, cg.sw, cg.dw, cg.padL, cg.padR, &pl)
	if OH <= 0 || OW <= 0 {
		return nil
	}
	per := OH * OW
	emit(N*cg.group*per, func(t int, buf []float64) int {
		n := t / (cg.group * per)
		g := (t / per) % cg.group
		oh, ow := (t%per)/OW, t%OW
		r := 0
		for ci := 0; ci < cpg; ci++ {
			plane := xs[((n*Cin)+g*cpg+ci)*H*W:]
			for ky := 0; ky < cg.kh; ky++ {
				iy := oh*cg.sh - pt + ky*cg.dh
				for kx := 0; kx < cg.kw; kx++ {
					ix := ow*cg.sw - pl + kx*cg.dw
					if iy >= 0 && iy < H && ix >= 0 && ix < W {
						buf[r] = float64(plane[iy*W+ix])
					} else {
						buf[r] = 0
					}
					r++
				}
			}
		}
		return g
	})
	return nil
}
