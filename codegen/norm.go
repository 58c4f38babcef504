package codegen

import (
	"fmt"

	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// normLNKernel is LayerNormalization over the trailing axes from axis:
// per row, the mean, the variance E[(x-mean)²], then
// y = (x-mean)·(1/sqrt(var+eps))·scale + bias, each pass in vectors.
type normLNKernel struct {
	in, out     *ir.Value
	scale, bias buf
	hasBias     bool
	rows, len   int64
	eps         float64
}

// normLNRows checks a LayerNormalization node and returns its rows and row
// length.
func normLNRows(n *ir.Node) (rows, length int64, err error) {
	s := mustShape(n.Inputs[0])
	r := int64(len(s))
	axis, err := copyNormAxis(n.AttrInt("axis", -1), r)
	if err != nil {
		return 0, 0, err
	}
	rows, length = ir.NumElements(s[:axis]), ir.NumElements(s[axis:])
	for i := 1; i <= 2; i++ {
		v := n.Input(i)
		if v == nil {
			if i == 1 {
				return 0, 0, fmt.Errorf("LayerNormalization without scale")
			}
			continue
		}
		vs, ok := concreteShape(v)
		if !ok || ir.NumElements(vs) != length || int64(len(vs)) > r-axis {
			return 0, 0, fmt.Errorf("LayerNormalization input %d of shape %v is not the normalized shape %v", i, vs, s[axis:])
		}
	}
	return rows, length, nil
}

func newNormLNKernel(l *lowering, n *ir.Node) (*normLNKernel, error) {
	rows, length, err := normLNRows(n)
	if err != nil {
		return nil, err
	}
	k := &normLNKernel{in: n.Inputs[0], out: n.Outputs[0], rows: rows, len: length, eps: float64(n.AttrFloat("epsilon", 1e-5))}
	if k.scale, err = copySrc(l.c, n.Inputs[1]); err != nil {
		return nil, err
	}
	if bv := n.Input(2); bv != nil {
		k.hasBias = true
		if k.bias, err = copySrc(l.c, bv); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func (k *normLNKernel) inputs() []buf {
	bs := []buf{{v: k.in}, k.scale}
	if k.hasBias {
		bs = append(bs, k.bias)
	}
	return bs
}
func (k *normLNKernel) output() *ir.Value { return k.out }
func (k *normLNKernel) temps() []int64    { return nil }
func (k *normLNKernel) describe() string {
	return fmt.Sprintf("layernorm %d rows of %d", k.rows, k.len)
}

func (k *normLNKernel) emit(e *segEmitter, _ []int64) error {
	L := e.c.t.Lanes()
	b, ctx, begin, end := e.task("_layernorm")
	in := e.ptr(b, ctx, buf{v: k.in})
	out := e.outPtr(b, ctx, k.out)
	scale := e.ptr(b, ctx, k.scale)
	var bias value.Value
	if k.hasBias {
		bias = e.ptr(b, ctx, k.bias)
	}
	add := func(a, x value.Value) value.Value { return b.cur.NewFAdd(a, x) }
	invN := cf(1 / float64(k.len))
	b.loop(begin, end, 1, func(row value.Value) {
		x := b.gepF(in, b.mul(row, ci(k.len)))
		y := b.gepF(out, b.mul(row, ci(k.len)))
		mean := b.cur.NewFMul(redRow(b, k.len, L, 0, func(i value.Value, w int) value.Value {
			return b.load(b.gepF(x, i), w)
		}, add), invN)
		meanV := b.splat(mean, L)
		at := func(s value.Value, w int) value.Value {
			if w == 1 {
				return s
			}
			return meanV
		}
		vr := b.cur.NewFMul(redRow(b, k.len, L, 0, func(i value.Value, w int) value.Value {
			d := b.cur.NewFSub(b.load(b.gepF(x, i), w), at(mean, w))
			return b.cur.NewFMul(d, d)
		}, add), invN)
		inv := b.cur.NewFDiv(cf(1), b.call1("llvm.sqrt", b.cur.NewFAdd(vr, cf(k.eps)), 1))
		invV := b.splat(inv, L)
		body := func(i value.Value, w int) {
			var iw value.Value = inv
			if w > 1 {
				iw = invV
			}
			d := b.cur.NewFMul(b.cur.NewFSub(b.load(b.gepF(x, i), w), at(mean, w)), iw)
			var r value.Value = b.cur.NewFMul(d, b.load(b.gepF(scale, i), w))
			if bias != nil {
				r = b.cur.NewFAdd(r, b.load(b.gepF(bias, i), w))
			}
			b.store(r, b.gepF(y, i), w)
		}
		vecEnd := int64(0)
		if L > 1 && k.len >= int64(L) {
			vecEnd = k.len / int64(L) * int64(L)
			b.loop(ci(0), ci(vecEnd), int64(L), func(i value.Value) { body(i, L) })
		}
		b.loop(ci(vecEnd), ci(k.len), 1, func(i value.Value) { body(i, 1) })
	})
	e.launch(b, k.rows, float64(k.rows*k.len)*8)
	return nil
}

func init() {
	registerLowering("LayerNormalization", &opLowering{
		check: func(n *ir.Node, _ int64) error {
			_, _, err := normLNRows(n)
			return err
		},
		lower: func(l *lowering, n *ir.Node) (kernel, error) { return newNormLNKernel(l, n) },
	})
}
