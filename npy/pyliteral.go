package npy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A tiny parser for the Python literals of a .npy header: dicts, tuples,
// lists, strings, integers (with Python 2's "L" suffix), True, False and
// None. Values: pyDict, pyTuple, pyList, string, int64, bool, nil.

type (
	pyDict  map[string]any
	pyTuple []any
	pyList  []any
)

type pyParser struct {
	s string
	i int
}

const pyMaxDepth = 32

func (p *pyParser) skipSpace() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20] + "…"
	}
	return r
}

func (p *pyParser) parseValue(depth int) (any, error) {
	if depth > pyMaxDepth {
		return nil, errors.New("nested too deeply")
	}
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, errors.New("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.parseDict(depth)
	case c == '(':
		items, err := p.parseItems(depth, ')')
		return pyTuple(items), err
	case c == '[':
		items, err := p.parseItems(depth, ']')
		return pyList(items), err
	case c == '\'' || c == '"':
		return p.parseString()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.parseInt()
	}
	for _, kw := range []struct {
		name string
		v    any
	}{{"True", true}, {"False", false}, {"None", nil}} {
		if strings.HasPrefix(p.s[p.i:], kw.name) {
			p.i += len(kw.name)
			return kw.v, nil
		}
	}
	return nil, fmt.Errorf("unexpected %q", p.rest())
}

func (p *pyParser) parseDict(depth int) (any, error) {
	p.i++ // {
	d := pyDict{}
	for {
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return d, nil
		}
		k, err := p.parseValue(depth + 1)
		if err != nil {
			return nil, err
		}
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("dict key %v is not a string", k)
		}
		if _, dup := d[key]; dup {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, fmt.Errorf("want ':' after key %q", key)
		}
		p.i++
		v, err := p.parseValue(depth + 1)
		if err != nil {
			return nil, err
		}
		d[key] = v
		if err := p.separator('}'); err != nil {
			return nil, err
		}
	}
}

// parseItems parses a tuple or list body up to close. A parenthesized
// single item without a comma is that item in Python; the header only has
// tuples with commas, so we treat "(3)" as a one-element tuple as well.
func (p *pyParser) parseItems(depth int, close byte) ([]any, error) {
	p.i++ // ( or [
	var items []any
	for {
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == close {
			p.i++
			return items, nil
		}
		v, err := p.parseValue(depth + 1)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		if err := p.separator(close); err != nil {
			return nil, err
		}
	}
}

// separator consumes a ',' or leaves the closing bracket for the caller.
func (p *pyParser) separator(close byte) error {
	p.skipSpace()
	if p.i >= len(p.s) {
		return errors.New("unexpected end")
	}
	switch p.s[p.i] {
	case ',':
		p.i++
		return nil
	case close:
		return nil
	}
	return fmt.Errorf("want ',' or %q, got %q", close, p.rest())
}

func (p *pyParser) parseString() (any, error) {
	q := p.s[p.i]
	p.i++
	var sb strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case q:
			return sb.String(), nil
		case '\\':
			if p.i >= len(p.s) {
				return nil, errors.New("unterminated string")
			}
			sb.WriteByte(p.s[p.i])
			p.i++
		default:
			sb.WriteByte(c)
		}
	}
	return nil, errors.New("unterminated string")
}

func (p *pyParser) parseInt() (any, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	v, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("bad integer %q", p.s[start:p.i])
	}
	if p.i < len(p.s) && (p.s[p.i] == 'L' || p.s[p.i] == 'l') {
		p.i++ // Python 2 long suffix
	}
	return v, nil
}
