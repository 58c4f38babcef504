package onnx

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
)

// Limits on function inlining: the nesting of calls (a function that calls
// itself never terminates) and the total number of expansions (a chain of
// functions each calling the next twice grows exponentially).
const (
	onnxMaxInlineDepth = 64
	onnxMaxInlined     = 1 << 16
)

// inline expands a call of a model-local function into the calling graph.
// The body's values are renamed: formal inputs and outputs to the call's
// actual names, internal values to fresh names under a per-call prefix.
// Attributes of the body that reference a function attribute
// (ref_attr_name) take the call's attribute of that name, or are omitted
// when the call does not set it.
func (im *onnxImporter) inline(gc *onnxGraphCtx, call *onnxpb.NodeProto, index int, f *onnxpb.FunctionProto) error {
	fname := onnxOpName(f.GetDomain(), f.GetName())
	if err := im.inlineBody(gc, call, f); err != nil {
		return fmt.Errorf("%s (function %s): %w", onnxNodeRef(call, index), fname, err)
	}
	return nil
}

func (im *onnxImporter) inlineBody(gc *onnxGraphCtx, call *onnxpb.NodeProto, f *onnxpb.FunctionProto) error {
	if im.depth >= onnxMaxInlineDepth {
		return errors.New("model-local functions are nested too deeply (a function calling itself?)")
	}
	if im.inlined >= onnxMaxInlined {
		return fmt.Errorf("more than %d model-local function calls to expand", onnxMaxInlined)
	}
	if len(call.GetInput()) > len(f.GetInput()) || len(call.GetOutput()) > len(f.GetOutput()) {
		return fmt.Errorf("%d inputs and %d outputs, but the function has %d and %d",
			len(call.GetInput()), len(call.GetOutput()), len(f.GetInput()), len(f.GetOutput()))
	}
	if err := im.useFunctionOpsets(f); err != nil {
		return err
	}
	im.inlined++
	base := call.GetName()
	if base == "" {
		base = f.GetName()
	}
	prefix := fmt.Sprintf("%s/%d/", base, im.inlined)

	rename := map[string]string{}
	for i, formal := range f.GetInput() {
		actual := ""
		if i < len(call.GetInput()) {
			actual = call.GetInput()[i]
		}
		rename[formal] = actual
	}
	// A formal output that is also a formal input passes the input
	// through; it becomes an Identity node after the body.
	type passthrough struct{ in, out string }
	var passes []passthrough
	for i, formal := range f.GetOutput() {
		if i >= len(call.GetOutput()) || call.GetOutput()[i] == "" {
			continue
		}
		if in, isInput := rename[formal]; isInput {
			passes = append(passes, passthrough{in, call.GetOutput()[i]})
			continue
		}
		rename[formal] = call.GetOutput()[i]
	}
	mapName := func(n string) string {
		if n == "" {
			return ""
		}
		if r, ok := rename[n]; ok {
			return r
		}
		return prefix + n
	}
	attrs := map[string]*onnxpb.AttributeProto{}
	for _, a := range call.GetAttribute() {
		if _, dup := attrs[a.GetName()]; dup {
			return fmt.Errorf("attribute %q is given twice", a.GetName())
		}
		attrs[a.GetName()] = a
	}

	body := make([]*onnxpb.NodeProto, 0, len(f.GetNode())+len(passes))
	for j, np := range f.GetNode() {
		nn := proto.Clone(np).(*onnxpb.NodeProto)
		onnxRewriteNode(nn, mapName, attrs)
		inner := np.GetName()
		if inner == "" {
			inner = fmt.Sprintf("%s_%d", np.GetOpType(), j)
		}
		nn.Name = proto.String(prefix + inner)
		body = append(body, nn)
	}
	for _, p := range passes {
		body = append(body, &onnxpb.NodeProto{
			OpType: proto.String("Identity"), Name: proto.String(prefix + "passthrough_" + p.out),
			Input: []string{p.in}, Output: []string{p.out},
		})
	}
	im.depth++
	defer func() { im.depth-- }()
	for j, nn := range body {
		if err := im.node(gc, nn, j); err != nil {
			return err
		}
	}
	for _, out := range call.GetOutput() {
		if _, missing := gc.scope.pending[out]; missing && out != "" {
			return fmt.Errorf("the function body never produces output %q", out)
		}
	}
	return nil
}

// onnxRewriteNode renames the values of a function-body node (and of its
// subgraphs) and substitutes attribute references.
func onnxRewriteNode(np *onnxpb.NodeProto, mapName func(string) string, attrs map[string]*onnxpb.AttributeProto) {
	for i, n := range np.Input {
		np.Input[i] = mapName(n)
	}
	for i, n := range np.Output {
		np.Output[i] = mapName(n)
	}
	kept := np.Attribute[:0]
	for _, a := range np.Attribute {
		if ref := a.GetRefAttrName(); ref != "" {
			given, ok := attrs[ref]
			if !ok {
				continue // not set by the call: the attribute is omitted
			}
			// The caller's attribute belongs to the caller's graph: its
			// subgraphs (if any) keep the caller's names.
			na := proto.Clone(given).(*onnxpb.AttributeProto)
			na.Name = proto.String(a.GetName())
			kept = append(kept, na)
			continue
		}
		if a.G != nil {
			onnxRewriteGraph(a.G, mapName, attrs)
		}
		for _, g := range a.Graphs {
			onnxRewriteGraph(g, mapName, attrs)
		}
		kept = append(kept, a)
	}
	np.Attribute = kept
}

func onnxRewriteGraph(g *onnxpb.GraphProto, mapName func(string) string, attrs map[string]*onnxpb.AttributeProto) {
	for _, vis := range [][]*onnxpb.ValueInfoProto{g.Input, g.Output, g.ValueInfo} {
		for _, vi := range vis {
			vi.Name = proto.String(mapName(vi.GetName()))
		}
	}
	for _, t := range g.Initializer {
		t.Name = proto.String(mapName(t.GetName()))
	}
	for _, np := range g.Node {
		onnxRewriteNode(np, mapName, attrs)
	}
}
