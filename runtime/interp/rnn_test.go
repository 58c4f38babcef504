package interp_test

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/optc-dev/optc/ir"
)

// The recurrent kernels are checked against the conformance suite (see
// TestRecurrentConformance), a hand-calculated case, and a naive float64
// reference written here straight from the ONNX equations: one batch row
// and one time step at a time, explicit dot products, no folded biases,
// no layout transposes. It covers what the suite does not: reverse and
// bidirectional directions, sequence_lens, initial states, peepholes,
// clip, input_forget, linear_before_reset, every activation function with
// alpha/beta, layout 1, Y_c, float64 and float16.

func TestRNNHand(t *testing.T) {
	// hidden = input = 1, W = 2, R = 0.5, Wb = 1, Rb = 0, Relu,
	// X = 1, -1, 3 (batch 1).
	// forward: h1 = relu(2 + 0 + 1) = 3; h2 = relu(-2 + 1.5 + 1) = 0.5;
	//          h3 = relu(6 + 0.25 + 1) = 7.25.
	// reverse: h(t=2) = relu(6 + 1) = 7; h(t=1) = relu(-2 + 3.5 + 1) = 2.5;
	//          h(t=0) = relu(2 + 1.25 + 1) = 4.25.
	x := f32([]int64{3, 1, 1}, 1, -1, 3)
	w := f32([]int64{1, 1, 1}, 2)
	r := f32([]int64{1, 1, 1}, 0.5)
	b := f32([]int64{1, 2}, 1, 0)
	for _, tc := range []struct {
		dir   string
		y, yh []float64
	}{
		{"forward", []float64{3, 0.5, 7.25}, []float64{7.25}},
		{"reverse", []float64{4.25, 2.5, 7}, []float64{4.25}},
	} {
		attrs := map[string]*ir.Attr{
			"hidden_size": ir.IntAttr(1), "direction": ir.StringAttr(tc.dir),
			"activations": {Kind: ir.AttrStrings, Strings: []string{"Relu"}},
		}
		out, err := resampleNode(t, "RNN", 14, attrs, []*ir.Tensor{x, w, r, b}, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		resampleExpect(t, tc.dir+" Y", out[0], []int64{3, 1, 1, 1}, tc.y, 1e-6)
		resampleExpect(t, tc.dir+" Y_h", out[1], []int64{1, 1, 1}, tc.yh, 1e-6)
	}
}

// rnnRefCase is one configuration of the reference comparison.
type rnnRefCase struct {
	name                 string
	op                   string // RNN, GRU, LSTM
	dir                  string
	T, B, I, H           int
	bias, initH, initC   bool
	peep                 bool
	lens                 []int32
	clip                 float32
	inputForget, lbr     bool
	acts                 []string
	alphas, betas        []float32
	layout               int
	dtype                ir.DType // Float32 (default), Float64 or Float16
	tol                  float64
	opset                int64
	omitY, omitYh, omitC bool
}

func TestRNNReference(t *testing.T) {
	cases := []rnnRefCase{
		{name: "rnn_forward_bias", op: "RNN", dir: "forward", T: 3, B: 2, I: 2, H: 3, bias: true},
		{name: "rnn_reverse_relu", op: "RNN", dir: "reverse", T: 4, B: 1, I: 3, H: 2, bias: true, initH: true, acts: []string{"Relu"}},
		{name: "rnn_bidi_lens_acts", op: "RNN", dir: "bidirectional", T: 3, B: 2, I: 2, H: 3, bias: true, initH: true,
			lens: []int32{3, 1}, acts: []string{"LeakyRelu", "HardSigmoid"}, alphas: []float32{0.2, 0.3}, betas: []float32{0.4}},
		{name: "rnn_opset7", op: "RNN", dir: "bidirectional", T: 2, B: 2, I: 3, H: 2, bias: true, opset: 7,
			acts: []string{"softsign"}},
		{name: "gru_lbr", op: "GRU", dir: "forward", T: 3, B: 2, I: 3, H: 4, bias: true, initH: true, lbr: true},
		{name: "gru_bidi_lens_clip", op: "GRU", dir: "bidirectional", T: 3, B: 3, I: 2, H: 3, bias: true, initH: true, lens: []int32{2, 3, 0}, clip: 0.5},
		{name: "gru_reverse_layout1_acts", op: "GRU", dir: "reverse", T: 3, B: 2, I: 2, H: 3, bias: true, initH: true, layout: 1,
			acts: []string{"Softsign", "Elu"}},
		{name: "gru_bidi_lbr_layout1", op: "GRU", dir: "bidirectional", T: 2, B: 3, I: 2, H: 2, bias: true, initH: true, lbr: true, layout: 1,
			lens: []int32{1, 2, 2}},
		{name: "lstm_bidi_peep_lens", op: "LSTM", dir: "bidirectional", T: 3, B: 3, I: 2, H: 3, bias: true, initH: true, initC: true,
			peep: true, lens: []int32{3, 0, 1}},
		{name: "lstm_forget_clip_acts", op: "LSTM", dir: "forward", T: 3, B: 2, I: 2, H: 2, bias: true, inputForget: true, clip: 0.3,
			acts:   []string{"HardSigmoid", "ScaledTanh", "Affine"},
			alphas: []float32{0.25, 1.5, 0.5}, betas: []float32{0.5, 0.5, 0.1}},
		{name: "lstm_more_acts", op: "LSTM", dir: "reverse", T: 2, B: 2, I: 3, H: 2, bias: true, peep: true,
			acts: []string{"Sigmoid", "Softplus", "ThresholdedRelu"}, alphas: []float32{0.1}},
		{name: "lstm_layout1_all_outputs", op: "LSTM", dir: "bidirectional", T: 3, B: 2, I: 2, H: 3, bias: true, initH: true, initC: true,
			layout: 1, lens: []int32{2, 3}},
		{name: "lstm_only_yc", op: "LSTM", dir: "forward", T: 2, B: 1, I: 2, H: 2, omitY: true, omitYh: true},
		{name: "lstm_f64", op: "LSTM", dir: "forward", T: 3, B: 2, I: 2, H: 3, bias: true, peep: true, initC: true, dtype: ir.Float64, tol: 1e-12},
		{name: "gru_f16", op: "GRU", dir: "forward", T: 2, B: 2, I: 2, H: 3, bias: true, dtype: ir.Float16, tol: 5e-3},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { rnnCheckReference(t, tc, int64(i)) })
	}
}

// rnnGates is the number of gates of each op.
var rnnGates = map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}

func rnnCheckReference(t *testing.T, tc rnnRefCase, seed int64) {
	if tc.dtype == ir.Undefined {
		tc.dtype = ir.Float32
	}
	if tc.tol == 0 {
		tc.tol = 2e-5
	}
	if tc.opset == 0 {
		tc.opset = 14
	}
	D := 1
	if tc.dir == "bidirectional" {
		D = 2
	}
	G := rnnGates[tc.op]
	rng := rand.New(rand.NewSource(seed + 1))
	rnd := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.Float64()*2 - 1
			if tc.dtype == ir.Float32 {
				v[i] = float64(float32(v[i]))
			} else if tc.dtype == ir.Float16 {
				v[i] = float64(ir.F16ToF32(ir.F32ToF16(float32(v[i]))))
			}
		}
		return v
	}
	in := rnnRefInputs{
		X: rnd(tc.T * tc.B * tc.I), W: rnd(D * G * tc.H * tc.I), R: rnd(D * G * tc.H * tc.H),
	}
	if tc.bias {
		in.Bias = rnd(D * 2 * G * tc.H)
	}
	if tc.initH {
		in.H0 = rnd(D * tc.B * tc.H)
	}
	if tc.initC {
		in.C0 = rnd(D * tc.B * tc.H)
	}
	if tc.peep {
		in.P = rnd(D * 3 * tc.H)
	}
	y, yh, yc := rnnReference(tc, D, in)

	// The node's inputs, in the requested layout and dtype.
	tensor := func(shape []int64, v []float64) *ir.Tensor {
		if v == nil {
			return nil
		}
		x := ir.NewTensor(tc.dtype, shape...)
		for i, f := range v {
			x.SetFloat64(i, f)
		}
		return x
	}
	T, B, I, H := int64(tc.T), int64(tc.B), int64(tc.I), int64(tc.H)
	xs, hs := []int64{T, B, I}, []int64{int64(D), B, H}
	xv, h0, c0 := in.X, in.H0, in.C0
	if tc.layout == 1 {
		xs, hs = []int64{B, T, I}, []int64{B, int64(D), H}
		xv = rnnSwap01(xv, tc.T, tc.B, tc.I)
		h0 = rnnSwap01(h0, D, tc.B, tc.H)
		c0 = rnnSwap01(c0, D, tc.B, tc.H)
	}
	inputs := []*ir.Tensor{
		tensor(xs, xv), tensor([]int64{int64(D), int64(G) * H, I}, in.W), tensor([]int64{int64(D), int64(G) * H, H}, in.R),
		tensor([]int64{int64(D), int64(2*G) * H}, in.Bias), nil, tensor(hs, h0),
	}
	if tc.lens != nil {
		inputs[4] = ir.FromSlice(ir.Int32, []int64{B}, append([]int32{}, tc.lens...))
	}
	if tc.op == "LSTM" {
		inputs = append(inputs, tensor(hs, c0), tensor([]int64{int64(D), 3 * H}, in.P))
	}
	for len(inputs) > 3 && inputs[len(inputs)-1] == nil {
		inputs = inputs[:len(inputs)-1]
	}
	attrs := map[string]*ir.Attr{"hidden_size": ir.IntAttr(H), "direction": ir.StringAttr(tc.dir)}
	if tc.layout != 0 {
		attrs["layout"] = ir.IntAttr(int64(tc.layout))
	}
	if tc.acts != nil {
		attrs["activations"] = &ir.Attr{Kind: ir.AttrStrings, Strings: tc.acts}
	}
	if tc.alphas != nil {
		attrs["activation_alpha"] = ir.FloatsAttr(tc.alphas...)
	}
	if tc.betas != nil {
		attrs["activation_beta"] = ir.FloatsAttr(tc.betas...)
	}
	if tc.clip != 0 {
		attrs["clip"] = ir.FloatAttr(tc.clip)
	}
	if tc.inputForget {
		attrs["input_forget"] = ir.IntAttr(1)
	}
	if tc.lbr {
		attrs["linear_before_reset"] = ir.IntAttr(1)
	}
	nOut := 2
	if tc.op == "LSTM" {
		nOut = 3
	}
	want := []bool{!tc.omitY, !tc.omitYh, !tc.omitC}[:nOut]
	out, err := resampleNode(t, tc.op, tc.opset, attrs, inputs, nOut, want)
	if err != nil {
		t.Fatal(err)
	}
	ys, sts := []int64{T, int64(D), B, H}, []int64{int64(D), B, H}
	if tc.layout == 1 {
		ys, sts = []int64{B, T, int64(D), H}, []int64{B, int64(D), H}
		y = rnnSwapTB(y, tc.T, D, tc.B, tc.H)
		yh = rnnSwap01(yh, D, tc.B, tc.H)
		yc = rnnSwap01(yc, D, tc.B, tc.H)
	}
	for i, o := range out {
		if want[i] != (o != nil) {
			t.Fatalf("output %d: present = %v, want %v", i, o != nil, want[i])
		}
		if o != nil && o.DType != tc.dtype {
			t.Fatalf("output %d: dtype %s, want %s", i, o.DType, tc.dtype)
		}
	}
	if want[0] {
		resampleExpect(t, "Y", out[0], ys, y, tc.tol)
	}
	if want[1] {
		resampleExpect(t, "Y_h", out[1], sts, yh, tc.tol)
	}
	if nOut == 3 && want[2] {
		resampleExpect(t, "Y_c", out[2], sts, yc, tc.tol)
	}
}

// rnnRefInputs are the reference's inputs in the sequence-major layout
// (nil where absent).
type rnnRefInputs struct {
	X, W, R, Bias, H0, C0, P []float64
}

// rnnRefAct evaluates an ONNX recurrent activation function as its
// definition states.
func rnnRefAct(name string, alpha, beta, x float64) float64 {
	switch strings.ToLower(name) {
	case "relu":
		return math.Max(0, x)
	case "tanh":
		return math.Tanh(x)
	case "sigmoid":
		return 1 / (1 + math.Exp(-x))
	case "affine":
		return alpha*x + beta
	case "leakyrelu":
		if x >= 0 {
			return x
		}
		return alpha * x
	case "thresholdedrelu":
		if x >= alpha {
			return x
		}
		return 0
	case "scaledtanh":
		return alpha * math.Tanh(beta*x)
	case "hardsigmoid":
		return math.Min(math.Max(alpha*x+beta, 0), 1)
	case "elu":
		if x >= 0 {
			return x
		}
		return alpha * (math.Exp(x) - 1)
	case "softsign":
		return x / (1 + math.Abs(x))
	case "softplus":
		return math.Log(1 + math.Exp(x))
	}
	panic("unknown activation " + name)
}

// rnnReference computes Y [T, D, B, H], Y_h and Y_c [D, B, H].
func rnnReference(tc rnnRefCase, D int, in rnnRefInputs) (y, yh, yc []float64) {
	T, B, I, H, G := tc.T, tc.B, tc.I, tc.H, rnnGates[tc.op]
	// Activations per direction with their alpha/beta: those that take
	// parameters consume the lists in order; defaults otherwise.
	defaults := map[string][]string{"RNN": {"Tanh"}, "GRU": {"Sigmoid", "Tanh"}, "LSTM": {"Sigmoid", "Tanh", "Tanh"}}[tc.op]
	names := tc.acts
	if names == nil {
		names = defaults
	}
	if len(names) == len(defaults) && D == 2 {
		names = append(append([]string{}, names...), names...)
	}
	type act struct {
		name        string
		alpha, beta float64
	}
	var acts []act
	al, be := tc.alphas, tc.betas
	for _, n := range names {
		a := act{name: n}
		switch strings.ToLower(n) {
		case "leakyrelu":
			a.alpha = 0.01
		case "thresholdedrelu", "elu":
			a.alpha = 1
		case "hardsigmoid":
			a.alpha, a.beta = 0.2, 0.5
		case "affine":
			a.alpha = 1
		case "scaledtanh":
			a.alpha, a.beta = 1, 1
		}
		switch strings.ToLower(n) {
		case "leakyrelu", "thresholdedrelu", "elu", "hardsigmoid", "affine", "scaledtanh":
			if len(al) > 0 {
				a.alpha, al = float64(al[0]), al[1:]
			}
		}
		switch strings.ToLower(n) {
		case "hardsigmoid", "affine", "scaledtanh":
			if len(be) > 0 {
				a.beta, be = float64(be[0]), be[1:]
			}
		}
		acts = append(acts, a)
	}
	nPer := len(defaults)
	clip := func(v float64) float64 {
		if tc.clip > 0 {
			return math.Max(-float64(tc.clip), math.Min(float64(tc.clip), v))
		}
		return v
	}
	y = make([]float64, T*D*B*H)
	yh = make([]float64, D*B*H)
	yc = make([]float64, D*B*H)
	at := func(v []float64, i int) float64 {
		if v == nil {
			return 0
		}
		return v[i]
	}
	for d := 0; d < D; d++ {
		f := func(i int, v float64) float64 {
			a := acts[d*nPer+i]
			return rnnRefAct(a.name, a.alpha, a.beta, clip(v))
		}
		// Row j of gate g of W/R/biases of this direction.
		xw := func(t, b, g, j int) float64 {
			s := 0.0
			for k := 0; k < I; k++ {
				s += in.X[(t*B+b)*I+k] * in.W[((d*G+g)*H+j)*I+k]
			}
			return s + at(in.Bias, d*2*G*H+g*H+j)
		}
		hr := func(h []float64, g, j int) float64 {
			s := 0.0
			for k := 0; k < H; k++ {
				s += h[k] * in.R[((d*G+g)*H+j)*H+k]
			}
			return s
		}
		rb := func(g, j int) float64 { return at(in.Bias, d*2*G*H+G*H+g*H+j) }
		for b := 0; b < B; b++ {
			L := T
			if tc.lens != nil {
				L = int(tc.lens[b])
			}
			h, c := make([]float64, H), make([]float64, H)
			for j := 0; j < H; j++ {
				h[j] = at(in.H0, (d*B+b)*H+j)
				c[j] = at(in.C0, (d*B+b)*H+j)
			}
			for s := 0; s < L; s++ {
				t := s
				if tc.dir == "reverse" || d == 1 {
					t = L - 1 - s
				}
				nh, nc := make([]float64, H), make([]float64, H)
				switch tc.op {
				case "RNN":
					for j := 0; j < H; j++ {
						nh[j] = f(0, xw(t, b, 0, j)+hr(h, 0, j)+rb(0, j))
					}
				case "GRU":
					z, r := make([]float64, H), make([]float64, H)
					for j := 0; j < H; j++ {
						z[j] = f(0, xw(t, b, 0, j)+hr(h, 0, j)+rb(0, j))
						r[j] = f(0, xw(t, b, 1, j)+hr(h, 1, j)+rb(1, j))
					}
					rh := make([]float64, H)
					for j := 0; j < H; j++ {
						rh[j] = r[j] * h[j]
					}
					for j := 0; j < H; j++ {
						var pre float64
						if tc.lbr {
							pre = xw(t, b, 2, j) + r[j]*(hr(h, 2, j)+rb(2, j))
						} else {
							pre = xw(t, b, 2, j) + hr(rh, 2, j) + rb(2, j)
						}
						nh[j] = (1-z[j])*f(1, pre) + z[j]*h[j]
					}
				case "LSTM":
					for j := 0; j < H; j++ {
						var pi, po, pf float64
						if in.P != nil {
							pi, po, pf = in.P[d*3*H+j], in.P[d*3*H+H+j], in.P[d*3*H+2*H+j]
						}
						ig := f(0, xw(t, b, 0, j)+hr(h, 0, j)+rb(0, j)+pi*c[j])
						fg := f(0, xw(t, b, 2, j)+hr(h, 2, j)+rb(2, j)+pf*c[j])
						if tc.inputForget {
							fg = 1 - ig
						}
						cg := f(1, xw(t, b, 3, j)+hr(h, 3, j)+rb(3, j))
						nc[j] = fg*c[j] + ig*cg
						og := f(0, xw(t, b, 1, j)+hr(h, 1, j)+rb(1, j)+po*nc[j])
						a := acts[d*nPer+2]
						nh[j] = og * rnnRefAct(a.name, a.alpha, a.beta, nc[j])
					}
				}
				h, c = nh, nc
				copy(y[((t*D+d)*B+b)*H:], h)
			}
			if L == 0 { // an empty sequence has zero final states
				h, c = make([]float64, H), make([]float64, H)
			}
			copy(yh[(d*B+b)*H:], h)
			copy(yc[(d*B+b)*H:], c)
		}
	}
	return y, yh, yc
}

// rnnSwap01 transposes [a, b, rest] to [b, a, rest] (nil stays nil).
func rnnSwap01(v []float64, a, b, rest int) []float64 {
	if v == nil {
		return nil
	}
	out := make([]float64, len(v))
	for i := 0; i < a; i++ {
		for j := 0; j < b; j++ {
			copy(out[(j*a+i)*rest:(j*a+i+1)*rest], v[(i*b+j)*rest:(i*b+j+1)*rest])
		}
	}
	return out
}

// rnnSwapTB transposes Y from [T, D, B, H] to [B, T, D, H].
func rnnSwapTB(v []float64, T, D, B, H int) []float64 {
	out := make([]float64, len(v))
	for t := 0; t < T; t++ {
		for d := 0; d < D; d++ {
			for b := 0; b < B; b++ {
				copy(out[((b*T+t)*D+d)*H:((b*T+t)*D+d+1)*H], v[((t*D+d)*B+b)*H:((t*D+d)*B+b+1)*H])
			}
		}
	}
	return out
}

func TestRNNErrors(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	x, w, rr := randF32(r, 2, 1, 3), randF32(r, 1, 4, 3), randF32(r, 1, 4, 4)
	tests := []struct {
		name   string
		attrs  map[string]*ir.Attr
		inputs []*ir.Tensor
	}{
		{"bad_direction", map[string]*ir.Attr{"direction": ir.StringAttr("sideways")}, []*ir.Tensor{x, w, rr}},
		{"bad_activation", map[string]*ir.Attr{"activations": {Kind: ir.AttrStrings, Strings: []string{"Gelu"}}}, []*ir.Tensor{x, w, rr}},
		{"activation_count", map[string]*ir.Attr{"activations": {Kind: ir.AttrStrings, Strings: []string{"Tanh", "Tanh"}}}, []*ir.Tensor{x, w, rr}},
		{"hidden_size_mismatch", map[string]*ir.Attr{"hidden_size": ir.IntAttr(3)}, []*ir.Tensor{x, w, rr}},
		{"w_shape", nil, []*ir.Tensor{x, randF32(r, 1, 4, 2), rr}},
		{"bias_shape", nil, []*ir.Tensor{x, w, rr, randF32(r, 1, 4)}},
		{"seq_len_too_long", nil, []*ir.Tensor{x, w, rr, nil, ir.FromSlice(ir.Int32, []int64{1}, []int32{3})}},
		{"dtype_mismatch", nil, []*ir.Tensor{x, ir.NewTensor(ir.Float64, 1, 4, 3), rr}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := resampleNode(t, "RNN", 14, tc.attrs, tc.inputs, 2, nil); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// BenchmarkLSTM runs an LSTM of the silero VAD's size (hidden 64) over a
// longer sequence.
func BenchmarkLSTM(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	const T, B, I, H = 64, 1, 64, 64
	inputs := []*ir.Tensor{
		randF32(r, T, B, I), randF32(r, 1, 4*H, I), randF32(r, 1, 4*H, H), randF32(r, 1, 8*H),
	}
	attrs := map[string]*ir.Attr{"hidden_size": ir.IntAttr(H)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := resampleNode(b, "LSTM", 14, attrs, inputs, 3, nil); err != nil {
			b.Fatal(err)
		}
	}
}
