package codegen

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"

	"github.com/optc-dev/optc/ir"
)

// Typed elementwise ops: Cast (between f32, f64, the 8- to 64-bit
// integers and bool), Where (bool condition, any of those element types)
// and integer Add, Sub, Mul, Div, Max, Min, Neg, Abs (ew.go's fused
// kernels compute on f32 only; these nodes reach this file through
// registerAltLowering). One scalar loop per node over the output, rows
// of the innermost dim, operands broadcast by strides; scalar constants
// are inlined, other constants stored as bytes.
//
// The semantics are the interpreter's: integer arithmetic wraps, Div
// truncates toward zero (x / −1 is −x, wrapping); a zero divisor makes
// the entry return StatusDivZero instead of trapping. Float to integer
// casts truncate, NaN gives 0, values beyond the int64 range saturate
// (uint64 keeps its range), then wrap to the target width.

// StatusDivZero: an integer Div had a zero divisor.
const StatusDivZero = 4

// ewiType is the LLVM type of a dtype's elements and whether it is
// unsigned (bool counts as unsigned 0/1); ok is false for the rest.
func ewiType(d ir.DType) (t types.Type, unsigned, ok bool) {
	switch d {
	case ir.Float32:
		return types.Float, false, true
	case ir.Float64:
		return types.Double, false, true
	case ir.Int8:
		return types.I8, false, true
	case ir.Int16:
		return types.I16, false, true
	case ir.Int32:
		return types.I32, false, true
	case ir.Int64:
		return types.I64, false, true
	case ir.Uint8, ir.Bool:
		return types.I8, true, true
	case ir.Uint16:
		return types.I16, true, true
	case ir.Uint32:
		return types.I32, true, true
	case ir.Uint64:
		return types.I64, true, true
	}
	return nil, false, false
}

func ewiIsInt(d ir.DType) bool {
	t, _, ok := ewiType(d)
	return ok && d != ir.Bool && !types.IsFloat(t)
}

// ewiArith are the integer ops taken from ew.go's f32 lowering, with
// their input counts.
var ewiArith = map[string]int{"Add": 2, "Sub": 2, "Mul": 2, "Div": 2, "Max": 2, "Min": 2, "Neg": 1, "Abs": 1}

// ewiCheck returns why n cannot be lowered here, or nil.
func ewiCheck(n *ir.Node, _ int64) error {
	want := map[string]int{"Cast": 1, "Where": 3}[n.Op]
	if want == 0 {
		want = ewiArith[n.Op]
	}
	if len(n.Inputs) != want || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return fmt.Errorf("%s with %d inputs and %d outputs", n.Op, len(n.Inputs), len(n.Outputs))
	}
	out := n.Outputs[0]
	vals := append([]*ir.Value{out}, n.Inputs...)
	for _, v := range vals {
		if v == nil || v.Type.Kind != ir.KindTensor {
			return fmt.Errorf("%s operand is not a tensor", n.Op)
		}
		if _, _, ok := ewiType(v.Type.DType); !ok {
			return fmt.Errorf("%s of %s is not lowered", n.Op, v.Type.DType)
		}
		s, ok := concreteShape(v)
		if !ok {
			return fmt.Errorf("value %q has no static shape (%s)", v.Name, v.Type)
		}
		if len(s) > len(mustShape(out)) {
			return fmt.Errorf("input %q does not broadcast to the output", v.Name)
		}
	}
	switch n.Op {
	case "Cast":
	case "Where":
		if n.Inputs[0].Type.DType != ir.Bool || n.Inputs[1].Type.DType != out.Type.DType || n.Inputs[2].Type.DType != out.Type.DType {
			return fmt.Errorf("Where of %s, %s, %s", n.Inputs[0].Type.DType, n.Inputs[1].Type.DType, n.Inputs[2].Type.DType)
		}
	default:
		for _, v := range n.Inputs {
			if v.Type.DType != out.Type.DType || !ewiIsInt(v.Type.DType) {
				return fmt.Errorf("%s of %s (integer operands of the output's type are lowered here)", n.Op, v.Type.DType)
			}
		}
	}
	return nil
}

type ewiKernel struct {
	node string
	op   string
	out  *ir.Value
	ins  []*ir.Value
	bufs []*buf // nil: an inlined scalar constant
}

func newEWIKernel(l *lowering, n *ir.Node) (kernel, error) {
	k := &ewiKernel{node: nodeName(n), op: n.Op, out: n.Outputs[0], ins: n.Inputs}
	for _, v := range n.Inputs {
		switch {
		case v.Const == nil:
			k.bufs = append(k.bufs, &buf{v: v})
		case v.Const.IsDense() && v.Const.Len() == 1:
			k.bufs = append(k.bufs, nil)
		default:
			w, err := ewiConstWeight(l.c, v)
			if err != nil {
				return nil, err
			}
			k.bufs = append(k.bufs, &buf{w: w})
		}
	}
	return k, nil
}

// ewiConstWeight stores a constant's elements as little-endian bytes.
func ewiConstWeight(c *compiler, v *ir.Value) (*Weight, error) {
	t, ok := ir.ConstValue(v)
	if !ok || !t.IsDense() {
		return nil, fmt.Errorf("constant %q is not dense", v.Name)
	}
	raw, err := ewiBytes(t)
	if err != nil {
		return nil, fmt.Errorf("constant %q: %w", v.Name, err)
	}
	return c.rawWeight(v, "bytes", "U8", []int64{int64(len(raw))}, raw), nil
}

func ewiBytes(t *ir.Tensor) ([]byte, error) {
	b := make([]byte, 0, 8*t.Len())
	for i := 0; i < t.Len(); i++ {
		switch t.DType {
		case ir.Float32:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(t.Float64At(i))))
		case ir.Float64:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(t.Float64At(i)))
		case ir.Int8, ir.Uint8, ir.Bool:
			b = append(b, byte(t.Int64At(i)))
		case ir.Int16, ir.Uint16:
			b = binary.LittleEndian.AppendUint16(b, uint16(t.Int64At(i)))
		case ir.Int32, ir.Uint32:
			b = binary.LittleEndian.AppendUint32(b, uint32(t.Int64At(i)))
		case ir.Int64, ir.Uint64:
			b = binary.LittleEndian.AppendUint64(b, uint64(t.Int64At(i)))
		default:
			return nil, fmt.Errorf("%s elements are not lowered", t.DType)
		}
	}
	return b, nil
}

// ewiConst is the scalar constant v as an LLVM constant of its type.
func ewiConst(v *ir.Value) value.Value {
	t, _ := ir.ConstValue(v)
	lt, _, _ := ewiType(v.Type.DType)
	if ft, ok := lt.(*types.FloatType); ok {
		return constant.NewFloat(ft, t.Float64At(0))
	}
	it := lt.(*types.IntType)
	if v.Type.DType == ir.Uint64 {
		return constant.NewInt(it, int64(uint64(t.Int64At(0))))
	}
	return constant.NewInt(it, t.Int64At(0))
}

func (k *ewiKernel) inputs() []buf {
	var bs []buf
	for _, b := range k.bufs {
		if b != nil {
			bs = append(bs, *b)
		}
	}
	return bs
}
func (k *ewiKernel) output() *ir.Value { return k.out }
func (k *ewiKernel) temps() []int64 {
	if k.op == "Div" {
		return []int64{planAlign}
	}
	return nil
}
func (k *ewiKernel) describe() string {
	return fmt.Sprintf("%s %s -> %s %v %s", k.op, k.ins[0].Type.DType, k.out.Type.DType, mustShape(k.out), k.node)
}

func (k *ewiKernel) emit(e *segEmitter, temps []int64) error {
	os := mustShape(k.out)
	if len(os) == 0 {
		os = []int64{1}
	}
	r := len(os)
	inner := os[r-1]
	rows := ir.NumElements(os[:r-1])
	ot, _, _ := ewiType(k.out.Type.DType)
	var flag value.Value
	if k.op == "Div" {
		gatherFlagReset(e, temps[0])
	}
	b, ctx, begin, end := e.task("_ewi")
	if k.op == "Div" {
		flag = b.cur.NewBitCast(e.tempPtr(b, ctx, temps[0]), types.NewPointer(types.I32))
	}
	dst := b.cur.NewBitCast(e.outPtr(b, ctx, k.out), types.NewPointer(ot))
	type operand struct {
		t      types.Type
		p      value.Value // nil: konst
		konst  value.Value
		st     []int64
		innerS int64
	}
	ops := make([]operand, len(k.ins))
	for i, v := range k.ins {
		lt, _, _ := ewiType(v.Type.DType)
		o := operand{t: lt}
		if k.bufs[i] == nil {
			o.konst = ewiConst(v)
		} else {
			o.p = b.cur.NewBitCast(e.ptr(b, ctx, *k.bufs[i]), types.NewPointer(lt))
			o.st = bcastStrides(mustShape(v), os)
			if len(mustShape(v)) == 0 {
				o.st = make([]int64, r)
			}
			o.innerS = o.st[r-1]
		}
		ops[i] = o
	}
	b.loop(begin, end, 1, func(row value.Value) {
		bases := make([]value.Value, len(ops))
		for i, o := range ops {
			if o.p != nil {
				bases[i] = b.unravel(row, os[:r-1], o.st[:r-1])
			}
		}
		b.loop(ci(0), ci(inner), 1, func(j value.Value) {
			args := make([]value.Value, len(ops))
			for i, o := range ops {
				if o.p == nil {
					args[i] = o.konst
					continue
				}
				off := b.add(bases[i], b.mul(j, ci(o.innerS)))
				args[i] = b.cur.NewLoad(o.t, b.gep(o.t, o.p, off))
			}
			y := k.compute(b, args, flag)
			b.cur.NewStore(y, b.gep(ot, dst, b.add(b.mul(row, ci(inner)), j)))
		})
	})
	e.launch(b, rows, float64(rows*inner))
	if k.op == "Div" {
		gatherFlagReturn(e, temps[0], StatusDivZero)
	}
	return nil
}

// compute is the op on one element's operands.
func (k *ewiKernel) compute(b *fnb, x []value.Value, flag value.Value) value.Value {
	c := b.cur
	dt := k.out.Type.DType
	_, unsigned, _ := ewiType(dt)
	switch k.op {
	case "Cast":
		return ewiCast(b, x[0], k.ins[0].Type.DType, dt)
	case "Where":
		return c.NewSelect(c.NewICmp(enum.IPredNE, x[0], constant.NewInt(types.I8, 0)), x[1], x[2])
	case "Add":
		return c.NewAdd(x[0], x[1])
	case "Sub":
		return c.NewSub(x[0], x[1])
	case "Mul":
		return c.NewMul(x[0], x[1])
	case "Neg":
		return c.NewSub(constant.NewInt(x[0].Type().(*types.IntType), 0), x[0])
	case "Abs":
		if unsigned {
			return x[0]
		}
		zero := constant.NewInt(x[0].Type().(*types.IntType), 0)
		return c.NewSelect(c.NewICmp(enum.IPredSLT, x[0], zero), c.NewSub(zero, x[0]), x[0])
	case "Max", "Min":
		pred := map[bool]enum.IPred{false: enum.IPredSGT, true: enum.IPredUGT}[unsigned]
		gt := c.NewICmp(pred, x[0], x[1])
		if k.op == "Max" {
			return c.NewSelect(gt, x[0], x[1])
		}
		return c.NewSelect(gt, x[1], x[0])
	}
	// Div: a zero divisor sets the flag (and divides by 1); x / −1 is the
	// wrapping negation (sdiv would trap on the minimum value).
	it := x[0].Type().(*types.IntType)
	zero, one := constant.NewInt(it, 0), constant.NewInt(it, 1)
	isZero := c.NewICmp(enum.IPredEQ, x[1], zero)
	b.ifThen(isZero, func() { gatherFlagSet(b, flag) })
	c = b.cur
	d := c.NewSelect(isZero, one, x[1])
	if unsigned {
		return c.NewUDiv(x[0], d)
	}
	isM1 := c.NewICmp(enum.IPredEQ, d, constant.NewInt(it, -1))
	d = c.NewSelect(isM1, one, d)
	q := c.NewSDiv(x[0], d)
	return c.NewSelect(isM1, c.NewSub(zero, x[0]), q)
}

// ewiCast converts x from dtype from to dtype to (the interpreter's Cast).
func ewiCast(b *fnb, x value.Value, from, to ir.DType) value.Value {
	c := b.cur
	ft, fu, _ := ewiType(from)
	tt, _, _ := ewiType(to)
	if from == to {
		return x
	}
	fFloat, tFloat := types.IsFloat(ft), types.IsFloat(tt)
	switch {
	case to == ir.Bool:
		if fFloat {
			return c.NewZExt(c.NewFCmp(enum.FPredUNE, x, constant.NewFloat(ft.(*types.FloatType), 0)), types.I8)
		}
		return c.NewZExt(c.NewICmp(enum.IPredNE, x, constant.NewInt(ft.(*types.IntType), 0)), types.I8)
	case fFloat && tFloat:
		if to == ir.Float64 {
			return c.NewFPExt(x, tt)
		}
		return c.NewFPTrunc(x, tt)
	case !fFloat && tFloat:
		if fu {
			return c.NewUIToFP(x, tt)
		}
		return c.NewSIToFP(x, tt)
	case fFloat && !tFloat:
		// Through float64 and int64: NaN → 0, saturate beyond int64
		// (uint64 keeps [2^63, 2^64)), truncate toward zero, wrap.
		v := value.Value(x)
		if from == ir.Float32 {
			v = c.NewFPExt(x, types.Double)
		}
		d := func(f float64) value.Value { return constant.NewFloat(types.Double, f) }
		i := value.Value(c.NewFPToSI(v, types.I64))
		i = c.NewSelect(c.NewFCmp(enum.FPredOGE, v, d(math.Ldexp(1, 63))), ci(math.MaxInt64), i)
		i = c.NewSelect(c.NewFCmp(enum.FPredOLT, v, d(-math.Ldexp(1, 63))), ci(math.MinInt64), i)
		if to == ir.Uint64 {
			big := c.NewAnd(c.NewFCmp(enum.FPredOGE, v, d(math.Ldexp(1, 63))), c.NewFCmp(enum.FPredOLT, v, d(math.Ldexp(1, 64))))
			i = c.NewSelect(big, c.NewFPToUI(v, types.I64), i)
		}
		i = c.NewSelect(c.NewFCmp(enum.FPredUNO, v, v), ci(0), i)
		if tt.(*types.IntType).BitSize < 64 {
			return c.NewTrunc(i, tt)
		}
		return i
	}
	// Integer to integer: extend by the source's signedness, or truncate.
	fb, tb := ft.(*types.IntType).BitSize, tt.(*types.IntType).BitSize
	switch {
	case fb == tb:
		return x
	case fb > tb:
		return c.NewTrunc(x, tt)
	case fu:
		return c.NewZExt(x, tt)
	}
	return c.NewSExt(x, tt)
}

func init() {
	lw := &opLowering{ownTypes: true, check: ewiCheck, lower: newEWIKernel}
	registerLowering("Cast", lw)
	registerLowering("Where", lw)
	for op := range ewiArith {
		registerAltLowering(op, func(n *ir.Node) bool {
			return len(n.Inputs) > 0 && n.Inputs[0] != nil && ewiIsInt(n.Inputs[0].Type.DType)
		}, lw)
	}
}
