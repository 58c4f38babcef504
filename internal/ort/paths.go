package ort

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// LibRelPath is where tools/fetch-models.sh puts the ONNX Runtime library,
// relative to the cache directory.
const LibRelPath = "npm/onnxruntime-node/package/bin/napi-v6/linux/x64/libonnxruntime.so.1"

// RepoRoot returns the root of the optc checkout: the nearest directory
// above the working directory whose go.mod declares optc's module, else
// the one above this source file.
func RepoRoot() string {
	if dir, err := os.Getwd(); err == nil {
		for {
			b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && strings.Contains(string(b), "module github.com/optc-dev/optc\n") {
				return dir
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// CacheDir is $OPTC_CACHE or, by default, <repo>/.cache (git-ignored),
// where tools/fetch-models.sh stores models and the ONNX Runtime library.
func CacheDir() string {
	if c := os.Getenv("OPTC_CACHE"); c != "" {
		return c
	}
	return filepath.Join(RepoRoot(), ".cache")
}

// Available returns the path of the ONNX Runtime shared library:
// $OPTC_ORT_LIB if set, else the copy in the cache. ok is false when the
// file does not exist (or this binary was built without cgo).
func Available() (libPath string, ok bool) {
	libPath = os.Getenv("OPTC_ORT_LIB")
	if libPath == "" {
		libPath = filepath.Join(CacheDir(), LibRelPath)
	}
	st, err := os.Stat(libPath)
	return libPath, err == nil && !st.IsDir() && cgoEnabled
}

// SkipReason is a message for tests that skip because ONNX Runtime is
// not available.
func SkipReason() string {
	lib, _ := Available()
	if !cgoEnabled {
		return "ONNX Runtime oracle needs cgo (built with CGO_ENABLED=0)"
	}
	return "ONNX Runtime library not found at " + lib + " (run tools/fetch-models.sh or set OPTC_ORT_LIB)"
}
