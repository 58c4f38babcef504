package ir

import "strings"

// Convolutions, pooling, normalizations and other neural-network ops.
//
// FLOPs: a convolution counts 2·(C/group)·prod(kernel) per output element
// (plus one per output element for the bias); ConvTranspose the same per
// input element; pooling prod(kernel) per output element and the global
// pools one per input element; BatchNormalization two per element (the
// scale and shift once statistics are folded), Instance/Layer/MeanVariance
// normalization eight per element (mean, variance, normalize, affine).

const opConvAttrs = "auto_pad=s:NOTSET dilations=is group=i:1 kernel_shape=is pads=is strides=is"

func init() {
	regOps("", inferConv(0, 1, Undefined), opFlops(convFlops(1, 2)), opRow{"Conv", 1, "2-3:1", opConvAttrs})
	regOps("", inferConv(0, 1, Int32), opFlops(convFlops(1, -1)), opRow{"ConvInteger", 10, "2-4:1", opConvAttrs})
	regOps("", inferConv(0, 3, Undefined), opFlops(convFlops(3, 8)), opRow{"QLinearConv", 10, "8-9:1", opConvAttrs})
	regOps("", inferConvTranspose, opFlops(convTransposeFlops), opRow{"ConvTranspose", 1, "2-3:1", opConvAttrs + " output_padding=is output_shape=is"})
	regOps("", inferPool, opFlops(poolFlops),
		opRow{"AveragePool", 1, "1:1", "auto_pad=s:NOTSET ceil_mode=i:0 count_include_pad=i:0 kernel_shape=is pads=is strides=is"},
		opRow{"MaxPool", 1, "1:1-2", "auto_pad=s:NOTSET ceil_mode=i:0 dilations=is kernel_shape=is pads=is storage_order=i:0 strides=is"},
		opRow{"LpPool", 2, "1:1", "auto_pad=s:NOTSET kernel_shape=is p=i:2 pads=is strides=is"},
	)
	regOps("", inferGlobalPool, opPerInElem(1),
		opRow{"GlobalAveragePool", 1, "1:1", ""},
		opRow{"GlobalMaxPool", 1, "1:1", ""},
		opRow{"GlobalLpPool", 2, "1:1", "p=i:2"},
	)
	regOps("", nil, nil,
		opRow{"MaxRoiPool", 1, "2:1", "pooled_shape=is spatial_scale=f:1"},
		opRow{"MaxUnpool", 9, "2-3:1", "kernel_shape=is pads=is strides=is"},
	)
	regOps("", inferBatchNorm, opPerInElem(2), opRow{"BatchNormalization", 6, "5:1-5", "epsilon=f:1e-05 is_test=i:0 momentum=f:0.9 spatial=i:1 training_mode=i:0"})
	regOps("", inferSameType, opPerInElem(8),
		opRow{"InstanceNormalization", 6, "3:1", "epsilon=f:1e-05"},
		opRow{"MeanVarianceNormalization", 9, "1:1", "axes=is:0,2,3"},
	)
	regOps("", inferLayerNorm, opPerInElem(8), opRow{"LayerNormalization", 17, "2-3:1-3", "axis=i:-1 epsilon=f:1e-05 stash_type=i:1"})
	regOps("", inferSameType, opPerInElem(3), opRow{"LpNormalization", 1, "1:1", "axis=i:-1 p=i:2"})
	regOps("", inferSameType, opFlops(func(n *Node) int64 {
		return (2*n.AttrInt("size", 1) + 3) * opElems(n.Input(0))
	}), opRow{"LRN", 1, "1:1", "alpha=f:1e-04 beta=f:0.75 bias=f:1 size=i"})
	regOps("", inferDropout, opZeroFlops, opRow{"Dropout", 6, "1-3:1-2", "is_test=i:0 ratio=f:0.5 seed=i"})
	regOps("", inferFlatten, opZeroFlops, opRow{"Flatten", 1, "1:1", "axis=i:1"})
}

// convWindow describes a sliding window along the spatial dims.
type convWindow struct {
	kernel, strides, dilations, pads []int64
	autoPad                          string
	ceil                             bool
}

// convWindowOf reads a node's window attributes for k spatial dims; kernel
// comes from kernel_shape or, when absent, from the weight shape (nil if
// unknown).
func (c *inferCtx) convWindowOf(k int, weight Shape) (convWindow, error) {
	w := convWindow{autoPad: c.n.AttrString("auto_pad", "NOTSET"), ceil: c.attrInt("ceil_mode", 0) != 0}
	w.kernel = c.n.AttrInts("kernel_shape", nil)
	if w.kernel == nil && len(weight) == k+2 {
		if ks, ok := weight[2:].Concrete(); ok {
			w.kernel = ks
		}
	}
	ones := func() []int64 {
		s := make([]int64, k)
		for i := range s {
			s[i] = 1
		}
		return s
	}
	w.strides = c.n.AttrInts("strides", ones())
	w.dilations = c.n.AttrInts("dilations", ones())
	w.pads = c.n.AttrInts("pads", make([]int64, 2*k))
	switch {
	case w.kernel != nil && len(w.kernel) != k:
		return w, c.errf("kernel_shape %v for %d spatial dims", w.kernel, k)
	case len(w.strides) != k || len(w.dilations) != k || len(w.pads) != 2*k:
		return w, c.errf("strides %v, dilations %v, pads %v for %d spatial dims", w.strides, w.dilations, w.pads, k)
	}
	for i := 0; i < k; i++ {
		if w.strides[i] <= 0 || w.dilations[i] <= 0 {
			return w, c.errf("strides %v and dilations %v must be positive", w.strides, w.dilations)
		}
	}
	return w, nil
}

// out computes the output spatial dims of a conv or pool window.
func (w convWindow) out(in Shape) Shape {
	out := make(Shape, len(in))
	for i, d := range in {
		out[i] = UnknownDim()
		if !d.Known() || w.kernel == nil {
			continue
		}
		s, dk := w.strides[i], (w.kernel[i]-1)*w.dilations[i]+1
		switch strings.ToUpper(w.autoPad) {
		case "SAME_UPPER", "SAME_LOWER":
			out[i] = D((d.Size + s - 1) / s)
		case "VALID":
			out[i] = D(max((d.Size-dk)/s+1, 0))
		default:
			span := d.Size + w.pads[i] + w.pads[i+len(in)] - dk
			if span < 0 {
				out[i] = D(0)
			} else if w.ceil {
				out[i] = D((span+s-1)/s + 1)
			} else {
				out[i] = D(span/s + 1)
			}
		}
	}
	return out
}

// inferConv infers Conv-like ops with data input x and weight input w; the
// output dtype is out or x's dtype.
func inferConv(x, w int, out DType) opInferFn {
	return func(c *inferCtx) error {
		d := out
		if d == Undefined {
			d = c.dtype(x)
			if x == 0 && w == 1 {
				var err error
				if d, err = c.commonDType(0, 1); err != nil {
					return err
				}
			}
		}
		tx, ok := c.ranked(x)
		if !ok {
			return c.setDType(0, d)
		}
		if len(tx.Shape) < 3 {
			return c.errf("input %s has no spatial dims", typeText(tx))
		}
		k := len(tx.Shape) - 2
		tw, wok := c.ranked(w)
		if wok && len(tw.Shape) != k+2 {
			return c.errf("weight %s does not match input %s", typeText(tw), typeText(tx))
		}
		var wshape Shape
		ch := UnknownDim()
		if wok {
			wshape, ch = tw.Shape, tw.Shape[0]
			g := c.attrInt("group", 1)
			cin, wc := tx.Shape[1], tw.Shape[1]
			if cin.Known() && wc.Known() && cin.Size != wc.Size*g {
				return c.errf("input has %d channels, weight expects %d×%d groups", cin.Size, wc.Size, g)
			}
		}
		win, err := c.convWindowOf(k, wshape)
		if err != nil {
			return err
		}
		s := append(Shape{tx.Shape[0], ch}, win.out(tx.Shape[2:])...)
		return c.setTensor(0, d, s)
	}
}

// convFlops counts 2·prod(W[1:]) per output element plus the bias.
func convFlops(w, bias int) func(n *Node) int64 {
	return func(n *Node) int64 {
		ws := opDims(n, w)
		if len(ws) < 1 {
			return 0
		}
		out := opElems(opOut(n, 0))
		f := 2 * out * NumElements(ws[1:])
		if bias >= 0 && n.Input(bias) != nil {
			f += out
		}
		return f
	}
}

func inferConvTranspose(c *inferCtx) error {
	d, err := c.commonDType(0, 1)
	if err != nil {
		return err
	}
	tx, ok := c.ranked(0)
	if !ok {
		return c.setDType(0, d)
	}
	if len(tx.Shape) < 3 {
		return c.errf("input %s has no spatial dims", typeText(tx))
	}
	k := len(tx.Shape) - 2
	tw, wok := c.ranked(1)
	if wok && len(tw.Shape) != k+2 {
		return c.errf("weight %s does not match input %s", typeText(tw), typeText(tx))
	}
	ch := UnknownDim()
	var wshape Shape
	if wok {
		wshape = tw.Shape
		ch = dimMul(tw.Shape[1], D(c.attrInt("group", 1)))
	}
	win, err := c.convWindowOf(k, wshape)
	if err != nil {
		return err
	}
	outPad := c.n.AttrInts("output_padding", make([]int64, k))
	if len(outPad) != k {
		return c.errf("output_padding %v for %d spatial dims", outPad, k)
	}
	sp := make(Shape, k)
	outShape := c.n.AttrInts("output_shape", nil)
	for i := range sp {
		sp[i] = UnknownDim()
		in := tx.Shape[2+i]
		switch {
		case len(outShape) >= k:
			sp[i] = D(outShape[len(outShape)-k+i])
		case !in.Known() || win.kernel == nil:
		case strings.HasPrefix(strings.ToUpper(win.autoPad), "SAME"):
			sp[i] = D(in.Size * win.strides[i])
		default:
			dk := (win.kernel[i]-1)*win.dilations[i] + 1
			sp[i] = D(win.strides[i]*(in.Size-1) + outPad[i] + dk - win.pads[i] - win.pads[i+k])
		}
	}
	return c.setTensor(0, d, append(Shape{tx.Shape[0], ch}, sp...))
}

func convTransposeFlops(n *Node) int64 {
	ws := opDims(n, 1)
	if len(ws) < 1 {
		return 0
	}
	f := 2 * opElems(n.Input(0)) * NumElements(ws[1:])
	if n.Input(2) != nil {
		f += opElems(opOut(n, 0))
	}
	return f
}

func inferPool(c *inferCtx) error {
	tx, ok := c.ranked(0)
	if !ok {
		return firstErr(c.setDType(0, c.dtype(0)), c.setDType(1, Int64))
	}
	if len(tx.Shape) < 3 {
		return c.errf("input %s has no spatial dims", typeText(tx))
	}
	if !c.n.HasAttr("kernel_shape") {
		return c.errf("missing kernel_shape")
	}
	win, err := c.convWindowOf(len(tx.Shape)-2, nil)
	if err != nil {
		return err
	}
	s := append(Shape{tx.Shape[0], tx.Shape[1]}, win.out(tx.Shape[2:])...)
	return firstErr(c.setTensor(0, tx.DType, s), c.setTensor(1, Int64, s))
}

func poolFlops(n *Node) int64 {
	return opElems(opOut(n, 0)) * NumElements(n.AttrInts("kernel_shape", nil))
}

func inferGlobalPool(c *inferCtx) error {
	tx, ok := c.ranked(0)
	if !ok {
		return c.setDType(0, c.dtype(0))
	}
	if len(tx.Shape) < 2 {
		return c.errf("input %s has no channel dim", typeText(tx))
	}
	s := append(Shape{}, tx.Shape...)
	for i := 2; i < len(s); i++ {
		s[i] = D(1)
	}
	return c.setTensor(0, tx.DType, s)
}

func inferBatchNorm(c *inferCtx) error {
	if err := c.set(0, c.in(0)); err != nil {
		return err
	}
	ch := UnknownDim()
	if tx, ok := c.ranked(0); ok && len(tx.Shape) >= 2 {
		ch = tx.Shape[1]
	}
	d := c.dtype(3)
	for i := 1; i < len(c.n.Outputs); i++ {
		if err := c.setTensor(i, d, Shape{ch}); err != nil {
			return err
		}
	}
	return nil
}

func inferLayerNorm(c *inferCtx) error {
	if err := c.set(0, c.in(0)); err != nil {
		return err
	}
	stash, ok := DTypeFromONNX(c.attrInt("stash_type", 1))
	if !ok {
		return c.errf("unsupported stash_type %d", c.attrInt("stash_type", 1))
	}
	tx, ok := c.ranked(0)
	if !ok {
		return firstErr(c.setDType(1, stash), c.setDType(2, stash))
	}
	axis, err := normAxisRank(c.attrInt("axis", -1), len(tx.Shape))
	if err != nil {
		return c.errf("%v", err)
	}
	s := append(Shape{}, tx.Shape...)
	for i := axis; i < len(s); i++ {
		s[i] = D(1)
	}
	return firstErr(c.setTensor(1, stash, s), c.setTensor(2, stash, s))
}

func inferDropout(c *inferCtx) error {
	t := c.in(0)
	mask := Bool
	if c.opset < 10 {
		mask = t.DType
	}
	return firstErr(c.set(0, t), c.set(1, opWithDType(t, mask)))
}

func inferFlatten(c *inferCtx) error {
	t, ok := c.ranked(0)
	if !ok {
		return c.setTensor(0, c.dtype(0), Shape{UnknownDim(), UnknownDim()})
	}
	axis := c.attrInt("axis", 1)
	r := int64(len(t.Shape))
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis > r {
		return c.errf("axis %d out of range for rank %d", c.attrInt("axis", 1), r)
	}
	return c.setTensor(0, t.DType, Shape{dimProduct(t.Shape[:axis]), dimProduct(t.Shape[axis:])})
}
