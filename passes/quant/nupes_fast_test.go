package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optc-dev/optc/ir"
)

// The exponent step's loss expansion (expQuad/at) equals the layer-output
// error ||(w − ŵ(t)) X||² computed directly from the inputs X token by
// token (not through the Gram matrix), for tables far from and near the
// one it was expanded at.
func TestNUPESExpQuadMatchesDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 3))
	const R, T, bits = 24, 64, 4
	qmax := qmaxOf(bits)
	X := make([][]float64, T)
	gm := newGram(1, R)
	for i := range X {
		X[i] = make([]float64, R)
		for j := range X[i] {
			X[i][j] = r.NormFloat64() + 0.5*float64(j%3)
		}
		gm.add(0, X[i])
	}
	gm.finish(0)
	row := &nupesRow{w: make([]float64, R), s: make([]float64, R), k: make([]int32, R), H: gm.H[0],
		e: make([]float64, R), r: make([]float64, R)}
	for j := 0; j < R; j++ {
		row.w[j] = r.NormFloat64() * 0.3
		row.s[j] = 0.05 + 0.01*float64(j%4) // several scales (groups)
		row.k[j] = int32(r.IntN(int(2*qmax+1))) - qmax
	}
	row.k[0], row.k[1] = 0, -qmax // a zero code and a saturated one
	direct := func(tab []float32) float64 {
		s := 0.0
		for _, x := range X {
			d := 0.0
			for j, k := range row.k {
				v := row.s[j] * float64(tab[max(k, -k)])
				if k < 0 {
					v = -v
				}
				d += (row.w[j] - v) * x[j]
			}
			s += d * d
		}
		return s
	}
	t0 := ir.PowerTable(0.8, qmax)
	xq := row.expQuad(t0)
	if want := direct(t0); math.Abs(xq.l0-want) > 1e-9*want {
		t.Fatalf("loss at the expansion table %v, direct %v", xq.l0, want)
	}
	for _, a := range []float32{0.05, 0.3, 0.79, 0.8, 0.81, 1, 1.6, 2} {
		tab := ir.PowerTable(a, qmax)
		got, want := xq.at(tab), direct(tab)
		if math.Abs(got-want) > 1e-9*want {
			t.Errorf("a=%v: expansion %v, direct %v", a, got, want)
		}
	}
}

// calibFwdNet: two layers reading one activation (fc2, fc3 share h),
// one reading their sum (fc4), and fc1's weight also read by a Gather
// that fc1's input depends on, so quantizing fc1 changes a value computed
// before it (the cache must start over).
func calibFwdNet(seed uint64) (*ir.Graph, []map[string]*ir.Tensor) {
	r := rand.New(rand.NewPCG(seed, 9))
	b := ir.NewBuilder("fwd")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.Shape{ir.Sym("N"), ir.D(8)}))
	w1 := b.Const("w1", ir.FromSlice(ir.Float32, []int64{8, 8}, randWeights(r, 64, 0.4)))
	w2 := b.Const("w2", ir.FromSlice(ir.Float32, []int64{8, 8}, randWeights(r, 64, 0.4)))
	w3 := b.Const("w3", ir.FromSlice(ir.Float32, []int64{8, 8}, randWeights(r, 64, 0.4)))
	w4 := b.Const("w4", ir.FromSlice(ir.Float32, []int64{8, 8}, randWeights(r, 64, 0.4)))
	idx := b.Const("idx", ir.FromSlice(ir.Int64, []int64{}, []int64{2}))
	bias := b.Op1("Gather", map[string]*ir.Attr{"axis": ir.IntAttr(0)}, w1, idx)
	x2 := b.Op1("Add", nil, x, bias)
	h1 := b.Op1("MatMul", nil, x2, w1)
	h1.Def.Name = "fc1"
	h := b.Op1("Relu", nil, h1)
	y2 := b.Op1("MatMul", nil, h, w2)
	y2.Def.Name = "fc2"
	y3 := b.Op1("MatMul", nil, h, w3)
	y3.Def.Name = "fc3"
	s := b.Op1("Add", nil, y2, y3)
	y4 := b.Op1("MatMul", nil, s, w4)
	y4.Def.Name = "fc4"
	b.Output(b.Op1("Add", nil, y4, x2))
	g := b.Graph()
	g.Opsets = map[string]int64{"": 17}
	var calib []map[string]*ir.Tensor
	for i := 0; i < 3; i++ {
		calib = append(calib, map[string]*ir.Tensor{"x": ir.FromSlice(ir.Float32, []int64{32, 8}, randWeights(r, 256, 1))})
	}
	return g, calib
}

// The cached calibration forward pass (calibValues) gives the same
// quantized model as running the whole graph for every layer, with
// shared layer inputs, inserted QDQ pairs, AdaPT fine-tuning and a
// weight read before its layer (which forces a restart).
func TestCalibFwdMatchesFullRuns(t *testing.T) {
	dd := Spec{Scheme: "nupes", Bits: 3, Gran: "channel", Sym: true, Method: "datadriven", Exponent: "channel"}
	act := dd
	act.Act = true
	plans := map[string]Plan{
		"nupes": {"fc1": dd, "fc2": dd, "fc3": dd, "fc4": dd},
		"mixed": {"fc1": Spec{Scheme: "uniform", Bits: 8, Gran: "channel", Sym: true, Act: true}, "fc2": act, "fc3": dd,
			"fc4": Spec{Scheme: "adapt", Gran: "channel"}},
	}
	for name, plan := range plans {
		t.Run(name, func(t *testing.T) {
			var texts [2]string
			restarts := 0
			for i, off := range []bool{true, false} {
				g, calib := calibFwdNet(3)
				opts := DefaultOptions()
				opts.FineTune = 6
				opts.Window = 3
				q := NewQuantizer(g, opts, calib, nil)
				calibFwdOff = off
				qg, _, err := q.Build(plan)
				calibFwdOff = false
				if err != nil {
					t.Fatal(err)
				}
				texts[i] = graphText(t, qg)
				if !off && q.fwd != nil {
					restarts = q.fwd.restarts
				}
			}
			if texts[0] != texts[1] {
				t.Fatalf("cached forward gives a different model:\nfull runs:\n%s\ncached:\n%s", texts[0], texts[1])
			}
			if name == "nupes" && restarts != 1 {
				t.Errorf("%d restarts, want 1 (fc1's weight is read by the Gather computed before it)", restarts)
			}
		})
	}
}
