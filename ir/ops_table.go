package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// The op tables in ops_*.go describe every op of the default ONNX domain up
// to opset 17 and of ai.onnx.preview.training in a compact row form. Input
// and output counts are the union over the opset versions optc accepts
// (the versions in force at opset 6 through 17, because the conformance
// data still holds opset-6 models); attributes likewise, with the default
// of the newest version. Attribute defaults that changed between versions
// (Softmax, LogSoftmax and Hardmax axis: 1 before opset 13, -1 since) are
// resolved by the op's Infer and kernels, which see the opset.

// opRow is one op in a table.
type opRow struct {
	name  string
	since int64  // lowest supported opset version
	sig   string // "in:out", each a count "n" or a range "lo-hi" ("*" = variadic)
	attrs string // space separated "name=kind" or "name=kind:default"
}

// opInferFn is an op's inference function; it sees the statically known
// integer values of the walk (see InferShapes). opCostFn is OpSchema.Cost.
type (
	opInferFn = func(c *inferCtx) error
	opCostFn  = func(n *Node) Cost
)

// opAttrKinds maps the table's kind codes to attribute kinds. Sparse
// tensors and type protos share AttrTypeProto: optc does not support
// them and the frontend reports them.
var opAttrKinds = map[string]AttrKind{
	"f": AttrFloat, "i": AttrInt, "s": AttrString, "t": AttrTensor, "g": AttrGraph,
	"fs": AttrFloats, "is": AttrInts, "ss": AttrStrings, "ts": AttrTensors, "gs": AttrGraphs,
	"sp": AttrTypeProto, "tp": AttrTypeProto,
}

// regOps registers rows of one domain that share an inference and a cost
// function (either may be nil). A malformed row is a programming error and
// panics at init.
func regOps(domain string, infer opInferFn, cost opCostFn, rows ...opRow) {
	for _, r := range rows {
		s, err := r.schema(domain)
		if err != nil {
			panic(fmt.Sprintf("ir: op table row %s: %v", r.name, err))
		}
		if infer != nil {
			opInferFns[s] = infer
			s.Infer = func(n *Node, opset int64) error {
				st := &inferState{opsets: map[string]int64{normDomain(n.Domain): opset}, vals: map[*Value][]Dim{}, tensors: map[*Value]*Tensor{}}
				for _, v := range n.Inputs {
					if v != nil && v.Const != nil {
						st.noteConst(v)
					}
				}
				return infer(&inferCtx{inferState: st, n: n, opset: opset})
			}
		}
		s.Cost = cost
		RegisterOp(s)
	}
}

func (r opRow) schema(domain string) (*OpSchema, error) {
	s := &OpSchema{Domain: domain, Name: r.name, SinceVersion: r.since, AttrKinds: map[string]AttrKind{}}
	ins, outs, ok := strings.Cut(r.sig, ":")
	if !ok {
		return nil, fmt.Errorf("signature %q lacks ':'", r.sig)
	}
	var err error
	if s.MinInputs, s.MaxInputs, err = opParseCount(ins); err != nil {
		return nil, err
	}
	if s.MinOutputs, s.MaxOutputs, err = opParseCount(outs); err != nil {
		return nil, err
	}
	for _, f := range strings.Fields(r.attrs) {
		name, spec, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("attribute %q lacks '='", f)
		}
		code, def, hasDef := strings.Cut(spec, ":")
		kind, ok := opAttrKinds[code]
		if !ok {
			return nil, fmt.Errorf("attribute %s: unknown kind %q", name, code)
		}
		s.AttrKinds[name] = kind
		if !hasDef {
			continue
		}
		a, err := opParseDefault(kind, def)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %v", name, err)
		}
		if s.Attrs == nil {
			s.Attrs = map[string]*Attr{}
		}
		s.Attrs[name] = a
	}
	return s, nil
}

// opParseCount parses "n", "lo-hi" or "lo-*".
func opParseCount(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = strconv.Atoi(a); err != nil {
		return 0, 0, err
	}
	switch {
	case !isRange:
		return lo, lo, nil
	case b == "*":
		return lo, -1, nil
	}
	hi, err = strconv.Atoi(b)
	return lo, hi, err
}

// opParseDefault parses a default value; list elements are separated by
// commas.
func opParseDefault(k AttrKind, s string) (*Attr, error) {
	a := &Attr{Kind: k}
	var err error
	switch k {
	case AttrFloat:
		var f float64
		f, err = strconv.ParseFloat(s, 32)
		a.Float = float32(f)
	case AttrInt:
		a.Int, err = strconv.ParseInt(s, 10, 64)
	case AttrString:
		a.String = s
	case AttrInts:
		for _, e := range strings.Split(s, ",") {
			v, perr := strconv.ParseInt(e, 10, 64)
			if perr != nil {
				return nil, perr
			}
			a.Ints = append(a.Ints, v)
		}
	case AttrFloats:
		for _, e := range strings.Split(s, ",") {
			v, perr := strconv.ParseFloat(e, 32)
			if perr != nil {
				return nil, perr
			}
			a.Floats = append(a.Floats, float32(v))
		}
	case AttrStrings:
		a.Strings = strings.Split(s, ",")
	default:
		return nil, fmt.Errorf("no default syntax for kind %d", k)
	}
	return a, err
}
