package codegen

import (
	"fmt"
	"math"

	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// Reductions (ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceSumSquare,
// ReduceL1, ReduceL2 over any constant axes; GlobalAveragePool and
// GlobalMaxPool in pool.go) are one kernel, redKernel: a task per output
// element, whose reduced elements are read with vectors when the reduced
// axes form one contiguous run (trailing axes, the common case) and one by
// one through their strides otherwise.

// redOp is how one reduction maps, combines and finishes.
type redOp struct {
	init   float64
	square bool // map x -> x*x
	abs    bool // map x -> |x|
	max    bool // combine with max (else min when min, else +)
	min    bool
	mean   bool // divide by the count
	sqrt   bool // take the square root
}

var redOps = map[string]redOp{
	"ReduceSum":       {},
	"ReduceMean":      {mean: true},
	"ReduceMax":       {init: math.Inf(-1), max: true},
	"ReduceMin":       {init: math.Inf(1), min: true},
	"ReduceSumSquare": {square: true},
	"ReduceL1":        {abs: true},
	"ReduceL2":        {square: true, sqrt: true},
}

type redKernel struct {
	op               string
	ro               redOp
	in               buf
	out              *ir.Value
	keptDims, keptSt []int64
	redDims, redSt   []int64
}

func (k *redKernel) inputs() []buf     { return []buf{k.in} }
func (k *redKernel) output() *ir.Value { return k.out }
func (k *redKernel) temps() []int64    { return nil }
func (k *redKernel) describe() string {
	return fmt.Sprintf("%s %v over %v", k.op, k.keptDims, k.redDims)
}

// redAxes returns the reduced axes of a Reduce node (the axes input for
// ReduceSum from opset 13, else the attribute; empty means all).
func redAxes(n *ir.Node, opset int64) ([]bool, error) {
	in := mustShape(n.Inputs[0])
	r := int64(len(in))
	var axes []int64
	if n.Op == "ReduceSum" && opset >= 13 || opset >= 18 {
		a, ok := copyConstInts(n.Input(1))
		if !ok {
			return nil, fmt.Errorf("%s axes are not a constant", n.Op)
		}
		axes = a
	} else {
		axes = n.AttrInts("axes", nil)
	}
	if len(axes) == 0 && n.AttrInt("noop_with_empty_axes", 0) != 0 {
		return nil, fmt.Errorf("%s with noop_with_empty_axes is not lowered", n.Op)
	}
	red := make([]bool, r)
	for _, a := range axes {
		a, err := copyNormAxis(a, r)
		if err != nil {
			return nil, err
		}
		red[a] = true
	}
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	return red, nil
}

// newRedKernel reduces the marked axes of v into out.
func newRedKernel(l *lowering, op string, ro redOp, v, out *ir.Value, red []bool) (*redKernel, error) {
	in := mustShape(v)
	st := copyContig(in)
	k := &redKernel{op: op, ro: ro, out: out}
	var err error
	if k.in, err = copySrc(l.c, v); err != nil {
		return nil, err
	}
	for d, r := range red {
		if r {
			k.redDims, k.redSt = append(k.redDims, in[d]), append(k.redSt, st[d])
		} else {
			k.keptDims, k.keptSt = append(k.keptDims, in[d]), append(k.keptSt, st[d])
		}
	}
	return k, nil
}

// redRow reduces n elements (read by load at index i and width w) with
// comb, in vectors then scalars, and returns the scalar result.
func redRow(b *fnb, n int64, L int, init float64, load func(i value.Value, w int) value.Value, comb func(acc, x value.Value) value.Value) value.Value {
	vecEnd := int64(0)
	acc := value.Value(cf(init))
	if L > 1 && n >= int64(L) {
		vecEnd = n / int64(L) * int64(L)
		av := b.forLoop(ci(0), ci(vecEnd), int64(L), []value.Value{constF(init, L)}, func(i value.Value, c []value.Value) []value.Value {
			return []value.Value{comb(c[0], load(i, L))}
		})[0]
		for j := 0; j < L; j++ {
			acc = comb(acc, b.cur.NewExtractElement(av, ci32(int64(j))))
		}
	}
	return b.forLoop(ci(vecEnd), ci(n), 1, []value.Value{acc}, func(i value.Value, c []value.Value) []value.Value {
		return []value.Value{comb(c[0], load(i, 1))}
	})[0]
}

func (k *redKernel) emit(e *segEmitter, _ []int64) error {
	L := e.c.t.Lanes()
	nOut := ir.NumElements(k.keptDims)
	count := ir.NumElements(k.redDims)
	rd, rs := collapseDims(k.redDims, [][]int64{k.redSt})
	b, ctx, begin, end := e.task("_reduce")
	in := e.ptr(b, ctx, k.in)
	out := e.outPtr(b, ctx, k.out)
	ro := k.ro
	comb := func(acc, x value.Value) value.Value {
		switch {
		case ro.max:
			return b.fmax(x, acc)
		case ro.min:
			return b.fmin(x, acc)
		}
		return b.cur.NewFAdd(acc, x)
	}
	mapx := func(x value.Value, w int) value.Value {
		switch {
		case ro.square:
			return b.cur.NewFMul(x, x)
		case ro.abs:
			return b.call1("llvm.fabs", x, w)
		}
		return x
	}
	b.loop(begin, end, 1, func(o value.Value) {
		base := b.gepF(in, b.unravel(o, k.keptDims, k.keptSt))
		var r value.Value
		if len(rd) == 1 && rs[0][0] == 1 {
			r = redRow(b, count, L, ro.init, func(i value.Value, w int) value.Value {
				return mapx(b.load(b.gepF(base, i), w), w)
			}, comb)
		} else {
			r = b.forLoop(ci(0), ci(count), 1, []value.Value{cf(ro.init)}, func(i value.Value, c []value.Value) []value.Value {
				x := b.load(b.gepF(base, b.unravel(i, rd, rs[0])), 1)
				return []value.Value{comb(c[0], mapx(x, 1))}
			})[0]
		}
		if ro.mean {
			r = b.cur.NewFDiv(r, cf(float64(count)))
		}
		if ro.sqrt {
			r = b.call1("llvm.sqrt", r, 1)
		}
		b.store(r, b.gepF(out, o), 1)
	})
	e.launch(b, nOut, float64(nOut*count))
	return nil
}

func init() {
	for op, ro := range redOps {
		registerLowering(op, &opLowering{
			inputs: firstInput,
			check: func(n *ir.Node, opset int64) error {
				_, err := redAxes(n, opset)
				return err
			},
			lower: func(l *lowering, n *ir.Node) (kernel, error) {
				red, err := redAxes(n, l.c.g.Opset(""))
				if err != nil {
					return nil, err
				}
				return newRedKernel(l, n.Op, ro, n.Inputs[0], n.Outputs[0], red)
			},
		})
	}
}
