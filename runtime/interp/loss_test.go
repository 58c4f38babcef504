package interp

import (
	"math"
	"testing"

	"github.com/optc-dev/optc/ir"
)

func TestNegativeLogLikelihoodLoss(t *testing.T) {
	// loss[n] = -x[n, target[n]]·w[target[n]]: targets 2 and 0 give
	// 3·3 = 9 and 4·1 = 4; the weighted mean divides by 3+1.
	x := laF32(laShape(2, 3), -1, -2, -3, -4, -5, -6)
	target := laI64(laShape(2), 2, 0)
	w := laF32(laShape(3), 1, 2, 3)
	red := func(r string, ii ...int64) map[string]*ir.Attr {
		m := map[string]*ir.Attr{"reduction": ir.StringAttr(r)}
		if len(ii) > 0 {
			m["ignore_index"] = ir.IntAttr(ii[0])
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		attrs map[string]*ir.Attr
		w     *ir.Tensor
		shape []int64
		want  []float64
	}{
		{"none", red("none"), w, laShape(2), []float64{9, 4}},
		{"sum", red("sum"), w, laShape(), []float64{13}},
		{"mean", red("mean"), w, laShape(), []float64{3.25}},
		{"default mean", nil, nil, laShape(), []float64{3.5}},
		{"ignore none", red("none", 0), w, laShape(2), []float64{9, 0}},
		{"ignore mean", red("mean", 0), w, laShape(), []float64{3}},
	} {
		y := laMust(t, 13, "NegativeLogLikelihoodLoss", tc.attrs, 1, x, target, tc.w)[0]
		laCheck(t, tc.name, y, ir.Float32, tc.shape, tc.want, 1e-7)
	}
	// Spatial dims: x[0, c, d] with class 0 = [-1, -2], class 1 = [-3, -4].
	xd := laF64(laShape(1, 2, 2), -1, -2, -3, -4)
	y := laMust(t, 13, "NegativeLogLikelihoodLoss", red("none"), 1, xd, laI32(laShape(1, 2), 1, 0))[0]
	laCheck(t, "spatial", y, ir.Float64, laShape(1, 2), []float64{3, 2}, 0)
	if _, err := laRunOp(13, "NegativeLogLikelihoodLoss", nil, 1, x, laI64(laShape(2), 3, 0)); err == nil {
		t.Fatal("a target outside [0, C) must be rejected")
	}
}

func TestSoftmaxCrossEntropyLoss(t *testing.T) {
	// Row 0 scores [0, 0]: log-softmax [-ln 2, -ln 2]. Row 1 [0, ln 3]:
	// softmax [1/4, 3/4]. Labels 0 and 1 give losses ln 2 and ln 4/3.
	x := laF64(laShape(2, 2), 0, 0, 0, math.Log(3))
	labels := laI64(laShape(2), 0, 1)
	out := laMust(t, 13, "SoftmaxCrossEntropyLoss", map[string]*ir.Attr{"reduction": ir.StringAttr("none")}, 2, x, labels)
	laCheck(t, "loss", out[0], ir.Float64, laShape(2), []float64{math.Ln2, math.Log(4.0 / 3)}, 1e-12)
	laCheck(t, "log_prob", out[1], ir.Float64, laShape(2, 2), []float64{-math.Ln2, -math.Ln2, -math.Log(4), math.Log(0.75)}, 1e-12)
	y := laMust(t, 13, "SoftmaxCrossEntropyLoss", nil, 1, x, labels)[0]
	laCheck(t, "mean", y, ir.Float64, laShape(), []float64{(math.Ln2 + math.Log(4.0/3)) / 2}, 1e-12)
	// Weights [1, 3]: weighted mean (ln 2 + 3 ln 4/3) / 4.
	y = laMust(t, 13, "SoftmaxCrossEntropyLoss", nil, 1, x, labels, laF64(laShape(2), 1, 3))[0]
	laCheck(t, "weighted", y, ir.Float64, laShape(), []float64{(math.Ln2 + 3*math.Log(4.0/3)) / 4}, 1e-12)
}
