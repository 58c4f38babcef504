package codegen

import (
	"fmt"
	"math"

	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// MaxPool and AveragePool over 1-D and 2-D windows (NCW / NCHW; 1-D is
// lowered as H = 1): a task per output row (n, c, oh); each output element
// loops over the part of its window inside the input (the window bounds
// are clipped once per row and per element, so padding costs no
// branches in the inner loop). GlobalAveragePool and GlobalMaxPool are
// reductions over the spatial axes (reduce.go's kernel).

// poolGeom is the static geometry of a pooling node.
type poolGeom struct {
	nc         int64 // N*C
	h, w       int64 // input spatial dims
	oh, ow     int64 // output spatial dims
	kh, kw     int64
	sh, sw     int64
	dh, dw     int64
	pt, pl     int64 // begin pads
	pb, pr     int64 // end pads
	max        bool
	includePad bool
}

func poolGeometry(n *ir.Node) (*poolGeom, error) {
	in, out := mustShape(n.Inputs[0]), mustShape(n.Outputs[0])
	sp := len(in) - 2
	if sp != 1 && sp != 2 || len(out) != len(in) {
		return nil, fmt.Errorf("%s over %d spatial dims (1 and 2 are lowered)", n.Op, sp)
	}
	ks := n.AttrInts("kernel_shape", nil)
	if len(ks) != sp {
		return nil, fmt.Errorf("%s kernel_shape %v for %d spatial dims", n.Op, ks, sp)
	}
	ones := []int64{1, 1}[:sp]
	strides := n.AttrInts("strides", ones)
	dil := n.AttrInts("dilations", ones)
	pads := n.AttrInts("pads", make([]int64, 2*sp))
	if len(strides) != sp || len(dil) != sp || len(pads) != 2*sp {
		return nil, fmt.Errorf("%s strides/dilations/pads of the wrong length", n.Op)
	}
	pads = append([]int64(nil), pads...)
	switch ap := n.AttrString("auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
	case "VALID":
		clear(pads)
	case "SAME_UPPER", "SAME_LOWER":
		for d := 0; d < sp; d++ {
			total := max(0, (out[2+d]-1)*strides[d]+(ks[d]-1)*dil[d]+1-in[2+d])
			small := total / 2
			if ap == "SAME_UPPER" {
				pads[d], pads[d+sp] = small, total-small
			} else {
				pads[d], pads[d+sp] = total-small, small
			}
		}
	default:
		return nil, fmt.Errorf("%s auto_pad %q", n.Op, ap)
	}
	g := &poolGeom{nc: in[0] * in[1], h: 1, w: in[len(in)-1], oh: 1, ow: out[len(out)-1],
		kh: 1, sh: 1, dh: 1, max: n.Op == "MaxPool", includePad: n.AttrInt("count_include_pad", 0) != 0}
	last := sp - 1
	g.kw, g.sw, g.dw, g.pl, g.pr = ks[last], strides[last], dil[last], pads[last], pads[last+sp]
	if sp == 2 {
		g.h, g.oh = in[2], out[2]
		g.kh, g.sh, g.dh, g.pt, g.pb = ks[0], strides[0], dil[0], pads[0], pads[sp]
	}
	if out[0] != in[0] || out[1] != in[1] {
		return nil, fmt.Errorf("%s output %v does not match input %v", n.Op, out, in)
	}
	for _, v := range []int64{g.kh, g.kw, g.sh, g.sw, g.dh, g.dw} {
		if v < 1 {
			return nil, fmt.Errorf("%s kernel, strides and dilations must be positive", n.Op)
		}
	}
	if !g.max && (g.dh != 1 || g.dw != 1) {
		return nil, fmt.Errorf("AveragePool with dilations is not lowered")
	}
	return g, nil
}

type poolKernel struct {
	g       *poolGeom
	in, out *ir.Value
}

func (k *poolKernel) inputs() []buf     { return []buf{{v: k.in}} }
func (k *poolKernel) output() *ir.Value { return k.out }
func (k *poolKernel) temps() []int64    { return nil }
func (k *poolKernel) describe() string {
	op := "avgpool"
	if k.g.max {
		op = "maxpool"
	}
	g := k.g
	return fmt.Sprintf("%s %dx%d/%dx%d on %dx%dx%d", op, g.kh, g.kw, g.sh, g.sw, g.nc, g.h, g.w)
}

// poolSMax/poolSMin are signed i64 max/min.
func poolSMax(b *fnb, x, y value.Value) value.Value {
	return b.cur.NewSelect(b.cur.NewICmp(enum.IPredSGT, x, y), x, y)
}
func poolSMin(b *fnb, x, y value.Value) value.Value {
	return b.cur.NewSelect(b.cur.NewICmp(enum.IPredSLT, x, y), x, y)
}

// poolRange returns the window taps [k0, k1) of a window starting at s
// (dilation d, k taps) that fall inside [0, n).
func poolRange(b *fnb, s value.Value, k, d, n int64) (k0, k1 value.Value) {
	// k0 = ceil(-s/d) clamped to >= 0; k1 = ceil((n-s)/d) clamped to <= k.
	negS := b.cur.NewSub(ci(0), s)
	k0 = poolSMax(b, ci(0), b.cur.NewSDiv(b.add(negS, ci(d-1)), ci(d)))
	k0 = poolSMin(b, k0, ci(k))
	rem := b.cur.NewSub(ci(n), s)
	k1 = b.cur.NewSDiv(b.add(rem, ci(d-1)), ci(d))
	k1 = poolSMax(b, poolSMin(b, k1, ci(k)), k0)
	return k0, k1
}

func (k *poolKernel) emit(e *segEmitter, _ []int64) error {
	g := k.g
	b, ctx, begin, end := e.task("_pool")
	in := e.ptr(b, ctx, buf{v: k.in})
	out := e.outPtr(b, ctx, k.out)
	init := 0.0
	if g.max {
		init = math.Inf(-1)
	}
	b.loop(begin, end, 1, func(t value.Value) {
		ch := b.cur.NewSDiv(t, ci(g.oh))
		oy := b.cur.NewSRem(t, ci(g.oh))
		plane := b.gepF(in, b.mul(ch, ci(g.h*g.w)))
		orow := b.gepF(out, b.mul(t, ci(g.ow)))
		hs := b.cur.NewSub(b.mul(oy, ci(g.sh)), ci(g.pt))
		ky0, ky1 := poolRange(b, hs, g.kh, g.dh, g.h)
		b.loop(ci(0), ci(g.ow), 1, func(ox value.Value) {
			ws := b.cur.NewSub(b.mul(ox, ci(g.sw)), ci(g.pl))
			kx0, kx1 := poolRange(b, ws, g.kw, g.dw, g.w)
			acc := b.forLoop(ky0, ky1, 1, []value.Value{cf(init)}, func(ky value.Value, c []value.Value) []value.Value {
				iy := b.add(hs, b.mul(ky, ci(g.dh)))
				row := b.gepF(plane, b.add(b.mul(iy, ci(g.w)), ws))
				return b.forLoop(kx0, kx1, 1, c, func(kx value.Value, c []value.Value) []value.Value {
					x := b.load(b.gepF(row, b.mul(kx, ci(g.dw))), 1)
					if g.max {
						return []value.Value{b.fmax(x, c[0])}
					}
					return []value.Value{b.cur.NewFAdd(c[0], x)}
				})
			})[0]
			if !g.max {
				var cnt value.Value
				if g.includePad {
					// Window clipped to the padded input (ceil_mode
					// overhang past the end pad is not counted).
					he := poolSMin(b, b.add(hs, ci(g.kh)), ci(g.h+g.pb))
					we := poolSMin(b, b.add(ws, ci(g.kw)), ci(g.w+g.pr))
					cnt = b.mul(b.cur.NewSub(he, hs), b.cur.NewSub(we, ws))
				} else {
					cnt = b.mul(b.cur.NewSub(ky1, ky0), b.cur.NewSub(kx1, kx0))
				}
				acc = b.cur.NewFDiv(acc, b.cur.NewSIToFP(cnt, tF32))
			}
			b.store(acc, b.gepF(orow, ox), 1)
		})
	})
	e.launch(b, g.nc*g.oh, float64(g.nc*g.oh*g.ow*g.kh*g.kw))
	return nil
}

func init() {
	pool := &opLowering{
		inputs: firstInput,
		check: func(n *ir.Node, _ int64) error {
			_, err := poolGeometry(n)
			return err
		},
		lower: func(l *lowering, n *ir.Node) (kernel, error) {
			g, err := poolGeometry(n)
			if err != nil {
				return nil, err
			}
			return &poolKernel{g: g, in: n.Inputs[0], out: n.Outputs[0]}, nil
		},
	}
	registerLowering("MaxPool", pool)
	registerLowering("AveragePool", pool)
	global := func(ro redOp) *opLowering {
		return &opLowering{
			check: func(n *ir.Node, _ int64) error {
				if len(mustShape(n.Inputs[0])) < 3 {
					return fmt.Errorf("%s input of rank < 3", n.Op)
				}
				return nil
			},
			lower: func(l *lowering, n *ir.Node) (kernel, error) {
				red := make([]bool, len(mustShape(n.Inputs[0])))
				for i := 2; i < len(red); i++ {
					red[i] = true
				}
				return newRedKernel(l, n.Op, ro, n.Inputs[0], n.Outputs[0], red)
			},
		}
	}
	registerLowering("GlobalAveragePool", global(redOps["ReduceMean"]))
	registerLowering("GlobalMaxPool", global(redOps["ReduceMax"]))
}
