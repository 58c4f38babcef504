package codegen

import (
	"fmt"
	"sort"

	"github.com/optc-dev/optc/ir"
)

// locKind says where a buffer lives at run time.
type locKind int

const (
	locInput   locKind = iota // inputs[idx] of the segment entry
	locOutput                 // outputs[idx]
	locWeight                 // weights + off
	locScratch                // scratch + off
)

type loc struct {
	kind locKind
	idx  int
	off  int64
}

const planAlign = 64

// memPlan is the static memory plan of one native segment: the location of
// every storage root and the scratch offsets of kernel temporaries.
type memPlan struct {
	loc     map[*ir.Value]loc
	temps   [][]int64 // per kernel, offsets of its temps
	scratch int64     // arena size
}

// valueBytes is the storage size of a value (dense, row-major).
func valueBytes(v *ir.Value) int64 {
	s, _ := concreteShape(v)
	return v.Type.DType.StorageBytes(ir.NumElements(s))
}

// plan locates the roots of l's values. Segment inputs and outputs are
// the caller's buffers; a segment output whose root is an input, a
// constant, or already another output gets a copy kernel. Intermediates
// share the scratch arena by liveness (first fit, 64-byte aligned).
func (l *lowering) plan() (*memPlan, error) {
	p := &memPlan{loc: map[*ir.Value]loc{}}
	for i, v := range l.seg.inputs {
		r := l.root(v)
		if _, ok := p.loc[r]; !ok {
			p.loc[r] = loc{kind: locInput, idx: i}
		}
	}
	produced := map[*ir.Value]bool{}
	for _, k := range l.kernels {
		produced[k.output()] = true
	}
	for i, o := range l.seg.outputs {
		r := l.root(o)
		if _, taken := p.loc[r]; produced[r] && !taken {
			p.loc[r] = loc{kind: locOutput, idx: i}
			continue
		}
		// The copy's destination is output i itself, not a location of o:
		// o may also be an input (a graph output that is a graph input).
		k, err := l.newCopyKernel(r, o, i)
		if err != nil {
			return nil, err
		}
		l.kernels = append(l.kernels, k)
	}
	// Liveness of scratch values: last kernel reading each root.
	last := map[*ir.Value]int{}
	for ki, k := range l.kernels {
		for _, b := range k.inputs() {
			if b.v != nil {
				last[l.root(b.v)] = ki
			}
		}
	}
	a := &arena{}
	p.temps = make([][]int64, len(l.kernels))
	for ki, k := range l.kernels {
		out := k.output()
		if _, isCopy := k.(*copyKernel); isCopy {
			// writes a segment output directly
		} else if _, ok := p.loc[out]; !ok {
			if out.Const != nil {
				return nil, fmt.Errorf("kernel writes constant %q", out.Name)
			}
			p.loc[out] = loc{kind: locScratch, off: a.alloc(valueBytes(out))}
			if _, used := last[out]; !used {
				last[out] = ki
			}
		}
		for _, sz := range k.temps() {
			p.temps[ki] = append(p.temps[ki], a.alloc(sz))
		}
		for _, off := range p.temps[ki] {
			a.free(off)
		}
		// Free the scratch roots whose last reader is this kernel.
		var dead []*ir.Value
		for r, lk := range last {
			if lk == ki {
				dead = append(dead, r)
			}
		}
		sort.Slice(dead, func(i, j int) bool { return dead[i].Name < dead[j].Name })
		for _, r := range dead {
			if lc, ok := p.loc[r]; ok && lc.kind == locScratch {
				a.free(lc.off)
			}
		}
	}
	for _, k := range l.kernels {
		for _, b := range k.inputs() {
			if b.v == nil {
				continue
			}
			if _, ok := p.loc[l.root(b.v)]; !ok {
				return nil, fmt.Errorf("value %q is read but has no location", b.v.Name)
			}
		}
	}
	p.scratch = a.size
	return p, nil
}

// arena is a first-fit allocator over one scratch buffer.
type arena struct {
	size  int64
	used  []span // sorted by offset
	sizes map[int64]int64
}

type span struct{ off, n int64 }

func (a *arena) alloc(n int64) int64 {
	n = (n + planAlign - 1) / planAlign * planAlign
	if n == 0 {
		n = planAlign
	}
	if a.sizes == nil {
		a.sizes = map[int64]int64{}
	}
	off := int64(0)
	pos := len(a.used)
	for i, s := range a.used {
		if s.off-off >= n {
			pos = i
			break
		}
		off = s.off + s.n
	}
	a.used = append(a.used, span{})
	copy(a.used[pos+1:], a.used[pos:])
	a.used[pos] = span{off, n}
	a.sizes[off] = n
	if off+n > a.size {
		a.size = off + n
	}
	return off
}

func (a *arena) free(off int64) {
	for i, s := range a.used {
		if s.off == off {
			a.used = append(a.used[:i], a.used[i+1:]...)
			return
		}
	}
}
