package ir

// Reductions and arg reductions.

func init() {
	for _, name := range splitFields("ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSumSquare") {
		regOps("", nil, nil, opRow{name, 1, "1:1", "axes=is keepdims=i:1"})
	}
	// ReduceSum took axes as an input from opset 13.
	regOps("", nil, nil, opRow{"ReduceSum", 1, "1-2:1", "axes=is keepdims=i:1 noop_with_empty_axes=i:0"})
	regOps("", nil, nil,
		opRow{"ArgMax", 1, "1:1", "axis=i:0 keepdims=i:1 select_last_index=i:0"},
		opRow{"ArgMin", 1, "1:1", "axis=i:0 keepdims=i:1 select_last_index=i:0"},
	)
}
