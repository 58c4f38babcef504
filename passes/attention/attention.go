package attention

import (
	"context"
	"fmt"
	"strings"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
	"github.com/optc-dev/optc/runtime/interp"
)

func init() {
	passes.Register("attention", func(a passes.Args) (passes.Pass, error) { return Fuse{}, a.Only() })
	passes.Register("bind-kv", func(a passes.Args) (passes.Pass, error) { return BindKV{}, a.Only() })
}

// Fuse replaces exported attention subgraphs with optc.Attention.
type Fuse struct{}

func (Fuse) Name() string { return "attention" }

// index holds the consumers of every value of a graph.
type index struct {
	uses map[*ir.Value][]*ir.Node
	outs map[*ir.Value]bool
}

func newIndex(g *ir.Graph) *index {
	x := &index{uses: map[*ir.Value][]*ir.Node{}, outs: map[*ir.Value]bool{}}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			if v != nil {
				x.uses[v] = append(x.uses[v], n)
			}
		}
	}
	for _, o := range g.Outputs {
		x.outs[o] = true
	}
	return x
}

// only reports whether v's one consumer is n and v is no graph output.
func (x *index) only(v *ir.Value, n *ir.Node) bool {
	u := x.uses[v]
	return len(u) == 1 && u[0] == n && !x.outs[v]
}

// def returns v's producer if it is op (default domain).
func def(v *ir.Value, op string) *ir.Node {
	if v == nil || v.Def == nil || v.Def.Op != op || v.Def.Domain != "" {
		return nil
	}
	return v.Def
}

// scalarConst returns the value of a one-element float constant.
func scalarConst(v *ir.Value) (float64, bool) {
	t, ok := ir.ConstValue(v)
	if !ok || t.Len() != 1 || !t.DType.IsFloat() {
		return 0, false
	}
	d, err := t.Dense()
	if err != nil {
		return 0, false
	}
	return d.Float64At(0), true
}

// intsConst returns the contents of an integer constant.
func intsConst(v *ir.Value) ([]int64, bool) {
	t, ok := ir.ConstValue(v)
	if !ok || !t.DType.IsInt() {
		return nil, false
	}
	d, err := t.Dense()
	if err != nil {
		return nil, false
	}
	return d.Int64s(), true
}

// match is one recognized attention.
type match struct {
	softmax, qk, pv *ir.Node
	q               *ir.Value
	kNew, vNew      *ir.Value
	pastK, pastV    *ir.Value
	presK, presV    *ir.Value // the concatenations (nil without past)
	scale           float32
	mask            *ir.Value // Where condition or additive mask
	maskHides       bool      // the condition is true where keys are hidden
	maskAdditive    bool
	gqa             bool
	removed         []*ir.Node
}

// peelRepeat undoes the grouped-query repeat_kv pattern
// Reshape(Expand(Unsqueeze(k, axes=[2]), …), …), which makes query head h
// read kv head h/rep. It returns k and the three nodes, or v itself.
func (x *index) peelRepeat(v *ir.Value) (*ir.Value, []*ir.Node) {
	r := def(v, "Reshape")
	if r == nil {
		return v, nil
	}
	e := def(r.Inputs[0], "Expand")
	if e == nil || !x.only(r.Inputs[0], r) {
		return v, nil
	}
	u := def(e.Inputs[0], "Unsqueeze")
	if u == nil || !x.only(e.Inputs[0], e) {
		return v, nil
	}
	axes := u.AttrInts("axes", nil)
	if a, ok := intsConst(u.Input(1)); ok {
		axes = a
	}
	if len(axes) != 1 || axes[0] != 2 {
		return v, nil
	}
	return u.Inputs[0], []*ir.Node{r, e, u}
}

// peelConcat splits Concat(past, new, axis=2) (rank 4) into its parts.
func peelConcat(v *ir.Value) (past, nw *ir.Value, n *ir.Node) {
	c := def(v, "Concat")
	if c == nil || len(c.Inputs) != 2 || c.AttrInt("axis", 0) != 2 && c.AttrInt("axis", 0) != -2 {
		return nil, v, nil
	}
	return c.Inputs[0], c.Inputs[1], c
}

// softmaxLastAxis reports whether a Softmax normalizes the last axis.
func softmaxLastAxis(n *ir.Node, opset int64) bool {
	axis := int64(-1)
	if opset < 13 {
		axis = 1
	}
	axis = n.AttrInt("axis", axis)
	if axis == -1 {
		return true
	}
	t := n.Inputs[0].Type
	return opset >= 13 && t.Ranked && int64(len(t.Shape)) == axis+1
}

// find matches the pattern around one Softmax. Every intermediate value
// it swallows must have its one consumer inside the pattern.
func (x *index) find(sm *ir.Node, opset int64) (*match, bool) {
	if !softmaxLastAxis(sm, opset) {
		return nil, false
	}
	m := &match{softmax: sm, scale: 1}
	prev, s := sm, sm.Inputs[0]
	// step accepts s's producer n into the pattern.
	step := func(n *ir.Node) bool {
		if n == nil || !x.only(s, prev) {
			return false
		}
		m.removed = append(m.removed, n)
		prev = n
		return true
	}
	// The mask: Where(cond, -inf, s), Where(cond, s, -inf) or Add(s, mask).
	if w := def(s, "Where"); w != nil {
		if !step(w) {
			return nil, false
		}
		if c, ok := scalarConst(w.Inputs[1]); ok && c <= -1e30 {
			m.mask, m.maskHides, s = w.Inputs[0], true, w.Inputs[2]
		} else if c, ok := scalarConst(w.Inputs[2]); ok && c <= -1e30 {
			m.mask, s = w.Inputs[0], w.Inputs[1]
		} else {
			return nil, false
		}
	} else if a := def(s, "Add"); a != nil {
		if !step(a) {
			return nil, false
		}
		for i := 0; i < 2 && m.mask == nil; i++ {
			if scoreLike(a.Inputs[i]) {
				m.mask, m.maskAdditive, s = a.Inputs[1-i], true, a.Inputs[i]
			}
		}
		if m.mask == nil {
			return nil, false
		}
	}
	// The scale: Mul by or Div by a scalar constant.
	if n := def(s, "Mul"); n != nil {
		c, ok := scalarConst(n.Inputs[1])
		i := 0
		if !ok {
			c, ok = scalarConst(n.Inputs[0])
			i = 1
		}
		if !ok || !step(n) {
			return nil, false
		}
		m.scale, s = float32(c), n.Inputs[i]
	} else if n := def(s, "Div"); n != nil {
		c, ok := scalarConst(n.Inputs[1])
		if !ok || c == 0 || !step(n) {
			return nil, false
		}
		m.scale, s = float32(1/c), n.Inputs[0]
	}
	qk := def(s, "MatMul")
	if !step(qk) {
		return nil, false
	}
	m.qk, m.q = qk, qk.Inputs[0]
	s = qk.Inputs[1]
	tr := def(s, "Transpose")
	if !step(tr) || fmt.Sprint(tr.AttrInts("perm", nil)) != "[0 1 3 2]" {
		return nil, false
	}
	// The weighted sum P·V.
	p := sm.Outputs[0]
	if u := x.uses[p]; len(u) != 1 || x.outs[p] || u[0].Op != "MatMul" || u[0].Domain != "" || u[0].Inputs[0] != p {
		return nil, false
	}
	m.pv = x.uses[p][0]
	m.removed = append(m.removed, sm, m.pv)
	k, kRep := x.peelRepeat(tr.Inputs[0])
	v, vRep := x.peelRepeat(m.pv.Inputs[1])
	if (kRep == nil) != (vRep == nil) {
		return nil, false
	}
	if kRep != nil {
		if !x.only(tr.Inputs[0], tr) || !x.only(m.pv.Inputs[1], m.pv) {
			return nil, false
		}
		m.gqa = true
		m.removed = append(append(m.removed, kRep...), vRep...)
	}
	var ck, cv *ir.Node
	m.pastK, m.kNew, ck = peelConcat(k)
	m.pastV, m.vNew, cv = peelConcat(v)
	if (ck == nil) != (cv == nil) {
		return nil, false
	}
	if ck != nil {
		m.presK, m.presV = k, v
		m.removed = append(m.removed, ck, cv)
	}
	for _, t := range []*ir.Value{m.q, m.kNew, m.vNew} {
		if t.Type.Ranked && len(t.Type.Shape) != 4 {
			return nil, false
		}
	}
	return m, true
}

// scoreLike reports whether v looks like attention scores (a MatMul,
// possibly scaled).
func scoreLike(v *ir.Value) bool {
	for _, op := range []string{"Mul", "Div"} {
		if n := def(v, op); n != nil {
			return def(n.Inputs[0], "MatMul") != nil || def(n.Input(1), "MatMul") != nil
		}
	}
	return def(v, "MatMul") != nil
}

// Run fuses every match in the top-level graph.
func (f Fuse) Run(ctx *passes.Context, g *ir.Graph) error {
	opset := g.Opset("")
	x := newIndex(g)
	var found []*match
	for _, n := range g.Nodes {
		if n.Op == "Softmax" && n.Domain == "" {
			if m, ok := x.find(n, opset); ok {
				found = append(found, m)
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	if g.Opsets[ir.DomainOptc] == 0 {
		g.Opsets[ir.DomainOptc] = 1
	}
	names := ir.NewNameSet(g)
	drop := map[*ir.Node]bool{}
	var added []*ir.Node
	causalMemo := map[*ir.Value]bool{}
	for _, m := range found {
		attrs := map[string]*ir.Attr{"scale": ir.FloatAttr(m.scale), "is_causal": ir.IntAttr(0)}
		ins := []*ir.Value{m.q, m.kNew, m.vNew, nil, m.pastK, m.pastV}
		causal, seen := causalMemo[m.mask]
		if m.mask != nil && !seen {
			causal = isCausal(g, m.mask, m.maskHides, m.maskAdditive)
			causalMemo[m.mask] = causal
		}
		switch {
		case m.mask == nil:
		case causal:
			attrs["is_causal"] = ir.IntAttr(1)
		case m.maskHides:
			keep := &ir.Value{Name: names.Fresh(m.mask.Name + "_keep")}
			not := &ir.Node{Op: "Not", Name: keep.Name, Inputs: []*ir.Value{m.mask}, Outputs: []*ir.Value{keep}, Attrs: map[string]*ir.Attr{}}
			keep.Def = not
			added = append(added, not)
			ins[3] = keep
		default:
			ins[3] = m.mask
		}
		y := m.pv.Outputs[0]
		outs := []*ir.Value{y}
		if m.presK != nil {
			outs = append(outs, m.presK, m.presV)
		} else {
			ins = ins[:4]
		}
		for len(ins) > 3 && ins[len(ins)-1] == nil {
			ins = ins[:len(ins)-1]
		}
		name := m.softmax.Name
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[:i+1] + "Attention"
		} else {
			name += "_attention"
		}
		an := &ir.Node{Op: "Attention", Domain: ir.DomainOptc, Name: name, Inputs: ins, Outputs: outs, Attrs: attrs}
		for _, o := range outs {
			o.Def = an
		}
		added = append(added, an)
		for _, n := range m.removed {
			drop[n] = true
		}
		ctx.Report.Add("attention", name, map[string]any{"causal": causal, "past": m.pastK != nil, "gqa": m.gqa, "scale": m.scale})
	}
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		if !drop[n] {
			kept = append(kept, n)
		}
	}
	g.Nodes = append(kept, added...)
	if err := dce(ctx, g); err != nil {
		return err
	}
	if err := topoSort(g); err != nil {
		return err
	}
	ctx.Logf("attention: fused %d attention subgraphs", len(found))
	return ir.InferShapes(g)
}

// dce runs dead-code elimination until nothing changes (passes.DCE
// removes one level of a dead chain per run).
func dce(ctx *passes.Context, g *ir.Graph) error {
	for {
		n := len(g.Nodes)
		if err := (passes.DCE{}).Run(ctx, g); err != nil {
			return err
		}
		if len(g.Nodes) == n {
			return nil
		}
	}
}

// topoSort reorders g's nodes so that every value is defined before use,
// keeping the original order where it already is (Kahn's algorithm,
// lowest original position first). Values a node's subgraphs read from g
// count as its inputs.
func topoSort(g *ir.Graph) error {
	pos := map[*ir.Node]int{}
	producer := map[*ir.Value]*ir.Node{}
	for i, n := range g.Nodes {
		pos[n] = i
		for _, o := range n.Outputs {
			if o != nil {
				producer[o] = n
			}
		}
	}
	deps := map[*ir.Node][]*ir.Node{}
	waiting := map[*ir.Node]int{}
	for _, n := range g.Nodes {
		seen := map[*ir.Node]bool{}
		var add func(v *ir.Value)
		add = func(v *ir.Value) {
			if p := producer[v]; p != nil && p != n && !seen[p] {
				seen[p] = true
				deps[p] = append(deps[p], n)
				waiting[n]++
			}
		}
		for _, v := range n.Inputs {
			add(v)
		}
		for _, sg := range n.Subgraphs() {
			sg.Walk(func(_ *ir.Graph, sn *ir.Node) error {
				for _, v := range sn.Inputs {
					add(v)
				}
				return nil
			})
		}
	}
	var ready []*ir.Node
	for _, n := range g.Nodes {
		if waiting[n] == 0 {
			ready = append(ready, n)
		}
	}
	out := make([]*ir.Node, 0, len(g.Nodes))
	for len(ready) > 0 {
		best := 0
		for i, n := range ready {
			if pos[n] < pos[ready[best]] {
				best = i
			}
		}
		n := ready[best]
		ready = append(ready[:best], ready[best+1:]...)
		out = append(out, n)
		for _, d := range deps[n] {
			if waiting[d]--; waiting[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	if len(out) != len(g.Nodes) {
		return fmt.Errorf("attention: the rewritten graph has a cycle")
	}
	g.Nodes = out
	return nil
}

// isCausal decides whether mask (a Where condition or an additive mask
// feeding attention scores of shape [..., S, T]) is the causal mask
// "query i sees keys j ≤ T−S+i". It must depend on the graph's inputs only
// through their shapes; it is then evaluated for several bindings of the
// symbolic dims and compared.
func isCausal(g *ir.Graph, mask *ir.Value, hides, additive bool) bool {
	cone, ins, consts, ok := maskCone(g, mask)
	if !ok {
		return false
	}
	syms := map[string]int{}
	for _, in := range ins {
		for _, d := range in.Type.Shape {
			if !d.Known() && d.Param != "" {
				if _, ok := syms[d.Param]; !ok {
					syms[d.Param] = len(syms)
				}
			}
		}
	}
	sub := &ir.Graph{Name: "mask", Inputs: ins, Outputs: []*ir.Value{mask}, Nodes: cone, Consts: consts, Opsets: g.Opsets}
	// Sizes of the symbolic dims per trial (symbol i takes trials[t][i%3]):
	// every symbol is 1, 2, 3 and 0 or 4 in some trial, in different
	// combinations, so sequence and past lengths vary independently.
	trials := [][3]int64{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}, {1, 4, 0}}
	informative := false
	for trial := range trials {
		feeds := map[string]interp.Value{}
		for _, in := range ins {
			shape := make([]int64, len(in.Type.Shape))
			for i, d := range in.Type.Shape {
				switch {
				case d.Known():
					shape[i] = d.Size
				case d.Param != "":
					shape[i] = trials[trial][syms[d.Param]%3]
				default:
					shape[i] = 2
				}
			}
			feeds[in.Name] = ir.NewTensor(in.Type.DType, shape...)
		}
		res, err := interp.Run(context.Background(), sub, feeds)
		if err != nil {
			return false
		}
		t, ok := res[mask.Name].(*ir.Tensor)
		if !ok || t.Rank() < 2 {
			return false
		}
		d, err := t.Dense()
		if err != nil {
			return false
		}
		s, tt := int(d.Shape[d.Rank()-2]), int(d.Shape[d.Rank()-1])
		if s > tt {
			return false
		}
		if s > 1 && tt > s {
			informative = true
		}
		for k := 0; k < d.Len(); k++ {
			i, j := (k/tt)%s, k%tt
			visible := j <= tt-s+i
			switch {
			case additive:
				v := d.Float64At(k)
				if visible && v != 0 || !visible && v > -1e30 {
					return false
				}
			default:
				if (d.Float64At(k) != 0) == (visible != hides) {
					continue
				}
				return false
			}
		}
	}
	return informative
}

// maskCone collects the nodes computing mask, the graph inputs they read
// (through Shape only) and the constants they use.
func maskCone(g *ir.Graph, mask *ir.Value) (nodes []*ir.Node, ins, consts []*ir.Value, ok bool) {
	in := map[*ir.Node]bool{}
	inputs := map[*ir.Value]bool{}
	for _, v := range g.Inputs {
		inputs[v] = true
	}
	seenIn, seenConst := map[*ir.Value]bool{}, map[*ir.Value]bool{}
	var walk func(v *ir.Value) bool
	walk = func(v *ir.Value) bool {
		switch {
		case v == nil:
			return true
		case v.Const != nil:
			if !seenConst[v] {
				seenConst[v] = true
				consts = append(consts, v)
			}
			return true
		case inputs[v]:
			if !seenIn[v] {
				seenIn[v] = true
				ins = append(ins, v)
			}
			return true
		case v.Def == nil:
			return false
		}
		n := v.Def
		if in[n] {
			return true
		}
		if len(n.Subgraphs()) > 0 || strings.HasPrefix(n.Op, "Random") {
			return false
		}
		in[n] = true
		for _, x := range n.Inputs {
			if x != nil && inputs[x] && n.Op != "Shape" {
				return false // the mask reads input data, not just shapes
			}
			if !walk(x) {
				return false
			}
		}
		return true
	}
	if !walk(mask) {
		return nil, nil, nil, false
	}
	for _, n := range g.Nodes {
		if in[n] {
			nodes = append(nodes, n)
		}
	}
	return nodes, ins, consts, true
}

// BindKV makes attention read and append to the runtime's KV cache
// instead of Optimum-style past/present graph inputs and outputs.
type BindKV struct{}

func (BindKV) Name() string { return "bind-kv" }

// Run binds layer i's attention to past_key_values.{i}.key/.value and
// present.{i}.key/.value, removing them from the graph's interface.
func (BindKV) Run(ctx *passes.Context, g *ir.Graph) error {
	layerOf := map[*ir.Value]int{}
	for _, in := range g.Inputs {
		var l int
		var kind string
		if _, err := fmt.Sscanf(in.Name, "past_key_values.%d.%s", &l, &kind); err == nil && (kind == "key" || kind == "value") {
			layerOf[in] = l
		}
	}
	if len(layerOf) == 0 {
		return fmt.Errorf("bind-kv: the graph has no past_key_values.{i}.key/.value inputs")
	}
	bound := map[*ir.Value]bool{}
	dropOut := map[*ir.Value]bool{}
	for _, n := range g.Nodes {
		if n.Op != "Attention" || n.Domain != ir.DomainOptc || n.Input(4) == nil {
			continue
		}
		lk, okK := layerOf[n.Inputs[4]]
		lv, okV := layerOf[n.Input(5)]
		if !okK || !okV || lk != lv || !strings.HasSuffix(n.Inputs[4].Name, ".key") || !strings.HasSuffix(n.Inputs[5].Name, ".value") {
			return fmt.Errorf("bind-kv: %s reads %s and %s, not one layer's past key and value", n.Describe(), n.Inputs[4].Name, n.Input(5).Name)
		}
		if m := n.Input(3); m != nil {
			if cone, _, _, _ := maskCone(g, m); coneReads(cone, n.Inputs[4], n.Inputs[5]) {
				return fmt.Errorf("bind-kv: %s: its attention mask depends on the past inputs (only causal masks can be bound)", n.Describe())
			}
		}
		for i := 1; i < len(n.Outputs) && i < 3; i++ {
			if o := n.Outputs[i]; o != nil {
				dropOut[o] = true
			}
		}
		bound[n.Inputs[4]], bound[n.Inputs[5]] = true, true
		n.Attrs["kv_layer"] = ir.IntAttr(int64(lk))
		n.Inputs = n.Inputs[:3]
		if m := n.Input(3); m != nil {
			n.Inputs = append(n.Inputs, m)
		}
		n.Outputs = n.Outputs[:1]
		ctx.Report.Add("bind-kv", n.Name, map[string]any{"kv_layer": lk})
	}
	for in := range layerOf {
		if !bound[in] {
			return fmt.Errorf("bind-kv: no fused attention reads %s (run the attention pass first)", in.Name)
		}
	}
	outs := g.Outputs[:0]
	for _, o := range g.Outputs {
		if !dropOut[o] {
			outs = append(outs, o)
		}
	}
	g.Outputs = outs
	if err := dce(ctx, g); err != nil {
		return err
	}
	x := newIndex(g)
	ins := g.Inputs[:0]
	for _, in := range g.Inputs {
		if bound[in] {
			if u := x.uses[in]; len(u) > 0 {
				return fmt.Errorf("bind-kv: %s is still read by %s", in.Name, u[0].Describe())
			}
			continue
		}
		ins = append(ins, in)
	}
	g.Inputs = ins
	ctx.Logf("bind-kv: bound %d layers to the KV cache", len(bound)/2)
	return nil
}

func coneReads(cone []*ir.Node, vs ...*ir.Value) bool {
	for _, n := range cone {
		for _, in := range n.Inputs {
			for _, v := range vs {
				if in == v {
					return true
				}
			}
		}
	}
	return false
}
