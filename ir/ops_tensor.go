package ir

import "strings"

// Shape manipulation, indexing, gather/scatter and resampling ops.

func init() {
	regOps("", nil, nil, opRow{"Identity", 1, "1:1", ""})
	regOps("", nil, nil, opRow{"Reshape", 5, "2:1", "allowzero=i:0"})
	regOps("", nil, nil, opRow{"Squeeze", 1, "1-2:1", "axes=is"})
	regOps("", nil, nil, opRow{"Unsqueeze", 1, "1-2:1", "axes=is"})
	regOps("", nil, nil, opRow{"Transpose", 1, "1:1", "perm=is"})
	regOps("", nil, nil, opRow{"Concat", 4, "1-*:1", "axis=i"})
	regOps("", nil, nil, opRow{"Split", 2, "1-2:1-*", "axis=i:0 split=is"})
	regOps("", nil, nil, opRow{"Slice", 1, "1-5:1", "axes=is ends=is starts=is"})
	regOps("", nil, nil, opRow{"Gather", 1, "2:1", "axis=i:0"})
	regOps("", nil, nil, opRow{"Expand", 8, "2:1", ""})
	regOps("", nil, nil, opRow{"Tile", 6, "2:1", ""})
	regOps("", nil, nil, opRow{"Pad", 2, "1-3:1", "mode=s:constant pads=is value=f:0"})
	regOps("", nil, nil, opRow{"Shape", 1, "1:1", "end=i start=i:0"})
	regOps("", nil, nil, opRow{"Size", 1, "1:1", ""})
	regOps("", nil, nil, opRow{"Resize", 10, "1-4:1", "coordinate_transformation_mode=s:half_pixel cubic_coeff_a=f:-0.75 exclude_outside=i:0 extrapolation_value=f:0 mode=s:nearest nearest_mode=s:round_prefer_floor"})
	regOps("", nil, nil, opRow{"Upsample", 1, "1-2:1", "height_scale=f mode=s:nearest scales=fs width_scale=f"})
	regOps("", nil, nil,
		opRow{"Compress", 9, "2:1", "axis=i"},
		opRow{"DepthToSpace", 1, "1:1", "blocksize=i mode=s:DCR"},
		opRow{"SpaceToDepth", 1, "1:1", "blocksize=i"},
		opRow{"GatherElements", 11, "2:1", "axis=i:0"},
		opRow{"GatherND", 11, "2:1", "batch_dims=i:0"},
		opRow{"Scatter", 9, "3:1", "axis=i:0"},
		opRow{"ScatterElements", 11, "3:1", "axis=i:0 reduction=s:none"},
		opRow{"ScatterND", 11, "3:1", "reduction=s:none"},
		opRow{"GridSample", 16, "2:1", "align_corners=i:0 mode=s:bilinear padding_mode=s:zeros"},
		opRow{"NonZero", 9, "1:1", ""},
		opRow{"OneHot", 9, "3:1", "axis=i:-1"},
		opRow{"ReverseSequence", 10, "2:1", "batch_axis=i:1 time_axis=i:0"},
		opRow{"Trilu", 14, "1-2:1", "upper=i:1"},
		opRow{"Unique", 11, "1:1-4", "axis=i sorted=i:1"},
	)
}

// splitFields splits a space-separated name list.
func splitFields(s string) []string { return strings.Fields(s) }
