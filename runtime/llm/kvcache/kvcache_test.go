package kvcache

import (
	"context"
	"testing"
)

// seq returns n tokens of keys/values for h heads of size d whose value
// at (head, token, i) is base + 1000·head + 10·token + i, so every element
// says where it came from.
func seq(h, n, d int, base float32, start int) []float32 {
	out := make([]float32, h*n*d)
	for hh := 0; hh < h; hh++ {
		for t := 0; t < n; t++ {
			for i := 0; i < d; i++ {
				out[(hh*n+t)*d+i] = base + float32(1000*hh+10*(start+t)+i)
			}
		}
	}
	return out
}

func TestDense(t *testing.T) {
	s := Spec{Layers: 2, KVHeads: 2, HeadDim: 3, ValDim: 2}
	c, err := NewDense(s, 4)
	if err != nil {
		t.Fatal(err)
	}
	// Append 3, then 6 tokens to layer 0 (crossing block boundaries at 4
	// and 8) and 9 at once to layer 1.
	if err := c.Append(0, seq(2, 3, 3, 0, 0), seq(2, 3, 2, 0.5, 0), 3); err != nil {
		t.Fatal(err)
	}
	if err := c.Append(0, seq(2, 6, 3, 0, 3), seq(2, 6, 2, 0.5, 3), 6); err != nil {
		t.Fatal(err)
	}
	if err := c.Append(1, seq(2, 9, 3, 0, 0), seq(2, 9, 2, 0.5, 0), 9); err != nil {
		t.Fatal(err)
	}
	for l := 0; l < 2; l++ {
		for h := 0; h < 2; h++ {
			v := c.Head(l, h)
			if v.Len() != 9 || NumBlocks(v) != 3 {
				t.Fatalf("layer %d head %d: len %d, %d blocks", l, h, v.Len(), NumBlocks(v))
			}
			for b := 0; b < 3; b++ {
				k, val, n := v.Block(b, nil, nil)
				if want := min(4, 9-4*b); n != want || len(k) != n*3 || len(val) != n*2 {
					t.Fatalf("block %d: n %d, %d keys, %d values", b, n, len(k), len(val))
				}
				for i := 0; i < n; i++ {
					tok := 4*b + i
					if k[i*3+2] != float32(1000*h+10*tok+2) || val[i*2+1] != 0.5+float32(1000*h+10*tok+1) {
						t.Fatalf("layer %d head %d token %d: key %v value %v", l, h, tok, k[i*3:i*3+3], val[i*2:i*2+2])
					}
				}
			}
		}
	}
	// Bytes: 2 layers × 9 tokens × 2 heads × (3+2) floats × 4 bytes = 720.
	// Reserved: 2 layers × 2 heads × 3 blocks × 4 tokens × 5 floats × 4 = 960.
	if c.Bytes() != 720 || c.Reserved() != 960 || s.TokenBytes() != 80 {
		t.Errorf("bytes %d, reserved %d, per token %d", c.Bytes(), c.Reserved(), s.TokenBytes())
	}
	// Rollback to 5 and append different tokens: the view shows the new ones.
	if err := c.Truncate(5); err != nil {
		t.Fatal(err)
	}
	if c.Len(0) != 5 || c.Bytes() != 400 || c.Reserved() != 960 {
		t.Errorf("after truncate: len %d bytes %d reserved %d", c.Len(0), c.Bytes(), c.Reserved())
	}
	if err := c.Append(0, seq(2, 1, 3, 0.25, 5), seq(2, 1, 2, 0.25, 5), 1); err != nil {
		t.Fatal(err)
	}
	if k, _, n := c.Head(0, 1).Block(1, nil, nil); n != 2 || k[3] != 0.25+1050 {
		t.Errorf("rewritten token 5: n %d key %v", n, k)
	}
	c.Release()
	// Layer 0 holds 6 tokens (2 blocks), layer 1 holds 5 (2 blocks).
	if c.Reserved() != 2*2*2*4*5*4 {
		t.Errorf("after release: reserved %d", c.Reserved())
	}
	for _, err := range []error{
		c.Truncate(7),
		c.Truncate(-1),
		c.Append(2, nil, nil, 0),
		c.Append(0, make([]float32, 5), make([]float32, 4), 1),
	} {
		if err == nil {
			t.Error("invalid operation accepted")
		}
	}
	capped, _ := NewDense(Spec{Layers: 1, KVHeads: 1, HeadDim: 1, ValDim: 1, MaxLen: 2}, 0)
	if err := capped.Append(0, make([]float32, 3), make([]float32, 3), 3); err == nil {
		t.Error("append beyond MaxLen accepted")
	}
	if _, err := NewDense(Spec{Layers: 1}, 0); err == nil {
		t.Error("invalid spec accepted")
	}
	if FromContext(context.Background()) != nil || FromContext(NewContext(context.Background(), c)) != Cache(c) {
		t.Error("context binding")
	}
}
