package passes

import (
	"math"
	"slices"

	"github.com/optc-dev/optc/ir"
)

func init() {
	Register("fold-bn", func(a Args) (Pass, error) { return FoldBN{}, a.Only() })
}

// FoldBN folds an inference BatchNormalization into the Conv, ConvTranspose
// (channel = weight dim 1 within its group) or Gemm that
// produces its input, when that producer's weights (and bias) and the
// BatchNormalization's scale, bias, mean and variance are constants and
// nothing else reads the producer's output:
//
//	s = scale / sqrt(var + eps)
//	W'[m, ...] = W[m, ...] · s[m]          (Conv: output channel m)
//	B'[m]      = (B[m] − mean[m]) · s[m] + bias[m]
//
// For Gemm the channel is the output column n (axis 1 of the 2-D output):
// column n of B is scaled and C' = (beta·C − mean) · s + bias with beta 1.
// The arithmetic is float64, rounded once to float32.
type FoldBN struct{}

func (FoldBN) Name() string { return "fold-bn" }

func (FoldBN) Run(ctx *Context, g *ir.Graph) error {
	uses := map[*ir.Value]int{}
	countUses(g, uses, +1)
	folded := 0
	dead := map[*ir.Node]bool{}
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		if n.Op == "BatchNormalization" && (n.Domain == "" || n.Domain == "ai.onnx") {
			if add := bnBiasAdd(g, n, uses); add != nil {
				dead[add] = true
			}
			ok, err := bnFold(g, n, uses)
			if err != nil {
				return err
			}
			if ok {
				folded++
				continue
			}
		}
		kept = append(kept, n)
	}
	g.Nodes = slices.DeleteFunc(kept, func(n *ir.Node) bool { return dead[n] })
	ctx.Logf("fold-bn: folded %d BatchNormalization nodes", folded)
	if folded > 0 {
		_ = DCE{}.Run(&Context{}, g)
	}
	return nil
}

// bnParams returns s and t with BN(x) = x·s + t per channel, or ok=false.
func bnParams(n *ir.Node) (s, t []float64, ok bool) {
	if len(n.Inputs) != 5 || n.AttrInt("training_mode", 0) != 0 {
		return nil, nil, false
	}
	for _, o := range n.Outputs[1:] {
		if o != nil {
			return nil, nil, false
		}
	}
	var p [4][]float64
	for i := range p {
		v := n.Inputs[i+1]
		if v == nil || v.Const == nil || !v.Const.IsDense() || v.Const.DType != ir.Float32 || v.Const.Rank() != 1 {
			return nil, nil, false
		}
		for _, x := range v.Const.Data.([]float32) {
			p[i] = append(p[i], float64(x))
		}
		if len(p[i]) != len(p[0]) {
			return nil, nil, false
		}
	}
	eps := float64(n.AttrFloat("epsilon", 1e-5))
	C := len(p[0])
	s, t = make([]float64, C), make([]float64, C)
	for c := 0; c < C; c++ {
		s[c] = p[0][c] / math.Sqrt(p[3][c]+eps)
		t[c] = p[1][c] - p[2][c]*s[c]
	}
	return s, t, true
}

func bnConstF32(v *ir.Value) ([]float32, bool) {
	if v == nil || v.Const == nil || !v.Const.IsDense() || v.Const.DType != ir.Float32 {
		return nil, false
	}
	return v.Const.Data.([]float32), true
}

// bnNewConst adds a constant named after base to g.
func bnNewConst(g *ir.Graph, base string, shape []int64, data []float32) *ir.Value {
	t := ir.FromSlice(ir.Float32, shape, data)
	v := &ir.Value{Name: base + "_bnfold", Type: ir.TensorType(ir.Float32, ir.ShapeOf(shape...)), Const: t}
	g.Consts = append(g.Consts, v)
	return v
}

func bnFold(g *ir.Graph, n *ir.Node, uses map[*ir.Value]int) (bool, error) {
	x := n.Inputs[0]
	p := x.Def
	if p == nil || uses[x] != 1 || len(p.Outputs) != 1 || (p.Domain != "" && p.Domain != "ai.onnx") {
		return false, nil
	}
	s, t, ok := bnParams(n)
	if !ok {
		return false, nil
	}
	C := int64(len(s))
	switch p.Op {
	case "Conv":
		w, ok := bnConstF32(p.Input(1))
		ws := p.Inputs[1].Const.Shape
		if !ok || len(ws) < 3 || ws[0] != C {
			return false, nil
		}
		bias := make([]float64, C)
		if bv := p.Input(2); bv != nil {
			b, ok := bnConstF32(bv)
			if !ok || int64(len(b)) != C {
				return false, nil
			}
			for i, v := range b {
				bias[i] = float64(v)
			}
		}
		per := int64(len(w)) / C
		nw := make([]float32, len(w))
		for m := int64(0); m < C; m++ {
			for i := m * per; i < (m+1)*per; i++ {
				nw[i] = float32(float64(w[i]) * s[m])
			}
		}
		bnSetWeightBias(g, p, ws, nw, bias, s, t)
	case "ConvTranspose":
		return bnFoldConvT(g, n, p, s, t)
	case "Gemm":
		return bnFoldGemm(g, n, p, s, t)
	default:
		return false, nil
	}
	bnRewire(p, n)
	return true, nil
}

// bnRewire makes p produce the BatchNormalization's output.
func bnRewire(p, n *ir.Node) {
	out := n.Outputs[0]
	out.Def = p
	p.Outputs[0] = out
}

func bnFoldGemm(g *ir.Graph, n, p *ir.Node, s, t []float64) (bool, error) {
	C := int64(len(s))
	bw, ok := bnConstF32(p.Input(1))
	if !ok || p.Inputs[1].Const.Rank() != 2 {
		return false, nil
	}
	bs := p.Inputs[1].Const.Shape
	transB := p.AttrInt("transB", 0) != 0
	N := bs[1]
	if transB {
		N = bs[0]
	}
	if N != C {
		return false, nil
	}
	beta := float64(p.AttrFloat("beta", 1))
	cb := make([]float64, C)
	if cv := p.Input(2); cv != nil {
		c, ok := bnConstF32(cv)
		if !ok {
			return false, nil
		}
		switch {
		case len(c) == 1:
			for i := range cb {
				cb[i] = beta * float64(c[0])
			}
		case int64(len(c)) == C && cv.Const.Shape[len(cv.Const.Shape)-1] == C:
			for i := range cb {
				cb[i] = beta * float64(c[i])
			}
		default:
			return false, nil
		}
	}
	nw := make([]float32, len(bw))
	for i := range bw {
		col := int64(i) % bs[1]
		if transB {
			col = int64(i) / bs[1]
		}
		nw[i] = float32(float64(bw[i]) * s[col])
	}
	bnSetWeightBias(g, p, bs, nw, cb, s, t)
	attrs := map[string]*ir.Attr{}
	for k, v := range p.Attrs {
		attrs[k] = v
	}
	attrs["beta"] = ir.FloatAttr(1)
	p.Attrs = attrs
	bnRewire(p, n)
	return true, nil
}

// bnFoldConvT folds into a ConvTranspose, whose weight is [C, M/group,
// k...]: output channel m = group(c)·M/group + j scales W[c][j].
func bnFoldConvT(g *ir.Graph, n, p *ir.Node, s, t []float64) (bool, error) {
	C := int64(len(s))
	w, ok := bnConstF32(p.Input(1))
	if !ok {
		return false, nil
	}
	ws := p.Inputs[1].Const.Shape
	G := p.AttrInt("group", 1)
	if len(ws) < 3 || G <= 0 || ws[1]*G != C || ws[0]%G != 0 {
		return false, nil
	}
	bias := make([]float64, C)
	if bv := p.Input(2); bv != nil {
		b, ok := bnConstF32(bv)
		if !ok || int64(len(b)) != C {
			return false, nil
		}
		for i, v := range b {
			bias[i] = float64(v)
		}
	}
	kk := int64(len(w)) / (ws[0] * ws[1])
	cpg := ws[0] / G
	nw := make([]float32, len(w))
	for i := range w {
		c := int64(i) / (ws[1] * kk)
		j := int64(i) / kk % ws[1]
		m := c/cpg*ws[1] + j
		nw[i] = float32(float64(w[i]) * s[m])
	}
	bnSetWeightBias(g, p, ws, nw, bias, s, t)
	bnRewire(p, n)
	return true, nil
}

// bnBiasAdd handles Conv/ConvTranspose → Add(per-channel constant) → BN
// (exporters that keep the bias as a separate Add): the constant joins
// the conv's bias and the conv produces the Add's output, so the BN then
// folds as usual. It returns the Add node, now dead, or nil.
func bnBiasAdd(g *ir.Graph, n *ir.Node, uses map[*ir.Value]int) *ir.Node {
	add := n.Inputs[0].Def
	if add == nil || add.Op != "Add" || (add.Domain != "" && add.Domain != "ai.onnx") || len(add.Inputs) != 2 || uses[n.Inputs[0]] != 1 {
		return nil
	}
	for i := 0; i < 2; i++ {
		y, cv := add.Inputs[i], add.Inputs[1-i]
		p := y.Def
		if p == nil || (p.Op != "Conv" && p.Op != "ConvTranspose") || uses[y] != 1 || len(p.Outputs) != 1 {
			continue
		}
		c, ok := bnConstF32(cv)
		ws := p.Input(1)
		if !ok || ws == nil || ws.Const == nil || len(ws.Const.Shape) < 3 {
			continue
		}
		M := ws.Const.Shape[0]
		if p.Op == "ConvTranspose" {
			M = ws.Const.Shape[1] * p.AttrInt("group", 1)
		}
		// c must be [M, 1, …] (rank ≤ output rank, channel at axis 1).
		cs := cv.Const.Shape
		rank := len(ws.Const.Shape) // the output's rank
		if int64(len(c)) != M || len(cs) < rank-1 || len(cs) > rank {
			continue
		}
		if len(cs) == rank && cs[0] != 1 || cs[len(cs)-(rank-1)] != M {
			continue
		}
		bias := make([]float32, M)
		if bv := p.Input(2); bv != nil {
			b, ok := bnConstF32(bv)
			if !ok || int64(len(b)) != M {
				continue
			}
			copy(bias, b)
		}
		for m := range bias {
			bias[m] += c[m]
		}
		bnSetInputs(p, 2, bnNewConst(g, add.Outputs[0].Name+"_bias", []int64{M}, bias))
		bnRewire(p, add)
		uses[add.Outputs[0]] = 1
		return add
	}
	return nil
}

// bnSetWeightBias gives p the folded weight nw (shape ws) and the bias
// bias·s + t, one per output channel.
func bnSetWeightBias(g *ir.Graph, p *ir.Node, ws []int64, nw []float32, bias, s, t []float64) {
	nb := make([]float32, len(bias))
	for m := range nb {
		nb[m] = float32(bias[m]*s[m] + t[m])
	}
	bnSetInputs(p, 1, bnNewConst(g, p.Inputs[1].Name, ws, nw))
	bnSetInputs(p, 2, bnNewConst(g, p.Outputs[0].Name+"_bias", []int64{int64(len(nb))}, nb))
}

// bnSetInputs replaces input i of p (on a copy of the input list, padded
// with absent inputs up to three).
func bnSetInputs(p *ir.Node, i int, v *ir.Value) {
	ins := append([]*ir.Value(nil), p.Inputs...)
	for len(ins) < 3 {
		ins = append(ins, nil)
	}
	ins[i] = v
	p.Inputs = ins
}
