package native_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
)

// Integer-only NUPES (codegen/gemm_nupes_i8.go): the test graphs
// (codegentest.NupesI8Cases) are exact in the interpreter's float32, so
// the native int8 kernels decoding the 4/3/2-bit codes through the int8
// table must match it bit for bit, on the VNNI path and on the pmaddwd
// path of AVX2 (a different table-lookup width) where this CPU runs them.
func TestNativeNupesI8Exact(t *testing.T) {
	decodes := func(k string) error {
		if !strings.Contains(k, "power_int codes") {
			return fmt.Errorf("int8 kernel without the NUPES decode: %s", k)
		}
		return nil
	}
	for _, tg := range i8ExactTargets(t, "x86-64-v3", "x86-64") {
		for _, c := range codegentest.NupesI8Cases() {
			t.Run(tg.CPU+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				want := 1
				if strings.Contains(c.Name, "float") {
					want = 0
				}
				i8ExactBundle(t, tg, c, want, decodes)
			})
		}
	}
}
