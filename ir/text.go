package ir

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// The text format. Print writes a graph deterministically and Parse reads
// it back; Parse(Print(g)) prints identically. Example:
//
//	graph main(%x: f32[N,3,224,224]) -> (%y: f32[N,1000]) opset{""=17} {
//	  const %w: f32[64,3,7,7] = dense<base64 "AAAA...">
//	  const %axes: i64[1] = dense<[0]>
//	  %c: f32[N,64,112,112] = Conv(%x, %w, _) {kernel_shape=[7,7], strides=[2,2]} name="conv1"
//	  ...
//	  return %y
//	}
//
// The signature lists inputs and outputs with their types; the body holds
// the constants in order, the nodes in program order and a return of the
// outputs (which must match the signature). Subgraph attributes are
// graphs written inline; their nodes may use values of enclosing graphs
// defined before the node that holds them, and a node's outputs come into
// scope after it. opset{} and meta{} (sorted by key) appear only when the
// graph has them.
//
// Values are written %name (quoted, %"onnx::Conv_3", when the name has
// characters other than letters, digits and _ . / -); "_" is an omitted
// optional input or output; a node with no outputs starts with "()".
// Types are dtype[dims] with dims a size, a symbol (N, or "quoted") or ?,
// dtype[*] for an unranked tensor, ? for an unknown dtype, and seq<T>,
// opt<T> (seq<?> when the element type is unknown). A node output whose
// type is unknown carries no annotation. Attributes are sorted by name:
// ints 3, floats always with a point or exponent (3.0, 1e-05, inf, nan),
// strings quoted, lists [a, b] (empty: ints[], floats[], strings[],
// tensors[], graphs[]), tensors dense<...>, graphs inline, and the
// unsupported type-proto kind as type_proto.
//
// A dense tensor is dense<f32[2,3] DATA>; for a const whose type is the
// tensor's own, the tensor type is left out. DATA is an inline list of
// elements for tensors of at most textInlineMax elements and for strings,
// otherwise base64 "..." of the little-endian element bytes (4-bit types
// packed two per byte, low nibble first; bool one byte each). Floats
// print the shortest text that reads back to the same bits (f16 and bf16
// through float32); NaNs other than the canonical quiet NaN print their
// bits, nan:0x7fc00001. Quantized tensors print as quant<...> (see
// encoding_text.go); other encodings are not printable yet. Lines
// starting with # are comments.

// textInlineMax is the largest element count printed inline.
const textInlineMax = 32

// Print writes g in the text format. It fails, writing nothing, if g
// cannot be represented: a value used outside the scope where it is
// defined, two values with the same name in one scope, a non-dense
// tensor, an invalid dtype, kind or attribute.
func Print(w io.Writer, g *Graph) error {
	p := &textPrinter{}
	p.graph(g, "")
	p.b.WriteString("\n")
	if p.err != nil {
		return p.err
	}
	_, err := io.WriteString(w, p.b.String())
	return err
}

// String prints g; if g is not printable the text is followed by a
// comment with the error.
func (g *Graph) String() string {
	p := &textPrinter{}
	p.graph(g, "")
	p.b.WriteString("\n")
	if p.err != nil {
		p.b.WriteString("# error: " + strings.ReplaceAll(p.err.Error(), "\n", " ") + "\n")
	}
	return p.b.String()
}

type textPrinter struct {
	b      strings.Builder
	err    error
	scopes []map[string]*Value
}

func (p *textPrinter) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("ir.Print: "+format, args...)
	}
}

func (p *textPrinter) w(ss ...string) {
	for _, s := range ss {
		p.b.WriteString(s)
	}
}

func (p *textPrinter) lookup(name string) *Value {
	for i := len(p.scopes) - 1; i >= 0; i-- {
		if v, ok := p.scopes[i][name]; ok {
			return v
		}
	}
	return nil
}

// define declares v in the innermost scope.
func (p *textPrinter) define(v *Value, where string) {
	if v == nil {
		p.fail("%s: nil value", where)
		return
	}
	if old := p.lookup(v.Name); old != nil {
		if old == v {
			p.fail("%s: value %s defined twice", where, textValueName(v.Name))
		} else {
			p.fail("%s: two values named %s", where, textValueName(v.Name))
		}
		return
	}
	p.scopes[len(p.scopes)-1][v.Name] = v
}

// ref renders a use of v, checking that it is the value in scope.
func (p *textPrinter) ref(v *Value, where string) string {
	if v == nil {
		return "_"
	}
	if p.lookup(v.Name) != v {
		p.fail("%s: value %s used where it is not defined", where, textValueName(v.Name))
	}
	return textValueName(v.Name)
}

func (p *textPrinter) graph(g *Graph, indent string) {
	if g == nil {
		p.fail("nil graph")
		p.w("graph \"\"() -> () {}")
		return
	}
	p.scopes = append(p.scopes, map[string]*Value{})
	defer func() { p.scopes = p.scopes[:len(p.scopes)-1] }()
	where := "graph " + strconv.Quote(g.Name)
	p.w("graph ", textName(g.Name), "(")
	for i, v := range g.Inputs {
		if i > 0 {
			p.w(", ")
		}
		p.define(v, where+" input")
		if v != nil {
			p.w(textValueName(v.Name), ": ", p.typ(v.Type))
		}
	}
	p.w(") -> (")
	for i, v := range g.Outputs {
		if i > 0 {
			p.w(", ")
		}
		if v == nil {
			p.fail("%s: nil output", where)
			continue
		}
		p.w(textValueName(v.Name), ": ", p.typ(v.Type))
	}
	p.w(")")
	if g.Opsets != nil {
		textMapBlock(p, " opset{", g.Opsets, func(v int64) string { return strconv.FormatInt(v, 10) })
	}
	if g.Meta != nil {
		textMapBlock(p, " meta{", g.Meta, strconv.Quote)
	}
	p.w(" {\n")
	in := indent + "  "
	for _, v := range g.Consts {
		p.constant(v, in, where)
	}
	for _, n := range g.Nodes {
		p.node(n, in, where)
	}
	p.w(in, "return")
	for i, v := range g.Outputs {
		if i > 0 {
			p.w(",")
		}
		p.w(" ")
		if v != nil {
			p.w(p.ref(v, where+" output"))
		}
	}
	p.w("\n", indent, "}")
}

func (p *textPrinter) constant(v *Value, indent, where string) {
	if v == nil || v.Const == nil {
		p.fail("%s: const entry without a tensor", where)
		return
	}
	p.define(v, where+" const")
	p.w(indent, "const ", textValueName(v.Name), ": ", p.typ(v.Type), " = ")
	t := v.Const
	implied := v.Type.Kind == KindTensor && v.Type.Ranked && v.Type.DType == t.DType &&
		len(v.Type.Shape) == len(t.Shape)
	for i, d := range v.Type.Shape {
		if implied && (!d.Known() || d.Size != t.Shape[i]) {
			implied = false
		}
	}
	p.tensor(t, implied, "const "+textValueName(v.Name))
	p.w("\n")
}

func (p *textPrinter) node(n *Node, indent, where string) {
	if n == nil {
		p.fail("%s: nil node", where)
		return
	}
	desc := n.Describe()
	p.w(indent)
	// Inputs are resolved before outputs are defined.
	args := make([]string, len(n.Inputs))
	for i, v := range n.Inputs {
		args[i] = p.ref(v, desc)
	}
	if len(n.Outputs) == 0 {
		p.w("()")
	}
	for i, v := range n.Outputs {
		if i > 0 {
			p.w(", ")
		}
		if v == nil {
			p.w("_")
			continue
		}
		p.w(textValueName(v.Name))
		if typeKnown(v.Type) {
			p.w(": ", p.typ(v.Type))
		}
	}
	p.w(" = ", p.opName(n), "(", strings.Join(args, ", "), ")")
	if len(n.Attrs) > 0 {
		p.w(" {")
		for i, k := range n.AttrNames() {
			if i > 0 {
				p.w(", ")
			}
			p.w(textAttrName(k), "=")
			p.attr(n.Attrs[k], indent, desc+" attribute "+k)
		}
		p.w("}")
	}
	if n.Name != "" {
		p.w(" name=", strconv.Quote(n.Name))
	}
	p.w("\n")
	// Outputs come into scope after the node: its subgraphs cannot see them.
	for _, v := range n.Outputs {
		if v != nil {
			p.define(v, desc)
		}
	}
}

func (p *textPrinter) opName(n *Node) string {
	if !textIsIdent(n.Op) {
		p.fail("%s: op name %q is not an identifier", n.Describe(), n.Op)
	}
	if n.Domain == "" {
		return n.Op
	}
	for _, part := range strings.Split(n.Domain, ".") {
		if !textIsIdent(part) {
			p.fail("%s: domain %q is not a dotted identifier", n.Describe(), n.Domain)
		}
	}
	return n.Domain + "." + n.Op
}

func (p *textPrinter) attr(a *Attr, indent, where string) {
	if a == nil {
		p.fail("%s: nil attribute", where)
		p.w("_")
		return
	}
	switch a.Kind {
	case AttrInt:
		p.w(strconv.FormatInt(a.Int, 10))
	case AttrFloat:
		p.w(textF32(a.Float))
	case AttrString:
		p.w(strconv.Quote(a.String))
	case AttrTensor:
		p.tensor(a.Tensor, false, where)
	case AttrGraph:
		p.graph(a.Graph, indent)
	case AttrInts:
		textList(p, "ints", a.Ints, func(v int64) { p.w(strconv.FormatInt(v, 10)) })
	case AttrFloats:
		textList(p, "floats", a.Floats, func(v float32) { p.w(textF32(v)) })
	case AttrStrings:
		textList(p, "strings", a.Strings, func(v string) { p.w(strconv.Quote(v)) })
	case AttrTensors:
		textList(p, "tensors", a.Tensors, func(t *Tensor) { p.tensor(t, false, where) })
	case AttrGraphs:
		textList(p, "graphs", a.Graphs, func(g *Graph) { p.graph(g, indent) })
	case AttrTypeProto:
		p.w("type_proto")
	default:
		p.fail("%s: invalid attribute kind %d", where, a.Kind)
		p.w("_")
	}
}

func textList[T any](p *textPrinter, kind string, xs []T, f func(T)) {
	if len(xs) == 0 {
		p.w(kind, "[]")
		return
	}
	p.w("[")
	for i, x := range xs {
		if i > 0 {
			p.w(", ")
		}
		f(x)
	}
	p.w("]")
}

// typ renders a type, recording an error for invalid kinds or dtypes.
func (p *textPrinter) typ(t Type) string {
	if err := textCheckType(t); err != nil {
		p.fail("%v", err)
	}
	return typeText(t)
}

func textCheckType(t Type) error {
	switch t.Kind {
	case KindTensor:
		if t.DType > String {
			return fmt.Errorf("invalid dtype %d", t.DType)
		}
	case KindSequence, KindOptional:
		if t.Elem != nil {
			return textCheckType(*t.Elem)
		}
	default:
		return fmt.Errorf("invalid type kind %d", t.Kind)
	}
	return nil
}

// typeText renders a type in the text format.
func typeText(t Type) string {
	switch t.Kind {
	case KindSequence, KindOptional:
		kw := "seq"
		if t.Kind == KindOptional {
			kw = "opt"
		}
		if t.Elem == nil {
			return kw + "<?>"
		}
		return kw + "<" + typeText(*t.Elem) + ">"
	}
	dt := "?"
	if t.DType != Undefined {
		dt = t.DType.String()
	}
	if !t.Ranked {
		return dt + "[*]"
	}
	parts := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		parts[i] = textDim(d)
	}
	return dt + "[" + strings.Join(parts, ",") + "]"
}

func textDim(d Dim) string {
	switch {
	case d.Param != "":
		if textIsIdent(d.Param) {
			return d.Param
		}
		return strconv.Quote(d.Param)
	case d.Size < 0:
		return "?"
	}
	return strconv.FormatInt(d.Size, 10)
}

func (p *textPrinter) tensor(t *Tensor, implied bool, where string) {
	if t == nil {
		p.fail("%s: nil tensor", where)
		p.w("dense<[]>")
		return
	}
	if q, ok := t.Enc.(*Quantized); ok {
		p.quantTensor(t, q, implied, where)
		return
	}
	if t.Enc != nil {
		p.fail("%s: the text format cannot print the %s encoding yet", where, t.Enc.Kind())
		p.w("dense<[]>")
		return
	}
	if err := textCheckData(t); err != nil {
		p.fail("%s: %v", where, err)
		p.w("dense<[]>")
		return
	}
	p.w("dense<")
	if !implied {
		p.w(typeText(TensorType(t.DType, ShapeOf(t.Shape...))), " ")
	}
	n := t.Len()
	if n <= textInlineMax || t.DType == String {
		p.w("[")
		for i := 0; i < n; i++ {
			if i > 0 {
				p.w(", ")
			}
			p.w(textElem(t, i))
		}
		p.w("]>")
		return
	}
	p.w("base64 \"", base64.StdEncoding.EncodeToString(tensorLEBytes(t)), "\">")
}

// textCheckData checks that a dense tensor's Data matches its dtype and
// shape.
func textCheckData(t *Tensor) error {
	if t.DType == Undefined || t.DType > String {
		return fmt.Errorf("invalid dtype %d", t.DType)
	}
	n, ok := textNumElements(t.Shape)
	if !ok {
		return fmt.Errorf("invalid shape %v", t.Shape)
	}
	if t.Data == nil {
		return fmt.Errorf("tensor %s has no data", t)
	}
	// makeSlice says which Go slice type holds each dtype.
	if reflect.TypeOf(t.Data) != reflect.TypeOf(makeSlice(t.DType, 0)) {
		return fmt.Errorf("data of Go type %T for dtype %s", t.Data, t.DType)
	}
	got := reflect.ValueOf(t.Data).Len()
	if int64(got) != n {
		return fmt.Errorf("%d elements for shape %v", got, t.Shape)
	}
	switch t.DType {
	case Int4:
		for _, v := range t.Data.([]int8) {
			if v < -8 || v > 7 {
				return fmt.Errorf("i4 element %d out of range", v)
			}
		}
	case Uint4:
		for _, v := range t.Data.([]uint8) {
			if v > 15 {
				return fmt.Errorf("u4 element %d out of range", v)
			}
		}
	}
	return nil
}

// textNumElements is NumElements with validation and overflow checks.
func textNumElements(shape []int64) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxInt32/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// Canonical quiet NaN bits per float dtype.
const (
	textNaN32 = 0x7fc00000
	textNaN64 = 0x7ff8000000000000
	textNaN16 = 0x7e00
	textNaNBF = 0x7fc0
)

// textElem renders element i of a dense tensor.
func textElem(t *Tensor, i int) string {
	switch d := t.Data.(type) {
	case []float32:
		if b := math.Float32bits(d[i]); d[i] != d[i] && b != textNaN32 {
			return fmt.Sprintf("nan:0x%08x", b)
		}
		return textF32(d[i])
	case []float64:
		if b := math.Float64bits(d[i]); d[i] != d[i] && b != textNaN64 {
			return fmt.Sprintf("nan:0x%016x", b)
		}
		return textF64(d[i])
	case []uint16:
		var f float32
		canon := uint16(textNaN16)
		switch t.DType {
		case Float16:
			f = F16ToF32(d[i])
		case BFloat16:
			f, canon = BF16ToF32(d[i]), textNaNBF
		default:
			return strconv.FormatUint(uint64(d[i]), 10)
		}
		if f != f && d[i] != canon {
			return fmt.Sprintf("nan:0x%04x", d[i])
		}
		return textF32(f)
	case []bool:
		return strconv.FormatBool(d[i])
	case []string:
		return strconv.Quote(d[i])
	case []uint64:
		return strconv.FormatUint(d[i], 10)
	}
	return strconv.FormatInt(t.Int64At(i), 10)
}

// textF32 prints the shortest decimal that reads back as the same float32,
// always recognizable as a float (with '.', 'e', inf or nan).
func textF32(f float32) string { return textFloat(float64(f), 32) }

func textF64(f float64) string { return textFloat(f, 64) }

func textFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, bits)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// tensorLEBytes serializes a dense tensor's elements little-endian (4-bit
// types packed two per byte, low nibble first).
func tensorLEBytes(t *Tensor) []byte {
	n := t.Len()
	switch d := t.Data.(type) {
	case []int8:
		if t.DType == Int4 {
			return textPack4(n, func(i int) byte { return byte(d[i]) })
		}
		out := make([]byte, n)
		for i, v := range d {
			out[i] = byte(v)
		}
		return out
	case []uint8:
		if t.DType == Uint4 {
			return textPack4(n, func(i int) byte { return d[i] })
		}
		return append([]byte(nil), d...)
	case []bool:
		out := make([]byte, n)
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
		return out
	}
	out := make([]byte, 0, n*t.DType.Bits()/8)
	for i := 0; i < n; i++ {
		switch d := t.Data.(type) {
		case []float32:
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(d[i]))
		case []float64:
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(d[i]))
		case []uint16:
			out = binary.LittleEndian.AppendUint16(out, d[i])
		case []int16:
			out = binary.LittleEndian.AppendUint16(out, uint16(d[i]))
		case []int32:
			out = binary.LittleEndian.AppendUint32(out, uint32(d[i]))
		case []uint32:
			out = binary.LittleEndian.AppendUint32(out, d[i])
		case []int64:
			out = binary.LittleEndian.AppendUint64(out, uint64(d[i]))
		case []uint64:
			out = binary.LittleEndian.AppendUint64(out, d[i])
		}
	}
	return out
}

func textPack4(n int, at func(int) byte) []byte {
	out := make([]byte, (n+1)/2)
	for i := 0; i < n; i++ {
		out[i/2] |= (at(i) & 0xf) << (4 * (i % 2))
	}
	return out
}

// textName renders a graph name: bare identifier or quoted.
func textName(s string) string {
	if textIsIdent(s) {
		return s
	}
	return strconv.Quote(s)
}

func textAttrName(s string) string { return textName(s) }

// textValueName renders %name, quoting names that are not bare.
func textValueName(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !textIsNameRune(r) }) < 0 {
		return "%" + s
	}
	return "%" + strconv.Quote(s)
}

func textIsNameRune(r rune) bool {
	return r == '_' || r == '.' || r == '/' || r == '-' || textIsAlnum(r)
}

func textIsAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// textIsIdent reports whether s is [A-Za-z_][A-Za-z0-9_]*.
func textIsIdent(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if r != '_' && !textIsAlnum(r) {
			return false
		}
	}
	return true
}

// textMapBlock writes open, then "key"=value for every entry of m in key
// order (comma separated), then "}".
func textMapBlock[V any](p *textPrinter, open string, m map[string]V, value func(V) string) {
	p.w(open)
	for i, k := range sortedKeys(m) {
		if i > 0 {
			p.w(", ")
		}
		p.w(strconv.Quote(k), "=", value(m[k]))
	}
	p.w("}")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
