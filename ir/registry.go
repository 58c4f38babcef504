package ir

import (
	"fmt"
	"sort"
)

// Cost is the static cost estimate of one node execution.
type Cost struct {
	FLOPs        int64 // multiply-adds count as two
	BytesRead    int64
	BytesWritten int64
}

// OpSchema describes one op: its signature, attribute defaults, shape
// inference and cost model. Infer fills the types of n's outputs from its
// inputs' types (and constant inputs where the op needs values); it
// returns an error naming what is inconsistent. A nil Infer leaves output
// types as the frontend declared them. A nil Cost means "count one FLOP per
// output element".
type OpSchema struct {
	Domain     string
	Name       string
	MinInputs  int
	MaxInputs  int // -1 for variadic
	MinOutputs int
	MaxOutputs int // -1 for variadic
	// SinceVersion is the lowest opset version optc supports for this op.
	SinceVersion int64
	Attrs        map[string]*Attr
	// AttrKinds lists every attribute the op accepts over the supported
	// opset versions, with its kind, including attributes that have no
	// default (required or optional without default). Nil means unknown.
	AttrKinds map[string]AttrKind
	Infer     func(n *Node, opset int64) error
	Cost      func(n *Node) Cost
}

var registry = map[string]*OpSchema{}

func opKey(domain, name string) string {
	if domain == "ai.onnx" {
		domain = ""
	}
	return domain + "::" + name
}

// RegisterOp adds a schema. Registering the same op twice panics: it is a
// programming error caught at init.
func RegisterOp(s *OpSchema) {
	k := opKey(s.Domain, s.Name)
	if _, dup := registry[k]; dup {
		panic("ir: op registered twice: " + k)
	}
	registry[k] = s
}

// LookupOp returns the schema of an op or nil.
func LookupOp(domain, name string) *OpSchema { return registry[opKey(domain, name)] }

// RegisteredOps lists every registered op as "domain::name", sorted.
func RegisteredOps() []*OpSchema {
	out := make([]*OpSchema, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		return opKey(out[i].Domain, out[i].Name) < opKey(out[j].Domain, out[j].Name)
	})
	return out
}

// CheckArity verifies a node's input and output counts against its schema.
func (s *OpSchema) CheckArity(n *Node) error {
	ni := len(n.Inputs)
	if ni < s.MinInputs || (s.MaxInputs >= 0 && ni > s.MaxInputs) {
		return fmt.Errorf("%s: %d inputs, want %s", n.Describe(), ni, arity(s.MinInputs, s.MaxInputs))
	}
	no := len(n.Outputs)
	if no < s.MinOutputs || (s.MaxOutputs >= 0 && no > s.MaxOutputs) {
		return fmt.Errorf("%s: %d outputs, want %s", n.Describe(), no, arity(s.MinOutputs, s.MaxOutputs))
	}
	return nil
}

func arity(lo, hi int) string {
	switch {
	case hi < 0:
		return fmt.Sprintf("at least %d", lo)
	case lo == hi:
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}
