package ir

// Quantization, object detection, text and training ops. FLOPs of the
// quantization ops: two per element (scale and round/shift).

func init() {
	regOps("", inferQuantize, opPerOutElem(2), opRow{"QuantizeLinear", 10, "2-3:1", "axis=i:1"})
	regOps("", inferDequantize, opPerOutElem(2), opRow{"DequantizeLinear", 10, "2-3:1", "axis=i:1"})
	regOps("", inferDynamicQuantize, opPerInElem(4), opRow{"DynamicQuantizeLinear", 11, "1:3", ""})
	regOps("", nil, nil,
		opRow{"NonMaxSuppression", 10, "2-5:1", "center_point_box=i:0"},
		opRow{"RoiAlign", 10, "3:1", "coordinate_transformation_mode=s:half_pixel mode=s:avg output_height=i:1 output_width=i:1 sampling_ratio=i:0 spatial_scale=f:1"},
	)
	regOps("", nil, nil,
		opRow{"StringNormalizer", 10, "1:1", "case_change_action=s:NONE is_case_sensitive=i:0 locale=s stopwords=ss"},
		opRow{"TfIdfVectorizer", 9, "1:1", "max_gram_length=i max_skip_count=i min_gram_length=i mode=s ngram_counts=is ngram_indexes=is pool_int64s=is pool_strings=ss weights=fs"},
	)
	const training = "ai.onnx.preview.training"
	regOps(training, nil, nil,
		opRow{"Adagrad", 1, "3-*:1-*", "decay_factor=f:0 epsilon=f:1e-06 norm_coefficient=f:0"},
		opRow{"Adam", 1, "3-*:1-*", "alpha=f:0.9 beta=f:0.999 epsilon=f:1e-06 norm_coefficient=f:0 norm_coefficient_post=f:0"},
		opRow{"Momentum", 1, "3-*:1-*", "alpha=f beta=f mode=s norm_coefficient=f"},
	)
	// Gradient (automatic differentiation inside the model) is deliberately
	// not registered: optc cannot run it, so the frontend rejects it by name
	// instead of importing a model that fails later.
}

func inferQuantize(c *inferCtx) error {
	d := Uint8
	if c.has(2) {
		d = c.dtype(2)
	}
	return c.set(0, opWithDType(c.in(0), d))
}

func inferDequantize(c *inferCtx) error {
	return c.set(0, opWithDType(c.in(0), c.dtype(1)))
}

func inferDynamicQuantize(c *inferCtx) error {
	return firstErr(c.set(0, opWithDType(c.in(0), Uint8)),
		c.setTensor(1, Float32, Shape{}), c.setTensor(2, Uint8, Shape{}))
}
