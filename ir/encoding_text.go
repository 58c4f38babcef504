package ir

import (
	"strconv"
)

// Text form of the Quantized encoding:
//
//	quant<f32[64,128] uniform bits=4 signed=true axis=0 group=32
//	      scales=dense<f32[256] ...> zero_points=dense<i32[256] ...>
//	      codes=dense<u8[4096] base64 "...">>
//	quant<f32[10,20] power bits=3 signed=true axis=0 scales=dense<...>
//	      exponent=dense<f32[1] [0.62]> codes=dense<...>>
//	quant<f32[10,20] fixed bits=6 signed=true axis=-1 frac=5 codes=dense<...>>
//	quant<f32[10,20] power_int bits=4 signed=true axis=1 scales=dense<...>
//	      exponent=dense<f32[1] [0.7]> codes=dense<...>>
//
// As for dense tensors the type is left out of a const whose declared
// type is the tensor's own. group appears when non-zero, frac for the
// fixed scheme, zero_points and exponent when present; the arrays use the
// dense tensor syntax (codes are the packed bytes of Quantized.Codes).

func (p *textPrinter) quantTensor(t *Tensor, q *Quantized, implied bool, where string) {
	if err := q.Validate(t.Shape); err != nil {
		p.fail("%s: %v", where, err)
	}
	if t.DType != Float32 {
		p.fail("%s: a quantized tensor's logical dtype must be f32, not %s", where, t.DType)
	}
	p.w("quant<")
	if !implied {
		p.w(typeText(TensorType(t.DType, ShapeOf(t.Shape...))), " ")
	}
	p.w(q.Scheme.String(), " bits=", strconv.Itoa(q.Bits), " signed=", strconv.FormatBool(q.Signed),
		" axis=", strconv.Itoa(q.Axis))
	if q.GroupSize != 0 {
		p.w(" group=", strconv.Itoa(q.GroupSize))
	}
	if q.Scheme == QuantFixed {
		p.w(" frac=", strconv.Itoa(q.FracLength))
	}
	arr := func(key string, d DType, data any, n int) {
		p.w(" ", key, "=")
		p.tensor(&Tensor{DType: d, Shape: []int64{int64(n)}, Data: data}, false, where+" "+key)
	}
	if q.Scales != nil {
		arr("scales", Float32, q.Scales, len(q.Scales))
	}
	if q.ZeroPoints != nil {
		arr("zero_points", Int32, q.ZeroPoints, len(q.ZeroPoints))
	}
	if q.Exponent != nil {
		arr("exponent", Float32, q.Exponent, len(q.Exponent))
	}
	arr("codes", Uint8, q.Codes, len(q.Codes))
	p.w(">")
}

// quantTensor reads the quant<...> literal (see encoding_text.go).
func (p *textParser) quantTensor(implied *Type) (*Tensor, error) {
	start := p.next() // quant
	if err := p.expect("<"); err != nil {
		return nil, err
	}
	tt := p.peek()
	if tt.kind != tkIdent {
		return nil, p.errAt(tt, "expected a type or a quantization scheme, found %s", tt)
	}
	_, schemeErr := ParseQuantScheme(tt.text)
	t, err := p.literalType(schemeErr != nil, implied, start,
		"unknown dtype or scheme %q", "a quantized tensor outside a const needs its type: quant<f32[2] ...>")
	if err != nil {
		return nil, err
	}
	if t.Shape == nil {
		t.Shape = []int64{}
	}
	if t.DType != Float32 {
		return nil, p.errAt(start, "a quantized tensor's logical dtype must be f32, not %s", t.DType)
	}
	st := p.next()
	scheme, err := ParseQuantScheme(st.text)
	if st.kind != tkIdent || err != nil {
		return nil, p.errAt(st, "expected a quantization scheme (uniform, power, fixed, power_int), found %s", st)
	}
	q := &Quantized{Scheme: scheme}
	seen := map[string]bool{}
	for !p.isPunct(">") {
		kt := p.next()
		if kt.kind != tkIdent {
			return nil, p.errAt(kt, "expected a quant field name, found %s", kt)
		}
		if seen[kt.text] {
			return nil, p.errAt(kt, "quant field %s given twice", kt.text)
		}
		seen[kt.text] = true
		if err := p.expect("="); err != nil {
			return nil, err
		}
		intField := func(dst *int) error {
			v, err := p.int64Tok()
			if err != nil {
				return err
			}
			if v < -1<<30 || v > 1<<30 {
				return p.errAt(kt, "%s=%d is out of range", kt.text, v)
			}
			*dst = int(v)
			return nil
		}
		arrField := func(d DType) (*Tensor, error) {
			a, err := p.tensor(nil)
			if err != nil {
				return nil, err
			}
			if a.DType != d || len(a.Shape) != 1 {
				return nil, p.errAt(kt, "%s must be a 1-D %s tensor, found %s", kt.text, d, a)
			}
			return a, nil
		}
		switch kt.text {
		case "bits":
			err = intField(&q.Bits)
		case "axis":
			err = intField(&q.Axis)
		case "group":
			err = intField(&q.GroupSize)
		case "frac":
			err = intField(&q.FracLength)
		case "signed":
			b := p.next()
			if b.kind != tkIdent || (b.text != "true" && b.text != "false") {
				return nil, p.errAt(b, "expected true or false, found %s", b)
			}
			q.Signed = b.text == "true"
		case "scales", "exponent":
			var a *Tensor
			if a, err = arrField(Float32); err == nil {
				if kt.text == "scales" {
					q.Scales = a.Data.([]float32)
				} else {
					q.Exponent = a.Data.([]float32)
				}
			}
		case "zero_points":
			var a *Tensor
			if a, err = arrField(Int32); err == nil {
				q.ZeroPoints = a.Data.([]int32)
			}
		case "codes":
			var a *Tensor
			if a, err = arrField(Uint8); err == nil {
				q.Codes = a.Data.([]uint8)
			}
		default:
			return nil, p.errAt(kt, "unknown quant field %s", kt.text)
		}
		if err != nil {
			return nil, err
		}
	}
	p.next()
	for _, k := range []string{"bits", "signed", "axis", "codes"} {
		if !seen[k] {
			return nil, p.errAt(start, "quant literal without %s", k)
		}
	}
	if q.Axis < -1 || q.Axis >= len(t.Shape) {
		return nil, p.errAt(start, "quant axis %d out of range for shape %v", q.Axis, t.Shape)
	}
	if _, ok := textNumElements(t.Shape); !ok {
		return nil, p.errAt(start, "tensor shape %v is too large", t.Shape)
	}
	if err := q.Validate(t.Shape); err != nil {
		return nil, p.errAt(start, "%v", err)
	}
	t.Enc = q
	return t, nil
}
