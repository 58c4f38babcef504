//go:build cgo

package native

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*optc_open_fn)(const char *);
typedef int (*optc_run_seg_fn)(void *, int, const void *const *, void *const *);
typedef void (*optc_close_fn)(void *);
typedef const char *(*optc_err_fn)(void);
typedef int (*optc_threads_fn)(void *, int);
typedef int (*optc_nthreads_fn)(void *);

typedef struct {
	void *open, *run_seg, *close, *err, *set_threads, *threads;
} optc_syms;

static void optc_copy_err(optc_syms *s, char *buf, int n) {
	const char *e = ((optc_err_fn)s->err)();
	strncpy(buf, e ? e : "unknown error", n - 1);
	buf[n - 1] = 0;
}

static void *optc_dlopen(const char *path, optc_syms *s, char *buf, int n) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		strncpy(buf, dlerror(), n - 1);
		buf[n - 1] = 0;
		return NULL;
	}
	s->open = dlsym(h, "optc_model_open");
	s->run_seg = dlsym(h, "optc_model_run_segment");
	s->close = dlsym(h, "optc_model_close");
	s->err = dlsym(h, "optc_last_error");
	s->set_threads = dlsym(h, "optc_model_set_threads");
	s->threads = dlsym(h, "optc_model_threads");
	if (!s->open || !s->run_seg || !s->close || !s->err || !s->set_threads || !s->threads) {
		strncpy(buf, "not an optc bundle library (missing optc_model_* symbols)", n - 1);
		return NULL;
	}
	return h;
}

static void *optc_call_open(optc_syms *s, const char *weights, char *buf, int n) {
	void *m = ((optc_open_fn)s->open)(weights);
	if (!m)
		optc_copy_err(s, buf, n);
	return m;
}

static int optc_call_run(optc_syms *s, void *m, int k, void **in, void **out, char *buf, int n) {
	int rc = ((optc_run_seg_fn)s->run_seg)(m, k, (const void *const *)in, (void *const *)out);
	if (rc != 0)
		optc_copy_err(s, buf, n);
	return rc;
}

static int optc_call_set_threads(optc_syms *s, void *m, int t, char *buf, int n) {
	int rc = ((optc_threads_fn)s->set_threads)(m, t);
	if (rc != 0)
		optc_copy_err(s, buf, n);
	return rc;
}

static int optc_call_threads(optc_syms *s, void *m) { return ((optc_nthreads_fn)s->threads)(m); }
static void optc_call_close(optc_syms *s, void *m) { ((optc_close_fn)s->close)(m); }
*/
import "C"

import (
	"errors"
	"runtime"
	"sync"
	"unsafe"
)

const errLen = 1024

// library is a dlopened bundle library with an open model handle.
type library struct {
	mu     sync.Mutex
	syms   *C.optc_syms
	model  unsafe.Pointer
	ptrs   []uintptr // C memory: the inputs then outputs of a call
	errBuf *C.char   // C memory: the last error message
}

func openLibrary(libPath, weightsPath string) (*library, error) {
	errBuf := (*C.char)(C.malloc(errLen))
	defer C.free(unsafe.Pointer(errBuf))
	syms := (*C.optc_syms)(C.calloc(1, C.size_t(unsafe.Sizeof(C.optc_syms{}))))
	cLib := C.CString(libPath)
	defer C.free(unsafe.Pointer(cLib))
	if h := C.optc_dlopen(cLib, syms, errBuf, errLen); h == nil {
		C.free(unsafe.Pointer(syms))
		return nil, errors.New(C.GoString(errBuf))
	}
	cW := C.CString(weightsPath)
	defer C.free(unsafe.Pointer(cW))
	m := C.optc_call_open(syms, cW, errBuf, errLen)
	if m == nil {
		C.free(unsafe.Pointer(syms))
		return nil, errors.New(C.GoString(errBuf))
	}
	return &library{syms: syms, model: m, errBuf: (*C.char)(C.malloc(errLen))}, nil
}

func (l *library) run(seg int, ins, outs [][]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.model == nil {
		return errors.New("model is closed")
	}
	// The pointer array lives in C memory and holds pinned Go pointers,
	// which cgo allows for the duration of the call. Its slots are uintptr,
	// not unsafe.Pointer: a pointer-typed store into them runs the GC write
	// barrier, which shades the slot's old value, a stale pointer of the
	// previous call whose buffer may since have been freed; the collector
	// then dies with "found bad pointer in Go heap". The slots are cleared
	// after the call so no stale address stays behind.
	var pin runtime.Pinner
	defer pin.Unpin()
	n := max(len(ins)+len(outs), 1)
	if len(l.ptrs) < n {
		if l.ptrs != nil {
			C.free(unsafe.Pointer(&l.ptrs[0]))
		}
		p := C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0))))
		l.ptrs = unsafe.Slice((*uintptr)(p), n)
	}
	for i := range len(ins) + len(outs) {
		d := libBuffer(ins, outs, i)
		l.ptrs[i] = 0
		if len(d) > 0 {
			pin.Pin(&d[0])
			l.ptrs[i] = uintptr(unsafe.Pointer(&d[0]))
		}
	}
	inP := (*unsafe.Pointer)(unsafe.Pointer(&l.ptrs[0]))
	outP := (*unsafe.Pointer)(unsafe.Pointer(&l.ptrs[min(len(ins), n-1)]))
	rc := C.optc_call_run(l.syms, l.model, C.int(seg), inP, outP, l.errBuf, errLen)
	clear(l.ptrs[:n])
	if rc != 0 {
		return errors.New(C.GoString(l.errBuf))
	}
	return nil
}

// libBuffer is buffer i of the inputs followed by the outputs.
func libBuffer(ins, outs [][]byte, i int) []byte {
	if i < len(ins) {
		return ins[i]
	}
	return outs[i-len(ins)]
}

func (l *library) setThreads(n int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	errBuf := (*C.char)(C.malloc(errLen))
	defer C.free(unsafe.Pointer(errBuf))
	if rc := C.optc_call_set_threads(l.syms, l.model, C.int(n), errBuf, errLen); rc != 0 {
		return errors.New(C.GoString(errBuf))
	}
	return nil
}

func (l *library) threads() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(C.optc_call_threads(l.syms, l.model))
}

func (l *library) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.model != nil {
		C.optc_call_close(l.syms, l.model)
		l.model = nil
	}
	if l.ptrs != nil {
		C.free(unsafe.Pointer(&l.ptrs[0]))
		l.ptrs = nil
	}
}
