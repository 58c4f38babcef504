package interp

import (
	"strings"

	"github.com/optc-dev/optc/ir"
)

// String kernels of the default domain: StringNormalizer and
// TfIdfVectorizer.

func init() {
	Register("StringNormalizer", strNormalizer)
	Register("TfIdfVectorizer", strTfIdfVectorizer)
}

func strNormalizer(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	if x.DType != ir.String {
		return nil, c.Errorf("input must be strings, got %s", x.DType)
	}
	twoDim := x.Rank() == 2
	if !(x.Rank() == 1 || twoDim && x.Shape[0] == 1) {
		return nil, c.Errorf("input must have shape [C] or [1, C], got %v", x.Shape)
	}
	action := c.Node.AttrString("case_change_action", "NONE")
	var change func(string) string
	switch action {
	case "NONE":
		change = func(s string) string { return s }
	case "LOWER":
		change = strings.ToLower
	case "UPPER":
		change = strings.ToUpper
	default:
		return nil, c.Errorf("unknown case_change_action %q", action)
	}
	sensitive := c.Node.AttrInt("is_case_sensitive", 0) != 0
	key := func(s string) string {
		if sensitive {
			return s
		}
		return strings.ToLower(s)
	}
	stop := map[string]bool{}
	for _, w := range c.Node.AttrStrings("stopwords", nil) {
		stop[key(w)] = true
	}
	out := []string{}
	for _, s := range x.Data.([]string) {
		if !stop[key(s)] {
			out = append(out, change(s))
		}
	}
	if len(out) == 0 {
		out = []string{""} // ONNX returns one empty string rather than no element
	}
	shape := []int64{int64(len(out))}
	if twoDim {
		shape = []int64{1, int64(len(out))}
	}
	return one(ir.FromSlice(ir.String, shape, out))
}

// strNgramKey encodes an n-gram of ints or strings as a map key.
func strNgramKey(x *ir.Tensor, pos []int) string {
	var b strings.Builder
	for _, p := range pos {
		if s, ok := x.Data.([]string); ok {
			b.WriteString(s[p])
			b.WriteByte(0)
		} else {
			v := x.Int64At(p)
			for k := 0; k < 8; k++ {
				b.WriteByte(byte(v >> (8 * k)))
			}
		}
	}
	return b.String()
}

func strTfIdfVectorizer(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	n := c.Node
	minN := int(n.AttrInt("min_gram_length", 0))
	maxN := int(n.AttrInt("max_gram_length", 0))
	maxSkip := int(n.AttrInt("max_skip_count", 0))
	mode := n.AttrString("mode", "")
	counts := n.AttrInts("ngram_counts", nil)
	indexes := n.AttrInts("ngram_indexes", nil)
	weights := n.AttrFloats("weights", nil)
	poolInts := n.AttrInts("pool_int64s", nil)
	poolStrs := n.AttrStrings("pool_strings", nil)
	if minN < 1 || maxN < minN || maxSkip < 0 || len(counts) < maxN {
		return nil, c.Errorf("invalid n-gram attributes (min %d, max %d, skip %d, %d ngram_counts)", minN, maxN, maxSkip, len(counts))
	}
	switch mode {
	case "TF", "IDF", "TFIDF":
	default:
		return nil, c.Errorf("unknown mode %q", mode)
	}
	if (x.DType == ir.String) != (poolStrs != nil) {
		return nil, c.Errorf("input dtype %s does not match the pool (pool_strings for strings, pool_int64s for integers)", x.DType)
	}
	pool := ir.FromSlice(ir.Int64, []int64{int64(len(poolInts))}, poolInts)
	if poolStrs != nil {
		pool = ir.FromSlice(ir.String, []int64{int64(len(poolStrs))}, poolStrs)
	}
	poolLen := pool.Len()
	// Index the pool: n-grams of length k occupy pool[counts[k-1]:counts[k]];
	// ngram number g (in pool order) goes to output column indexes[g].
	grams := map[string]int{}
	g := 0
	for k := 1; k <= len(counts); k++ {
		lo := int(counts[k-1])
		hi := poolLen
		if k < len(counts) {
			hi = int(counts[k])
		}
		if lo < 0 || hi > poolLen || lo > hi || (hi-lo)%k != 0 {
			return nil, c.Errorf("ngram_counts %v do not partition a pool of %d items into %d-grams", counts, poolLen, k)
		}
		for p := lo; p < hi; p += k {
			pos := make([]int, k)
			for j := range pos {
				pos[j] = p + j
			}
			if g >= len(indexes) {
				return nil, c.Errorf("ngram_indexes has %d entries, the pool has more n-grams", len(indexes))
			}
			grams[strNgramKey(pool, pos)] = int(indexes[g])
			g++
		}
	}
	width := int64(0)
	for _, i := range indexes {
		width = max(width, i+1)
	}
	if weights != nil && int64(len(weights)) < width {
		return nil, c.Errorf("weights has %d entries for %d output columns", len(weights), width)
	}
	var rows, cols int
	var shape []int64
	switch x.Rank() {
	case 1:
		rows, cols, shape = 1, x.Len(), []int64{width}
	case 2:
		rows, cols, shape = int(x.Shape[0]), int(x.Shape[1]), []int64{x.Shape[0], width}
	default:
		return nil, c.Errorf("input must be 1-D or 2-D, got shape %v", x.Shape)
	}
	out := ir.NewTensor(ir.Float32, shape...)
	od := out.Data.([]float32)
	pos := make([]int, maxN)
	for r := 0; r < rows; r++ {
		row := od[r*int(width) : (r+1)*int(width)]
		for start := 0; start < cols; start++ {
			for k := minN; k <= maxN; k++ {
				skips := maxSkip
				if k == 1 {
					skips = 0 // a unigram is counted once, whatever the skip
				}
				for s := 0; s <= skips; s++ {
					end := start + (k-1)*(s+1)
					if end >= cols {
						break
					}
					for j := 0; j < k; j++ {
						pos[j] = r*cols + start + j*(s+1)
					}
					if col, ok := grams[strNgramKey(x, pos[:k])]; ok {
						row[col]++
					}
				}
			}
		}
		for col := range row {
			if row[col] == 0 {
				continue
			}
			w := float32(1)
			if weights != nil {
				w = weights[col]
			}
			switch mode {
			case "IDF":
				row[col] = w
			case "TFIDF":
				row[col] *= w
			}
		}
	}
	return one(out)
}
