package interp

// attnRopeKernel is optc.RotaryEmbedding (see ir/ops_attention.go).
func attnRopeKernel(c *Call, in []Value) ([]Value, error) {
	xt, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	cosT, err := tensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	sinT, err := tensorArg(c, in, 2)
	if err != nil {
		return nil, err
	}
	pos, err := optTensorArg(c, in, 3)
	if err != nil {
		return nil, err
	}
	x, err := attnF32(c, xt, "X")
	if err != nil {
		return nil, err
	}
	cs, err := attnF32(c, cosT, "cos_cache")
	if err != nil {
		return nil, err
	}
	sn, err := attnF32(c, sinT, "sin_cache")
	if err != nil {
		return nil, err
	}
	// Geometry: element (b, h, s, d) lives at b·sb + h·sh + s·ss + d.
	var B, H, S, D, sb, sh, ss int
	switch xt.Rank() {
	case 4:
		B, H, S, D = int(xt.Shape[0]), int(xt.Shape[1]), int(xt.Shape[2]), int(xt.Shape[3])
		sb, sh, ss = H*S*D, S*D, D
	case 3:
		H = int(c.Node.AttrInt("num_heads", 0))
		if H <= 0 || xt.Shape[2]%int64(H) != 0 {
			return nil, c.Errorf("3-D X %v needs num_heads dividing its hidden size (got %d)", xt.Shape, H)
		}
		B, S, D = int(xt.Shape[0]), int(xt.Shape[1]), int(xt.Shape[2])/H
		sb, sh, ss = S*H*D, D, H*D
	default:
		return nil, c.Errorf("X must be 3-D or 4-D, got %v", xt.Shape)
	}
	rd := int(c.Node.AttrInt("rotary_embedding_dim", 0))
	if rd == 0 {
		rd = D
	}
	if rd < 0 || rd > D || rd%2 != 0 {
		return nil, c.Errorf("rotary_embedding_dim %d must be even and at most the head size %d", rd, D)
	}
	half := rd / 2
	if !sameShape(cosT.Shape, sinT.Shape) || cosT.Rank() == 0 || cosT.Shape[cosT.Rank()-1] != int64(half) {
		return nil, c.Errorf("cos_cache %v and sin_cache %v must agree and end in rotary_dim/2 = %d", cosT.Shape, sinT.Shape, half)
	}
	// row returns the offset of (b, s)'s cos/sin row.
	var rowOf func(b, s int) (int, error)
	if pos != nil {
		if pos.Rank() != 2 || pos.Shape[0] != int64(B) || pos.Shape[1] != int64(S) || cosT.Rank() != 2 {
			return nil, c.Errorf("position_ids %v must be [B=%d, S=%d] with 2-D caches (got %v)", pos.Shape, B, S, cosT.Shape)
		}
		maxPos := int(cosT.Shape[0])
		rowOf = func(b, s int) (int, error) {
			p := pos.Int64At(b*S + s)
			if p < 0 || p >= int64(maxPos) {
				return 0, c.Errorf("position %d outside the rotary tables of %d positions", p, maxPos)
			}
			return int(p) * half, nil
		}
	} else {
		if cosT.Rank() != 3 || cosT.Shape[0] != int64(B) || cosT.Shape[1] != int64(S) {
			return nil, c.Errorf("without position_ids the caches must be [B=%d, S=%d, %d], got %v", B, S, half, cosT.Shape)
		}
		rowOf = func(b, s int) (int, error) { return (b*S + s) * half, nil }
	}
	interleaved := c.Node.AttrInt("interleaved", 0) != 0
	y := make([]float32, len(x))
	copy(y, x)
	for b := 0; b < B; b++ {
		for s := 0; s < S; s++ {
			off, err := rowOf(b, s)
			if err != nil {
				return nil, err
			}
			cr, sr := cs[off:off+half], sn[off:off+half]
			for h := 0; h < H; h++ {
				base := b*sb + h*sh + s*ss
				src, dst := x[base:base+rd], y[base:base+rd]
				for i := 0; i < half; i++ {
					i0, i1 := i, i+half
					if interleaved {
						i0, i1 = 2*i, 2*i+1
					}
					x0, x1 := src[i0], src[i1]
					dst[i0] = x0*cr[i] - x1*sr[i]
					dst[i1] = x0*sr[i] + x1*cr[i]
				}
			}
		}
	}
	return one(attnOut(xt.DType, xt.Shape, y))
}
