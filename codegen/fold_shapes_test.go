package codegen_test

import (
	"fmt"
	"testing"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/frontend/onnx"
)

// TestCompileFoldsBoundShapes: once Compile binds the fixture LM's input
// shapes, the export's shape arithmetic (Shape, Range, Slice bounds,
// integer Unsqueeze/Concat of dims) folds away, and what depends on
// run-time values (the position ids' integer Unsqueeze, the rotary
// angles' Sin and Cos) is lowered: the whole decoder is native.
func TestCompileFoldsBoundShapes(t *testing.T) {
	g, err := onnx.LoadFile("../testdata/models/lm-target/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]int64{"input_ids": {1, 8}, "position_ids": {1, 8}}
	for i := 0; i < 4; i++ {
		for _, kv := range []string{"key", "value"} {
			shapes[fmt.Sprintf("past_key_values.%d.%s", i, kv)] = []int64{1, 2, 0, 64}
		}
	}
	res := codegentest.Compile(t, g, codegentest.Host(t), shapes)
	for _, f := range res.Fallback {
		t.Errorf("%s (%s) falls back: %s", f.Node, f.Op, f.Reason)
	}
}
