package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/ir"
)

// The default-domain opset versions optc imports. ONNX 1.12, whose
// operator set optc implements, defines opsets up to 17; older opsets
// are accepted as long as every op the model uses is supported at that
// version (ir.OpSchema.SinceVersion).
const (
	MinOpset = 1
	MaxOpset = 17
)

// LoadFile reads an ONNX model file into an ir.Graph. External tensor data
// is resolved relative to the model's directory.
func LoadFile(path string) (*ir.Graph, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(data, filepath.Dir(path), path)
}

// Load decodes a serialized ONNX ModelProto into an ir.Graph. dir is the
// directory external tensor data is read from ("" forbids external data);
// name identifies the model in error messages (usually its file name).
//
// Every error names the model and the place in it (graph, node, attribute,
// tensor) where the problem is.
func Load(data []byte, dir, name string) (g *ir.Graph, err error) {
	if name == "" {
		name = "model"
	}
	defer func() {
		// The importer is written not to panic on any input; this turns a
		// bug into an error instead of a crash of the caller.
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("%s: internal error in the ONNX importer: %v", name, r)
		}
	}()
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("%s: not an ONNX model (protobuf decoding failed: %v)", name, err)
	}
	if m.Graph == nil {
		if len(m.ProtoReflect().GetUnknown()) > 0 || m.IrVersion == nil {
			return nil, fmt.Errorf("%s: not an ONNX model", name)
		}
		return nil, fmt.Errorf("%s: the model has no graph", name)
	}
	im, err := newOnnxImporter(m, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	g, err = im.graph(m.Graph, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	g.Opsets = im.opsets
	g.Meta = onnxMeta(m)
	return g, nil
}

// onnxMeta collects model-level metadata: producer, producer_version,
// ir_version, domain, model_version, doc (the model's doc string) and
// every metadata_props entry under "prop:" + key. Empty fields are left
// out.
func onnxMeta(m *onnxpb.ModelProto) map[string]string {
	meta := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			meta[k] = v
		}
	}
	set("producer", m.GetProducerName())
	set("producer_version", m.GetProducerVersion())
	if m.IrVersion != nil {
		set("ir_version", strconv.FormatInt(m.GetIrVersion(), 10))
	}
	set("domain", m.GetDomain())
	if m.ModelVersion != nil {
		set("model_version", strconv.FormatInt(m.GetModelVersion(), 10))
	}
	set("doc", m.GetDocString())
	for _, kv := range m.GetMetadataProps() {
		set("prop:"+kv.GetKey(), kv.GetValue())
	}
	return meta
}

// onnxDomain normalizes an op domain: "ai.onnx" is the default domain "".
func onnxDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// onnxOpsets reads opset_import and checks the versions.
func onnxOpsets(imports []*onnxpb.OperatorSetIdProto, irVersion int64) (map[string]int64, error) {
	opsets := map[string]int64{}
	for _, o := range imports {
		d, v := onnxDomain(o.GetDomain()), o.GetVersion()
		if old, dup := opsets[d]; dup && old != v {
			return nil, fmt.Errorf("opset_import lists domain %q twice (versions %d and %d)", d, old, v)
		}
		if v < 1 {
			return nil, fmt.Errorf("opset_import: domain %q has invalid version %d", d, v)
		}
		if d == "" && (v < MinOpset || v > MaxOpset) {
			return nil, fmt.Errorf("default-domain opset %d is not supported (optc supports opsets %d to %d)", v, MinOpset, MaxOpset)
		}
		opsets[d] = v
	}
	if _, ok := opsets[""]; !ok && len(imports) == 0 && irVersion < 3 {
		// IR versions before 3 had no opset_import; they mean opset 1.
		opsets[""] = 1
	}
	return opsets, nil
}

// onnxImporter holds the model-wide state of one import.
type onnxImporter struct {
	dir    string
	opsets map[string]int64
	funcs  map[string]*onnxpb.FunctionProto // by onnxFuncKey
	// inlined counts function calls expanded so far; it makes the names
	// of values internal to each expansion unique.
	inlined int
	// depth is the current nesting of function expansions.
	depth int
}

func onnxFuncKey(domain, name string) string { return onnxDomain(domain) + "::" + name }

func newOnnxImporter(m *onnxpb.ModelProto, dir string) (*onnxImporter, error) {
	opsets, err := onnxOpsets(m.GetOpsetImport(), m.GetIrVersion())
	if err != nil {
		return nil, err
	}
	im := &onnxImporter{dir: dir, opsets: opsets, funcs: map[string]*onnxpb.FunctionProto{}}
	for _, f := range m.GetFunctions() {
		k := onnxFuncKey(f.GetDomain(), f.GetName())
		if f.GetName() == "" {
			return nil, errors.New("model-local function without a name")
		}
		if _, dup := im.funcs[k]; dup {
			return nil, fmt.Errorf("model-local function %s is defined twice", onnxOpName(f.GetDomain(), f.GetName()))
		}
		im.funcs[k] = f
	}
	return im, nil
}

// onnxOpName is "domain.op", or "op" in the default domain.
func onnxOpName(domain, op string) string {
	if d := onnxDomain(domain); d != "" {
		return d + "." + op
	}
	return op
}

// useFunctionOpsets merges a function's opset imports into the model's.
// optc's IR records one opset version per domain, so a function importing
// a different version of a domain than the model is refused.
func (im *onnxImporter) useFunctionOpsets(f *onnxpb.FunctionProto) error {
	fo, err := onnxOpsets(f.GetOpsetImport(), 3)
	if err != nil {
		return fmt.Errorf("function %s: %w", onnxOpName(f.GetDomain(), f.GetName()), err)
	}
	domains := make([]string, 0, len(fo))
	for d := range fo {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	for _, d := range domains {
		if mv, ok := im.opsets[d]; ok && mv != fo[d] {
			return fmt.Errorf("function %s imports opset %d of domain %q, but the model imports opset %d",
				onnxOpName(f.GetDomain(), f.GetName()), fo[d], d, mv)
		}
		im.opsets[d] = fo[d]
	}
	return nil
}
