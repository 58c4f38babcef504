package interp_test

import (
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// Benchmarks of the data-movement kernels on feature-map sized tensors
// (a 1x96x240x240 activation, as in OCR detection models).

func BenchmarkTranspose(b *testing.B) {
	n := tmNode{op: "Transpose", attrs: map[string]*ir.Attr{"perm": ints(0, 2, 3, 1)}, in: []interp.Value{ir.NewTensor(ir.Float32, 1, 96, 240, 240)}}
	for b.Loop() {
		if _, err := n.run(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSliceChannels(b *testing.B) {
	n := tmNode{op: "Slice", in: []interp.Value{ir.NewTensor(ir.Float32, 1, 96, 240, 240), i64(sh(1), 0), i64(sh(1), 48), i64(sh(1), 1)}}
	for b.Loop() {
		if _, err := n.run(); err != nil {
			b.Fatal(err)
		}
	}
}
