package eval

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime"
)

// Progress is called after each batch with the items done and the total.
type Progress func(done, total int)

// ClassifierOptions tune Classifier.
type ClassifierOptions struct {
	Input    string // model input fed with x; "" = the model's only input
	Output   string // output holding the scores; "" = the first output
	Batch    int    // items per run (0 = 64); a fixed model batch dim wins
	Limit    int    // evaluate only the first Limit items (0 = all)
	Progress Progress
}

// ClassResult is the outcome of Classifier.
type ClassResult struct {
	Samples  int           `json:"samples"`
	Correct  int           `json:"correct"`
	Top1     float64       `json:"top1"`
	PerClass []ClassCount  `json:"per_class"`
	Elapsed  time.Duration `json:"-"`
	Seconds  float64       `json:"seconds"`
}

// ClassCount is one label's share of the result.
type ClassCount struct {
	Label   int     `json:"label"`
	Samples int     `json:"samples"`
	Correct int     `json:"correct"`
	Top1    float64 `json:"top1"`
}

// Classifier runs x (N rows along dim 0) through m in batches and compares
// the argmax of each row's scores (the output's last dim, first index on
// ties) with y (N integer labels).
func Classifier(ctx context.Context, m *runtime.Model, x, y *ir.Tensor, o ClassifierOptions) (*ClassResult, error) {
	in, err := evalPickInput(m, o.Input)
	if err != nil {
		return nil, err
	}
	outName, err := evalPickOutput(m, o.Output)
	if err != nil {
		return nil, err
	}
	x, err = x.Dense()
	if err != nil {
		return nil, err
	}
	if x.Rank() < 1 || y.Rank() != 1 || x.Shape[0] != y.Shape[0] {
		return nil, fmt.Errorf("eval: data x %v and labels y %v must agree on the first dim (labels are 1-D)", x.Shape, y.Shape)
	}
	if !y.DType.IsInt() {
		return nil, fmt.Errorf("eval: labels have dtype %s, want an integer type", y.DType)
	}
	if in.Type.Ranked && in.Type.DType != x.DType {
		return nil, fmt.Errorf("eval: model input %q wants %s, data is %s", in.Name, in.Type.DType, x.DType)
	}
	n := int(x.Shape[0])
	if o.Limit > 0 && o.Limit < n {
		n = o.Limit
	}
	batch := o.Batch
	if batch <= 0 {
		batch = 64
	}
	if in.Type.Ranked && len(in.Type.Shape) > 0 && in.Type.Shape[0].Known() {
		batch = int(in.Type.Shape[0].Size) // fixed batch: use it (the last batch is padded)
	}
	fixed := in.Type.Ranked && len(in.Type.Shape) > 0 && in.Type.Shape[0].Known()
	row := x.Len() / int(x.Shape[0])
	res := &ClassResult{}
	counts := map[int]*ClassCount{}
	start := time.Now()
	for lo := 0; lo < n; lo += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+batch, n)
		rows := hi - lo
		if fixed {
			rows = batch
		}
		xb := evalRows(x, lo, hi, rows, row)
		out, err := m.Run(ctx, map[string]*runtime.Tensor{in.Name: xb})
		if err != nil {
			return nil, err
		}
		scores := out[outName]
		if scores == nil {
			return nil, fmt.Errorf("eval: model gave no output %q", outName)
		}
		if scores, err = scores.Dense(); err != nil {
			return nil, err
		}
		if scores.Rank() < 1 || !scores.DType.IsFloat() || scores.Len()%rows != 0 {
			return nil, fmt.Errorf("eval: output %q is %s, want float scores [batch, classes]", outName, scores)
		}
		k := scores.Len() / rows
		for i := lo; i < hi; i++ {
			pred := evalArgmax(scores, (i-lo)*k, k)
			label := int(y.Int64At(i))
			c := counts[label]
			if c == nil {
				c = &ClassCount{Label: label}
				counts[label] = c
			}
			c.Samples++
			res.Samples++
			if pred == label {
				c.Correct++
				res.Correct++
			}
		}
		if o.Progress != nil {
			o.Progress(hi, n)
		}
	}
	res.Elapsed = time.Since(start)
	res.Seconds = res.Elapsed.Seconds()
	if res.Samples > 0 {
		res.Top1 = float64(res.Correct) / float64(res.Samples)
	}
	for _, label := range slices.Sorted(maps.Keys(counts)) {
		c := counts[label]
		c.Top1 = float64(c.Correct) / float64(c.Samples)
		res.PerClass = append(res.PerClass, *c)
	}
	return res, nil
}

// evalRows copies rows [lo,hi) of x into a tensor of `rows` rows (zero
// padded past hi, for models with a fixed batch).
func evalRows(x *ir.Tensor, lo, hi, rows, row int) *ir.Tensor {
	shape := append([]int64{int64(rows)}, x.Shape[1:]...)
	t := ir.NewTensor(x.DType, shape...)
	evalCopyRows(t.Data, x.Data, lo*row, hi*row)
	return t
}

func evalCopyRows(dst, src any, lo, hi int) {
	switch d := dst.(type) {
	case []float32:
		copy(d, src.([]float32)[lo:hi])
	case []float64:
		copy(d, src.([]float64)[lo:hi])
	case []uint16:
		copy(d, src.([]uint16)[lo:hi])
	case []uint8:
		copy(d, src.([]uint8)[lo:hi])
	case []int8:
		copy(d, src.([]int8)[lo:hi])
	case []int32:
		copy(d, src.([]int32)[lo:hi])
	case []int64:
		copy(d, src.([]int64)[lo:hi])
	}
}

func evalArgmax(t *ir.Tensor, off, k int) int {
	best, bi := t.Float64At(off), 0
	for j := 1; j < k; j++ {
		if v := t.Float64At(off + j); v > best {
			best, bi = v, j
		}
	}
	return bi
}

func evalPickInput(m *runtime.Model, name string) (*ir.Value, error) {
	ins := m.Inputs()
	if name == "" {
		if len(ins) != 1 {
			return nil, fmt.Errorf("eval: model has %d inputs; name the one fed with the data", len(ins))
		}
		return ins[0], nil
	}
	for _, v := range ins {
		if v.Name == name {
			return v, nil
		}
	}
	return nil, fmt.Errorf("eval: model has no input %q", name)
}

func evalPickOutput(m *runtime.Model, name string) (string, error) {
	outs := m.Outputs()
	if len(outs) == 0 {
		return "", fmt.Errorf("eval: model has no outputs")
	}
	if name == "" {
		return outs[0].Name, nil
	}
	for _, v := range outs {
		if v.Name == name {
			return name, nil
		}
	}
	return "", fmt.Errorf("eval: model has no output %q", name)
}
