package interp

import (
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/optc-dev/optc/ir"
)

// Random generators: RandomUniform, RandomNormal, RandomUniformLike,
// RandomNormalLike, Multinomial, Bernoulli. They draw from a PCG generator
// seeded by the seed attribute, or, without one, by a fixed default mixed
// with the node's name, so that every run of a model gives the same
// values. The values differ from other runtimes' generators (ONNX leaves
// the generator unspecified), so conformance tests that compare exact
// random outputs cannot pass.

func init() {
	Register("RandomUniform", randomUniform)
	Register("RandomNormal", randomNormal)
	Register("RandomUniformLike", randomUniformLike)
	Register("RandomNormalLike", randomNormalLike)
	Register("Multinomial", randomMultinomial)
	Register("Bernoulli", randomBernoulli)
}

// randomDefaultSeed seeds generators of nodes without a seed attribute.
const randomDefaultSeed = 0x6f707463 // "optc"

// randomSource returns the node's generator.
func randomSource(c *Call) *rand.Rand {
	var s1, s2 uint64
	if a, ok := c.Node.Attrs["seed"]; ok {
		s1 = uint64(math.Float32bits(a.Float))
		if a.Kind == ir.AttrInt {
			s1 = uint64(a.Int)
		}
	} else {
		h := fnv.New64a()
		h.Write([]byte(c.Node.Name))
		if len(c.Node.Outputs) > 0 && c.Node.Outputs[0] != nil {
			h.Write([]byte(c.Node.Outputs[0].Name))
		}
		s1, s2 = randomDefaultSeed, h.Sum64()
	}
	return rand.New(rand.NewPCG(s1, s2))
}

// randomDType reads the dtype attribute (a TensorProto.DataType code), or
// def when absent.
func randomDType(c *Call, def ir.DType) (ir.DType, error) {
	if !c.Node.HasAttr("dtype") {
		return def, nil
	}
	return tensorONNXDType(c, c.Node.AttrInt("dtype", 1))
}

// randomFill makes a tensor of dtype and shape with values from gen.
func randomFill(c *Call, dt ir.DType, shape []int64, gen func() float64) ([]Value, error) {
	if !dt.IsFloat() {
		return nil, c.Errorf("dtype must be a float type, got %s", dt)
	}
	if err := tmCheckShape(c, shape); err != nil {
		return nil, err
	}
	out := ir.NewTensor(dt, shape...)
	for i := 0; i < out.Len(); i++ {
		out.SetFloat64(i, gen())
	}
	return one(out)
}

func randomUniformGen(c *Call) func() float64 {
	r := randomSource(c)
	lo := float64(c.Node.AttrFloat("low", 0))
	hi := float64(c.Node.AttrFloat("high", 1))
	return func() float64 { return lo + (hi-lo)*r.Float64() }
}

func randomNormalGen(c *Call) func() float64 {
	r := randomSource(c)
	mean := float64(c.Node.AttrFloat("mean", 0))
	scale := float64(c.Node.AttrFloat("scale", 1))
	return func() float64 { return mean + scale*r.NormFloat64() }
}

func randomShapeAttr(c *Call) ([]int64, error) {
	if !c.Node.HasAttr("shape") {
		return nil, c.Errorf("attribute shape is required")
	}
	return c.Node.AttrInts("shape", nil), nil
}

// randomOfShape fills a tensor of the shape and dtype attributes (default
// float32) from gen.
func randomOfShape(c *Call, gen func(*Call) func() float64) ([]Value, error) {
	shape, err := randomShapeAttr(c)
	if err != nil {
		return nil, err
	}
	dt, err := randomDType(c, ir.Float32)
	if err != nil {
		return nil, err
	}
	return randomFill(c, dt, shape, gen(c))
}

func randomUniform(c *Call, in []Value) ([]Value, error) {
	return randomOfShape(c, randomUniformGen)
}

func randomNormal(c *Call, in []Value) ([]Value, error) {
	return randomOfShape(c, randomNormalGen)
}

func randomLike(c *Call, in []Value, gen func(*Call) func() float64) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	dt, err := randomDType(c, x.DType)
	if err != nil {
		return nil, err
	}
	return randomFill(c, dt, x.Shape, gen(c))
}

func randomUniformLike(c *Call, in []Value) ([]Value, error) {
	return randomLike(c, in, randomUniformGen)
}

func randomNormalLike(c *Call, in []Value) ([]Value, error) {
	return randomLike(c, in, randomNormalGen)
}

func randomMultinomial(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	if x.Rank() != 2 || !x.DType.IsFloat() {
		return nil, c.Errorf("input must be 2-D float [batch, classes], got %s", x)
	}
	dt, err := randomDType(c, ir.Int32)
	if err != nil {
		return nil, err
	}
	if dt != ir.Int32 && dt != ir.Int64 {
		return nil, c.Errorf("dtype must be int32 or int64, got %s", dt)
	}
	n := c.Node.AttrInt("sample_size", 1)
	batch, classes := x.Shape[0], x.Shape[1]
	if err := tmCheckShape(c, []int64{batch, n}); err != nil {
		return nil, err
	}
	r := randomSource(c)
	out := ir.NewTensor(dt, batch, n)
	cdf := make([]float64, classes)
	for b := int64(0); b < batch; b++ {
		// The input holds unnormalized log probabilities.
		mx := math.Inf(-1)
		for k := int64(0); k < classes; k++ {
			mx = max(mx, x.Float64At(int(b*classes+k)))
		}
		acc := 0.0
		for k := int64(0); k < classes; k++ {
			acc += math.Exp(x.Float64At(int(b*classes+k)) - mx)
			cdf[k] = acc
		}
		for s := int64(0); s < n; s++ {
			u := r.Float64() * acc
			k := int64(0)
			for k < classes-1 && cdf[k] <= u {
				k++
			}
			out.SetFloat64(int(b*n+s), float64(k))
		}
	}
	return one(out)
}

func randomBernoulli(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	if !x.DType.IsFloat() {
		return nil, c.Errorf("input must hold float probabilities, got %s", x.DType)
	}
	dt, err := randomDType(c, x.DType)
	if err != nil {
		return nil, err
	}
	if dt == ir.String {
		return nil, c.Errorf("dtype string is not allowed")
	}
	r := randomSource(c)
	out := ir.NewTensor(dt, x.Shape...)
	for i := 0; i < x.Len(); i++ {
		if r.Float64() < x.Float64At(i) {
			out.SetFloat64(i, 1)
		}
	}
	return one(out)
}
