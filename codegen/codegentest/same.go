package codegentest

import (
	"fmt"

	"github.com/optc-dev/optc/ir"
)

// Same compares an output of any dtype: float tensors with Close's
// tolerance, integer and bool tensors exactly.
func Same(got, want *ir.Tensor, atol, rtol float64) error {
	if want.DType.IsFloat() {
		return Close(got, want, atol, rtol)
	}
	if got.DType != want.DType || fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Errorf("%s%v, want %s%v", got.DType, got.Shape, want.DType, want.Shape)
	}
	for i := 0; i < want.Len(); i++ {
		if got.Int64At(i) != want.Int64At(i) {
			return fmt.Errorf("element %d: got %d, want %d", i, got.Int64At(i), want.Int64At(i))
		}
	}
	return nil
}
