package codegen

import (
	"fmt"
	"math"

	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// softmaxRows returns the independent rows and row length of a Softmax:
// the last axis for opset >= 13 (other axes are not lowered), the input
// flattened to 2-D at axis before opset 13.
func softmaxRows(n *ir.Node, opset int64) (rows, length int64, err error) {
	s, ok := concreteShape(n.Inputs[0])
	if !ok || len(s) == 0 {
		return 0, 0, fmt.Errorf("Softmax input has no static shape")
	}
	r := int64(len(s))
	if opset >= 13 {
		axis := n.AttrInt("axis", -1)
		if axis < 0 {
			axis += r
		}
		if axis != r-1 {
			return 0, 0, fmt.Errorf("Softmax over axis %d of a rank-%d tensor (only the last axis is lowered)", n.AttrInt("axis", -1), r)
		}
		return ir.NumElements(s[:r-1]), s[r-1], nil
	}
	axis := n.AttrInt("axis", 1)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis > r {
		return 0, 0, fmt.Errorf("Softmax axis %d out of range", n.AttrInt("axis", 1))
	}
	return ir.NumElements(s[:axis]), ir.NumElements(s[axis:]), nil
}

// softmaxKernel normalizes rows: max, exp(x-max) with the sum, scale.
type softmaxKernel struct {
	in, out   *ir.Value
	rows, len int64
}

func newSoftmaxKernel(l *lowering, n *ir.Node) (*softmaxKernel, error) {
	rows, length, err := softmaxRows(n, l.c.g.Opset(""))
	if err != nil {
		return nil, err
	}
	return &softmaxKernel{in: n.Inputs[0], out: n.Outputs[0], rows: rows, len: length}, nil
}

func (k *softmaxKernel) inputs() []buf     { return []buf{{v: k.in}} }
func (k *softmaxKernel) output() *ir.Value { return k.out }
func (k *softmaxKernel) temps() []int64    { return nil }
func (k *softmaxKernel) describe() string {
	return fmt.Sprintf("softmax %d rows of %d", k.rows, k.len)
}

func (k *softmaxKernel) emit(e *segEmitter, _ []int64) error {
	L := e.c.t.Lanes()
	b, ctx, begin, end := e.task("_softmax")
	in := e.ptr(b, ctx, buf{v: k.in})
	out := e.outPtr(b, ctx, k.out)
	vecEnd := (k.len / int64(L)) * int64(L)
	// rowLoop runs f over the row in vectors then scalars, carrying one
	// accumulator of each width.
	rowLoop := func(accV, accS value.Value, f func(i value.Value, w int, acc value.Value) value.Value) (value.Value, value.Value) {
		if vecEnd > 0 && L > 1 {
			accV = b.forLoop(ci(0), ci(vecEnd), int64(L), []value.Value{accV}, func(i value.Value, c []value.Value) []value.Value {
				return []value.Value{f(i, L, c[0])}
			})[0]
		}
		accS = b.forLoop(ci(vecEnd), ci(k.len), 1, []value.Value{accS}, func(i value.Value, c []value.Value) []value.Value {
			return []value.Value{f(i, 1, c[0])}
		})[0]
		return accV, accS
	}
	horiz := func(v value.Value, s value.Value, op func(x, y value.Value) value.Value) value.Value {
		if vecEnd == 0 || L == 1 {
			return s
		}
		for l := 0; l < L; l++ {
			s = op(s, b.cur.NewExtractElement(v, ci32(int64(l))))
		}
		return s
	}
	b.loop(begin, end, 1, func(row value.Value) {
		x := b.gepF(in, b.mul(row, ci(k.len)))
		y := b.gepF(out, b.mul(row, ci(k.len)))
		mv, ms := rowLoop(constF(math.Inf(-1), L), cf(math.Inf(-1)), func(i value.Value, w int, acc value.Value) value.Value {
			return b.fmax(acc, b.load(b.gepF(x, i), w))
		})
		m := horiz(mv, ms, b.fmax)
		mSplat := b.splat(m, L)
		sv, ss := rowLoop(constF(0, L), cf(0), func(i value.Value, w int, acc value.Value) value.Value {
			mw := m
			if w > 1 {
				mw = mSplat
			}
			ex := b.exp(b.cur.NewFSub(b.load(b.gepF(x, i), w), mw), w)
			b.store(ex, b.gepF(y, i), w)
			return b.cur.NewFAdd(acc, ex)
		})
		s := horiz(sv, ss, func(p, q value.Value) value.Value { return b.cur.NewFAdd(p, q) })
		inv := b.cur.NewFDiv(cf(1), s)
		invSplat := b.splat(inv, L)
		rowLoop(constF(0, L), cf(0), func(i value.Value, w int, acc value.Value) value.Value {
			var iw value.Value = inv
			if w > 1 {
				iw = invSplat
			}
			p := b.gepF(y, i)
			b.store(b.cur.NewFMul(b.load(p, w), iw), p, w)
			return acc
		})
	})
	e.launch(b, k.rows, float64(k.rows*k.len)*30)
	return nil
}

func init() {
	registerLowering("Softmax", &opLowering{
		check: func(n *ir.Node, opset int64) error {
			_, _, err := softmaxRows(n, opset)
			return err
		},
		lower: func(l *lowering, n *ir.Node) (kernel, error) { return newSoftmaxKernel(l, n) },
	})
}
