package spec

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/optc-dev/optc/safetensors"
)

// AcceptHead is SpecDec++'s acceptance-prediction head on the draft's
// final hidden state x: Blocks residual blocks x ← x + SiLU(W x + b),
// then a linear layer to two logits; softmax class 1 is "accepted". The
// head at the position whose input token is a draft token predicts the
// probability that the target accepts it.
//
// (The authors' code repeats one block module, sharing its weights; the
// blocks here are independent, as the paper describes them.)
type AcceptHead struct {
	Hidden int
	Blocks []headLinear // [Hidden][Hidden]
	Out    headLinear   // [2][Hidden]
}

// headLinear is y = W x + b with W row-major [out][in].
type headLinear struct {
	W, B []float32
	in   int
}

func (l *headLinear) apply(x, y []float32) {
	for o := range y {
		w := l.W[o*l.in : (o+1)*l.in]
		s := l.B[o]
		for i, v := range x {
			s += w[i] * v
		}
		y[o] = s
	}
}

// NewAcceptHead makes a head with blocks residual blocks, initialized
// like PyTorch's nn.Linear (uniform ±1/√in), seeded.
func NewAcceptHead(hidden, blocks int, seed uint64) *AcceptHead {
	rng := rand.New(rand.NewPCG(seed, 0xacce97))
	lin := func(out, in int) headLinear {
		l := headLinear{W: make([]float32, out*in), B: make([]float32, out), in: in}
		b := 1 / math.Sqrt(float64(in))
		for i := range l.W {
			l.W[i] = float32((2*rng.Float64() - 1) * b)
		}
		for i := range l.B {
			l.B[i] = float32((2*rng.Float64() - 1) * b)
		}
		return l
	}
	h := &AcceptHead{Hidden: hidden}
	for range blocks {
		h.Blocks = append(h.Blocks, lin(hidden, hidden))
	}
	h.Out = lin(2, hidden)
	return h
}

func silu(x float32) float32 { return x / (1 + float32(math.Exp(float64(-x)))) }

// logits runs the head on one hidden state.
func (h *AcceptHead) logits(x []float32) [2]float32 {
	cur := append([]float32(nil), x...)
	tmp := make([]float32, h.Hidden)
	for i := range h.Blocks {
		h.Blocks[i].apply(cur, tmp)
		for j := range cur {
			cur[j] += silu(tmp[j])
		}
	}
	var y [2]float32
	h.Out.apply(cur, y[:])
	return y
}

// AcceptProb is the predicted probability that the token whose hidden
// state is x is accepted.
func (h *AcceptHead) AcceptProb(x []float32) float64 {
	y := h.logits(x)
	return 1 / (1 + math.Exp(float64(y[0]-y[1])))
}

// Save writes the head as safetensors (blocks.{i}.weight/bias,
// out.weight/bias; metadata: hidden size, blocks, and meta).
func (h *AcceptHead) Save(path string, meta map[string]string) error {
	var ts []safetensors.WriteTensor
	add := func(name string, l headLinear, out int) {
		ts = append(ts,
			safetensors.WriteTensor{Name: name + ".weight", DType: "F32", Shape: []int64{int64(out), int64(l.in)}, Data: safetensors.Float32Bytes(l.W)},
			safetensors.WriteTensor{Name: name + ".bias", DType: "F32", Shape: []int64{int64(out)}, Data: safetensors.Float32Bytes(l.B)})
	}
	for i, b := range h.Blocks {
		add(fmt.Sprintf("blocks.%d", i), b, h.Hidden)
	}
	add("out", h.Out, 2)
	m := map[string]string{"format": "optc-accept-head", "hidden_size": strconv.Itoa(h.Hidden), "blocks": strconv.Itoa(len(h.Blocks))}
	for k, v := range meta {
		m[k] = v
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, m, 8); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// LoadAcceptHead reads a head Save wrote.
func LoadAcceptHead(path string) (*AcceptHead, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bad := func(format string, a ...any) (*AcceptHead, error) {
		return nil, fmt.Errorf("spec: %s: %s", path, fmt.Sprintf(format, a...))
	}
	if f.Metadata["format"] != "optc-accept-head" {
		return bad("not an acceptance head (metadata format %q)", f.Metadata["format"])
	}
	hidden, err1 := strconv.Atoi(f.Metadata["hidden_size"])
	blocks, err2 := strconv.Atoi(f.Metadata["blocks"])
	if err1 != nil || err2 != nil || hidden <= 0 || blocks < 0 {
		return bad("bad hidden_size %q or blocks %q", f.Metadata["hidden_size"], f.Metadata["blocks"])
	}
	read := func(name string, out int) (headLinear, error) {
		l := headLinear{in: hidden}
		w, err := f.Float32s(name + ".weight")
		if err != nil {
			return l, err
		}
		b, err := f.Float32s(name + ".bias")
		if err != nil {
			return l, err
		}
		if len(w) != out*hidden || len(b) != out {
			return l, fmt.Errorf("%s has %d weights and %d biases (want %d and %d)", name, len(w), len(b), out*hidden, out)
		}
		l.W, l.B = append([]float32(nil), w...), append([]float32(nil), b...)
		return l, nil
	}
	h := &AcceptHead{Hidden: hidden}
	for i := range blocks {
		l, err := read(fmt.Sprintf("blocks.%d", i), hidden)
		if err != nil {
			return bad("%v", err)
		}
		h.Blocks = append(h.Blocks, l)
	}
	if h.Out, err = read("out", 2); err != nil {
		return bad("%v", err)
	}
	return h, nil
}
