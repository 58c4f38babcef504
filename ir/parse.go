package ir

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Parse reads a graph in the text format written by Print (see text.go).
// Errors carry line:column. Parse resolves value names through the
// enclosing scopes but does not verify the graph (run Verify for that);
// ops need not be registered.
func Parse(src string) (*Graph, error) {
	toks, err := textLex(src)
	if err != nil {
		return nil, err
	}
	p := &textParser{toks: toks}
	g, err := p.graph()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tkEOF {
		return nil, p.errAt(t, "unexpected %s after the graph", t)
	}
	return g, nil
}

type tokKind uint8

const (
	tkEOF tokKind = iota
	tkIdent
	tkNumber
	tkString
	tkValue // %name; text holds the name
	tkPunct // ( ) [ ] { } < > , = : ? * . - and "->"
)

type token struct {
	kind      tokKind
	text      string
	line, col int
}

func (t token) String() string {
	switch t.kind {
	case tkEOF:
		return "end of input"
	case tkString:
		return strconv.Quote(t.text)
	case tkValue:
		return textValueName(t.text)
	}
	return strconv.Quote(t.text)
}

// textLex splits src into tokens.
func textLex(src string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	i := 0
	adv := func(n int) {
		for k := 0; k < n; k++ {
			if src[i] == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
			i++
		}
	}
	errAt := func(l, c int, format string, args ...any) error {
		return fmt.Errorf("%d:%d: %s", l, c, fmt.Sprintf(format, args...))
	}
	for i < len(src) {
		ch := src[i]
		l, c := line, col
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			adv(1)
		case ch == '#':
			for i < len(src) && src[i] != '\n' {
				adv(1)
			}
		case ch == '"':
			q, err := strconv.QuotedPrefix(src[i:])
			if err != nil {
				return nil, errAt(l, c, "unterminated or invalid string")
			}
			s, err := strconv.Unquote(q)
			if err != nil {
				return nil, errAt(l, c, "invalid string %s", q)
			}
			adv(len(q))
			toks = append(toks, token{tkString, s, l, c})
		case ch == '%':
			adv(1)
			if i < len(src) && src[i] == '"' {
				q, err := strconv.QuotedPrefix(src[i:])
				if err != nil {
					return nil, errAt(l, c, "unterminated or invalid value name")
				}
				s, _ := strconv.Unquote(q)
				adv(len(q))
				toks = append(toks, token{tkValue, s, l, c})
				continue
			}
			j := i
			for j < len(src) && textIsNameRune(rune(src[j])) {
				j++
			}
			if j == i {
				return nil, errAt(l, c, "'%%' without a value name")
			}
			name := src[i:j]
			adv(j - i)
			toks = append(toks, token{tkValue, name, l, c})
		case ch == '_' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z':
			j := i
			for j < len(src) && (src[j] == '_' || textIsAlnum(rune(src[j]))) {
				j++
			}
			toks = append(toks, token{tkIdent, src[i:j], l, c})
			adv(j - i)
		case ch >= '0' && ch <= '9' || (ch == '-' || ch == '+') && i+1 < len(src) && (src[i+1] >= '0' && src[i+1] <= '9' || src[i+1] == '.') || ch == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			n := textNumberLen(src[i:])
			if n == 0 {
				return nil, errAt(l, c, "malformed number")
			}
			toks = append(toks, token{tkNumber, src[i : i+n], l, c})
			adv(n)
		case ch == '-' && i+1 < len(src) && src[i+1] == '>':
			toks = append(toks, token{tkPunct, "->", l, c})
			adv(2)
		case strings.IndexByte("()[]{}<>,=:?*.-", ch) >= 0:
			toks = append(toks, token{tkPunct, string(ch), l, c})
			adv(1)
		default:
			return nil, errAt(l, c, "unexpected character %q", rune(ch))
		}
	}
	return append(toks, token{tkEOF, "", line, col}), nil
}

// textNumberLen returns the length of the number at the start of s (0 if
// malformed): [+-]? (0x hex+ | digits [. digits] [e [+-] digits]).
func textNumberLen(s string) int {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	isDigit := func(k int) bool { return k < len(s) && s[k] >= '0' && s[k] <= '9' }
	if i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') {
		j := i + 2
		for j < len(s) && (isDigit(j) || s[j] >= 'a' && s[j] <= 'f' || s[j] >= 'A' && s[j] <= 'F') {
			j++
		}
		if j == i+2 {
			return 0
		}
		return j
	}
	digits := 0
	for isDigit(i) {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for isDigit(i) {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return 0
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if !isDigit(j) {
			return 0
		}
		for isDigit(j) {
			j++
		}
		i = j
	}
	// A number must not run into a name character.
	if i < len(s) && (s[i] == '_' || textIsAlnum(rune(s[i]))) {
		return 0
	}
	return i
}

// textMaxDepth bounds the nesting of graphs and types.
const textMaxDepth = 200

type textParser struct {
	toks   []token
	pos    int
	scopes []map[string]*Value
	depth  int
}

func (p *textParser) peek() token { return p.toks[p.pos] }

func (p *textParser) peekN(k int) token {
	if p.pos+k < len(p.toks) {
		return p.toks[p.pos+k]
	}
	return p.toks[len(p.toks)-1]
}

func (p *textParser) next() token {
	t := p.toks[p.pos]
	if t.kind != tkEOF {
		p.pos++
	}
	return t
}

func (p *textParser) errAt(t token, format string, args ...any) error {
	return fmt.Errorf("%d:%d: %s", t.line, t.col, fmt.Sprintf(format, args...))
}

func (p *textParser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tkPunct && t.text == s
}

func (p *textParser) isIdent(s string) bool {
	t := p.peek()
	return t.kind == tkIdent && t.text == s
}

func (p *textParser) expect(s string) error {
	t := p.next()
	if (t.kind == tkPunct || t.kind == tkIdent) && t.text == s {
		return nil
	}
	return p.errAt(t, "expected %q, found %s", s, t)
}

func (p *textParser) enter(t token) error {
	p.depth++
	if p.depth > textMaxDepth {
		return p.errAt(t, "nesting deeper than %d", textMaxDepth)
	}
	return nil
}

func (p *textParser) leave() { p.depth-- }

func (p *textParser) lookup(name string) *Value {
	for i := len(p.scopes) - 1; i >= 0; i-- {
		if v, ok := p.scopes[i][name]; ok {
			return v
		}
	}
	return nil
}

func (p *textParser) define(t token, v *Value) error {
	if p.lookup(v.Name) != nil {
		return p.errAt(t, "value %s is already defined", textValueName(v.Name))
	}
	p.scopes[len(p.scopes)-1][v.Name] = v
	return nil
}

func (p *textParser) ref(t token) (*Value, error) {
	if v := p.lookup(t.text); v != nil {
		return v, nil
	}
	return nil, p.errAt(t, "undefined value %s", textValueName(t.text))
}

// name reads an identifier or a quoted string.
func (p *textParser) name(what string) (string, error) {
	t := p.next()
	if t.kind == tkIdent || t.kind == tkString {
		return t.text, nil
	}
	return "", p.errAt(t, "expected %s, found %s", what, t)
}

type textParam struct {
	tok token
	typ Type
}

// params reads "(%a: T, %b, ...)".
func (p *textParser) params() ([]textParam, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var out []textParam
	for !p.isPunct(")") {
		if len(out) > 0 {
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		t := p.next()
		if t.kind != tkValue {
			return nil, p.errAt(t, "expected a %%value, found %s", t)
		}
		prm := textParam{tok: t}
		if p.isPunct(":") {
			p.next()
			ty, err := p.typ()
			if err != nil {
				return nil, err
			}
			prm.typ = ty
		}
		out = append(out, prm)
	}
	p.next()
	return out, nil
}

func (p *textParser) graph() (*Graph, error) {
	start := p.peek()
	if err := p.enter(start); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.expect("graph"); err != nil {
		return nil, err
	}
	g := &Graph{}
	var err error
	if g.Name, err = p.name("a graph name"); err != nil {
		return nil, err
	}
	p.scopes = append(p.scopes, map[string]*Value{})
	defer func() { p.scopes = p.scopes[:len(p.scopes)-1] }()
	ins, err := p.params()
	if err != nil {
		return nil, err
	}
	for _, prm := range ins {
		v := &Value{Name: prm.tok.text, Type: prm.typ}
		if err := p.define(prm.tok, v); err != nil {
			return nil, err
		}
		g.Inputs = append(g.Inputs, v)
	}
	if err := p.expect("->"); err != nil {
		return nil, err
	}
	outs, err := p.params()
	if err != nil {
		return nil, err
	}
	if p.isIdent("opset") {
		p.next()
		g.Opsets = map[string]int64{}
		err = p.kvBlock(func(k string, t token) error {
			if _, dup := g.Opsets[k]; dup {
				return p.errAt(t, "opset %q given twice", k)
			}
			v, err := p.int64Tok()
			g.Opsets[k] = v
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if p.isIdent("meta") {
		p.next()
		g.Meta = map[string]string{}
		err = p.kvBlock(func(k string, t token) error {
			if _, dup := g.Meta[k]; dup {
				return p.errAt(t, "meta key %q given twice", k)
			}
			v := p.next()
			if v.kind != tkString {
				return p.errAt(v, "expected a string, found %s", v)
			}
			g.Meta[k] = v.text
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.kind == tkIdent && t.text == "const":
			if err := p.constant(g); err != nil {
				return nil, err
			}
		case t.kind == tkIdent && t.text == "return":
			p.next()
			if err := p.ret(g, outs); err != nil {
				return nil, err
			}
			return g, p.expect("}")
		case t.kind == tkValue || t.kind == tkPunct && t.text == "(" || t.kind == tkIdent && t.text == "_":
			n, err := p.node()
			if err != nil {
				return nil, err
			}
			g.Nodes = append(g.Nodes, n)
		default:
			return nil, p.errAt(t, "expected const, a node or return, found %s", t)
		}
	}
}

// kvBlock reads {"key"=VALUE, ...}, calling f after each key and '='.
func (p *textParser) kvBlock(f func(k string, t token) error) error {
	if err := p.expect("{"); err != nil {
		return err
	}
	first := true
	for !p.isPunct("}") {
		if !first {
			if err := p.expect(","); err != nil {
				return err
			}
		}
		first = false
		t := p.next()
		if t.kind != tkString {
			return p.errAt(t, "expected a quoted key, found %s", t)
		}
		if err := p.expect("="); err != nil {
			return err
		}
		if err := f(t.text, t); err != nil {
			return err
		}
	}
	p.next()
	return nil
}

func (p *textParser) int64Tok() (int64, error) {
	t := p.next()
	if t.kind != tkNumber {
		return 0, p.errAt(t, "expected an integer, found %s", t)
	}
	v, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil {
		return 0, p.errAt(t, "invalid integer %s", t.text)
	}
	return v, nil
}

func (p *textParser) ret(g *Graph, outs []textParam) error {
	var vals []token
	for p.peek().kind == tkValue {
		vals = append(vals, p.next())
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	if len(vals) != len(outs) {
		return p.errAt(p.peek(), "return lists %d values, the signature %d", len(vals), len(outs))
	}
	for i, t := range vals {
		v, err := p.ref(t)
		if err != nil {
			return err
		}
		if t.text != outs[i].tok.text {
			return p.errAt(t, "return value %s does not match the signature's %s", textValueName(t.text), textValueName(outs[i].tok.text))
		}
		if typeText(v.Type) != typeText(outs[i].typ) {
			return p.errAt(outs[i].tok, "output %s is declared %s but has type %s", textValueName(t.text), typeText(outs[i].typ), typeText(v.Type))
		}
		g.Outputs = append(g.Outputs, v)
	}
	return nil
}

func (p *textParser) constant(g *Graph) error {
	p.next() // const
	t := p.next()
	if t.kind != tkValue {
		return p.errAt(t, "expected a %%value, found %s", t)
	}
	v := &Value{Name: t.text}
	hasType := false
	if p.isPunct(":") {
		p.next()
		ty, err := p.typ()
		if err != nil {
			return err
		}
		v.Type, hasType = ty, true
	}
	if err := p.expect("="); err != nil {
		return err
	}
	var implied *Type
	if hasType {
		implied = &v.Type
	}
	tensor, err := p.tensor(implied)
	if err != nil {
		return err
	}
	v.Const = tensor
	if !hasType {
		v.Type = TensorType(tensor.DType, ShapeOf(tensor.Shape...))
	}
	if err := p.define(t, v); err != nil {
		return err
	}
	g.Consts = append(g.Consts, v)
	return nil
}

func (p *textParser) node() (*Node, error) {
	n := &Node{Attrs: map[string]*Attr{}}
	type outTok struct {
		tok token
		typ Type
		nil bool
	}
	var outs []outTok
	if p.isPunct("(") {
		p.next()
		if err := p.expect(")"); err != nil {
			return nil, err
		}
	} else {
		for {
			t := p.next()
			switch {
			case t.kind == tkIdent && t.text == "_":
				outs = append(outs, outTok{tok: t, nil: true})
			case t.kind == tkValue:
				o := outTok{tok: t}
				if p.isPunct(":") {
					p.next()
					ty, err := p.typ()
					if err != nil {
						return nil, err
					}
					o.typ = ty
				}
				outs = append(outs, o)
			default:
				return nil, p.errAt(t, "expected an output %%value or _, found %s", t)
			}
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
	}
	if err := p.expect("="); err != nil {
		return nil, err
	}
	opTok := p.next()
	if opTok.kind != tkIdent {
		return nil, p.errAt(opTok, "expected an op name, found %s", opTok)
	}
	parts := []string{opTok.text}
	for p.isPunct(".") {
		p.next()
		t := p.next()
		if t.kind != tkIdent {
			return nil, p.errAt(t, "expected an op name after '.', found %s", t)
		}
		parts = append(parts, t.text)
	}
	n.Op = parts[len(parts)-1]
	n.Domain = strings.Join(parts[:len(parts)-1], ".")
	if err := p.expect("("); err != nil {
		return nil, err
	}
	for !p.isPunct(")") {
		if len(n.Inputs) > 0 {
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		t := p.next()
		switch {
		case t.kind == tkIdent && t.text == "_":
			n.Inputs = append(n.Inputs, nil)
		case t.kind == tkValue:
			v, err := p.ref(t)
			if err != nil {
				return nil, err
			}
			n.Inputs = append(n.Inputs, v)
		default:
			return nil, p.errAt(t, "expected an input %%value or _, found %s", t)
		}
	}
	p.next()
	if p.isPunct("{") {
		p.next()
		for !p.isPunct("}") {
			if len(n.Attrs) > 0 {
				if err := p.expect(","); err != nil {
					return nil, err
				}
			}
			kt := p.peek()
			k, err := p.name("an attribute name")
			if err != nil {
				return nil, err
			}
			if _, dup := n.Attrs[k]; dup {
				return nil, p.errAt(kt, "attribute %s given twice", k)
			}
			if err := p.expect("="); err != nil {
				return nil, err
			}
			a, err := p.attr()
			if err != nil {
				return nil, err
			}
			n.Attrs[k] = a
		}
		p.next()
	}
	if p.isIdent("name") {
		p.next()
		if err := p.expect("="); err != nil {
			return nil, err
		}
		t := p.next()
		if t.kind != tkString {
			return nil, p.errAt(t, "expected a quoted node name, found %s", t)
		}
		n.Name = t.text
	}
	for _, o := range outs {
		if o.nil {
			n.Outputs = append(n.Outputs, nil)
			continue
		}
		v := &Value{Name: o.tok.text, Type: o.typ, Def: n}
		if err := p.define(o.tok, v); err != nil {
			return nil, err
		}
		n.Outputs = append(n.Outputs, v)
	}
	return n, nil
}

var textListKinds = map[string]AttrKind{
	"ints": AttrInts, "floats": AttrFloats, "strings": AttrStrings, "tensors": AttrTensors, "graphs": AttrGraphs,
}

func (p *textParser) attr() (*Attr, error) {
	t := p.peek()
	switch {
	case t.kind == tkString:
		p.next()
		return StringAttr(t.text), nil
	case t.kind == tkNumber || t.kind == tkPunct && t.text == "-" || t.kind == tkIdent && (t.text == "inf" || t.text == "nan"):
		if t.kind == tkNumber && textIsIntLit(t.text) {
			v, err := p.int64Tok()
			return IntAttr(v), err
		}
		f, err := p.float32Lit()
		return FloatAttr(f), err
	case t.kind == tkIdent && t.text == "dense":
		tt, err := p.tensor(nil)
		return TensorAttr(tt), err
	case t.kind == tkIdent && t.text == "graph":
		g, err := p.graph()
		return GraphAttr(g), err
	case t.kind == tkIdent && t.text == "type_proto":
		p.next()
		return &Attr{Kind: AttrTypeProto}, nil
	case t.kind == tkIdent && textListKinds[t.text] != 0:
		p.next()
		if err := p.expect("["); err != nil {
			return nil, err
		}
		return &Attr{Kind: textListKinds[t.text]}, p.expect("]")
	case t.kind == tkPunct && t.text == "[":
		return p.attrList()
	}
	return nil, p.errAt(t, "expected an attribute value, found %s", t)
}

func (p *textParser) attrList() (*Attr, error) {
	open := p.next()
	if p.isPunct("]") {
		return nil, p.errAt(open, "an empty list needs its kind: ints[], floats[], strings[], tensors[] or graphs[]")
	}
	first := p.peek()
	a := &Attr{}
	switch {
	case first.kind == tkString:
		a.Kind = AttrStrings
	case first.kind == tkIdent && first.text == "dense":
		a.Kind = AttrTensors
	case first.kind == tkIdent && first.text == "graph":
		a.Kind = AttrGraphs
	default:
		a.Kind = AttrInts
	}
	var nums []int // token positions of numeric elements
	for i := 0; ; i++ {
		if i > 0 {
			if p.isPunct("]") {
				p.next()
				break
			}
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		switch a.Kind {
		case AttrStrings:
			t := p.next()
			if t.kind != tkString {
				return nil, p.errAt(t, "expected a string, found %s", t)
			}
			a.Strings = append(a.Strings, t.text)
		case AttrTensors:
			tt, err := p.tensor(nil)
			if err != nil {
				return nil, err
			}
			a.Tensors = append(a.Tensors, tt)
		case AttrGraphs:
			g, err := p.graph()
			if err != nil {
				return nil, err
			}
			a.Graphs = append(a.Graphs, g)
		default:
			if t := p.peek(); t.kind != tkNumber || !textIsIntLit(t.text) {
				a.Kind = AttrFloats
			}
			nums = append(nums, p.pos)
			if _, err := p.float32Lit(); err != nil {
				return nil, err
			}
		}
	}
	if len(nums) > 0 {
		end := p.pos
		for _, pos := range nums {
			p.pos = pos
			if a.Kind == AttrInts {
				v, err := p.int64Tok()
				if err != nil {
					return nil, err
				}
				a.Ints = append(a.Ints, v)
			} else {
				f, _ := p.float32Lit()
				a.Floats = append(a.Floats, f)
			}
		}
		p.pos = end
	}
	return a, nil
}

// textIsIntLit reports whether a number token is a decimal integer.
func textIsIntLit(s string) bool { return !strings.ContainsAny(s, ".eExX") }

// floatLit reads a float literal: a number, inf, -inf, nan or nan:0xBITS;
// bits receives the explicit NaN bits (ok false when none).
func (p *textParser) floatLit(bitSize int) (f float64, bits uint64, hasBits bool, err error) {
	t := p.next()
	neg := false
	if t.kind == tkPunct && t.text == "-" {
		neg = true
		t = p.next()
		if !(t.kind == tkIdent && t.text == "inf") {
			return 0, 0, false, p.errAt(t, "expected inf after '-', found %s", t)
		}
	}
	switch {
	case t.kind == tkIdent && t.text == "inf":
		if neg {
			return math.Inf(-1), 0, false, nil
		}
		return math.Inf(1), 0, false, nil
	case t.kind == tkIdent && t.text == "nan":
		if !p.isPunct(":") {
			return math.NaN(), 0, false, nil
		}
		p.next()
		b := p.next()
		if b.kind != tkNumber || !strings.HasPrefix(b.text, "0x") {
			return 0, 0, false, p.errAt(b, "expected NaN bits 0x..., found %s", b)
		}
		u, err := strconv.ParseUint(b.text[2:], 16, 64)
		if err != nil {
			return 0, 0, false, p.errAt(b, "invalid NaN bits %s", b.text)
		}
		return math.NaN(), u, true, nil
	case t.kind == tkNumber && !strings.ContainsAny(t.text, "xX"):
		v, err := strconv.ParseFloat(t.text, bitSize)
		if err != nil {
			return 0, 0, false, p.errAt(t, "invalid or out-of-range float %s", t.text)
		}
		return v, 0, false, nil
	}
	return 0, 0, false, p.errAt(t, "expected a number, found %s", t)
}

// float32Lit reads a float32 attribute value (NaN bits allowed).
func (p *textParser) float32Lit() (float32, error) {
	t := p.peek()
	f, bits, hasBits, err := p.floatLit(32)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) {
		if !hasBits {
			bits = textNaN32
		}
		if bits > math.MaxUint32 || !math.IsNaN(float64(math.Float32frombits(uint32(bits)))) {
			return 0, p.errAt(t, "0x%x is not a float32 NaN", bits)
		}
		return math.Float32frombits(uint32(bits)), nil
	}
	return float32(f), nil
}

func (p *textParser) typ() (Type, error) {
	t := p.next()
	if err := p.enter(t); err != nil {
		return Type{}, err
	}
	defer p.leave()
	if t.kind == tkIdent && (t.text == "seq" || t.text == "opt") {
		k := KindSequence
		if t.text == "opt" {
			k = KindOptional
		}
		if err := p.expect("<"); err != nil {
			return Type{}, err
		}
		out := Type{Kind: k}
		if p.isPunct("?") && p.peekN(1).kind == tkPunct && p.peekN(1).text == ">" {
			p.next()
		} else {
			e, err := p.typ()
			if err != nil {
				return Type{}, err
			}
			out.Elem = &e
		}
		return out, p.expect(">")
	}
	d := Undefined
	switch {
	case t.kind == tkPunct && t.text == "?":
	case t.kind == tkIdent:
		var err error
		if d, err = ParseDType(t.text); err != nil {
			return Type{}, p.errAt(t, "unknown dtype %q", t.text)
		}
	default:
		return Type{}, p.errAt(t, "expected a type, found %s", t)
	}
	if err := p.expect("["); err != nil {
		return Type{}, err
	}
	if p.isPunct("*") {
		p.next()
		return Type{Kind: KindTensor, DType: d}, p.expect("]")
	}
	s, err := p.dims(true)
	if err != nil {
		return Type{}, err
	}
	return Type{Kind: KindTensor, DType: d, Shape: s, Ranked: true}, nil
}

// dims reads dims up to and including ']'; symbolic allows ? and names.
func (p *textParser) dims(symbolic bool) (Shape, error) {
	s := Shape{}
	for !p.isPunct("]") {
		if len(s) > 0 {
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		t := p.next()
		switch {
		case t.kind == tkNumber:
			v, err := strconv.ParseInt(t.text, 10, 64)
			if err != nil || v < 0 {
				return nil, p.errAt(t, "invalid dim %s", t.text)
			}
			s = append(s, D(v))
		case symbolic && t.kind == tkPunct && t.text == "?":
			s = append(s, UnknownDim())
		case symbolic && (t.kind == tkIdent || t.kind == tkString) && t.text != "":
			s = append(s, Sym(t.text))
		default:
			return nil, p.errAt(t, "expected a dim, found %s", t)
		}
	}
	p.next()
	return s, nil
}

// tensor reads dense<[T] DATA>; implied is the const's declared type,
// used when the literal leaves out its own.
func (p *textParser) tensor(implied *Type) (*Tensor, error) {
	start := p.peek()
	if p.isIdent("quant") {
		return p.quantTensor(implied)
	}
	if err := p.expect("dense"); err != nil {
		return nil, err
	}
	if err := p.expect("<"); err != nil {
		return nil, err
	}
	tt := p.peek()
	t, err := p.literalType(tt.kind == tkIdent && tt.text != "base64", implied, start,
		"unknown dtype %q", "a tensor literal outside a const needs its type: dense<f32[2] ...>")
	if err != nil {
		return nil, err
	}
	if t.Shape == nil {
		t.Shape = []int64{}
	}
	n, ok := textNumElements(t.Shape)
	if !ok {
		return nil, p.errAt(start, "tensor shape %v is too large", t.Shape)
	}
	if p.isIdent("base64") {
		p.next()
		st := p.next()
		if st.kind != tkString {
			return nil, p.errAt(st, "expected a base64 string, found %s", st)
		}
		raw, err := base64.StdEncoding.DecodeString(st.text)
		if err != nil {
			return nil, p.errAt(st, "invalid base64: %v", err)
		}
		if t.DType == String {
			return nil, p.errAt(st, "string tensors are written inline")
		}
		if want := t.DType.StorageBytes(n); int64(len(raw)) != want {
			return nil, p.errAt(st, "%d bytes for %s%v, want %d", len(raw), t.DType, t.Shape, want)
		}
		if err := textFromLE(t, raw, int(n)); err != nil {
			return nil, p.errAt(st, "%v", err)
		}
	} else {
		if err := p.expect("["); err != nil {
			return nil, err
		}
		t.Data = makeSlice(t.DType, 0)
		count := int64(0)
		for !p.isPunct("]") {
			if count > 0 {
				if err := p.expect(","); err != nil {
					return nil, err
				}
			}
			if count == n {
				return nil, p.errAt(p.peek(), "more than %d elements for %s%v", n, t.DType, t.Shape)
			}
			if err := p.elem(t); err != nil {
				return nil, err
			}
			count++
		}
		p.next()
		if count != n {
			return nil, p.errAt(start, "%d elements for %s%v, want %d", count, t.DType, t.Shape, n)
		}
	}
	return t, p.expect(">")
}

// elem appends one element literal to a dense tensor.
func (p *textParser) elem(t *Tensor) error {
	tok := p.peek()
	switch t.DType {
	case Float32, Float64, Float16, BFloat16:
		bitSize := 32
		if t.DType == Float64 {
			bitSize = 64
		}
		f, bits, hasBits, err := p.floatLit(bitSize)
		if err != nil {
			return err
		}
		switch t.DType {
		case Float64:
			if math.IsNaN(f) {
				if !hasBits {
					bits = textNaN64
				}
				f = math.Float64frombits(bits)
				if !math.IsNaN(f) {
					return p.errAt(tok, "0x%x is not a float64 NaN", bits)
				}
			}
			t.Data = append(t.Data.([]float64), f)
		case Float32:
			v := float32(f)
			if math.IsNaN(f) {
				if !hasBits {
					bits = textNaN32
				}
				if bits > math.MaxUint32 || !math.IsNaN(float64(math.Float32frombits(uint32(bits)))) {
					return p.errAt(tok, "0x%x is not a float32 NaN", bits)
				}
				v = math.Float32frombits(uint32(bits))
			}
			t.Data = append(t.Data.([]float32), v)
		default:
			var b uint16
			canon, conv, widen := uint16(textNaN16), F32ToF16, F16ToF32
			if t.DType == BFloat16 {
				canon, conv, widen = textNaNBF, F32ToBF16, BF16ToF32
			}
			switch {
			case math.IsNaN(f) && !hasBits:
				b = canon
			case math.IsNaN(f):
				if bits > math.MaxUint16 || !math.IsNaN(float64(widen(uint16(bits)))) {
					return p.errAt(tok, "0x%x is not a %s NaN", bits, t.DType)
				}
				b = uint16(bits)
			default:
				b = conv(float32(f))
			}
			t.Data = append(t.Data.([]uint16), b)
		}
		return nil
	case Bool:
		tk := p.next()
		if tk.kind != tkIdent || (tk.text != "true" && tk.text != "false") {
			return p.errAt(tk, "expected true or false, found %s", tk)
		}
		t.Data = append(t.Data.([]bool), tk.text == "true")
		return nil
	case String:
		tk := p.next()
		if tk.kind != tkString {
			return p.errAt(tk, "expected a string, found %s", tk)
		}
		t.Data = append(t.Data.([]string), tk.text)
		return nil
	}
	tk := p.next()
	if tk.kind != tkNumber || !textIsIntLit(tk.text) {
		return p.errAt(tk, "expected an integer, found %s", tk)
	}
	if t.DType == Uint64 {
		u, err := strconv.ParseUint(tk.text, 10, 64)
		if err != nil {
			return p.errAt(tk, "invalid u64 %s", tk.text)
		}
		t.Data = append(t.Data.([]uint64), u)
		return nil
	}
	v, err := strconv.ParseInt(tk.text, 10, 64)
	lo, hi := textIntRange(t.DType)
	if err != nil || v < lo || v > hi {
		return p.errAt(tk, "%s is out of range for %s", tk.text, t.DType)
	}
	switch d := t.Data.(type) {
	case []int8:
		t.Data = append(d, int8(v))
	case []uint8:
		t.Data = append(d, uint8(v))
	case []int16:
		t.Data = append(d, int16(v))
	case []uint16:
		t.Data = append(d, uint16(v))
	case []int32:
		t.Data = append(d, int32(v))
	case []uint32:
		t.Data = append(d, uint32(v))
	case []int64:
		t.Data = append(d, v)
	}
	return nil
}

func textIntRange(d DType) (int64, int64) {
	switch d {
	case Int4:
		return -8, 7
	case Uint4:
		return 0, 15
	case Int8:
		return math.MinInt8, math.MaxInt8
	case Uint8:
		return 0, math.MaxUint8
	case Int16:
		return math.MinInt16, math.MaxInt16
	case Uint16:
		return 0, math.MaxUint16
	case Int32:
		return math.MinInt32, math.MaxInt32
	case Uint32:
		return 0, math.MaxUint32
	}
	return math.MinInt64, math.MaxInt64
}

// textFromLE fills t.Data from little-endian bytes (the inverse of
// tensorLEBytes); len(raw) has been checked.
func textFromLE(t *Tensor, raw []byte, n int) error {
	t.Data = makeSlice(t.DType, n)
	switch d := t.Data.(type) {
	case []int8:
		for i := range d {
			if t.DType == Int4 {
				v := raw[i/2] >> (4 * (i % 2)) & 0xf
				d[i] = int8(v<<4) >> 4
			} else {
				d[i] = int8(raw[i])
			}
		}
	case []uint8:
		for i := range d {
			if t.DType == Uint4 {
				d[i] = raw[i/2] >> (4 * (i % 2)) & 0xf
			} else {
				d[i] = raw[i]
			}
		}
	case []bool:
		for i := range d {
			if raw[i] > 1 {
				return fmt.Errorf("bool byte %d is not 0 or 1", raw[i])
			}
			d[i] = raw[i] == 1
		}
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case []uint16:
		for i := range d {
			d[i] = binary.LittleEndian.Uint16(raw[2*i:])
		}
	case []int16:
		for i := range d {
			d[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case []int32:
		for i := range d {
			d[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case []uint32:
		for i := range d {
			d[i] = binary.LittleEndian.Uint32(raw[4*i:])
		}
	case []int64:
		for i := range d {
			d[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case []uint64:
		for i := range d {
			d[i] = binary.LittleEndian.Uint64(raw[8*i:])
		}
	}
	return nil
}

// literalType reads the element type of a tensor literal: "dtype[dims]"
// when explicit, else the type of the const it initializes (implied).
// badDType (with the token's text) and noType are the literal form's own
// error messages.
func (p *textParser) literalType(explicit bool, implied *Type, start token, badDType, noType string) (*Tensor, error) {
	t := &Tensor{}
	tt := p.peek()
	if explicit {
		d, err := ParseDType(tt.text)
		if err != nil {
			return nil, p.errAt(tt, badDType, tt.text)
		}
		p.next()
		if err := p.expect("["); err != nil {
			return nil, err
		}
		s, err := p.dims(false)
		if err != nil {
			return nil, err
		}
		t.DType = d
		t.Shape, _ = s.Concrete()
		return t, nil
	}
	if implied == nil {
		return nil, p.errAt(tt, "%s", noType)
	}
	s, ok := implied.Shape.Concrete()
	if implied.Kind != KindTensor || !implied.Ranked || implied.DType == Undefined || !ok {
		return nil, p.errAt(start, "the const type %s does not give the tensor's type", typeText(*implied))
	}
	t.DType, t.Shape = implied.DType, s
	return t, nil
}
