package ir

// Ops that create tensors: constants, ranges, random numbers and windows.

func init() {
	regOps("", nil, nil, opRow{"Constant", 1, "0:1", "sparse_value=sp value=t value_float=f value_floats=fs value_int=i value_ints=is value_string=s value_strings=ss"})
	regOps("", nil, nil, opRow{"ConstantOfShape", 9, "1:1", "value=t"})
	regOps("", nil, nil,
		opRow{"Range", 11, "3:1", ""},
		opRow{"EyeLike", 9, "1:1", "dtype=i k=i:0"},
	)
	regOps("", nil, nil,
		opRow{"RandomNormal", 1, "0:1", "dtype=i:1 mean=f:0 scale=f:1 seed=f shape=is"},
		opRow{"RandomUniform", 1, "0:1", "dtype=i:1 high=f:1 low=f:0 seed=f shape=is"},
		opRow{"RandomNormalLike", 1, "1:1", "dtype=i mean=f:0 scale=f:1 seed=f"},
		opRow{"RandomUniformLike", 1, "1:1", "dtype=i high=f:1 low=f:0 seed=f"},
		opRow{"Bernoulli", 15, "1:1", "dtype=i seed=f"},
		opRow{"Multinomial", 7, "1:1", "dtype=i:6 sample_size=i:1 seed=f"},
	)
	const window = "output_datatype=i:1 periodic=i:1"
	regOps("", nil, nil,
		opRow{"BlackmanWindow", 17, "1:1", window},
		opRow{"HammingWindow", 17, "1:1", window},
		opRow{"HannWindow", 17, "1:1", window},
		opRow{"MelWeightMatrix", 17, "5:1", "output_datatype=i:1"},
	)
}
