package interp_test

import (
	"math"
	"testing"

	"github.com/optc-dev/optc/ir"
)

// Hand-checked activation cases (values worked out in the comments).
func TestActivations(t *testing.T) {
	ln3 := float32(math.Log(3))
	ewCheck(t, []ewCase{
		// HardSwish: x*max(0,min(1,x/6+1/2)): -3 -> 0, 1 -> 2/3, 3 -> 3.
		{name: "hardswish", op: "HardSwish", in: []*ir.Tensor{f32(sh(3), -3, 1, 3)}, want: f32(sh(3), 0, 2.0/3, 3)},
		// Softplus must not overflow: log(1+e^1000) = 1000; log(1+e^0) = ln 2.
		{name: "softplus_large", op: "Softplus", in: []*ir.Tensor{f32(sh(3), 1000, 0, -1000)}, want: f32(sh(3), 1000, float32(math.Ln2), 0)},
		// ThresholdedRelu default alpha 1: x > 1 passes.
		{name: "thresholdedrelu", op: "ThresholdedRelu", in: []*ir.Tensor{f32(sh(3), 1, 1.5, -2)}, want: f32(sh(3), 0, 1.5, 0)},
		// LeakyRelu default alpha 0.01.
		{name: "leakyrelu", op: "LeakyRelu", in: []*ir.Tensor{f32(sh(2), -2, 3)}, want: f32(sh(2), -0.02, 3)},
		// Elu alpha 1: -ln3 -> e^-ln3 - 1 = -2/3.
		{name: "elu", op: "Elu", in: []*ir.Tensor{f32(sh(2), -ln3, 2)}, want: f32(sh(2), -2.0/3, 2)},
		// Celu alpha 2: -2ln3 -> 2*(e^-ln3 - 1) = -4/3.
		{name: "celu", op: "Celu", attrs: map[string]*ir.Attr{"alpha": ir.FloatAttr(2)},
			in: []*ir.Tensor{f32(sh(2), -2*ln3, 2)}, want: f32(sh(2), -4.0/3, 2)},
		// Selu defaults: gamma*x for x > 0, 0 at 0.
		{name: "selu", op: "Selu", in: []*ir.Tensor{f32(sh(2), 2, 0)}, want: f32(sh(2), 2*1.05070102214813232421875, 0)},
		// HardSigmoid defaults alpha 0.2, beta 0.5: -5 -> 0, 0 -> 0.5, 5 -> 1.
		{name: "hardsigmoid", op: "HardSigmoid", in: []*ir.Tensor{f32(sh(3), -5, 0, 5)}, want: f32(sh(3), 0, 0.5, 1)},
		// Softsign: x/(1+|x|): -3 -> -0.75, 1 -> 0.5.
		{name: "softsign", op: "Softsign", in: []*ir.Tensor{f32(sh(2), -3, 1)}, want: f32(sh(2), -0.75, 0.5)},
		// Mish(0) = 0; Mish(ln 3) = ln3 * tanh(ln 4) = ln3 * 15/17.
		{name: "mish", op: "Mish", in: []*ir.Tensor{f32(sh(2), 0, ln3)}, want: f32(sh(2), 0, ln3*15/17)},
		// Shrink on int32 (lambd 1.5, bias 1): -3 -> -2, 1 -> 0, 3 -> 2.
		{name: "shrink_int", op: "Shrink", attrs: map[string]*ir.Attr{"lambd": ir.FloatAttr(1.5), "bias": ir.FloatAttr(1)},
			in:   []*ir.Tensor{ir.FromSlice(ir.Int32, sh(3), []int32{-3, 1, 3})},
			want: ir.FromSlice(ir.Int32, sh(3), []int32{-2, 0, 2})},
		// PRelu: slope broadcasts to x; [2,2] x with slope [2].
		{name: "prelu", op: "PRelu", in: []*ir.Tensor{f32(sh(2, 2), -1, -1, 2, -4), f32(sh(2), 0.5, 0.25)},
			want: f32(sh(2, 2), -0.5, -0.25, 2, -1)},
		{name: "prelu_grows", op: "PRelu", in: []*ir.Tensor{f32(sh(2), -1, 1), f32(sh(2, 2), 1, 1, 1, 1)}, err: "does not broadcast"},
		// Opset 6 per-channel slope [C] on [N,C,W].
		{name: "prelu_legacy_channel", opset: 6, op: "PRelu",
			in:   []*ir.Tensor{f32(sh(1, 2, 2), -1, -2, -1, -2), f32(sh(2), 0.5, 0.25)},
			want: f32(sh(1, 2, 2), -0.5, -1, -0.25, -0.5)},
		{name: "elu_int", op: "Elu", in: []*ir.Tensor{i64(sh(1), 1)}, err: "float"},
	})
}

func TestSoftmaxFamily(t *testing.T) {
	ln3 := float32(math.Log(3))
	x := f32(sh(1, 2, 2), 0, 0, 0, ln3)
	ewCheck(t, []ewCase{
		// Opset 11, axis 1: coerced to [1,4] = [0,0,0,ln3] -> [1,1,1,3]/6.
		{name: "softmax_v11_2d", opset: 11, op: "Softmax", attrs: map[string]*ir.Attr{"axis": ir.IntAttr(1)},
			in: []*ir.Tensor{x}, want: f32(sh(1, 2, 2), 1.0/6, 1.0/6, 1.0/6, 0.5)},
		// Opset 13, axis 1 alone: pairs (0,0) -> 1/2,1/2 and (0,ln3) -> 1/4,3/4.
		{name: "softmax_v13_axis", opset: 13, op: "Softmax", attrs: map[string]*ir.Attr{"axis": ir.IntAttr(1)},
			in: []*ir.Tensor{x}, want: f32(sh(1, 2, 2), 0.5, 0.25, 0.5, 0.75)},
		// Opset 13 default axis -1: rows (0,0) and (0,ln3).
		{name: "logsoftmax_v13_default", opset: 13, op: "LogSoftmax",
			in: []*ir.Tensor{x}, want: f32(sh(1, 2, 2), -float32(math.Ln2), -float32(math.Ln2), float32(math.Log(0.25)), float32(math.Log(0.75)))},
		// Opset 11 default axis 1 on [1,2,2]: one row of 4.
		{name: "hardmax_v11_default", opset: 11, op: "Hardmax", in: []*ir.Tensor{f32(sh(1, 2, 2), 3, 1, 3, 2)},
			want: f32(sh(1, 2, 2), 1, 0, 0, 0)},
		// Ties pick the first maximum.
		{name: "hardmax_ties", op: "Hardmax", in: []*ir.Tensor{f32(sh(2, 3), 1, 3, 3, 5, 5, 0)},
			want: f32(sh(2, 3), 0, 1, 0, 1, 0, 0)},
		// Large inputs are stable: softmax(1000, 1001) = (1, e)/(1+e).
		{name: "softmax_large", op: "Softmax", in: []*ir.Tensor{f32(sh(2), 1000, 1001)},
			want: f32(sh(2), float32(1/(1+math.E)), float32(math.E/(1+math.E)))},
		{name: "softmax_f64", op: "Softmax", in: []*ir.Tensor{ir.FromSlice(ir.Float64, sh(2), []float64{0, math.Log(3)})},
			want: ir.FromSlice(ir.Float64, sh(2), []float64{0.25, 0.75})},
		{name: "softmax_empty", op: "Softmax", in: []*ir.Tensor{f32(sh(2, 0))}, want: f32(sh(2, 0))},
		{name: "softmax_axis_range", op: "Softmax", attrs: map[string]*ir.Attr{"axis": ir.IntAttr(2)}, in: []*ir.Tensor{f32(sh(2), 1, 2)}, err: "out of range"},
	})
}
