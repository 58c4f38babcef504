package interp_test

import (
	"testing"

	"github.com/optc-dev/optc/ir"
)

// TestNormHand checks normalization ops on small inputs against values
// computed by hand (in the comments).
func TestNormHand(t *testing.T) {
	// LpNormalization p=1 along axis 1 of [[1,3],[-2,2]]: row sums of |x|
	// are 4 and 4.
	got, err := convRun("LpNormalization", 0, map[string]*ir.Attr{"p": ir.IntAttr(1), "axis": ir.IntAttr(1)}, 1,
		f32([]int64{2, 2}, 1, 3, -2, 2))
	if err != nil {
		t.Fatal(err)
	}
	poolCheck(t, "lpnorm p=1", got[0], []int64{2, 2}, 0.25, 0.75, -0.5, 0.5)
	// p=2 along axis 0 of [[3,0],[4,2]]: column norms 5 and 2.
	got, err = convRun("LpNormalization", 0, map[string]*ir.Attr{"axis": ir.IntAttr(0)}, 1,
		f32([]int64{2, 2}, 3, 0, 4, 2))
	if err != nil {
		t.Fatal(err)
	}
	poolCheck(t, "lpnorm p=2", got[0], []int64{2, 2}, 0.6, 0, 0.8, 1)

	// BatchNormalization at opset 7 with spatial=0: one parameter per
	// channel×position, so with mean 0, var 1, epsilon 0 and B 0 the
	// output is x·scale elementwise.
	ones := f32([]int64{1, 2, 2}, 1, 1, 1, 1)
	got, err = convRun("BatchNormalization", 7, map[string]*ir.Attr{"spatial": ir.IntAttr(0), "epsilon": ir.FloatAttr(0)}, 1,
		ones, f32([]int64{2, 2}, 1, 2, 3, 4), f32([]int64{2, 2}, 0, 0, 0, 0),
		f32([]int64{2, 2}, 0, 0, 0, 0), f32([]int64{2, 2}, 1, 1, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	poolCheck(t, "batchnorm spatial=0", got[0], []int64{1, 2, 2}, 1, 2, 3, 4)

	// LayerNormalization over the last axis of [[1,3]] in f64: mean 2,
	// variance 1, so with epsilon 0, scale 2 and B 1: [-1, 3]; Mean 2,
	// InvStdDev 1.
	x := ir.FromSlice(ir.Float64, []int64{1, 2}, []float64{1, 3})
	got, err = convRun("LayerNormalization", 0, map[string]*ir.Attr{"epsilon": ir.FloatAttr(0)}, 3,
		x, ir.FromSlice(ir.Float64, []int64{1}, []float64{2}), ir.FromSlice(ir.Float64, []int64{2}, []float64{1, 1}))
	if err != nil {
		t.Fatal(err)
	}
	poolCheck(t, "layernorm Y", got[0], []int64{1, 2}, -1, 3)
	poolCheck(t, "layernorm Mean", got[1], []int64{1, 1}, 2)
	poolCheck(t, "layernorm InvStdDev", got[2], []int64{1, 1}, 1)
}

// TestMVNAndLRNHand: MeanVarianceNormalization over axes [1] of
// [[1,3],[2,6]]: rows have mean 2 and 4, standard deviation 1 and 2, so
// [-1, 1, -1, 1]. LRN with an even size 2 over channels [1, 2, 3] (1×3×1)
// sums the channel and the next one (window [c, c+1]): with alpha 2,
// beta 1, bias 1: y = x / (1 + (2/2)·sq) = 1/6, 2/14, 3/10.
func TestMVNAndLRNHand(t *testing.T) {
	got, err := convRun("MeanVarianceNormalization", 0, map[string]*ir.Attr{"axes": ir.IntsAttr(1)}, 1,
		f32([]int64{2, 2}, 1, 3, 2, 6))
	if err != nil {
		t.Fatal(err)
	}
	poolCheck(t, "mvn", got[0], []int64{2, 2}, -1, 1, -1, 1)
	got, err = convRun("LRN", 0, map[string]*ir.Attr{"size": ir.IntAttr(2), "alpha": ir.FloatAttr(2), "beta": ir.FloatAttr(1), "bias": ir.FloatAttr(1)}, 1,
		f32([]int64{1, 3, 1}, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	poolCheck(t, "lrn", got[0], []int64{1, 3, 1}, 1.0/6, 2.0/14, 3.0/10)
}

// TestDropoutTraining checks training-mode Dropout against NumPy:
// np.random.seed(0); np.random.uniform(0, 1, 4) is
// [0.5488135, 0.71518937, 0.60276338, 0.54488318], so with ratio 0.6 the
// mask keeps elements 1 and 2, scaled by 1/(1-0.6) = 2.5.
func TestDropoutTraining(t *testing.T) {
	got, err := convRun("Dropout", 0, map[string]*ir.Attr{"seed": ir.IntAttr(0)}, 2,
		f32([]int64{4}, 1, 1, 1, 1), f32(nil, 0.6), ir.FromSlice(ir.Bool, nil, []bool{true}))
	if err != nil {
		t.Fatal(err)
	}
	poolCheck(t, "dropout output", got[0], []int64{4}, 0, 2.5, 2.5, 0)
	poolCheck(t, "dropout mask", got[1], []int64{4}, 0, 1, 1, 0)
	// Inference: identity and an all-true mask.
	got, err = convRun("Dropout", 0, nil, 2, f32([]int64{2}, 3, 4))
	if err != nil {
		t.Fatal(err)
	}
	poolCheck(t, "dropout inference", got[0], []int64{2}, 3, 4)
	poolCheck(t, "dropout inference mask", got[1], []int64{2}, 1, 1)
}
