package eval

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime"
)

// LMOptions tune ByteLM.
type LMOptions struct {
	Ctx      int // window length in bytes (0 = 512)
	Batch    int // windows per run (0 = 4)
	BOS      int // id fed before each window (the model's <bos>)
	Progress Progress
}

// LMResult is the outcome of ByteLM.
type LMResult struct {
	Bytes       int           `json:"bytes"`
	Windows     int           `json:"windows"`
	Ctx         int           `json:"ctx"`
	BitsPerByte float64       `json:"bits_per_byte"`
	Perplexity  float64       `json:"perplexity"` // per byte: 2^BitsPerByte
	Elapsed     time.Duration `json:"-"`
	Seconds     float64       `json:"seconds"`
}

// ByteLM scores text with a byte-level language model that has the Hugging
// Face Optimum decoder interface (input_ids, position_ids and
// past_key_values.{i}.key/.value in; logits and present.* out).
//
// The text is cut into consecutive windows of Ctx bytes (the last may be
// shorter). Each window w is fed as [BOS, w[0], ..., w[n-2]] at positions
// 0..n-1 with an empty KV cache (past tensors of sequence length 0), and
// every byte w[i] is scored by the log-softmax of logits[i] in float64.
// Full windows are batched. BitsPerByte is the total negative log2
// likelihood over the number of bytes; Perplexity is 2^BitsPerByte.
func ByteLM(ctx context.Context, m *runtime.Model, text []byte, o LMOptions) (*LMResult, error) {
	win := o.Ctx
	if win <= 0 {
		win = 512
	}
	batch := o.Batch
	if batch <= 0 {
		batch = 4
	}
	if len(text) == 0 {
		return nil, fmt.Errorf("eval: empty text")
	}
	past, err := lmPastInputs(m)
	if err != nil {
		return nil, err
	}
	var wins [][]byte
	for i := 0; i < len(text); i += win {
		wins = append(wins, text[i:min(i+win, len(text))])
	}
	res := &LMResult{Bytes: len(text), Windows: len(wins), Ctx: win}
	var nll float64
	start := time.Now()
	for lo := 0; lo < len(wins); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// a batch of windows of equal length
		hi := lo + 1
		for hi < len(wins) && hi-lo < batch && len(wins[hi]) == len(wins[lo]) {
			hi++
		}
		v, err := lmScore(ctx, m, wins[lo:hi], past, o.BOS)
		if err != nil {
			return nil, err
		}
		nll += v
		lo = hi
		if o.Progress != nil {
			o.Progress(lo, len(wins))
		}
	}
	res.Elapsed = time.Since(start)
	res.Seconds = res.Elapsed.Seconds()
	res.BitsPerByte = nll / math.Ln2 / float64(len(text))
	res.Perplexity = math.Exp2(res.BitsPerByte)
	return res, nil
}

// lmPastInputs finds the past_key_values inputs and checks the rest of the
// interface; the past tensors' head and head-dim sizes must be static.
func lmPastInputs(m *runtime.Model) ([]*ir.Value, error) {
	if _, ok := evalHasInput(m, "input_ids"); !ok {
		return nil, fmt.Errorf("eval: model has no input_ids input; is it a language model?")
	}
	var past []*ir.Value
	for _, v := range m.Inputs() {
		switch {
		case v.Name == "input_ids" || v.Name == "position_ids":
		case strings.HasPrefix(v.Name, "past_key_values."):
			s := v.Type.Shape
			if !v.Type.Ranked || len(s) != 4 || !s[1].Known() || !s[3].Known() {
				return nil, fmt.Errorf("eval: %s has type %s; want [batch, kv_heads, past, head_dim] with static heads and head_dim", v.Name, v.Type)
			}
			past = append(past, v)
		default:
			return nil, fmt.Errorf("eval: unexpected LM input %q (want input_ids, position_ids, past_key_values.*)", v.Name)
		}
	}
	if !lmHasOutput(m, "logits") {
		return nil, fmt.Errorf("eval: model has no logits output")
	}
	return past, nil
}

func lmHasOutput(m *runtime.Model, name string) bool {
	for _, v := range m.Outputs() {
		if v.Name == name {
			return true
		}
	}
	return false
}

// lmScore runs equal-length windows as one batch and returns their total
// negative log likelihood in nats.
func lmScore(ctx context.Context, m *runtime.Model, wins [][]byte, past []*ir.Value, bos int) (float64, error) {
	b, n := len(wins), len(wins[0])
	_, hasPos := evalHasInput(m, "position_ids")
	in := lmFeeds(wins, past, bos, hasPos)
	out, err := m.Run(ctx, in)
	if err != nil {
		return 0, err
	}
	logits, err := out["logits"].Dense()
	if err != nil {
		return 0, err
	}
	if logits.Rank() != 3 || logits.Shape[0] != int64(b) || logits.Shape[1] != int64(n) || logits.Shape[2] < 256 {
		return 0, fmt.Errorf("eval: logits are %s, want [%d %d vocab>=256]", logits, b, n)
	}
	vocab := int(logits.Shape[2])
	var nll float64
	row := make([]float64, vocab)
	for i, w := range wins {
		for j := range n {
			off := (i*n + j) * vocab
			mx := math.Inf(-1)
			for k := range vocab {
				row[k] = logits.Float64At(off + k)
				mx = max(mx, row[k])
			}
			var sum float64
			for _, x := range row {
				sum += math.Exp(x - mx)
			}
			nll += mx + math.Log(sum) - row[w[j]]
		}
	}
	return nll, nil
}

// lmFeeds is the run input of equal-length windows, as ByteLM feeds them:
// [bos, w[0], ..., w[n-2]] at positions 0..n-1 (if hasPos) and empty past
// tensors.
func lmFeeds(wins [][]byte, past []*ir.Value, bos int, hasPos bool) map[string]*runtime.Tensor {
	b, n := len(wins), len(wins[0])
	ids := make([]int64, b*n)
	pos := make([]int64, b*n)
	for i, w := range wins {
		ids[i*n] = int64(bos)
		for j := 1; j < n; j++ {
			ids[i*n+j] = int64(w[j-1])
		}
		for j := range n {
			pos[i*n+j] = int64(j)
		}
	}
	shape := []int64{int64(b), int64(n)}
	in := map[string]*runtime.Tensor{
		"input_ids":    ir.FromSlice(ir.Int64, shape, ids),
		"position_ids": ir.FromSlice(ir.Int64, shape, pos),
	}
	for _, v := range past {
		in[v.Name] = ir.NewTensor(v.Type.DType, int64(b), v.Type.Shape[1].Size, 0, v.Type.Shape[3].Size)
	}
	if !hasPos {
		delete(in, "position_ids")
	}
	return in
}

// LMCalibration returns the inputs of the byte LM g (the Optimum decoder
// interface that ByteLM scores) for the windows of ctx bytes of text, in
// batches of at most batch windows, fed as ByteLM feeds them (bos first):
// calibration data for passes/quant. A short last window is dropped.
func LMCalibration(g *ir.Graph, text []byte, ctx, batch, bos int) ([]map[string]*ir.Tensor, error) {
	m := runtime.FromGraph(g, "calibration")
	past, err := lmPastInputs(m)
	if err != nil {
		return nil, err
	}
	if ctx <= 0 || batch <= 0 || len(text) < ctx {
		return nil, fmt.Errorf("eval: LM calibration needs at least one window of %d bytes (have %d) and batch >= 1", ctx, len(text))
	}
	_, hasPos := evalHasInput(m, "position_ids")
	var out []map[string]*ir.Tensor
	var wins [][]byte
	for i := 0; i+ctx <= len(text); i += ctx {
		wins = append(wins, text[i:i+ctx])
		if len(wins) == batch || i+2*ctx > len(text) {
			out = append(out, lmFeeds(wins, past, bos, hasPos))
			wins = nil
		}
	}
	return out, nil
}

func evalHasInput(m *runtime.Model, name string) (*ir.Value, bool) {
	for _, v := range m.Inputs() {
		if v.Name == name {
			return v, true
		}
	}
	return nil, false
}

// SpacedWindows returns n windows of ctx bytes taken from text at the
// evenly spaced offsets i*((len(text)-ctx)/(n-1)), i = 0..n-1, joined (so
// ByteLM with the same ctx scores exactly those windows). This is how the
// fixtures' held-out bits per byte are sampled from a long text. It
// returns text itself when it is too short for n windows.
func SpacedWindows(text []byte, n, ctx int) []byte {
	if n < 2 || ctx <= 0 || len(text) < n*ctx {
		return text
	}
	step := (len(text) - ctx) / (n - 1)
	out := make([]byte, 0, n*ctx)
	for i := range n {
		out = append(out, text[i*step:i*step+ctx]...)
	}
	return out
}
