package interp

import (
	"github.com/optc-dev/optc/ir"
)

// Control flow: If, Loop, Scan. Bodies run through Call.RunSubgraph, so
// they see the values of every enclosing graph.

func init() {
	Register("If", cfIf)
	Register("Loop", cfLoop)
	Register("Scan", cfScan)
}

// cfGraphAttr returns the graph attribute name of the node, or nil.
func cfGraphAttr(c *Call, name string) *ir.Graph {
	if a, ok := c.Node.Attrs[name]; ok {
		return a.Graph
	}
	return nil
}

// cfElemDType is the tensor dtype inside a (sequence or optional) type.
// The walk is bounded so that a malformed, cyclic type cannot hang it.
func cfElemDType(t ir.Type) ir.DType {
	for k := 0; k < 8 && t.Kind != ir.KindTensor && t.Elem != nil; k++ {
		t = *t.Elem
	}
	return t.DType
}

// cfBool reads a one-element boolean (or numeric) condition tensor.
func cfBool(c *Call, v Value, what string) (bool, error) {
	t, ok := v.(*ir.Tensor)
	if !ok || t == nil {
		return false, c.Errorf("%s must be a tensor, got %T", what, v)
	}
	t, err := t.Dense()
	if err != nil {
		return false, c.Errorf("%s: %v", what, err)
	}
	if t.Len() != 1 || t.DType == ir.String {
		return false, c.Errorf("%s must hold one boolean, got %s", what, t)
	}
	return t.Float64At(0) != 0, nil
}

func cfIf(c *Call, in []Value) ([]Value, error) {
	if len(in) < 1 {
		return nil, c.Errorf("input cond is required")
	}
	cond, err := cfBool(c, in[0], "cond")
	if err != nil {
		return nil, err
	}
	name := "else_branch"
	if cond {
		name = "then_branch"
	}
	g := cfGraphAttr(c, name)
	if g == nil {
		return nil, c.Errorf("attribute %s is required", name)
	}
	if len(g.Outputs) != len(c.Node.Outputs) {
		return nil, c.Errorf("%s has %d outputs, the node has %d", name, len(g.Outputs), len(c.Node.Outputs))
	}
	return c.RunSubgraph(g, nil)
}

func cfLoop(c *Call, in []Value) ([]Value, error) {
	body := cfGraphAttr(c, "body")
	if body == nil {
		return nil, c.Errorf("attribute body is required")
	}
	if len(in) < 2 {
		return nil, c.Errorf("inputs M and cond are required (possibly empty)")
	}
	nState := len(in) - 2
	nScan := len(body.Outputs) - 1 - nState
	if len(body.Inputs) != nState+2 || nScan < 0 {
		return nil, c.Errorf("body has %d inputs and %d outputs for %d loop-carried values", len(body.Inputs), len(body.Outputs), nState)
	}
	if len(c.Node.Outputs) > nState+nScan {
		return nil, c.Errorf("node has %d outputs, the body produces %d", len(c.Node.Outputs), nState+nScan)
	}
	maxTrips := int64(-1)
	if in[0] != nil {
		t, ok := in[0].(*ir.Tensor)
		if !ok {
			return nil, c.Errorf("M must be a tensor, got %T", in[0])
		}
		var err error
		if maxTrips, err = tmScalarInt(c, t, "M"); err != nil {
			return nil, err
		}
	}
	cond := true
	if in[1] != nil {
		var err error
		if cond, err = cfBool(c, in[1], "cond"); err != nil {
			return nil, err
		}
	}
	state := append([]Value{}, in[2:]...)
	scans := make([][]*ir.Tensor, nScan)
	args := make([]Value, len(body.Inputs))
	for i := int64(0); (maxTrips < 0 || i < maxTrips) && cond; i++ {
		if err := c.Ctx.Err(); err != nil {
			return nil, err
		}
		args[0] = ir.ScalarI64(i)
		args[1] = ir.FromSlice(ir.Bool, nil, []bool{cond})
		copy(args[2:], state)
		res, err := c.RunSubgraph(body, args)
		if err != nil {
			return nil, err
		}
		if cond, err = cfBool(c, res[0], "body output cond"); err != nil {
			return nil, err
		}
		copy(state, res[1:1+nState])
		for k := range scans {
			t, ok := res[1+nState+k].(*ir.Tensor)
			if !ok {
				return nil, c.Errorf("scan output %d of iteration %d is %T, want a tensor", k, i, res[1+nState+k])
			}
			scans[k] = append(scans[k], t)
		}
	}
	outs := state
	for k, ts := range scans {
		t, err := cfStack(c, ts, 0, false, body.Outputs[1+nState+k])
		if err != nil {
			return nil, err
		}
		outs = append(outs, t)
	}
	return outs, nil
}

// cfStack joins per-iteration scan outputs along a new axis (in reverse
// iteration order when rev). With no iterations it returns an empty
// tensor typed after the body output decl.
func cfStack(c *Call, ts []*ir.Tensor, axis int64, rev bool, decl *ir.Value) (*ir.Tensor, error) {
	if len(ts) == 0 {
		dt := cfElemDType(decl.Type)
		if dt == ir.Undefined {
			dt = ir.Float32
		}
		dims, ok := decl.Type.Shape.Concrete()
		if !ok || !decl.Type.Ranked {
			return ir.NewTensor(dt, 0), nil
		}
		r := int64(len(dims) + 1)
		if axis < 0 {
			axis += r
		}
		if axis < 0 || axis >= r {
			return nil, c.Errorf("scan output axis %d out of range for rank %d", axis, r)
		}
		shape := append(append(append([]int64{}, dims[:axis]...), 0), dims[axis:]...)
		return ir.NewTensor(dt, shape...), nil
	}
	if rev {
		r := make([]*ir.Tensor, len(ts))
		for i, t := range ts {
			r[len(ts)-1-i] = t
		}
		ts = r
	}
	ax, err := normAxis(c, axis, ts[0].Rank()+1)
	if err != nil {
		return nil, err
	}
	return tmStack(c, ts, ax)
}

// cfAt returns x[..., i, ...] along axis with that axis removed.
func cfAt(x *ir.Tensor, axis int, i int64) *ir.Tensor {
	t := tmSliceAxis(x, axis, i, i+1)
	return t.Reshaped(append(append([]int64{}, x.Shape[:axis]...), x.Shape[axis+1:]...))
}

// cfScanSpec is the iteration plan of one Scan execution.
type cfScanSpec struct {
	body    *ir.Graph
	inAxes  []int
	inRev   []bool
	outAxes []int64
	outRev  []bool
}

// run executes steps iterations of the body over the scan inputs and
// returns the final states and the stacked scan outputs.
func (sp *cfScanSpec) run(c *Call, state []Value, xs []*ir.Tensor, steps int64) ([]Value, []*ir.Tensor, error) {
	nState, nIn := len(state), len(xs)
	nOut := len(sp.body.Outputs) - nState
	if len(sp.body.Inputs) != nState+nIn || nOut < 0 {
		return nil, nil, c.Errorf("body has %d inputs and %d outputs for %d states and %d scan inputs", len(sp.body.Inputs), len(sp.body.Outputs), nState, nIn)
	}
	state = append([]Value{}, state...)
	outs := make([][]*ir.Tensor, nOut)
	args := make([]Value, nState+nIn)
	for t := int64(0); t < steps; t++ {
		if err := c.Ctx.Err(); err != nil {
			return nil, nil, err
		}
		copy(args, state)
		for j, x := range xs {
			i := t
			if sp.inRev[j] {
				i = x.Shape[sp.inAxes[j]] - 1 - t
			}
			args[nState+j] = cfAt(x, sp.inAxes[j], i)
		}
		res, err := c.RunSubgraph(sp.body, args)
		if err != nil {
			return nil, nil, err
		}
		copy(state, res[:nState])
		for k := range outs {
			y, ok := res[nState+k].(*ir.Tensor)
			if !ok {
				return nil, nil, c.Errorf("scan output %d is %T, want a tensor", k, res[nState+k])
			}
			outs[k] = append(outs[k], y)
		}
	}
	stacked := make([]*ir.Tensor, nOut)
	for k, ys := range outs {
		var err error
		if stacked[k], err = cfStack(c, ys, sp.outAxes[k], sp.outRev[k], sp.body.Outputs[nState+k]); err != nil {
			return nil, nil, err
		}
	}
	return state, stacked, nil
}

// cfScanAttrs reads a per-input/-output ints attribute (default 0 each).
func cfScanAttrs(c *Call, name string, n int) ([]int64, error) {
	v := c.Node.AttrInts(name, nil)
	if v == nil {
		return make([]int64, n), nil
	}
	if len(v) != n {
		return nil, c.Errorf("attribute %s has %d entries, want %d", name, len(v), n)
	}
	return v, nil
}

func cfScan(c *Call, in []Value) ([]Value, error) {
	body := cfGraphAttr(c, "body")
	if body == nil {
		return nil, c.Errorf("attribute body is required")
	}
	nIn := int(c.Node.AttrInt("num_scan_inputs", -1))
	if c.Opset < 9 {
		return cfScan8(c, body, in, nIn)
	}
	if nIn < 1 || nIn > len(in) {
		return nil, c.Errorf("num_scan_inputs %d out of range for %d inputs", nIn, len(in))
	}
	nState := len(in) - nIn
	nOut := len(body.Outputs) - nState
	xs := make([]*ir.Tensor, nIn)
	for j := range xs {
		x, err := tensorArg(c, in, nState+j)
		if err != nil {
			return nil, err
		}
		xs[j] = x
	}
	inAxes, err := cfScanAttrs(c, "scan_input_axes", nIn)
	if err != nil {
		return nil, err
	}
	inDirs, err := cfScanAttrs(c, "scan_input_directions", nIn)
	if err != nil {
		return nil, err
	}
	outAxes, err := cfScanAttrs(c, "scan_output_axes", max(nOut, 0))
	if err != nil {
		return nil, err
	}
	outDirs, err := cfScanAttrs(c, "scan_output_directions", max(nOut, 0))
	if err != nil {
		return nil, err
	}
	sp := &cfScanSpec{body: body, inAxes: make([]int, nIn), inRev: make([]bool, nIn), outAxes: outAxes, outRev: make([]bool, len(outDirs))}
	steps := int64(-1)
	for j, x := range xs {
		a, err := normAxis(c, inAxes[j], x.Rank())
		if err != nil {
			return nil, err
		}
		sp.inAxes[j], sp.inRev[j] = a, inDirs[j] != 0
		if steps >= 0 && x.Shape[a] != steps {
			return nil, c.Errorf("scan input %d has %d steps along axis %d, input 0 has %d", j, x.Shape[a], a, steps)
		}
		steps = x.Shape[a]
	}
	for k, d := range outDirs {
		sp.outRev[k] = d != 0
	}
	state, ys, err := sp.run(c, in[:nState], xs, steps)
	if err != nil {
		return nil, err
	}
	outs := state
	for _, y := range ys {
		outs = append(outs, y)
	}
	return outs, nil
}

// cfScan8 runs the opset 8 form of Scan: every state and scan input has a
// leading batch dim, the scan runs along axis 1 for each batch entry (for
// sequence_lens[b] steps when given, the scan outputs then padded with
// zeros), and the results are stacked back along the batch dim.
func cfScan8(c *Call, body *ir.Graph, in []Value, nIn int) ([]Value, error) {
	if nIn < 1 || nIn > len(in)-1 {
		return nil, c.Errorf("num_scan_inputs %d out of range for %d inputs", nIn, len(in))
	}
	lensT, err := optTensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	args := in[1:]
	nState := len(args) - nIn
	nOut := len(body.Outputs) - nState
	ts := make([]*ir.Tensor, len(args))
	for i := range args {
		if ts[i], err = tensorArg(c, args, i); err != nil {
			return nil, err
		}
		if ts[i].Rank() < 1 || ts[i].Shape[0] != ts[0].Shape[0] || (i >= nState && ts[i].Rank() < 2) {
			return nil, c.Errorf("input %d has shape %v; every input needs the batch dim %d (scan inputs also a sequence dim)", i+1, ts[i].Shape, ts[0].Shape[0])
		}
	}
	batch := ts[0].Shape[0]
	maxLen := ts[nState].Shape[1]
	var lens []int64
	if lensT != nil {
		if lens, err = tmInts(c, lensT, "sequence_lens"); err != nil {
			return nil, err
		}
		if int64(len(lens)) != batch {
			return nil, c.Errorf("sequence_lens has %d entries for batch %d", len(lens), batch)
		}
	}
	dirs, err := cfScanAttrs(c, "directions", nIn)
	if err != nil {
		return nil, err
	}
	sp := &cfScanSpec{body: body, inAxes: make([]int, nIn), inRev: make([]bool, nIn), outAxes: make([]int64, max(nOut, 0)), outRev: make([]bool, max(nOut, 0))}
	for j := range dirs {
		sp.inRev[j] = dirs[j] != 0
	}
	states := make([][]*ir.Tensor, nState)
	scans := make([][]*ir.Tensor, max(nOut, 0))
	for b := int64(0); b < batch; b++ {
		st := make([]Value, nState)
		for i := range st {
			st[i] = cfAt(ts[i], 0, b)
		}
		steps := maxLen
		if lens != nil {
			if lens[b] < 0 || lens[b] > maxLen {
				return nil, c.Errorf("sequence length %d out of range [0, %d]", lens[b], maxLen)
			}
			steps = lens[b]
		}
		xs := make([]*ir.Tensor, nIn)
		for j := range xs {
			x := cfAt(ts[nState+j], 0, b)
			if x.Shape[0] != maxLen {
				return nil, c.Errorf("scan input %d has %d steps, input 0 has %d", j, x.Shape[0], maxLen)
			}
			xs[j] = tmSliceAxis(x, 0, 0, steps)
		}
		fin, ys, err := sp.run(c, st, xs, steps)
		if err != nil {
			return nil, err
		}
		for i, v := range fin {
			t, ok := v.(*ir.Tensor)
			if !ok {
				return nil, c.Errorf("state %d is %T, want a tensor", i, v)
			}
			states[i] = append(states[i], t)
		}
		for k, y := range ys {
			if pad := maxLen - y.Shape[0]; pad > 0 && y.Rank() > 0 {
				zs := ir.NewTensor(y.DType, append([]int64{pad}, y.Shape[1:]...)...)
				if y, err = tmConcat(c, []*ir.Tensor{y, zs}, 0); err != nil {
					return nil, err
				}
			}
			scans[k] = append(scans[k], y)
		}
	}
	var outs []Value
	for _, group := range append(states, scans...) {
		t, err := tmStack(c, group, 0)
		if err != nil {
			return nil, err
		}
		outs = append(outs, t)
	}
	return outs, nil
}
