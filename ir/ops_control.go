package ir

// Control flow, sequence and optional ops.

func init() {
	regOps("", nil, nil,
		opRow{"If", 1, "1:1-*", "else_branch=g then_branch=g"},
		opRow{"Loop", 1, "2-*:1-*", "body=g"},
		opRow{"Scan", 8, "1-*:1-*", "body=g directions=is num_scan_inputs=i scan_input_axes=is scan_input_directions=is scan_output_axes=is scan_output_directions=is"},
		opRow{"SequenceMap", 17, "1-*:1-*", "body=g"},
	)
	regOps("", nil, nil,
		opRow{"SequenceConstruct", 11, "1-*:1", ""},
		opRow{"SequenceEmpty", 11, "0:1", "dtype=i"},
		opRow{"SequenceAt", 11, "2:1", ""},
		opRow{"SequenceErase", 11, "1-2:1", ""},
		opRow{"SequenceInsert", 11, "2-3:1", ""},
		opRow{"SequenceLength", 11, "1:1", ""},
		opRow{"SplitToSequence", 11, "1-2:1", "axis=i:0 keepdims=i:1"},
		opRow{"ConcatFromSequence", 11, "1:1", "axis=i new_axis=i:0"},
	)
	regOps("", nil, nil,
		opRow{"Optional", 15, "0-1:1", "type=tp"},
		opRow{"OptionalGetElement", 15, "1:1", ""},
		opRow{"OptionalHasElement", 15, "1:1", ""},
	)
}
