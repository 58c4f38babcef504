package ir

// Recurrent ops. FLOPs per time step, direction and batch row: the two
// matrix products 2·g·H·(I+H) plus (g+3)·H for biases, gates and the state
// update, with g = 1 (RNN), 3 (GRU) or 4 (LSTM) gates.

const opRNNAttrs = "activation_alpha=fs activation_beta=fs clip=f direction=s:forward hidden_size=i layout=i:0 output_sequence=i:0"

func init() {
	regOps("", inferRNN(1), opFlops(rnnFlops(1)), opRow{"RNN", 1, "3-6:0-2", opRNNAttrs + " activations=ss:Tanh,Tanh"})
	regOps("", inferRNN(3), opFlops(rnnFlops(3)), opRow{"GRU", 3, "3-6:0-2", opRNNAttrs + " activations=ss linear_before_reset=i:0"})
	regOps("", inferRNN(4), opFlops(rnnFlops(4)), opRow{"LSTM", 1, "3-8:0-3", opRNNAttrs + " activations=ss input_forget=i:0"})
}

// inferRNN infers Y, Y_h (and LSTM's Y_c) for an op with g gates.
func inferRNN(g int64) opInferFn {
	return func(c *inferCtx) error {
		d, err := c.commonDType(0, 1, 2)
		if err != nil {
			return err
		}
		dirs := int64(1)
		if c.n.AttrString("direction", "forward") == "bidirectional" {
			dirs = 2
		}
		h := UnknownDim()
		if a, ok := c.n.Attrs["hidden_size"]; ok && a.Kind == AttrInt {
			h = D(a.Int)
		} else if r, ok := c.ranked(2); ok && len(r.Shape) == 3 {
			h = r.Shape[2]
		}
		seq, batch := UnknownDim(), UnknownDim()
		layout := c.attrInt("layout", 0)
		if x, ok := c.ranked(0); ok {
			if len(x.Shape) != 3 {
				return c.errf("input %s is not 3-D", typeText(x))
			}
			seq, batch = x.Shape[0], x.Shape[1]
			if layout != 0 {
				seq, batch = batch, seq
			}
		}
		nd := D(dirs)
		y := Shape{seq, nd, batch, h}
		yh := Shape{nd, batch, h}
		if layout != 0 {
			y = Shape{batch, seq, nd, h}
			yh = Shape{batch, nd, h}
		}
		return firstErr(c.setTensor(0, d, y), c.setTensor(1, d, yh), c.setTensor(2, d, yh))
	}
}

func rnnFlops(g int64) func(n *Node) int64 {
	return func(n *Node) int64 {
		x, r := opDims(n, 0), opDims(n, 2)
		if len(x) != 3 || len(r) != 3 {
			return 0
		}
		dirs, h, in := r[0], r[2], x[2]
		steps := x[0] * x[1] // seq·batch in either layout
		return dirs * steps * (2*g*h*(in+h) + (g+3)*h)
	}
}
