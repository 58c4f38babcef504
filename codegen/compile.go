package codegen

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/targets"
)

// Options configure Compile.
type Options struct {
	Target *targets.Target
	// Shapes fixes the shapes of graph inputs by name; symbolic dims of
	// inputs not listed are bound to 1.
	Shapes map[string][]int64
}

// Result is a compiled graph.
type Result struct {
	// Module is the LLVM IR (text) of all native segments.
	Module []byte
	// Graph is the input graph with every shape bound.
	Graph *ir.Graph
	// Steps run the graph in order: native segments and interpreter
	// subgraphs.
	Steps []Step
	// Weights are stored contiguously in this order at their Offsets.
	Weights []*Weight
	// WeightBytes is the size of the weight blob.
	WeightBytes int64
	// Fallback lists the nodes that run on the interpreter.
	Fallback []Fallback
	// Bindings records how symbolic input dims were fixed.
	Bindings []Binding
	// Kernels describes the kernels of the native segments, in order.
	Kernels []string
	// Decoded lists the quantized (encoded) constants that were stored
	// decoded to float32 because no kernel computes on their encoding
	// (each as "name: why"), sorted.
	Decoded []string
}

// FullyNative reports whether the whole graph is one native segment (and
// so callable through the plain C ABI).
func (r *Result) FullyNative() bool { return len(r.Steps) == 1 && r.Steps[0].Native }

// Step is one segment of the partitioned graph.
type Step struct {
	Native bool
	// Func is the entry symbol of a native segment.
	Func string
	// Scratch is the arena size (bytes) a native segment needs.
	Scratch int64
	// Inputs and Outputs are the values the segment reads and produces.
	Inputs, Outputs []*ir.Value
	// Graph is an interpreted segment: a graph whose inputs and outputs
	// are the step's.
	Graph *ir.Graph
}

// Weight is one stored tensor of the weight blob: float32 data (or, for
// quantized weights, integer codes in Raw) in the layout a kernel streams,
// padded to a multiple of 64 bytes so every tensor starts 64-byte aligned.
type Weight struct {
	Name     string    // unique name (the source constant's, plus a suffix for packed forms)
	Of       string    // the graph constant it was made from
	Encoding string    // "dense" or a packed layout, e.g. "packed_b(nr=16)"
	Shape    []int64   // the logical shape of the source constant
	Data     []float32 // stored elements (padded)
	Offset   int64     // byte offset in the blob
	// Raw, when set, replaces Data: integer codes (quantized weights,
	// DType "I8" or "U8" for packed 4-bit pairs), padded to 64 bytes.
	Raw   []byte
	DType string
}

// DefaultPipeline is the pass pipeline optc compile runs before lowering
// unless told otherwise: constants folded (Transpose of a weight, shape
// arithmetic) and dead nodes removed.
const DefaultPipeline = "fold,fold-bn,dce"

// EntryName is the symbol of the single entry point of a fully native graph.
const EntryName = "optc_graph_run"

// compiler holds the state shared by all segments of one Compile.
type compiler struct {
	g       *ir.Graph
	t       *targets.Target
	mod     *llModule
	weights []*Weight
	wkey    map[string]*Weight
	wnames  map[string]bool
	wsize   int64
	uses    map[*ir.Value]int
	kdesc   []string
	// decoded: encoded constants stored as float32, and why.
	decoded map[string]string
}

// kernel is one unit of generated code in a native segment. It reads
// buffers and writes its output value; temps are scratch buffers it needs
// while it runs.
type kernel interface {
	inputs() []buf
	output() *ir.Value
	temps() []int64
	emit(e *segEmitter, temps []int64) error
	describe() string
}

// buf is a buffer a kernel reads: a graph value (located by the memory
// plan through its storage root) or a stored weight.
type buf struct {
	v *ir.Value
	w *Weight
}

// Compile lowers g for opts.Target. g's value types are bound in place.
func Compile(g *ir.Graph, opts Options) (*Result, error) {
	if opts.Target == nil {
		return nil, fmt.Errorf("codegen: no target")
	}
	binds, err := bindShapes(g, opts.Shapes)
	if err != nil {
		return nil, err
	}
	if err := ctrlSimplify(g); err != nil {
		return nil, err
	}
	if err := ir.Verify(g); err != nil {
		return nil, err
	}
	segs, fb := partition(g)
	c := &compiler{g: g, t: opts.Target, mod: newLLModule(opts.Target), wkey: map[string]*Weight{}, wnames: map[string]bool{}, uses: map[*ir.Value]int{}}
	for _, s := range segs {
		for _, n := range s.nodes {
			for _, v := range nodeUses(n, s.native) {
				c.uses[v]++
			}
		}
	}
	for _, v := range g.Outputs {
		c.uses[v]++
	}
	res := &Result{Graph: g, Fallback: fb, Bindings: binds}
	for i, s := range segs {
		st := Step{Native: s.native, Inputs: s.inputs, Outputs: s.outputs}
		if s.native {
			name := fmt.Sprintf("optc_seg_%d", i)
			if len(segs) == 1 {
				name = EntryName
			}
			l, err := c.lowerSegment(s)
			if err != nil {
				return nil, err
			}
			scratch, err := c.emitSegment(l, name)
			if err != nil {
				return nil, err
			}
			st.Func, st.Scratch = name, scratch
		} else {
			st.Graph = interpGraph(g, s)
		}
		res.Steps = append(res.Steps, st)
	}
	if attnHasAttention(g) {
		c.attnEmitKernel() // codegen/attention.go
	}
	res.Module = []byte(c.mod.m.String())
	res.Weights, res.WeightBytes, res.Kernels = c.weights, c.wsize, c.kdesc
	coded := map[string]bool{} // constants some kernel reads as codes
	for _, w := range c.weights {
		coded[w.Of] = coded[w.Of] || w.Raw != nil
	}
	for _, w := range c.weights {
		if v := c.constByName(w.Of); v != nil && !coded[w.Of] {
			c.noteDecoded(v, "stored as float32 ("+strings.SplitN(w.Encoding, "(", 2)[0]+")")
		}
	}
	for name, why := range c.decoded {
		res.Decoded = append(res.Decoded, name+": "+why)
	}
	sort.Strings(res.Decoded)
	return res, nil
}

// interpGraph is the graph an interpreted segment runs.
func interpGraph(g *ir.Graph, s *segment) *ir.Graph {
	sg := &ir.Graph{Name: fmt.Sprintf("%s_part", g.Name), Inputs: s.inputs, Outputs: s.outputs, Nodes: s.nodes, Opsets: g.Opsets}
	seen := map[*ir.Value]bool{}
	for _, n := range s.nodes {
		for _, v := range nodeUses(n, false) {
			if v.Const != nil && !seen[v] {
				seen[v] = true
				sg.Consts = append(sg.Consts, v)
			}
		}
	}
	// Top-level constants read from inside subgraphs (outer scope) are not
	// among nodeUses; collect them too.
	for _, n := range s.nodes {
		for _, sub := range n.Subgraphs() {
			_ = sub.Walk(func(_ *ir.Graph, m *ir.Node) error {
				for _, v := range m.Inputs {
					if v != nil && v.Const != nil && !seen[v] && slices.Contains(g.Consts, v) {
						seen[v] = true
						sg.Consts = append(sg.Consts, v)
					}
				}
				return nil
			})
		}
	}
	return sg
}

// weight registers a stored tensor; the same (source, encoding) pair is
// stored once.
func (c *compiler) weight(of *ir.Value, enc string, shape []int64, data []float32) *Weight {
	key := of.Name + "\x00" + enc
	if w, ok := c.wkey[key]; ok {
		return w
	}
	name := of.Name
	if enc != "dense" {
		name += ":" + strings.SplitN(enc, "(", 2)[0]
	}
	for base, i := name, 1; c.wnames[name]; i++ {
		name = fmt.Sprintf("%s#%d", base, i)
	}
	c.wnames[name] = true
	padded := (len(data) + 15) / 16 * 16
	if padded == 0 {
		padded = 16
	}
	if padded != len(data) {
		data = append(data[:len(data):len(data)], make([]float32, padded-len(data))...)
	}
	w := &Weight{Name: name, Of: of.Name, Encoding: enc, Shape: slices.Clone(shape), Data: data, Offset: c.wsize}
	c.wsize += int64(len(data)) * 4
	c.weights = append(c.weights, w)
	c.wkey[key] = w
	return w
}

// rawWeight stores integer codes (dtype "I8" or "U8"), padded to 64 bytes.
func (c *compiler) rawWeight(of *ir.Value, enc, dtype string, shape []int64, data []byte) *Weight {
	key := of.Name + "\x00" + enc
	if w, ok := c.wkey[key]; ok {
		return w
	}
	name := of.Name + ":" + strings.SplitN(enc, "(", 2)[0]
	for base, i := name, 1; c.wnames[name]; i++ {
		name = fmt.Sprintf("%s#%d", base, i)
	}
	c.wnames[name] = true
	padded := max((len(data)+63)/64*64, 64)
	data = append(data[:len(data):len(data)], make([]byte, padded-len(data))...)
	w := &Weight{Name: name, Of: of.Name, Encoding: enc, Shape: slices.Clone(shape), Raw: data, DType: dtype, Offset: c.wsize}
	c.wsize += int64(len(data))
	c.weights = append(c.weights, w)
	c.wkey[key] = w
	return w
}

// constByName is the graph constant called name, if it is encoded.
func (c *compiler) constByName(name string) *ir.Value {
	for _, v := range c.g.Consts {
		if v.Name == name && v.Const != nil && v.Const.Enc != nil {
			return v
		}
	}
	return nil
}

// noteDecoded records that an encoded constant is stored as float32.
func (c *compiler) noteDecoded(v *ir.Value, why string) {
	if v.Const == nil || v.Const.Enc == nil {
		return
	}
	if c.decoded == nil {
		c.decoded = map[string]string{}
	}
	if _, ok := c.decoded[v.Name]; !ok {
		c.decoded[v.Name] = why
	}
}

// denseWeight stores a constant as it is.
func (c *compiler) denseWeight(v *ir.Value) (*Weight, error) {
	t, err := v.Const.Dense()
	if err != nil {
		return nil, err
	}
	if t.DType != ir.Float32 {
		return nil, fmt.Errorf("constant %q is %s, not f32", v.Name, t.DType)
	}
	return c.weight(v, "dense", t.Shape, slices.Clone(t.Data.([]float32))), nil
}

// constF32 returns a constant's dense float32 data and shape.
func constF32(v *ir.Value) ([]float32, []int64, error) {
	t, err := v.Const.Dense()
	if err != nil {
		return nil, nil, err
	}
	if t.DType != ir.Float32 {
		return nil, nil, fmt.Errorf("constant %q is %s, not f32", v.Name, t.DType)
	}
	return t.Data.([]float32), t.Shape, nil
}
