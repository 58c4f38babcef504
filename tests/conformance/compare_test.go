package conformance

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// ONNX's backend test tolerances (onnx/backend/test/runner).
const (
	confRTol = 1e-3
	confATol = 1e-7
)

// confMaxShown is how many mismatching elements a failure lists.
const confMaxShown = 5

// confValue converts a test value to an interpreter value.
func confValue(tv onnx.TestValue) interp.Value {
	if !tv.Present {
		return nil
	}
	if tv.Tensor != nil {
		return tv.Tensor
	}
	return interp.Sequence{ElemType: confSeqElem(tv.Type, tv.Seq), Tensors: tv.Seq}
}

// confSeqElem finds the element dtype of a (possibly optional) sequence.
func confSeqElem(t ir.Type, seq []*ir.Tensor) ir.DType {
	if len(seq) > 0 {
		return seq[0].DType
	}
	for tt := &t; tt != nil; tt = tt.Elem {
		if tt.Kind == ir.KindTensor {
			return tt.DType
		}
	}
	return ir.Undefined
}

// confCompare compares an interpreter result with the expected test value.
// It returns "" when they match, else a description of the difference.
func confCompare(got interp.Value, want onnx.TestValue) string {
	if !want.Present {
		if got != nil {
			return fmt.Sprintf("got %s, want an empty optional", confDescribe(got))
		}
		return ""
	}
	if want.Tensor != nil {
		gt, ok := got.(*ir.Tensor)
		if !ok || gt == nil {
			return fmt.Sprintf("got %s, want %s", confDescribe(got), want.Tensor)
		}
		return confCompareTensor(gt, want.Tensor)
	}
	var gs []*ir.Tensor
	switch s := got.(type) {
	case interp.Sequence:
		gs = s.Tensors
	case *interp.Sequence:
		if s == nil {
			return fmt.Sprintf("got a nil sequence, want a sequence of %d tensors", len(want.Seq))
		}
		gs = s.Tensors
	default:
		return fmt.Sprintf("got %s, want a sequence of %d tensors", confDescribe(got), len(want.Seq))
	}
	if len(gs) != len(want.Seq) {
		return fmt.Sprintf("got a sequence of %d tensors, want %d", len(gs), len(want.Seq))
	}
	for i := range gs {
		if gs[i] == nil {
			return fmt.Sprintf("sequence element %d: got nil, want %s", i, want.Seq[i])
		}
		if d := confCompareTensor(gs[i], want.Seq[i]); d != "" {
			return fmt.Sprintf("sequence element %d: %s", i, d)
		}
	}
	return ""
}

func confDescribe(v interp.Value) string {
	switch x := v.(type) {
	case nil:
		return "no value (empty optional)"
	case *ir.Tensor:
		if x == nil {
			return "a nil tensor"
		}
		return x.String()
	case interp.Sequence:
		return fmt.Sprintf("a sequence of %d tensors", len(x.Tensors))
	case *interp.Sequence:
		return "a sequence"
	}
	return fmt.Sprintf("a %T", v)
}

// confCompareTensor checks dtype, shape and values.
func confCompareTensor(got, want *ir.Tensor) string {
	g, err := got.Dense()
	if err != nil {
		return fmt.Sprintf("cannot decode the result %s: %v", got, err)
	}
	if g.DType != want.DType {
		return fmt.Sprintf("got dtype %s, want %s (shape got %v, want %v)", g.DType, want.DType, g.Shape, want.Shape)
	}
	if !slices.Equal(g.Shape, want.Shape) {
		return fmt.Sprintf("got shape %v, want %v", g.Shape, want.Shape)
	}
	if n := want.Len(); confDataLen(g) != n {
		return fmt.Sprintf("result %s holds %d elements, want %d", g, confDataLen(g), n)
	}
	var bad []string
	count := 0
	for i := range want.Len() {
		gs, ws, ok := confElemsMatch(g, want, i)
		if ok {
			continue
		}
		count++
		if len(bad) < confMaxShown {
			bad = append(bad, fmt.Sprintf("%v: got %s, want %s", confIndex(want.Shape, i), gs, ws))
		}
	}
	if count == 0 {
		return ""
	}
	tol := "exact"
	if want.DType.IsFloat() {
		tol = fmt.Sprintf("rtol %g, atol %g", confRTol, confATol)
	}
	return fmt.Sprintf("%d of %d elements of %s differ (%s); first: %s", count, want.Len(), want, tol, strings.Join(bad, "; "))
}

// confDataLen is the length of a dense tensor's data slice, -1 if the
// data is not a slice of the dtype's Go type (the one ir.NewTensor makes).
func confDataLen(t *ir.Tensor) int {
	if t.DType == ir.Undefined || t.DType > ir.String || t.Data == nil ||
		reflect.TypeOf(t.Data) != reflect.TypeOf(ir.NewTensor(t.DType).Data) {
		return -1
	}
	return reflect.ValueOf(t.Data).Len()
}

// confElemsMatch compares element i and formats both sides.
func confElemsMatch(got, want *ir.Tensor, i int) (gs, ws string, ok bool) {
	switch {
	case want.DType == ir.String:
		g, w := got.Data.([]string)[i], want.Data.([]string)[i]
		return fmt.Sprintf("%q", g), fmt.Sprintf("%q", w), g == w
	case want.DType.IsFloat():
		g, w := got.Float64At(i), want.Float64At(i)
		return confFloat(g), confFloat(w), confFloatClose(g, w)
	case want.DType == ir.Uint64:
		g, w := got.Data.([]uint64)[i], want.Data.([]uint64)[i]
		return fmt.Sprint(g), fmt.Sprint(w), g == w
	case want.DType == ir.Bool:
		g, w := got.Data.([]bool)[i], want.Data.([]bool)[i]
		return fmt.Sprint(g), fmt.Sprint(w), g == w
	}
	g, w := got.Int64At(i), want.Int64At(i)
	return fmt.Sprint(g), fmt.Sprint(w), g == w
}

func confFloat(v float64) string { return fmt.Sprintf("%.9g", v) }

// confFloatClose is numpy.testing.assert_allclose's test with ONNX's
// tolerances: NaN matches NaN, an infinity only the same infinity.
func confFloatClose(got, want float64) bool {
	switch {
	case math.IsNaN(want) || math.IsNaN(got):
		return math.IsNaN(want) && math.IsNaN(got)
	case math.IsInf(want, 0) || math.IsInf(got, 0):
		return got == want
	}
	return math.Abs(got-want) <= confATol+confRTol*math.Abs(want)
}

// confIndex turns a flat row-major index into a multi-index.
func confIndex(shape []int64, flat int) []int64 {
	idx := make([]int64, len(shape))
	f := int64(flat)
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			idx[d] = f % shape[d]
			f /= shape[d]
		}
	}
	return idx
}
