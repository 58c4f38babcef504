package interp

import (
	"math"
	"strings"

	"github.com/optc-dev/optc/ir"
)

// Recurrent ops: RNN, GRU and LSTM (ONNX opsets 7..17, layout attribute of
// opset 14). One driver (rnnRun) handles what the three share: inputs and
// attributes, layout, directions, sequence lengths, initial states and the
// outputs Y, Y_h (and Y_c). The cell types differ only in their number of
// gates and in one step function (rnnStepRNN, rnnStepGRU, rnnStepLSTM).
//
// The input projection X·W^T + bias of all time steps is one contiguous
// matrix product per direction; each step then adds H_{t-1}·R^T.
// Arithmetic is float32 for float32 (and float16/bfloat16, rounded back at
// the end) and float64 for float64.

func init() {
	Register("RNN", func(c *Call, in []Value) ([]Value, error) { return rnnKernel(c, in, &rnnCellRNN) })
	Register("GRU", func(c *Call, in []Value) ([]Value, error) { return rnnKernel(c, in, &rnnCellGRU) })
	Register("LSTM", func(c *Call, in []Value) ([]Value, error) { return rnnKernel(c, in, &rnnCellLSTM) })
}

// rnnFloat is the set of element types the recurrent kernels compute in.
type rnnFloat interface{ ~float32 | ~float64 }

// rnnCell describes one cell type.
type rnnCell struct {
	op          string
	gates       int      // gate blocks in W, R and each half of B
	defaultActs []string // per direction
	maxInputs   int      // 6 for RNN and GRU, 8 for LSTM (initial_c, P)
	maxOutputs  int      // 2 for RNN and GRU, 3 for LSTM (Y_c)
}

var (
	rnnCellRNN  = rnnCell{op: "RNN", gates: 1, defaultActs: []string{"Tanh"}, maxInputs: 6, maxOutputs: 2}
	rnnCellGRU  = rnnCell{op: "GRU", gates: 3, defaultActs: []string{"Sigmoid", "Tanh"}, maxInputs: 6, maxOutputs: 2}
	rnnCellLSTM = rnnCell{op: "LSTM", gates: 4, defaultActs: []string{"Sigmoid", "Tanh", "Tanh"}, maxInputs: 8, maxOutputs: 3}
)

// rnnActKind enumerates the activation functions ONNX allows in recurrent
// ops.
type rnnActKind uint8

const (
	rnnActRelu rnnActKind = iota
	rnnActTanh
	rnnActSigmoid
	rnnActAffine
	rnnActLeakyRelu
	rnnActThresholdedRelu
	rnnActScaledTanh
	rnnActHardSigmoid
	rnnActElu
	rnnActSoftsign
	rnnActSoftplus
)

// rnnActInfo: canonical name, whether the function consumes an alpha and a
// beta from activation_alpha/activation_beta, and their defaults (those of
// the ONNX operator of the same name).
var rnnActInfo = map[string]struct {
	kind                     rnnActKind
	usesAlpha, usesBeta      bool
	defaultAlpha, defaultBet float64
}{
	"relu":            {rnnActRelu, false, false, 0, 0},
	"tanh":            {rnnActTanh, false, false, 0, 0},
	"sigmoid":         {rnnActSigmoid, false, false, 0, 0},
	"affine":          {rnnActAffine, true, true, 1, 0},
	"leakyrelu":       {rnnActLeakyRelu, true, false, 0.01, 0},
	"thresholdedrelu": {rnnActThresholdedRelu, true, false, 1, 0},
	"scaledtanh":      {rnnActScaledTanh, true, true, 1, 1},
	"hardsigmoid":     {rnnActHardSigmoid, true, true, 0.2, 0.5},
	"elu":             {rnnActElu, true, false, 1, 0},
	"softsign":        {rnnActSoftsign, false, false, 0, 0},
	"softplus":        {rnnActSoftplus, false, false, 0, 0},
}

// rnnAct is one activation function with its parameters.
type rnnAct struct {
	kind        rnnActKind
	alpha, beta float64
}

// rnnApply evaluates an activation. Transcendentals are computed in
// float64 and rounded to F.
func rnnApply[F rnnFloat](a *rnnAct, x F) F {
	switch a.kind {
	case rnnActRelu:
		if x > 0 {
			return x
		}
		return 0
	case rnnActTanh:
		return F(math.Tanh(float64(x)))
	case rnnActSigmoid:
		return F(1 / (1 + math.Exp(-float64(x))))
	case rnnActAffine:
		return F(a.alpha)*x + F(a.beta)
	case rnnActLeakyRelu:
		if x >= 0 {
			return x
		}
		return F(a.alpha) * x
	case rnnActThresholdedRelu:
		if x >= F(a.alpha) {
			return x
		}
		return 0
	case rnnActScaledTanh:
		return F(a.alpha) * F(math.Tanh(float64(F(a.beta)*x)))
	case rnnActHardSigmoid:
		return F(math.Max(0, math.Min(1, float64(F(a.alpha)*x+F(a.beta)))))
	case rnnActElu:
		if x >= 0 {
			return x
		}
		return F(a.alpha * math.Expm1(float64(x)))
	case rnnActSoftsign:
		if x < 0 {
			return x / (1 - x)
		}
		return x / (1 + x)
	case rnnActSoftplus:
		// log(1+e^x), stable for large |x|.
		v := float64(x)
		if v > 0 {
			return F(v + math.Log1p(math.Exp(-v)))
		}
		return F(math.Log1p(math.Exp(v)))
	}
	return x
}

// rnnParseActs resolves the activations of all directions: nPerDir
// functions per direction, names matched case-insensitively, alpha/beta
// values consumed in order by the functions that take them.
func rnnParseActs(c *Call, cell *rnnCell, numDir int) ([]rnnAct, error) {
	names := c.Node.AttrStrings("activations", nil)
	nPer := len(cell.defaultActs)
	switch {
	case len(names) == 0:
		for d := 0; d < numDir; d++ {
			names = append(names, cell.defaultActs...)
		}
	case len(names) == nPer && numDir == 2:
		// One set given for a bidirectional op: use it for both.
		names = append(append([]string{}, names...), names...)
	case len(names) != nPer*numDir:
		return nil, c.Errorf("%d activations given, want %d (%d per direction)", len(names), nPer*numDir, nPer)
	}
	alphas := c.Node.AttrFloats("activation_alpha", nil)
	betas := c.Node.AttrFloats("activation_beta", nil)
	acts := make([]rnnAct, len(names))
	for i, name := range names {
		info, ok := rnnActInfo[strings.ToLower(name)]
		if !ok {
			return nil, c.Errorf("unknown activation %q (want one of Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus)", name)
		}
		a := rnnAct{kind: info.kind, alpha: info.defaultAlpha, beta: info.defaultBet}
		if info.usesAlpha && len(alphas) > 0 {
			a.alpha, alphas = float64(alphas[0]), alphas[1:]
		}
		if info.usesBeta && len(betas) > 0 {
			a.beta, betas = float64(betas[0]), betas[1:]
		}
		acts[i] = a
	}
	return acts, nil
}

// rnnKernel converts half-precision inputs to float32, dispatches to the
// typed driver and rounds the outputs back.
func rnnKernel(c *Call, in []Value, cell *rnnCell) ([]Value, error) {
	if len(in) < 3 || len(in) > cell.maxInputs {
		return nil, c.Errorf("%d inputs, want 3 to %d", len(in), cell.maxInputs)
	}
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	args := make([]*ir.Tensor, cell.maxInputs)
	for i := range in {
		if args[i], err = optTensorArg(c, in, i); err != nil {
			return nil, err
		}
	}
	for i, t := range args {
		if t != nil && i != 4 && t.DType != x.DType {
			return nil, c.Errorf("input %d is %s, want %s like X", i, t.DType, x.DType)
		}
	}
	switch x.DType {
	case ir.Float32:
		return rnnRun[float32](c, cell, args)
	case ir.Float64:
		return rnnRun[float64](c, cell, args)
	case ir.Float16, ir.BFloat16:
		wide := make([]*ir.Tensor, len(args))
		for i, t := range args {
			wide[i] = t
			if t != nil && i != 4 {
				wide[i] = resampleWiden(t)
			}
		}
		outs, err := rnnRun[float32](c, cell, wide)
		if err != nil {
			return nil, err
		}
		for i, o := range outs {
			if t, ok := o.(*ir.Tensor); ok && t != nil {
				outs[i] = resampleNarrow(t, x.DType)
			}
		}
		return outs, nil
	}
	return nil, c.Errorf("unsupported dtype %s (want f16, bf16, f32 or f64)", x.DType)
}

// rnnDims are the sizes of one invocation.
type rnnDims struct {
	seq, batch, input, hidden, numDir, gates int
}

// rnnState is what a step function reads and writes for one batch row.
type rnnState[F rnnFloat] struct {
	xw    []F // gates*hidden: X_t·W^T + folded biases
	hr    []F // gates*hidden: H_{t-1}·R^T (GRU without linear_before_reset: z and r blocks only)
	h     []F // hidden: H_{t-1} on entry, H_t on exit
	cst   []F // hidden: C_{t-1} on entry, C_t on exit (LSTM)
	tmp   []F // hidden: scratch
	rb    []F // gates*hidden: recurrence bias Rb (used by GRU with linear_before_reset)
	r     []F // gates*hidden × hidden: R of this direction
	p     []F // 3*hidden peepholes (LSTM) or nil
	acts  []rnnAct
	clip  F // <= 0: no clip
	flags rnnFlags
}

type rnnFlags struct {
	linearBeforeReset bool // GRU
	inputForget       bool // LSTM
}

// rnnClip bounds a gate pre-activation to [-clip, clip] when clip > 0.
func rnnClip[F rnnFloat](x, clip F) F {
	if clip > 0 {
		if x > clip {
			return clip
		}
		if x < -clip {
			return -clip
		}
	}
	return x
}

// rnnStepRNN: H_t = f(X_t·W^T + H_{t-1}·R^T + Wb + Rb).
func rnnStepRNN[F rnnFloat](s *rnnState[F]) {
	f := &s.acts[0]
	for j := range s.h {
		s.h[j] = rnnApply(f, rnnClip(s.xw[j]+s.hr[j], s.clip))
	}
}

// rnnStepGRU, gates z, r, h:
//
//	z = f(Xt·Wz + Ht-1·Rz + Wbz + Rbz), r = f(Xt·Wr + Ht-1·Rr + Wbr + Rbr)
//	h~ = g(Xt·Wh + (r ⊙ Ht-1)·Rh + Rbh + Wbh)            (linear_before_reset = 0)
//	h~ = g(Xt·Wh + r ⊙ (Ht-1·Rh + Rbh) + Wbh)            (linear_before_reset ≠ 0)
//	Ht = (1 - z) ⊙ h~ + z ⊙ Ht-1
func rnnStepGRU[F rnnFloat](s *rnnState[F]) {
	H := len(s.h)
	f, g := &s.acts[0], &s.acts[1]
	z, r := s.xw[:H], s.xw[H:2*H] // overwritten with the gate values
	for j := 0; j < H; j++ {
		z[j] = rnnApply(f, rnnClip(z[j]+s.hr[j], s.clip))
		r[j] = rnnApply(f, rnnClip(r[j]+s.hr[H+j], s.clip))
	}
	xh := s.xw[2*H : 3*H]
	if s.flags.linearBeforeReset {
		hrh, rbh := s.hr[2*H:3*H], s.rb[2*H:3*H]
		for j := 0; j < H; j++ {
			s.tmp[j] = rnnClip(xh[j]+r[j]*(hrh[j]+rbh[j]), s.clip)
		}
	} else {
		// (r ⊙ Ht-1)·Rh^T; the bias Rbh is folded into xw.
		rh := s.hr[2*H : 3*H] // free scratch in this mode
		for j := 0; j < H; j++ {
			rh[j] = r[j] * s.h[j]
		}
		rnnGemmABt(rh, 1, H, s.r[2*H*H:3*H*H], H, s.tmp, false)
		for j := 0; j < H; j++ {
			s.tmp[j] = rnnClip(xh[j]+s.tmp[j], s.clip)
		}
	}
	for j := 0; j < H; j++ {
		hh := rnnApply(g, s.tmp[j])
		s.h[j] = (1-z[j])*hh + z[j]*s.h[j]
	}
}

// rnnStepLSTM, gates i, o, f, c with peepholes P = [Pi, Po, Pf]:
//
//	i = f(Xt·Wi + Ht-1·Ri + Pi ⊙ Ct-1 + Wbi + Rbi)
//	f = f(Xt·Wf + Ht-1·Rf + Pf ⊙ Ct-1 + Wbf + Rbf)   (1 - i with input_forget)
//	c = g(Xt·Wc + Ht-1·Rc + Wbc + Rbc)
//	Ct = f ⊙ Ct-1 + i ⊙ c
//	o = f(Xt·Wo + Ht-1·Ro + Po ⊙ Ct + Wbo + Rbo)
//	Ht = o ⊙ h(Ct)
func rnnStepLSTM[F rnnFloat](s *rnnState[F]) {
	H := len(s.h)
	fa, ga, ha := &s.acts[0], &s.acts[1], &s.acts[2]
	var pi, po, pf []F
	if s.p != nil {
		pi, po, pf = s.p[:H], s.p[H:2*H], s.p[2*H:3*H]
	}
	for j := 0; j < H; j++ {
		cPrev := s.cst[j]
		gi := s.xw[j] + s.hr[j]
		gf := s.xw[2*H+j] + s.hr[2*H+j]
		if pi != nil {
			gi += pi[j] * cPrev
			gf += pf[j] * cPrev
		}
		iv := rnnApply(fa, rnnClip(gi, s.clip))
		var fv F
		if s.flags.inputForget {
			fv = 1 - iv
		} else {
			fv = rnnApply(fa, rnnClip(gf, s.clip))
		}
		cv := rnnApply(ga, rnnClip(s.xw[3*H+j]+s.hr[3*H+j], s.clip))
		cNew := fv*cPrev + iv*cv
		gout := s.xw[H+j] + s.hr[H+j]
		if po != nil {
			gout += po[j] * cNew
		}
		ov := rnnApply(fa, rnnClip(gout, s.clip))
		s.cst[j] = cNew
		s.h[j] = ov * rnnApply(ha, cNew)
	}
}

// rnnGemmABt computes c (+)= a·b^T for row-major a [m×k] and b [n×k]: each
// output is a dot product of two contiguous rows. Four rows of b are
// taken at a time, so each element of a is loaded once per four outputs
// and the four sums are independent.
func rnnGemmABt[F rnnFloat](a []F, m, k int, b []F, n int, c []F, accumulate bool) {
	for i := 0; i < m; i++ {
		ar := a[i*k : i*k+k]
		cr := c[i*n : i*n+n]
		j := 0
		for ; j+4 <= n; j += 4 {
			b0 := b[j*k:][:len(ar)]
			b1 := b[(j+1)*k:][:len(ar)]
			b2 := b[(j+2)*k:][:len(ar)]
			b3 := b[(j+3)*k:][:len(ar)]
			var s0, s1, s2, s3 F
			for p, av := range ar {
				s0 += av * b0[p]
				s1 += av * b1[p]
				s2 += av * b2[p]
				s3 += av * b3[p]
			}
			if accumulate {
				cr[j] += s0
				cr[j+1] += s1
				cr[j+2] += s2
				cr[j+3] += s3
			} else {
				cr[j], cr[j+1], cr[j+2], cr[j+3] = s0, s1, s2, s3
			}
		}
		for ; j < n; j++ {
			br := b[j*k:][:len(ar)]
			var s F
			for p, av := range ar {
				s += av * br[p]
			}
			if accumulate {
				cr[j] += s
			} else {
				cr[j] = s
			}
		}
	}
}

// rnnTranspose01 swaps the first two axes of a row-major [a, b, rest]
// array.
func rnnTranspose01[F rnnFloat](src []F, a, b, rest int) []F {
	dst := make([]F, len(src))
	for i := 0; i < a; i++ {
		for j := 0; j < b; j++ {
			copy(dst[(j*a+i)*rest:(j*a+i+1)*rest], src[(i*b+j)*rest:(i*b+j+1)*rest])
		}
	}
	return dst
}

// rnnCheckShape verifies a tensor's shape against the expected one.
func rnnCheckShape(c *Call, name string, t *ir.Tensor, want ...int) error {
	ok := len(t.Shape) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = t.Shape[i] == int64(want[i])
	}
	if !ok {
		return c.Errorf("%s has shape %v, want %v", name, t.Shape, want)
	}
	return nil
}

// rnnRun is the driver shared by the three cell types. args holds the
// node's inputs (nil where absent) in ONNX order: X, W, R, B,
// sequence_lens, initial_h, initial_c, P.
func rnnRun[F rnnFloat](c *Call, cell *rnnCell, args []*ir.Tensor) ([]Value, error) {
	n := c.Node
	x, w, r := args[0], args[1], args[2]
	if w == nil || r == nil {
		return nil, c.Errorf("inputs W and R are required")
	}
	layout := 0
	if c.Opset >= 14 {
		layout = int(n.AttrInt("layout", 0))
	}
	if layout != 0 && layout != 1 {
		return nil, c.Errorf("layout %d, want 0 or 1", layout)
	}
	var numDir int
	dirName := n.AttrString("direction", "forward")
	switch dirName {
	case "forward", "reverse":
		numDir = 1
	case "bidirectional":
		numDir = 2
	default:
		return nil, c.Errorf("direction %q, want forward, reverse or bidirectional", dirName)
	}
	if x.Rank() != 3 || w.Rank() != 3 || r.Rank() != 3 {
		return nil, c.Errorf("X, W and R must have rank 3 (got %v, %v, %v)", x.Shape, w.Shape, r.Shape)
	}
	dm := rnnDims{numDir: numDir, gates: cell.gates}
	dm.seq, dm.batch, dm.input = int(x.Shape[0]), int(x.Shape[1]), int(x.Shape[2])
	if layout == 1 {
		dm.seq, dm.batch = dm.batch, dm.seq
	}
	dm.hidden = int(r.Shape[2])
	if hs := n.AttrInt("hidden_size", int64(dm.hidden)); hs != int64(dm.hidden) {
		return nil, c.Errorf("hidden_size %d disagrees with R of shape %v", hs, r.Shape)
	}
	H, G, B, T, D := dm.hidden, dm.gates, dm.batch, dm.seq, dm.numDir
	GH := G * H
	if err := rnnCheckShape(c, "W", w, D, GH, dm.input); err != nil {
		return nil, err
	}
	if err := rnnCheckShape(c, "R", r, D, GH, H); err != nil {
		return nil, err
	}
	acts, err := rnnParseActs(c, cell, D)
	if err != nil {
		return nil, err
	}
	nPer := len(cell.defaultActs)
	var clip F
	if n.HasAttr("clip") {
		clip = F(n.AttrFloat("clip", 0))
		if clip <= 0 {
			return nil, c.Errorf("clip %v must be positive", clip)
		}
	}
	flags := rnnFlags{
		linearBeforeReset: cell.gates == 3 && n.AttrInt("linear_before_reset", 0) != 0,
		inputForget:       cell.gates == 4 && n.AttrInt("input_forget", 0) != 0,
	}

	// Batch-major tensors are transposed to the sequence-major layout.
	xd := ir.Elems[F](x)
	if layout == 1 {
		xd = rnnTranspose01(xd, B, T, dm.input)
	}
	wd, rd := ir.Elems[F](w), ir.Elems[F](r)
	var bd []F
	if b := args[3]; b != nil {
		if err := rnnCheckShape(c, "B", b, D, 2*GH); err != nil {
			return nil, err
		}
		bd = ir.Elems[F](b)
	} else {
		bd = make([]F, D*2*GH)
	}
	lens := make([]int, B)
	for i := range lens {
		lens[i] = T
	}
	if sl := args[4]; sl != nil {
		if sl.Len() != B || !sl.DType.IsInt() {
			return nil, c.Errorf("sequence_lens is %s, want %d integers", sl, B)
		}
		for i := range lens {
			v := sl.Int64At(i)
			if v < 0 || v > int64(T) {
				return nil, c.Errorf("sequence_lens[%d] = %d is outside [0, %d]", i, v, T)
			}
			lens[i] = int(v)
		}
	}
	// rnnInitState reads initial_h / initial_c as [D, B, H].
	initState := func(t *ir.Tensor, name string) ([]F, error) {
		if t == nil {
			return make([]F, D*B*H), nil
		}
		if layout == 1 {
			if err := rnnCheckShape(c, name, t, B, D, H); err != nil {
				return nil, err
			}
			return rnnTranspose01(ir.Elems[F](t), B, D, H), nil
		}
		if err := rnnCheckShape(c, name, t, D, B, H); err != nil {
			return nil, err
		}
		return append([]F{}, ir.Elems[F](t)...), nil
	}
	hAll, err := initState(args[5], "initial_h")
	if err != nil {
		return nil, err
	}
	var cAll []F
	var pd []F
	if cell.gates == 4 {
		if cAll, err = initState(args[6], "initial_c"); err != nil {
			return nil, err
		}
		if p := args[7]; p != nil {
			if err := rnnCheckShape(c, "P", p, D, 3*H); err != nil {
				return nil, err
			}
			pd = ir.Elems[F](p)
		}
	}

	y := make([]F, T*D*B*H) // [T, D, B, H]
	xw := make([]F, T*B*GH)
	hr := make([]F, B*GH)
	tmp := make([]F, H)
	bias := make([]F, GH)
	for d := 0; d < D; d++ {
		wD := wd[d*GH*dm.input : (d+1)*GH*dm.input]
		rD := rd[d*GH*H : (d+1)*GH*H]
		wb, rb := bd[d*2*GH:d*2*GH+GH], bd[d*2*GH+GH:(d+1)*2*GH]
		// Fold Wb + Rb into the input projection, except Rbh of a GRU
		// with linear_before_reset, which the step applies inside r ⊙ (…).
		for j := range bias {
			bias[j] = wb[j] + rb[j]
			if flags.linearBeforeReset && j >= 2*H {
				bias[j] = wb[j]
			}
		}
		rnnGemmABt(xd, T*B, dm.input, wD, GH, xw, false)
		for row := 0; row < T*B; row++ {
			xr := xw[row*GH : (row+1)*GH]
			for j := range xr {
				xr[j] += bias[j]
			}
		}
		// Rows of R that take part in H_{t-1}·R^T before the cell's step.
		rRows := GH
		if cell.gates == 3 && !flags.linearBeforeReset {
			rRows = 2 * H
		}
		reverse := dirName == "reverse" || d == 1
		st := rnnState[F]{
			tmp: tmp, rb: rb, r: rD, clip: clip, flags: flags,
			acts: acts[d*nPer : (d+1)*nPer],
		}
		if pd != nil {
			st.p = pd[d*3*H : (d+1)*3*H]
		}
		hD := hAll[d*B*H : (d+1)*B*H]
		var cD []F
		if cAll != nil {
			cD = cAll[d*B*H : (d+1)*B*H]
		}
		maxLen := 0
		for _, l := range lens {
			maxLen = max(maxLen, l)
		}
		for step := 0; step < maxLen; step++ {
			if err := c.Ctx.Err(); err != nil {
				return nil, err
			}
			rnnGemmABtRows(hD, B, H, rD, rRows, hr, GH)
			for b := 0; b < B; b++ {
				if step >= lens[b] {
					continue
				}
				t := step
				if reverse {
					t = lens[b] - 1 - step
				}
				st.xw = xw[(t*B+b)*GH : (t*B+b+1)*GH]
				st.hr = hr[b*GH : (b+1)*GH]
				st.h = hD[b*H : (b+1)*H]
				if cD != nil {
					st.cst = cD[b*H : (b+1)*H]
				}
				switch cell.gates {
				case 1:
					rnnStepRNN(&st)
				case 3:
					rnnStepGRU(&st)
				default:
					rnnStepLSTM(&st)
				}
				copy(y[((t*D+d)*B+b)*H:], st.h)
			}
		}
		// An empty sequence has zero final states (as in ONNX Runtime),
		// not its initial ones.
		for b, l := range lens {
			if l == 0 {
				clear(hD[b*H : (b+1)*H])
				if cD != nil {
					clear(cD[b*H : (b+1)*H])
				}
			}
		}
	}

	outs := make([]Value, cell.maxOutputs)
	want := func(i int) bool { return i < len(n.Outputs) && n.Outputs[i] != nil && n.Outputs[i].Name != "" }
	dt := x.DType
	if want(0) {
		if layout == 1 { // [T, D, B, H] -> [B, T, D, H]
			yb := make([]F, len(y))
			for t := 0; t < T; t++ {
				for d := 0; d < D; d++ {
					for b := 0; b < B; b++ {
						copy(yb[((b*T+t)*D+d)*H:((b*T+t)*D+d+1)*H], y[((t*D+d)*B+b)*H:])
					}
				}
			}
			outs[0] = ir.FromSlice(dt, []int64{int64(B), int64(T), int64(D), int64(H)}, yb)
		} else {
			outs[0] = ir.FromSlice(dt, []int64{int64(T), int64(D), int64(B), int64(H)}, y)
		}
	}
	final := func(s []F) *ir.Tensor {
		if layout == 1 {
			return ir.FromSlice(dt, []int64{int64(B), int64(D), int64(H)}, rnnTranspose01(s, D, B, H))
		}
		return ir.FromSlice(dt, []int64{int64(D), int64(B), int64(H)}, s)
	}
	if want(1) {
		outs[1] = final(hAll)
	}
	if cell.gates == 4 && want(2) {
		outs[2] = final(cAll)
	}
	if len(outs) > len(n.Outputs) {
		outs = outs[:len(n.Outputs)]
	}
	return outs, nil
}

// rnnGemmABtRows computes hr[b, 0:rows] = h[b]·R[0:rows]^T for every batch
// row; hr has row stride ld.
func rnnGemmABtRows[F rnnFloat](h []F, batch, hidden int, r []F, rows int, hr []F, ld int) {
	if rows == ld {
		rnnGemmABt(h, batch, hidden, r[:rows*hidden], rows, hr, false)
		return
	}
	for b := 0; b < batch; b++ {
		rnnGemmABt(h[b*hidden:(b+1)*hidden], 1, hidden, r[:rows*hidden], rows, hr[b*ld:b*ld+rows], false)
	}
}
