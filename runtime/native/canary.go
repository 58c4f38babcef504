package native

import "fmt"

// canaryBytes, when > 0 (tests set it through export_test.go), makes every
// native step run on copies of its input and output buffers that sit
// between canaryBytes guard bytes on each side. After the call the guards
// must be intact and the inputs unchanged: a kernel that writes out of
// bounds of a buffer would otherwise corrupt whatever Go object lies next
// to it in the heap (seen as "found bad pointer in Go heap" much later).
var canaryBytes int

// canaryByte is the guard pattern at offset i.
func canaryByte(i int) byte { return byte(0xA5 ^ i*31) }

func canaryWrap(d []byte, g int) []byte {
	buf := make([]byte, len(d)+2*g)
	for i := 0; i < g; i++ {
		buf[i] = canaryByte(i)
		buf[g+len(d)+i] = canaryByte(g + i)
	}
	copy(buf[g:], d)
	return buf
}

func canaryCheck(buf []byte, n, g int) error {
	for i := 0; i < g; i++ {
		if buf[i] != canaryByte(i) {
			return fmt.Errorf("byte %d before the buffer overwritten", g-i)
		}
		if buf[g+n+i] != canaryByte(g+i) {
			return fmt.Errorf("byte %d past the end of the %d-byte buffer overwritten", i, n)
		}
	}
	return nil
}

// runCanary is library.run through guarded copies of the buffers.
func runCanary(l *library, seg int, ins, outs [][]byte, names func(in bool, i int) string) error {
	g := canaryBytes
	wi := make([][]byte, len(ins))
	for i, d := range ins {
		wi[i] = canaryWrap(d, g)
	}
	wo := make([][]byte, len(outs))
	for i, d := range outs {
		wo[i] = canaryWrap(make([]byte, len(d)), g)
		for j := range wo[i][g : g+len(d)] {
			wo[i][g+j] = 0xCD
		}
	}
	ci := make([][]byte, len(ins))
	for i, d := range ins {
		ci[i] = wi[i][g : g+len(d) : g+len(d)]
	}
	co := make([][]byte, len(outs))
	for i, d := range outs {
		co[i] = wo[i][g : g+len(d) : g+len(d)]
	}
	if err := l.run(seg, ci, co); err != nil {
		return err
	}
	for i, d := range ins {
		if err := canaryCheck(wi[i], len(d), g); err != nil {
			return fmt.Errorf("segment %d input %s: %w", seg, names(true, i), err)
		}
		if string(wi[i][g:g+len(d)]) != string(d) {
			return fmt.Errorf("segment %d input %s: native code wrote into its input", seg, names(true, i))
		}
	}
	for i, d := range outs {
		if err := canaryCheck(wo[i], len(d), g); err != nil {
			return fmt.Errorf("segment %d output %s: %w", seg, names(false, i), err)
		}
		copy(d, wo[i][g:])
	}
	return nil
}
