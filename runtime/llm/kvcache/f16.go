package kvcache

import "github.com/x448/float16"

// F16 is a cache that stores keys and values as IEEE half floats (round to
// nearest even), 2 bytes per element; blocks are decoded to f32 into the
// reader's scratch buffers.
type F16 struct {
	spec Spec
	lens []int
	// k[layer][head] holds the head's keys as rows of HeadDim half
	// floats; v the values (ValDim per row).
	k, v [][][]uint16
}

// NewF16 makes an empty half-precision cache.
func NewF16(s Spec) (*F16, error) {
	if err := checkSpec(s); err != nil {
		return nil, err
	}
	c := &F16{spec: s, lens: make([]int, s.Layers), k: make([][][]uint16, s.Layers), v: make([][][]uint16, s.Layers)}
	for l := range c.k {
		c.k[l] = make([][]uint16, s.KVHeads)
		c.v[l] = make([][]uint16, s.KVHeads)
	}
	return c, nil
}

func (c *F16) Spec() Spec             { return c.spec }
func (c *F16) Len(layer int) int      { return layerLen(c.lens, layer) }
func (c *F16) Head(l, h int) HeadView { return f16View{c: c, layer: l, head: h} }

func (c *F16) Append(layer int, k, v []float32, n int) error {
	s := c.spec
	if err := checkAppend(s, layer, k, v, n, c.Len(layer)); err != nil {
		return err
	}
	hd, vd := s.HeadDim, s.ValDim
	for h := 0; h < s.KVHeads; h++ {
		c.k[layer][h] = f16Append(c.k[layer][h], k[h*n*hd:(h+1)*n*hd])
		c.v[layer][h] = f16Append(c.v[layer][h], v[h*n*vd:(h+1)*n*vd])
	}
	c.lens[layer] += n
	return nil
}

// f16Append appends xs to dst as half floats.
func f16Append(dst []uint16, xs []float32) []uint16 {
	for _, x := range xs {
		dst = append(dst, float16.Fromfloat32(x).Bits())
	}
	return dst
}

// f16Decode writes the f32 values of src into dst.
func f16Decode(dst []float32, src []uint16) {
	for i, b := range src {
		dst[i] = float16.Frombits(b).Float32()
	}
}

func (c *F16) Truncate(n int) error {
	if err := checkTruncate(n, c.lens); err != nil {
		return err
	}
	s := c.spec
	for l := range c.lens {
		c.lens[l] = n
		for h := 0; h < s.KVHeads; h++ {
			c.k[l][h] = c.k[l][h][:n*s.HeadDim]
			c.v[l][h] = c.v[l][h][:n*s.ValDim]
		}
	}
	return nil
}

// Bytes is 2 bytes per stored key and value element.
func (c *F16) Bytes() int64 {
	var toks int64
	for _, n := range c.lens {
		toks += int64(n)
	}
	return toks * int64(c.spec.KVHeads) * int64(c.spec.HeadDim+c.spec.ValDim) * 2
}

// Reserved counts the allocated capacity of the rows.
func (c *F16) Reserved() int64 {
	var n int64
	for l := range c.k {
		for h := range c.k[l] {
			n += int64(cap(c.k[l][h]) + cap(c.v[l][h]))
		}
	}
	return 2 * n
}

type f16View struct {
	c           *F16
	layer, head int
}

func (v f16View) Len() int       { return v.c.Len(v.layer) }
func (v f16View) BlockSize() int { return DefaultBlockSize }

func (v f16View) Block(b int, kbuf, vbuf []float32) ([]float32, []float32, int) {
	hd, vd := v.c.spec.HeadDim, v.c.spec.ValDim
	t0 := b * DefaultBlockSize
	n := min(DefaultBlockSize, v.Len()-t0)
	if n <= 0 {
		return nil, nil, 0
	}
	k, val := kbuf[:n*hd], vbuf[:n*vd]
	f16Decode(k, v.c.k[v.layer][v.head][t0*hd:(t0+n)*hd])
	f16Decode(val, v.c.v[v.layer][v.head][t0*vd:(t0+n)*vd])
	return k, val, n
}
