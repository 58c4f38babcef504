package native_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/native"
)

// TestNativeRunUnderGC runs a bundle with fresh (large, own-span) input
// and output buffers each time while the garbage collector runs without
// pause. The library's pointer array (C memory) used to keep the previous
// call's Go pointers typed as pointers: overwriting them ran the write
// barrier on a stale pointer into a freed span, and the runtime died with
// "fatal error: found bad pointer in Go heap" (seen in optc bench with the
// interpreter's allocations keeping the collector busy).
func TestNativeRunUnderGC(t *testing.T) {
	var c *codegentest.Case
	for _, x := range codegentest.Cases() {
		if x.Name == "mlp_batch7" {
			c = &x
		}
	}
	if c == nil {
		t.Fatal("no case mlp_batch7")
	}
	g := c.Build()
	dir := t.TempDir()
	codegentest.Bundle(t, g, codegentest.Host(t), map[string][]int64{"x": {64, 784}}, dir, "")
	m, err := native.Open(dir, native.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		var sink [][]byte
		for !stop.Load() {
			sink = append(sink, make([]byte, 64<<10))
			if len(sink) > 64 {
				sink = nil
			}
			runtime.GC()
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		in := map[string]*ir.Tensor{"x": codegentest.Random(rng, 64, 784)}
		if _, err := m.Run(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	<-done
}
