package ir

// Linear algebra, softmax family, scans along an axis and signal ops.

func init() {
	regOps("", nil, nil, opRow{"MatMul", 1, "2:1", ""})
	regOps("", nil, nil, opRow{"Gemm", 6, "2-3:1", "alpha=f:1 beta=f:1 broadcast=i:0 transA=i:0 transB=i:0"})
	regOps("", nil, nil,
		opRow{"MatMulInteger", 10, "2-4:1", ""},
		opRow{"QLinearMatMul", 10, "8:1", ""},
		opRow{"Einsum", 12, "1-*:1", "equation=s"},
		opRow{"Det", 11, "1:1", ""},
		opRow{"TopK", 1, "1-2:2", "axis=i:-1 k=i largest=i:1 sorted=i:1"},
		opRow{"CumSum", 11, "2:1", "exclusive=i:0 reverse=i:0"},
		opRow{"DFT", 17, "1-2:1", "axis=i:1 inverse=i:0 onesided=i:0"},
		opRow{"STFT", 17, "2-4:1", "onesided=i:1"},
	)
	// Axis default: 1 before opset 13, -1 since.
	regOps("", nil, nil,
		opRow{"Softmax", 1, "1:1", "axis=i:-1"},
		opRow{"LogSoftmax", 1, "1:1", "axis=i:-1"},
		opRow{"Hardmax", 1, "1:1", "axis=i:-1"},
	)
	regOps("", nil, nil,
		opRow{"NegativeLogLikelihoodLoss", 12, "2-3:1", "ignore_index=i reduction=s:mean"},
		opRow{"SoftmaxCrossEntropyLoss", 12, "2-3:1-2", "ignore_index=i reduction=s:mean"},
	)
}
