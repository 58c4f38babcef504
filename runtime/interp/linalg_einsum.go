package interp

import (
	"fmt"
	"sort"
	"strings"

	"github.com/optc-dev/optc/ir"
)

// Einsum in full generality: repeated labels within a term (diagonals),
// ellipsis broadcasting, implicit output (labels that appear once, in
// alphabetical order, after the ellipsis dims) and summation over labels
// absent from the output.

func init() { Register("Einsum", laEinsumKernel) }

// Labels are 0..51 for a-z, A-Z; ellipsis dims get labels from
// laEllBase up, right-aligned across operands.
const laEllBase = 52

func laLetter(r byte) (int, bool) {
	switch {
	case r >= 'a' && r <= 'z':
		return int(r - 'a'), true
	case r >= 'A' && r <= 'Z':
		return 26 + int(r-'A'), true
	}
	return 0, false
}

// laEinsumTerm parses one term into letter labels, with -1 marking the
// position of the ellipsis.
func laEinsumTerm(s string) ([]int, error) {
	var out []int
	ell := false
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			if !strings.HasPrefix(s[i:], "...") || ell {
				return nil, fmt.Errorf("term %q: malformed ellipsis", s)
			}
			ell = true
			out = append(out, -1)
			i += 2
			continue
		}
		l, ok := laLetter(s[i])
		if !ok {
			return nil, fmt.Errorf("term %q: invalid label %q", s, s[i])
		}
		out = append(out, l)
	}
	return out, nil
}

// laEinsumPlan is the compiled form of an equation for given shapes.
type laEinsumPlan struct {
	outShape []int64
	outDims  []int64   // sizes of the output labels
	sumDims  []int64   // sizes of the summed labels
	outSt    [][]int64 // per operand, stride of each output label
	sumSt    [][]int64 // per operand, stride of each summed label
}

func laPlanEinsum(eq string, shapes [][]int64) (*laEinsumPlan, error) {
	eq = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, eq)
	lhs, rhs, explicit := strings.Cut(eq, "->")
	termStrs := strings.Split(lhs, ",")
	if len(termStrs) != len(shapes) {
		return nil, fmt.Errorf("equation %q has %d terms for %d inputs", eq, len(termStrs), len(shapes))
	}
	// Expand ellipses into labels.
	terms := make([][]int, len(shapes))
	maxEll := 0
	ellRank := make([]int, len(shapes))
	for i, ts := range termStrs {
		t, err := laEinsumTerm(ts)
		if err != nil {
			return nil, err
		}
		letters := 0
		hasEll := false
		for _, l := range t {
			if l >= 0 {
				letters++
			} else {
				hasEll = true
			}
		}
		r := len(shapes[i])
		if r < letters || (!hasEll && r != letters) {
			return nil, fmt.Errorf("term %q does not match input %d of rank %d", ts, i, r)
		}
		ellRank[i] = r - letters
		maxEll = max(maxEll, ellRank[i])
		terms[i] = t
	}
	for i, t := range terms {
		var full []int
		for _, l := range t {
			if l >= 0 {
				full = append(full, l)
				continue
			}
			for e := maxEll - ellRank[i]; e < maxEll; e++ {
				full = append(full, laEllBase+e)
			}
		}
		terms[i] = full
	}
	// Label sizes (size-1 dims broadcast).
	size := map[int]int64{}
	count := map[int]int{}
	for i, t := range terms {
		for p, l := range t {
			d := shapes[i][p]
			count[l]++
			if s, ok := size[l]; ok && s != d {
				switch {
				case d == 1:
					continue
				case s == 1:
				default:
					return nil, fmt.Errorf("label %s has sizes %d and %d", laLabelName(l), s, d)
				}
			}
			size[l] = d
		}
	}
	// Output labels.
	var out []int
	if explicit {
		t, err := laEinsumTerm(rhs)
		if err != nil {
			return nil, err
		}
		seen := map[int]bool{}
		for _, l := range t {
			if l < 0 {
				for e := 0; e < maxEll; e++ {
					out = append(out, laEllBase+e)
				}
				continue
			}
			if seen[l] {
				return nil, fmt.Errorf("output label %s repeated", laLabelName(l))
			}
			if _, ok := size[l]; !ok {
				return nil, fmt.Errorf("output label %s does not appear in any input", laLabelName(l))
			}
			seen[l] = true
			out = append(out, l)
		}
	} else {
		for e := 0; e < maxEll; e++ {
			out = append(out, laEllBase+e)
		}
		var once []int
		for l, n := range count {
			if l < laEllBase && n == 1 {
				once = append(once, l)
			}
		}
		// Alphabetical order is ASCII order: upper case first.
		sort.Slice(once, func(a, b int) bool { return laLabelName(once[a]) < laLabelName(once[b]) })
		out = append(out, once...)
	}
	inOut := map[int]bool{}
	for _, l := range out {
		inOut[l] = true
	}
	var sum []int
	for l := range size {
		if !inOut[l] {
			sum = append(sum, l)
		}
	}
	sort.Ints(sum)
	p := &laEinsumPlan{outShape: []int64{}}
	for _, l := range out {
		p.outShape = append(p.outShape, size[l])
	}
	p.outDims = p.outShape
	for _, l := range sum {
		p.sumDims = append(p.sumDims, size[l])
	}
	for i, t := range terms {
		st := strides(shapes[i])
		byLabel := map[int]int64{}
		for pos, l := range t {
			if shapes[i][pos] != 1 {
				byLabel[l] += st[pos]
			}
		}
		os := make([]int64, len(out))
		for j, l := range out {
			os[j] = byLabel[l]
		}
		ss := make([]int64, len(sum))
		for j, l := range sum {
			ss[j] = byLabel[l]
		}
		p.outSt = append(p.outSt, os)
		p.sumSt = append(p.sumSt, ss)
	}
	return p, nil
}

func laLabelName(l int) string {
	switch {
	case l < 26:
		return string(rune('a' + l))
	case l < laEllBase:
		return string(rune('A' + l - 26))
	}
	return fmt.Sprintf("...%d", l-laEllBase)
}

// laEinsum evaluates a plan: for every output element, the sum over the
// summed labels of the product of the operands.
func laEinsum[T laNum](p *laEinsumPlan, ops [][]T) []T {
	nOut := int(ir.NumElements(p.outDims))
	nSum := int(ir.NumElements(p.sumDims))
	out := make([]T, nOut)
	k := len(ops)
	base := make([]int64, k)
	off := make([]int64, k)
	oIdx := make([]int64, len(p.outDims))
	sIdx := make([]int64, len(p.sumDims))
	for o := 0; o < nOut; o++ {
		copy(off, base)
		clear(sIdx)
		var acc T
		for s := 0; s < nSum; s++ {
			prod := ops[0][off[0]]
			for i := 1; i < k; i++ {
				prod *= ops[i][off[i]]
			}
			acc += prod
			laEinsumStep(sIdx, p.sumDims, p.sumSt, off)
		}
		out[o] = acc
		laEinsumStep(oIdx, p.outDims, p.outSt, base)
	}
	return out
}

// laEinsumStep advances the odometer idx by one and updates the offsets
// of every operand.
func laEinsumStep(idx, dims []int64, st [][]int64, off []int64) {
	for d := len(idx) - 1; d >= 0; d-- {
		idx[d]++
		for i := range off {
			off[i] += st[i][d]
		}
		if idx[d] < dims[d] {
			return
		}
		for i := range off {
			off[i] -= st[i][d] * idx[d]
		}
		idx[d] = 0
	}
}

func laEinsumKernel(c *Call, in []Value) ([]Value, error) {
	eq := c.Node.AttrString("equation", "")
	if eq == "" {
		return nil, c.Errorf("attribute equation is required")
	}
	if len(in) == 0 {
		return nil, c.Errorf("at least one input is required")
	}
	var ts []*ir.Tensor
	var shapes [][]int64
	for i := range in {
		t, err := tensorArg(c, in, i)
		if err != nil {
			return nil, err
		}
		if err := laRequire(c, "input", t.DType, laNumTypes...); err != nil {
			return nil, err
		}
		if i > 0 && t.DType != ts[0].DType {
			return nil, c.Errorf("input %d dtype %s differs from input 0 dtype %s", i, t.DType, ts[0].DType)
		}
		ts = append(ts, t)
		shapes = append(shapes, t.Shape)
	}
	p, err := laPlanEinsum(eq, shapes)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	dt := ts[0].DType
	cs := make([]*ir.Tensor, len(ts))
	for i, t := range ts {
		cs[i], _ = laCanon(c, t)
	}
	var y *ir.Tensor
	switch cs[0].Data.(type) {
	case []float32:
		y = ir.FromSlice(cs[0].DType, p.outShape, laEinsum(p, laEinsumData[float32](cs)))
	case []float64:
		y = ir.FromSlice(cs[0].DType, p.outShape, laEinsum(p, laEinsumData[float64](cs)))
	case []int64:
		y = ir.FromSlice(cs[0].DType, p.outShape, laEinsum(p, laEinsumData[int64](cs)))
	case []uint64:
		y = ir.FromSlice(cs[0].DType, p.outShape, laEinsum(p, laEinsumData[uint64](cs)))
	}
	return one(laUncanon(y, dt))
}

func laEinsumData[T laNum](ts []*ir.Tensor) [][]T {
	out := make([][]T, len(ts))
	for i, t := range ts {
		out[i] = t.Data.([]T)
	}
	return out
}
