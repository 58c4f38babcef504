package ir

// Convolutions, pooling, normalizations and other neural-network ops.

const opConvAttrs = "auto_pad=s:NOTSET dilations=is group=i:1 kernel_shape=is pads=is strides=is"

func init() {
	regOps("", nil, nil, opRow{"Conv", 1, "2-3:1", opConvAttrs})
	regOps("", nil, nil, opRow{"ConvTranspose", 1, "2-3:1", opConvAttrs + " output_padding=is output_shape=is"})
	regOps("", nil, nil,
		opRow{"ConvInteger", 10, "2-4:1", opConvAttrs},
		opRow{"QLinearConv", 10, "8-9:1", opConvAttrs},
	)
	regOps("", nil, nil,
		opRow{"AveragePool", 1, "1:1", "auto_pad=s:NOTSET ceil_mode=i:0 count_include_pad=i:0 kernel_shape=is pads=is strides=is"},
		opRow{"MaxPool", 1, "1:1-2", "auto_pad=s:NOTSET ceil_mode=i:0 dilations=is kernel_shape=is pads=is storage_order=i:0 strides=is"},
		opRow{"LpPool", 2, "1:1", "auto_pad=s:NOTSET kernel_shape=is p=i:2 pads=is strides=is"},
	)
	regOps("", nil, nil,
		opRow{"GlobalAveragePool", 1, "1:1", ""},
		opRow{"GlobalMaxPool", 1, "1:1", ""},
		opRow{"GlobalLpPool", 2, "1:1", "p=i:2"},
	)
	regOps("", nil, nil,
		opRow{"MaxRoiPool", 1, "2:1", "pooled_shape=is spatial_scale=f:1"},
		opRow{"MaxUnpool", 9, "2-3:1", "kernel_shape=is pads=is strides=is"},
	)
	regOps("", nil, nil, opRow{"BatchNormalization", 6, "5:1-5", "epsilon=f:1e-05 is_test=i:0 momentum=f:0.9 spatial=i:1 training_mode=i:0"})
	regOps("", nil, nil, opRow{"InstanceNormalization", 6, "3:1", "epsilon=f:1e-05"})
	regOps("", nil, nil, opRow{"LayerNormalization", 17, "2-3:1-3", "axis=i:-1 epsilon=f:1e-05 stash_type=i:1"})
	regOps("", nil, nil,
		opRow{"LpNormalization", 1, "1:1", "axis=i:-1 p=i:2"},
		opRow{"LRN", 1, "1:1", "alpha=f:1e-04 beta=f:0.75 bias=f:1 size=i"},
		opRow{"MeanVarianceNormalization", 9, "1:1", "axes=is:0,2,3"},
	)
	regOps("", nil, nil, opRow{"Dropout", 6, "1-3:1-2", "is_test=i:0 ratio=f:0.5 seed=i"})
	regOps("", nil, nil, opRow{"Flatten", 1, "1:1", "axis=i:1"})
}
