package kvcache

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
)

// RopeParams describe a model's rotary embedding, so that a retaining
// head can read keys and queries as they were before it (the kernel sees
// them rotated). Frequencies follow ggml: pair i of position p turns by
// p·Theta^(−2i/Dim), the angle stepped pair to pair in float32 as
// llama.Config.RopeTables does.
type RopeParams struct {
	Dim         int     `json:"dim"`   // rotated channels per head (0: none)
	Theta       float32 `json:"theta"` // frequency base
	Interleaved bool    `json:"interleaved"`
}

// table returns cos and sin of the Dim/2 angles of position p.
func (r RopeParams) table(p int, cs, sn []float32) {
	scale := float32(math.Pow(float64(r.Theta), -2/float64(r.Dim)))
	theta := float32(p)
	for i := range cs {
		cs[i] = float32(math.Cos(float64(theta)))
		sn[i] = float32(math.Sin(float64(theta)))
		theta *= scale
	}
}

// unrotate undoes the rotation of one head's row x given its position's
// cos and sin.
func (r RopeParams) unrotate(x, cs, sn []float32) {
	half := r.Dim / 2
	for i := 0; i < half; i++ {
		i0, i1 := i, i+half
		if r.Interleaved {
			i0, i1 = 2*i, 2*i+1
		}
		y0, y1 := x[i0], x[i1]
		x[i0] = y0*cs[i] + y1*sn[i]
		x[i1] = -y0*sn[i] + y1*cs[i]
	}
}

// RetainingHead is Locret's scorer (papers.md §4.2): per layer a small
// MLP that maps a token's query, key and value (before the rotary
// embedding) to one causal importance score per kv head,
//
//	CIS = W2 · SiLU(W1 · [q_1 … q_Hq ; k_1 … k_Hkv ; v_1 … v_Hkv]),
//
// no biases. Tokens with higher scores are kept.
type RetainingHead struct {
	Layers  int        `json:"layers"`
	QHeads  int        `json:"q_heads"`
	KVHeads int        `json:"kv_heads"`
	HeadDim int        `json:"head_dim"` // keys, queries and values
	Hidden  int        `json:"hidden"`
	Rope    RopeParams `json:"rope"`
	// Note records provenance (model, data, training).
	Note string `json:"note,omitempty"`
	// W1[l] is [Hidden][In()], W2[l] is [KVHeads][Hidden], row-major.
	W1 [][]float32 `json:"-"`
	W2 [][]float32 `json:"-"`
}

// In is the input width: (QHeads + 2·KVHeads)·HeadDim.
func (r *RetainingHead) In() int { return (r.QHeads + 2*r.KVHeads) * r.HeadDim }

// check validates the head's shapes against a cache geometry.
func (r *RetainingHead) check(s Spec) error {
	switch {
	case r.Layers != s.Layers || r.KVHeads != s.KVHeads || r.HeadDim != s.HeadDim || r.HeadDim != s.ValDim:
		return fmt.Errorf("kvcache: the retaining head was made for %d layers × %d kv heads of size %d; the cache has %d × %d of %d/%d",
			r.Layers, r.KVHeads, r.HeadDim, s.Layers, s.KVHeads, s.HeadDim, s.ValDim)
	case r.QHeads < r.KVHeads || r.QHeads%r.KVHeads != 0 || r.Hidden < 1:
		return fmt.Errorf("kvcache: retaining head with %d query heads for %d kv heads and %d hidden units", r.QHeads, r.KVHeads, r.Hidden)
	case r.Rope.Dim < 0 || r.Rope.Dim > r.HeadDim || r.Rope.Dim%2 != 0 || (r.Rope.Dim > 0 && !(r.Rope.Theta > 0)):
		return fmt.Errorf("kvcache: retaining head rotary dim %d, base %v", r.Rope.Dim, r.Rope.Theta)
	case len(r.W1) != r.Layers || len(r.W2) != r.Layers:
		return fmt.Errorf("kvcache: retaining head has weights for %d/%d of %d layers", len(r.W1), len(r.W2), r.Layers)
	}
	for l := range r.W1 {
		if len(r.W1[l]) != r.Hidden*r.In() || len(r.W2[l]) != r.KVHeads*r.Hidden {
			return fmt.Errorf("kvcache: retaining head layer %d has %d/%d weights (want %d/%d)", l, len(r.W1[l]), len(r.W2[l]), r.Hidden*r.In(), r.KVHeads*r.Hidden)
		}
	}
	return nil
}

// Features writes the head's input for the n tokens whose rotated
// queries (q, [qHeads][n][HeadDim]), keys and values ([KVHeads][n][…])
// the attention kernel saw, at positions start…start+n−1: dst is
// [n][In()].
func (r *RetainingHead) Features(dst, q []float32, qHeads int, k, v []float32, n, start int) error {
	d, in := r.HeadDim, r.In()
	if qHeads != r.QHeads || len(q) != qHeads*n*d || len(k) != r.KVHeads*n*d || len(v) != r.KVHeads*n*d || len(dst) != n*in {
		return fmt.Errorf("kvcache: retaining head for %d query and %d kv heads of size %d got %d query heads and %d/%d/%d floats for %d tokens",
			r.QHeads, r.KVHeads, d, qHeads, len(q), len(k), len(v), n)
	}
	half := r.Rope.Dim / 2
	cs, sn := make([]float32, half), make([]float32, half)
	for i := 0; i < n; i++ {
		x := dst[i*in : (i+1)*in]
		for h := 0; h < qHeads; h++ {
			copy(x[h*d:(h+1)*d], q[(h*n+i)*d:(h*n+i+1)*d])
		}
		ko := qHeads * d
		for h := 0; h < r.KVHeads; h++ {
			copy(x[ko+h*d:ko+(h+1)*d], k[(h*n+i)*d:(h*n+i+1)*d])
		}
		vo := ko + r.KVHeads*d
		for h := 0; h < r.KVHeads; h++ {
			copy(x[vo+h*d:vo+(h+1)*d], v[(h*n+i)*d:(h*n+i+1)*d])
		}
		if half > 0 {
			r.Rope.table(start+i, cs, sn)
			for h := 0; h < qHeads+r.KVHeads; h++ {
				r.Rope.unrotate(x[h*d:(h+1)*d], cs, sn)
			}
		}
	}
	return nil
}

// Forward computes the scores of feature rows x ([n][In()]) of layer l:
// out is [n][KVHeads]; hid, when not nil, receives the hidden
// activations SiLU(W1·x) ([n][Hidden]).
func (r *RetainingHead) Forward(l int, x []float32, n int, out, hid []float32) {
	in, hd := r.In(), r.Hidden
	w1, w2 := r.W1[l], r.W2[l]
	h := make([]float32, hd)
	for i := 0; i < n; i++ {
		xi := x[i*in : (i+1)*in]
		for j := range h {
			var s float32
			for c, w := range w1[j*in : (j+1)*in] {
				s += w * xi[c]
			}
			h[j] = s / (1 + float32(math.Exp(float64(-s))))
		}
		if hid != nil {
			copy(hid[i*hd:(i+1)*hd], h)
		}
		for o := 0; o < r.KVHeads; o++ {
			var s float32
			for j, w := range w2[o*hd : (o+1)*hd] {
				s += w * h[j]
			}
			out[i*r.KVHeads+o] = s
		}
	}
}

// Score returns the causal importance scores of n appended tokens of
// layer l, [KVHeads][n].
func (r *RetainingHead) Score(l int, q []float32, qHeads int, k, v []float32, n, start int) ([]float32, error) {
	x := make([]float32, n*r.In())
	if err := r.Features(x, q, qHeads, k, v, n, start); err != nil {
		return nil, err
	}
	out := make([]float32, n*r.KVHeads)
	r.Forward(l, x, n, out, nil)
	cis := make([]float32, len(out))
	for i := 0; i < n; i++ {
		for h := 0; h < r.KVHeads; h++ {
			cis[h*n+i] = out[i*r.KVHeads+h]
		}
	}
	return cis, nil
}

// retainMagic starts a retaining-head file: the magic, a little-endian
// uint32 length and that many bytes of JSON header (the exported fields),
// then per layer W1 and W2 as little-endian float32.
const retainMagic = "OPTCLRH1"

// WriteTo writes the head in optc's retaining-head format.
func (r *RetainingHead) WriteTo(w io.Writer) (int64, error) {
	hdr, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(retainMagic)
	binary.Write(bw, binary.LittleEndian, uint32(len(hdr)))
	bw.Write(hdr)
	for l := range r.W1 {
		binary.Write(bw, binary.LittleEndian, r.W1[l])
		binary.Write(bw, binary.LittleEndian, r.W2[l])
	}
	n := int64(len(retainMagic) + 4 + len(hdr))
	for l := range r.W1 {
		n += 4 * int64(len(r.W1[l])+len(r.W2[l]))
	}
	return n, bw.Flush()
}

// ReadRetainingHead reads a head written by WriteTo.
func ReadRetainingHead(rd io.Reader) (*RetainingHead, error) {
	br := bufio.NewReader(rd)
	magic := make([]byte, len(retainMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != retainMagic {
		return nil, fmt.Errorf("kvcache: not a retaining-head file (bad magic)")
	}
	var hl uint32
	if err := binary.Read(br, binary.LittleEndian, &hl); err != nil || hl > 1<<20 {
		return nil, fmt.Errorf("kvcache: retaining-head header length: %v", err)
	}
	hdr := make([]byte, hl)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("kvcache: retaining-head header: %w", err)
	}
	r := &RetainingHead{}
	if err := json.Unmarshal(hdr, r); err != nil {
		return nil, fmt.Errorf("kvcache: retaining-head header: %w", err)
	}
	if r.Layers < 1 || r.Layers > 1<<10 || r.QHeads < 1 || r.KVHeads < 1 || r.HeadDim < 1 || r.Hidden < 1 ||
		int64(r.Hidden)*int64(r.In()) > 1<<28 {
		return nil, fmt.Errorf("kvcache: retaining-head header has implausible shapes %+v", *r)
	}
	for l := 0; l < r.Layers; l++ {
		w1, w2 := make([]float32, r.Hidden*r.In()), make([]float32, r.KVHeads*r.Hidden)
		if err := binary.Read(br, binary.LittleEndian, w1); err != nil {
			return nil, fmt.Errorf("kvcache: retaining-head layer %d: %w", l, err)
		}
		if err := binary.Read(br, binary.LittleEndian, w2); err != nil {
			return nil, fmt.Errorf("kvcache: retaining-head layer %d: %w", l, err)
		}
		r.W1, r.W2 = append(r.W1, w1), append(r.W2, w2)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("kvcache: retaining-head file has trailing data")
	}
	return r, nil
}

// LoadRetainingHead reads a retaining-head file.
func LoadRetainingHead(path string) (*RetainingHead, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ReadRetainingHead(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
