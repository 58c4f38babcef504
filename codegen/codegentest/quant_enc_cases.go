package codegentest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// QuantSpec describes a quantized test weight: Bits-bit codes of Scheme,
// signed (else unsigned with random zero points), parameters along Axis
// (−1: per tensor) in groups of Group elements of a channel (0: one
// group), per-channel exponents (ColExp, power scheme) and the fraction
// length of fixed point.
type QuantSpec struct {
	Bits   int
	Scheme ir.QuantScheme
	Signed bool
	Axis   int
	Group  int
	ColExp bool
	Frac   int
}

func (s QuantSpec) String() string {
	n := fmt.Sprintf("%s%d", s.Scheme, s.Bits)
	if !s.Signed && s.Scheme == ir.QuantUniform {
		n += "u"
	}
	if s.Group > 0 {
		n += fmt.Sprintf("_g%d", s.Group)
	}
	if s.ColExp {
		n += "_colexp"
	}
	if s.Axis < 0 && s.Scheme != ir.QuantFixed {
		n += "_pt"
	}
	return n
}

// QuantWeightSpec builds a constant of the given shape holding random
// codes (the whole code range: ±Qmax for the power scheme) and random
// parameters as spec says.
func QuantWeightSpec(b *ir.Builder, rng *rand.Rand, name string, s QuantSpec, shape ...int64) *ir.Value {
	q := &ir.Quantized{Bits: s.Bits, Scheme: s.Scheme, Signed: s.Signed || s.Scheme != ir.QuantUniform, Axis: s.Axis, GroupSize: s.Group}
	if s.Scheme == ir.QuantFixed {
		q.Axis, q.GroupSize, q.FracLength = -1, 0, s.Frac
	}
	lo, hi := q.CodeRange()
	if s.Scheme == ir.QuantPower {
		lo, hi = -q.QMax(), q.QMax()
	}
	codes := make([]int32, ir.NumElements(shape))
	for i := range codes {
		codes[i] = lo + int32(rng.IntN(int(hi-lo+1)))
	}
	packed, err := ir.PackCodes(codes, s.Bits, q.Signed)
	if err != nil {
		panic(err)
	}
	q.Codes = packed
	if s.Scheme != ir.QuantFixed {
		C, G, _, err := q.QuantLayout(shape)
		if err != nil {
			panic(err)
		}
		q.Scales = make([]float32, C*G)
		for i := range q.Scales {
			q.Scales[i] = float32((0.5 + rng.Float64()) / math.Pow(2, float64(s.Bits-1)))
		}
		if !q.Signed {
			q.ZeroPoints = make([]int32, C*G)
			for i := range q.ZeroPoints {
				q.ZeroPoints[i] = lo + int32(rng.IntN(int(hi-lo+1)))
			}
		}
		if s.Scheme == ir.QuantPower {
			n := 1
			if s.ColExp {
				n = C
			}
			for range n {
				q.Exponent = append(q.Exponent, float32(0.3+0.7*rng.Float64()))
			}
		}
	}
	if err := q.Validate(shape); err != nil {
		panic(err)
	}
	return b.Const(name, &ir.Tensor{DType: ir.Float32, Shape: append([]int64(nil), shape...), Enc: q})
}

// QuantEncodingSpecs are the encodings the quantized GEMM computes on
// besides QuantCases' symmetric per-channel/per-tensor/fixed ones.
func QuantEncodingSpecs() []QuantSpec {
	P, U, F := ir.QuantPower, ir.QuantUniform, ir.QuantFixed
	return []QuantSpec{
		{Bits: 4, Scheme: U, Signed: true, Axis: 1, Group: 32},
		{Bits: 8, Scheme: U, Signed: true, Axis: 1, Group: 64},
		{Bits: 8, Scheme: U, Axis: 1},
		{Bits: 4, Scheme: U, Axis: 1, Group: 32},
		{Bits: 3, Scheme: U, Signed: true, Axis: 1},
		{Bits: 4, Scheme: P, Axis: 1},
		{Bits: 3, Scheme: P, Axis: 1},
		{Bits: 4, Scheme: P, Axis: 1, ColExp: true},
		{Bits: 4, Scheme: P, Axis: 1, Group: 32},
		{Bits: 3, Scheme: P, Axis: -1},
		{Bits: 6, Scheme: F, Frac: 5},
		{Bits: 12, Scheme: F, Frac: 9},
		{Bits: 16, Scheme: F, Frac: 14},
	}
}

// transposedSpec is s for B stored [N,K] (Gemm transB=1): the output
// channels are axis 0.
func transposedSpec(s QuantSpec) QuantSpec {
	if s.Axis == 1 {
		s.Axis = 0
	}
	return s
}

// QuantEncodingCases are differential graphs for QuantEncodingSpecs:
// MatMul with M = 1, 7 and 20 (decode in registers, one or two row tiles)
// and 32, or 20 with K above the K blocking (decode per slice, with K tails
// of the blocking and of the groups) and Gemm with transB and
// alpha.
func QuantEncodingCases() []Case {
	var cs []Case
	for si, s := range QuantEncodingSpecs() {
		for _, d := range [][3]int64{{1, 100, 40}, {7, 70, 33}, {20, 100, 40}, {20, 300, 48}, {32, 300, 48}} {
			M, K, N := d[0], d[1], d[2]
			cs = append(cs, quantMatMulCase(fmt.Sprintf("qmatmul_%s_%dx%dx%d", s, M, K, N), uint64(si), uint64(M*K*N), s, []int64{M, K}, []int64{K, N}, false))
		}
		// A quantized left operand (a weight times a run-time matrix, as in
		// Conv's GEMM): decoded per task.
		cs = append(cs, quantMatMulCase(fmt.Sprintf("qmatmulA_%s_20x70x50", s), uint64(si), 11, transposedSpec(s), []int64{70, 50}, []int64{20, 70}, true))
		cs = append(cs, Case{Name: fmt.Sprintf("qgemm_%s_9x65x30", s), Build: func() *ir.Graph {
			rng := rand.New(rand.NewPCG(uint64(si), 7))
			b := ir.NewBuilder("qenc")
			x := b.Input("x", f32(9, 65))
			w := QuantWeightSpec(b, rng, "w", transposedSpec(s), 30, 65)
			bias := weight(b, rng, "bias", 30)
			b.Output(b.Op1("Gemm", map[string]*ir.Attr{"transB": ir.IntAttr(1), "alpha": ir.FloatAttr(0.75)}, x, w, bias))
			return b.Graph()
		}})
	}
	return cs
}

// quantMatMulCase is Relu(MatMul(x, W)) (Relu(MatMul(W, x)) when left)
// with x of shape xs and a random quantized W of spec s and shape ws.
func quantMatMulCase(name string, seed1, seed2 uint64, s QuantSpec, xs, ws []int64, left bool) Case {
	return Case{Name: name, Build: func() *ir.Graph {
		rng := rand.New(rand.NewPCG(seed1, seed2))
		b := ir.NewBuilder("qenc")
		x := b.Input("x", f32(xs...))
		w := QuantWeightSpec(b, rng, "w", s, ws...)
		ops := []*ir.Value{x, w}
		if left {
			ops = []*ir.Value{w, x}
		}
		b.Output(b.Op1("Relu", nil, b.Op1("MatMul", nil, ops...)))
		return b.Graph()
	}}
}

// QuantDecodeCase is x[K,K] · B[K,N] (MatMul; Gemm with transB=1 when
// trans) with B of spec s: fed the identity matrix, its output is B's
// decoded value, and must equal ir.Quantized.Decode exactly (a product
// with 1 and sums with zeros are exact, and the scale multiplies once).
// M = K > mr, so the per-slice decode runs; rows [0, 1) alone exercise
// the in-register decode when the graph is built with K rows of which
// the test compares all.
func QuantDecodeCase(s QuantSpec, K, N int64, trans bool) Case {
	name := fmt.Sprintf("qdecode_%s_%dx%d", s, K, N)
	if trans {
		name += "_t"
	}
	return Case{Name: name, Build: func() *ir.Graph {
		rng := rand.New(rand.NewPCG(uint64(K), uint64(N)))
		b := ir.NewBuilder("qdecode")
		x := b.Input("x", ir.TensorType(ir.Float32, ir.Shape{ir.Sym("M"), ir.D(K)}))
		if trans {
			w := QuantWeightSpec(b, rng, "w", transposedSpec(s), N, K)
			b.Output(b.Op1("Gemm", map[string]*ir.Attr{"transB": ir.IntAttr(1)}, x, w))
		} else {
			w := QuantWeightSpec(b, rng, "w", s, K, N)
			b.Output(b.Op1("MatMul", nil, x, w))
		}
		return b.Graph()
	}}
}

// QuantDecodeCaseA is W[M,K] · x[K,K] with a quantized left operand W of
// spec s: fed the identity, its output is W's decoded value.
func QuantDecodeCaseA(s QuantSpec, M, K int64) Case {
	return Case{Name: fmt.Sprintf("qdecodeA_%s_%dx%d", s, M, K), Build: func() *ir.Graph {
		rng := rand.New(rand.NewPCG(uint64(M), uint64(K)))
		b := ir.NewBuilder("qdecode")
		x := b.Input("x", f32(K, K))
		w := QuantWeightSpec(b, rng, "w", transposedSpec(s), M, K)
		b.Output(b.Op1("MatMul", nil, w, x))
		return b.Graph()
	}}
}
