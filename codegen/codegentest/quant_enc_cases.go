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

// QuantConvCases are differential graphs of Conv with a quantized filter
// W [M, C, KH, KW] (parameters per output channel, or per tensor, groups
// along C·KH·KW): every QuantEncodingSpecs encoding on a padded 3x3 direct
// conv of batch 2 (every task decodes all row tiles: C·9 = 45 rows, a
// 32-row group tail), and for 4-bit uniform and NUPES codes the other
// layouts: an in-place 1x1 with 37 channels at batch 1 (tasks of one row
// tile each), a strided 3x3 with bias and Relu, a conv the im2col GEMM
// takes (a 5x5 filter over a 40x6 input: the direct grid, 6 columns for
// an output 2 wide, would be too wide), and a grouped and a depthwise
// conv, whose filters are decoded at compile time (Kind says which
// schedule the test expects); for 4-bit uniform codes also a conv whose
// filters decoded at once would not fit a task's stack buffer.
func QuantConvCases() []QuantConvCase {
	type shape struct {
		kind               string
		nb, c, h, w, m, kk int64
		stride, pad, group int64
	}
	direct := shape{"direct", 2, 5, 9, 9, 14, 3, 1, 1, 1}
	others := []shape{
		{"inplace", 1, 24, 7, 10, 37, 1, 1, 0, 1},
		{"direct", 1, 6, 11, 11, 20, 3, 2, 1, 1},
		{"im2col", 2, 4, 40, 6, 10, 5, 1, 0, 1},
		{"grouped", 1, 6, 8, 8, 8, 3, 1, 1, 2},
		{"depthwise", 1, 6, 8, 8, 6, 3, 1, 1, 6},
	}
	var cs []QuantConvCase
	for si, s := range QuantEncodingSpecs() {
		shapes := []shape{direct}
		if si == 0 || si == 5 { // uniform4_g32, power4
			shapes = append(shapes, others...)
		}
		if si == 0 {
			// 96 filters of 128·9: all row tiles decoded would pass the
			// 256 KiB stack buffer, so tasks take fewer of them.
			shapes = append(shapes, shape{"direct", 16, 128, 4, 4, 96, 3, 1, 1, 1})
		}
		for di, d := range shapes {
			name := fmt.Sprintf("qconv_%s_%s_n%dc%dm%dk%ds%dg%d", s, d.kind, d.nb, d.c, d.m, d.kk, d.stride, d.group)
			cs = append(cs, QuantConvCase{Kind: d.kind, Case: Case{Name: name, Build: func() *ir.Graph {
				rng := rand.New(rand.NewPCG(uint64(si), uint64(di)))
				b := ir.NewBuilder("qconv")
				x := b.Input("x", f32(d.nb, d.c, d.h, d.w))
				w := QuantWeightSpec(b, rng, "w", transposedSpec(s), d.m, d.c/d.group, d.kk, d.kk)
				attrs := map[string]*ir.Attr{
					"strides": ir.IntsAttr(d.stride, d.stride), "group": ir.IntAttr(d.group),
					"pads": ir.IntsAttr(d.pad, d.pad, d.pad, d.pad),
				}
				ins := []*ir.Value{x, w}
				if d.stride > 1 {
					ins = append(ins, weight(b, rng, "bias", d.m))
				}
				y := b.Op1("Conv", attrs, ins...)
				if d.stride > 1 {
					y = b.Op1("Relu", nil, y)
				}
				b.Output(y)
				return b.Graph()
			}}})
		}
	}
	return cs
}

// QuantConvCase is a QuantConvCases graph and the schedule of its filter:
// "direct", "inplace" and "im2col" compute on the codes, "grouped" and
// "depthwise" decode them at compile time.
type QuantConvCase struct {
	Case
	Kind string
}

// QuantConvDecodeCases are convolutions whose output is their quantized
// filter's decoded value, to be equal to ir.Quantized.Decode exactly (a
// product with 1 and sums with zeros are exact, and the scale multiplies
// once):
//
//   - "1x1": W [37, 70, 1, 1] over x [1, 70, 1, 70] = the identity
//     (x[0, c, 0, j] = [c = j]): out[0, m, 0, j] = W[m, j];
//   - "3x3": W [13, 4, 3, 3] over a batch of the 36 one-hot 4x3x3 images
//     (image i holds 1 at element i): out[i, m, 0, 0] = W[m, i].
//
// Fixed holds the input; Want(w, out) is the decoded weight at output
// element i.
func QuantConvDecodeCases(s QuantSpec) []QuantConvDecodeCase {
	mk := func(name string, M, C, KS, nb, h, w int64, one func(x []float32)) QuantConvDecodeCase {
		xs := []int64{nb, C, h, w}
		x := make([]float32, ir.NumElements(xs))
		one(x)
		return QuantConvDecodeCase{
			Case: Case{Name: fmt.Sprintf("qconvdecode_%s_%s", s, name), Build: func() *ir.Graph {
				rng := rand.New(rand.NewPCG(uint64(M), uint64(C)))
				b := ir.NewBuilder("qconvdecode")
				in := b.Input("x", f32(xs...))
				wv := QuantWeightSpec(b, rng, "w", transposedSpec(s), M, C, KS, KS)
				b.Output(b.Op1("Conv", nil, in, wv))
				return b.Graph()
			}},
			X: ir.FromSlice(ir.Float32, xs, x),
		}
	}
	one1 := mk("1x1", 37, 70, 1, 1, 1, 70, func(x []float32) {
		for c := range 70 {
			x[c*70+c] = 1
		}
	})
	one1.Want = func(i int) int { return i } // out [m][j] = W[m][j]
	one3 := mk("3x3", 13, 4, 3, 36, 3, 3, func(x []float32) {
		for i := range 36 {
			x[i*36+i] = 1
		}
	})
	one3.Want = func(i int) int { return (i%13)*36 + i/13 } // out [img][m] = W[m][img]
	return []QuantConvDecodeCase{one1, one3}
}

// QuantConvDecodeCase is one of QuantConvDecodeCases: fed X, output
// element i is the decoded filter's element Want(i).
type QuantConvDecodeCase struct {
	Case
	X    *ir.Tensor
	Want func(i int) int
}
