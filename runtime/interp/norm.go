package interp

import (
	"math"

	"github.com/optc-dev/optc/ir"
)

// BatchNormalization, InstanceNormalization, LayerNormalization,
// LpNormalization, LRN and MeanVarianceNormalization. Statistics (sums,
// means, variances) are accumulated in float64; elementwise arithmetic is
// done in the tensor's compute precision.

func init() {
	Register("BatchNormalization", normBatchKernel)
	Register("InstanceNormalization", normInstanceKernel)
	Register("LayerNormalization", normLayerKernel)
	Register("LpNormalization", normLpKernel)
	Register("LRN", normLRNKernel)
	Register("MeanVarianceNormalization", normMVNKernel)
}

// normMeanVar returns the mean and the biased variance of v.
func normMeanVar[T convFloat](v []T) (mean, variance float64) {
	if len(v) == 0 {
		return 0, 0
	}
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	mean = s / float64(len(v))
	var q float64
	for _, x := range v {
		d := float64(x) - mean
		q += d * d
	}
	return mean, q / float64(len(v))
}

// normParam returns a per-channel parameter tensor as float64 values, one
// per channel, or per channel×spatial element when it has c·sp elements
// (BatchNormalization with spatial=0 before opset 9).
func normParam(c *Call, name string, t *ir.Tensor, ch, sp int) ([]float64, error) {
	if t.Len() != ch && t.Len() != ch*sp {
		return nil, c.Errorf("%s has shape %v, want [%d]", name, t.Shape, ch)
	}
	return convElems[float64](t), nil
}

func normBatchKernel(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 5, 5)
	if err != nil {
		return nil, err
	}
	x := args[0]
	if len(x.Shape) < 2 {
		return nil, c.Errorf("input X must have shape N×C×…, got %v", x.Shape)
	}
	n, ch, sp := convPlanes(x)
	var ps [4][]float64
	for i, name := range []string{"scale", "B", "input_mean", "input_var"} {
		var err error
		if ps[i], err = normParam(c, name, args[i+1], ch, sp); err != nil {
			return nil, err
		}
	}
	training := len(c.Node.Outputs) > 1
	if c.Opset >= 14 {
		training = c.Node.AttrInt("training_mode", 0) != 0
	}
	eps := float64(c.Node.AttrFloat("epsilon", 1e-5))
	momentum := float64(c.Node.AttrFloat("momentum", 0.9))
	mean, variance := ps[2], ps[3]
	var saved [2][]float64
	if training {
		// Batch statistics per channel over N and the spatial dims.
		xv := convElems[float64](x)
		saved[0], saved[1] = make([]float64, ch), make([]float64, ch)
		cnt := float64(n * sp)
		for cc := 0; cc < ch; cc++ {
			var s float64
			for b := 0; b < n; b++ {
				for _, v := range xv[(b*ch+cc)*sp : (b*ch+cc+1)*sp] {
					s += v
				}
			}
			m := s / cnt
			var q float64
			for b := 0; b < n; b++ {
				for _, v := range xv[(b*ch+cc)*sp : (b*ch+cc+1)*sp] {
					q += (v - m) * (v - m)
				}
			}
			saved[0][cc], saved[1][cc] = m, q/cnt
		}
		mean, variance = saved[0], saved[1]
	}
	// y = x·a + b per parameter element.
	np := len(mean)
	a, b := make([]float64, np), make([]float64, np)
	for i := range a {
		a[i] = ps[0][i] / math.Sqrt(variance[i]+eps)
		b[i] = ps[1][i] - mean[i]*a[i]
	}
	perElem := np == ch*sp && sp != 1
	var yt *ir.Tensor
	switch x.DType {
	case ir.Float32, ir.Float16, ir.BFloat16:
		yt = normBatchApply[float32](x, a, b, ch, sp, perElem)
	case ir.Float64:
		yt = normBatchApply[float64](x, a, b, ch, sp, perElem)
	default:
		return nil, c.Errorf("BatchNormalization: unsupported dtype %s (want f32, f64, f16 or bf16)", x.DType)
	}
	if !training {
		return convOuts(c, yt)
	}
	running := func(t *ir.Tensor, batch []float64) *ir.Tensor {
		old := convElems[float64](t)
		v := make([]float64, len(batch))
		for i := range v {
			v[i] = old[i]*momentum + batch[i]*(1-momentum)
		}
		return convTensor(t.DType, t.Shape, v)
	}
	res := []Value{yt, running(args[3], saved[0]), running(args[4], saved[1])}
	if c.Opset < 14 {
		res = append(res, convTensor(args[3].DType, args[3].Shape, saved[0]), convTensor(args[4].DType, args[4].Shape, saved[1]))
	}
	return convOuts(c, res...)
}

// normBatchApply computes y = x·a[p] + b[p], p the channel (or the
// channel×spatial element when perElem).
func normBatchApply[T convFloat](x *ir.Tensor, a, b []float64, ch, sp int, perElem bool) *ir.Tensor {
	xv := convElems[T](x)
	y := make([]T, len(xv))
	for bc := 0; bc*sp < len(xv); bc++ {
		cc := bc % ch
		seg, ys := xv[bc*sp:(bc+1)*sp], y[bc*sp:(bc+1)*sp]
		if !perElem {
			at, bt := T(a[cc]), T(b[cc])
			for i, v := range seg {
				ys[i] = v*at + bt
			}
			continue
		}
		for i, v := range seg {
			ys[i] = v*T(a[cc*sp+i]) + T(b[cc*sp+i])
		}
	}
	return convTensor(x.DType, x.Shape, y)
}

func normInstanceKernel(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 3, 3)
	if err != nil {
		return nil, err
	}
	x, scale, bias := args[0], args[1], args[2]
	if len(x.Shape) < 3 {
		return nil, c.Errorf("input must have shape N×C×D1×…, got %v", x.Shape)
	}
	n, ch, sp := convPlanes(x)
	if scale.Len() != ch || bias.Len() != ch {
		return nil, c.Errorf("scale %v and B %v must have shape [%d]", scale.Shape, bias.Shape, ch)
	}
	eps := float64(c.Node.AttrFloat("epsilon", 1e-5))
	sc, bs := convElems[float64](scale), convElems[float64](bias)
	return convByFloat(c, "InstanceNormalization", x.DType,
		func() ([]Value, error) { return normInstanceRun[float32](x, n, ch, sp, sc, bs, eps) },
		func() ([]Value, error) { return normInstanceRun[float64](x, n, ch, sp, sc, bs, eps) })
}

func normInstanceRun[T convFloat](x *ir.Tensor, n, ch, sp int, sc, bs []float64, eps float64) ([]Value, error) {
	xv := convElems[T](x)
	y := make([]T, len(xv))
	work := int64(len(xv)) * 4
	convParallel(n*ch, work, func(lo, hi int) {
		for bc := lo; bc < hi; bc++ {
			seg := xv[bc*sp : (bc+1)*sp]
			m, v := normMeanVar(seg)
			a := sc[bc%ch] / math.Sqrt(v+eps)
			at, bt := T(a), T(bs[bc%ch]-m*a)
			ys := y[bc*sp : (bc+1)*sp]
			for i, e := range seg {
				ys[i] = e*at + bt
			}
		}
	})
	return one(convTensor(x.DType, x.Shape, y))
}

func normLayerKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	scale, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	bias, err := optTensorArg(c, in, 2)
	if err != nil {
		return nil, err
	}
	axis, err := normAxis(c, c.Node.AttrInt("axis", -1), len(x.Shape))
	if err != nil {
		return nil, err
	}
	norm := x.Shape[axis:]
	inner := int(ir.NumElements(norm))
	outer := int(ir.NumElements(x.Shape[:axis]))
	// Scale and B broadcast to the normalized shape.
	var sIdx, bIdx []int
	if _, err := broadcastShapes(norm, scale.Shape); err != nil || len(scale.Shape) > len(norm) {
		return nil, c.Errorf("Scale %v does not broadcast to the normalized shape %v", scale.Shape, norm)
	}
	sIdx = broadcastIndex(scale.Shape, norm)
	if bias != nil {
		if _, err := broadcastShapes(norm, bias.Shape); err != nil || len(bias.Shape) > len(norm) {
			return nil, c.Errorf("B %v does not broadcast to the normalized shape %v", bias.Shape, norm)
		}
		bIdx = broadcastIndex(bias.Shape, norm)
	}
	eps := float64(c.Node.AttrFloat("epsilon", 1e-5))
	statShape := append([]int64{}, x.Shape...)
	for i := axis; i < len(statShape); i++ {
		statShape[i] = 1
	}
	// Mean and InvStdDev have the stash type (float32 by default) unless
	// the model declares another float type for them.
	statType := ir.Float32
	if x.DType == ir.Float64 && c.Node.AttrInt("stash_type", 1) != 1 {
		statType = ir.Float64
	}
	for _, o := range c.Node.Outputs[min(1, len(c.Node.Outputs)):] {
		if o != nil && o.Type.Kind == ir.KindTensor && o.Type.DType.IsFloat() {
			statType = o.Type.DType
			break
		}
	}
	run := func() ([]Value, error) {
		xv := convElems[float64](x)
		sv := convElems[float64](scale)
		var bv []float64
		if bias != nil {
			bv = convElems[float64](bias)
		}
		y := make([]float64, len(xv))
		means, inv := make([]float64, outer), make([]float64, outer)
		for o := 0; o < outer; o++ {
			seg := xv[o*inner : (o+1)*inner]
			m, v := normMeanVar(seg)
			is := 1 / math.Sqrt(v+eps)
			means[o], inv[o] = m, is
			ys := y[o*inner : (o+1)*inner]
			for i, e := range seg {
				r := (e - m) * is * sv[sIdx[i]]
				if bv != nil {
					r += bv[bIdx[i]]
				}
				ys[i] = r
			}
		}
		return convOuts(c, convTensor(x.DType, x.Shape, y), convTensor(statType, statShape, means), convTensor(statType, statShape, inv))
	}
	return convByFloat(c, "LayerNormalization", x.DType, run, run)
}

func normLpKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	axis, err := normAxis(c, c.Node.AttrInt("axis", -1), len(x.Shape))
	if err != nil {
		return nil, err
	}
	p := c.Node.AttrInt("p", 2)
	if p != 1 && p != 2 {
		return nil, c.Errorf("p must be 1 or 2, got %d", p)
	}
	run := func() ([]Value, error) {
		xv := convElems[float64](x)
		y := make([]float64, len(xv))
		d := int(x.Shape[axis])
		inner := int(ir.NumElements(x.Shape[axis+1:]))
		outer := int(ir.NumElements(x.Shape[:axis]))
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				base := o*d*inner + i
				var s float64
				for k := 0; k < d; k++ {
					v := xv[base+k*inner]
					if p == 1 {
						s += math.Abs(v)
					} else {
						s += v * v
					}
				}
				if p == 2 {
					s = math.Sqrt(s)
				}
				for k := 0; k < d; k++ {
					y[base+k*inner] = xv[base+k*inner] / s
				}
			}
		}
		return one(convTensor(x.DType, x.Shape, y))
	}
	return convByFloat(c, "LpNormalization", x.DType, run, run)
}

func normLRNKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	if len(x.Shape) < 3 {
		return nil, c.Errorf("input must have shape N×C×D1×…, got %v", x.Shape)
	}
	size := int(c.Node.AttrInt("size", 0))
	if size < 1 {
		return nil, c.Errorf("size must be positive, got %d", size)
	}
	alpha := float64(c.Node.AttrFloat("alpha", 1e-4))
	beta := float64(c.Node.AttrFloat("beta", 0.75))
	bias := float64(c.Node.AttrFloat("bias", 1))
	run := func() ([]Value, error) {
		xv := convElems[float64](x)
		y := make([]float64, len(xv))
		n, ch := int(x.Shape[0]), int(x.Shape[1])
		sp := int(ir.NumElements(x.Shape[2:]))
		lo, hi := (size-1)/2, (size-1)-(size-1)/2
		for b := 0; b < n; b++ {
			for cc := 0; cc < ch; cc++ {
				c0, c1 := max(0, cc-lo), min(ch-1, cc+hi)
				for s := 0; s < sp; s++ {
					var sq float64
					for k := c0; k <= c1; k++ {
						v := xv[(b*ch+k)*sp+s]
						sq += v * v
					}
					i := (b*ch+cc)*sp + s
					y[i] = xv[i] / math.Pow(bias+alpha/float64(size)*sq, beta)
				}
			}
		}
		return one(convTensor(x.DType, x.Shape, y))
	}
	return convByFloat(c, "LRN", x.DType, run, run)
}

// normMVNKernel is MeanVarianceNormalization as its ONNX function body
// defines it: (X - E[X]) / (sqrt(E[X²] - E[X]²) + 1e-9) over axes.
func normMVNKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	axes := c.Node.AttrInts("axes", []int64{0, 2, 3})
	rank := len(x.Shape)
	reduced := make([]bool, rank)
	for _, a := range axes {
		ax, err := normAxis(c, a, rank)
		if err != nil {
			return nil, err
		}
		reduced[ax] = true
	}
	// group[i] is the index of element i's reduction group: its flat
	// index over the kept dims.
	n := x.Len()
	group := make([]int, n)
	groups := 1
	for d := 0; d < rank; d++ {
		if !reduced[d] {
			groups *= int(x.Shape[d])
		}
	}
	coords := make([]int64, rank)
	for i := 0; i < n; i++ {
		gi := 0
		for d := 0; d < rank; d++ {
			if !reduced[d] {
				gi = gi*int(x.Shape[d]) + int(coords[d])
			}
		}
		group[i] = gi
		for d := rank - 1; d >= 0; d-- {
			coords[d]++
			if coords[d] < x.Shape[d] {
				break
			}
			coords[d] = 0
		}
	}
	run := func() ([]Value, error) {
		xv := convElems[float64](x)
		sum, sq, cnt := make([]float64, groups), make([]float64, groups), make([]float64, groups)
		for i, v := range xv {
			sum[group[i]] += v
			sq[group[i]] += v * v
			cnt[group[i]]++
		}
		y := make([]float64, n)
		for i, v := range xv {
			g := group[i]
			m := sum[g] / cnt[g]
			std := math.Sqrt(math.Max(sq[g]/cnt[g]-m*m, 0))
			y[i] = (v - m) / (std + 1e-9)
		}
		return one(convTensor(x.DType, x.Shape, y))
	}
	return convByFloat(c, "MeanVarianceNormalization", x.DType, run, run)
}
