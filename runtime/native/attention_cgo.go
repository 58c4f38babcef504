//go:build cgo

package native

/*
#cgo LDFLAGS: -ldl
#cgo noescape optc_attn_call
#cgo nocallback optc_attn_call
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

typedef void (*optc_attn_fn)(const float *, int64_t, int64_t, int64_t, int64_t, const float *, const float *,
	int64_t, int64_t, int64_t, int64_t, int64_t, const uint8_t *, float, float *, float *, float *, float *);

static void *optc_attn_sym(const char *path, const char *name) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	return h ? dlsym(h, name) : NULL;
}

static void optc_attn_call(void *fn, const float *q, int64_t rows, int64_t s, int64_t hd, int64_t dv,
	const float *k, const float *v, int64_t n, int64_t j0, int64_t past, int64_t causal, int64_t total,
	const uint8_t *keep, float scale, float *m, float *l, float *acc, float *sc) {
	((optc_attn_fn)fn)(q, rows, s, hd, dv, k, v, n, j0, past, causal, total, keep, scale, m, l, acc, sc);
}
*/
import "C"

import (
	"fmt"
	"path/filepath"
	"unsafe"

	"github.com/optc-dev/optc/codegen"
	"github.com/optc-dev/optc/runtime/interp"
)

// AttnBlock returns the bundle's attention block kernel
// (codegen.AttnKernelName, exported by bundles of graphs with an
// optc.Attention node) as an interp.AttnBlockFunc, or nil when the
// library has none. Bind it with interp.WithAttnBlock to run the
// interpreted Attention steps' blocks natively.
func (m *Model) AttnBlock() interp.AttnBlockFunc {
	f, ok := m.manifest.Files["lib"]
	if !ok || m.lib == nil {
		return nil
	}
	cPath := C.CString(filepath.Join(m.dir, f.Path))
	defer C.free(unsafe.Pointer(cPath))
	cName := C.CString(codegen.AttnKernelName)
	defer C.free(unsafe.Pointer(cName))
	fn := C.optc_attn_sym(cPath, cName)
	if fn == nil {
		return nil
	}
	return func(a *interp.AttnBlock) { attnCall(fn, a) }
}

// attnCall runs one block. The sizes are checked so that the kernel never
// reads or writes outside the slices; the interpreter builds them, so a
// mismatch is a bug, reported by a panic.
func attnCall(fn unsafe.Pointer, a *interp.AttnBlock) {
	if a.N <= 0 || a.Rows <= 0 {
		return
	}
	if len(a.Q) < a.Rows*a.HD || len(a.K) < a.N*a.HD || len(a.V) < a.N*a.DV || len(a.Acc) < a.Rows*a.DV ||
		len(a.M) < a.Rows || len(a.L) < a.Rows || len(a.Scores) < a.N*(a.HD+1) || (a.Keep != nil && len(a.Keep) < a.S*a.Total) ||
		a.HD <= 0 || a.DV <= 0 || a.S <= 0 {
		panic(fmt.Sprintf("native: attention block with inconsistent sizes: rows %d, s %d, hd %d, dv %d, n %d, total %d; len q %d, k %d, v %d, acc %d, scores %d, keep %d",
			a.Rows, a.S, a.HD, a.DV, a.N, a.Total, len(a.Q), len(a.K), len(a.V), len(a.Acc), len(a.Scores), len(a.Keep)))
	}
	var keep *C.uint8_t
	if a.Keep != nil {
		keep = (*C.uint8_t)(unsafe.Pointer(&a.Keep[0]))
	}
	causal := 0
	if a.Causal {
		causal = 1
	}
	C.optc_attn_call(fn, (*C.float)(&a.Q[0]), C.int64_t(a.Rows), C.int64_t(a.S), C.int64_t(a.HD), C.int64_t(a.DV),
		(*C.float)(&a.K[0]), (*C.float)(&a.V[0]), C.int64_t(a.N), C.int64_t(a.J0), C.int64_t(a.Past), C.int64_t(causal), C.int64_t(a.Total),
		keep, C.float(a.Scale), (*C.float)(&a.M[0]), (*C.float)(&a.L[0]), (*C.float)(&a.Acc[0]), (*C.float)(&a.Scores[0]))
}
