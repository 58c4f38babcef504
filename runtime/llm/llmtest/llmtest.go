// Package llmtest locates the shared language-model test data (the
// stories260K model and its golden outputs) for tests in any package.
//
// The model files are never copied into the repository: they live in a
// folder beside the clone (../shared/llm relative to the module root, as
// on CI and the development machines) or wherever OPTC_LLM_DIR points.
// Tests that need them skip with a message saying where they looked.
package llmtest

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvDir is the environment variable that overrides the data folder.
const EnvDir = "OPTC_LLM_DIR"

// Find returns the folder holding stories260K.gguf and whether it exists.
// It looks in $OPTC_LLM_DIR, then in ../shared/llm beside the module root
// found by walking up from the working directory.
func Find() (string, bool) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, exists(filepath.Join(d, "stories260K.gguf"))
	}
	root, ok := moduleRoot()
	if !ok {
		return "", false
	}
	d := filepath.Join(filepath.Dir(root), "shared", "llm")
	return d, exists(filepath.Join(d, "stories260K.gguf"))
}

func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if exists(filepath.Join(dir, "go.mod")) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// NPMPackage returns the extracted npm package folder that
// tools/fetch-models.sh puts in the cache ($OPTC_CACHE, default
// <module>/.cache), as $OPTC_CACHE/npm/<dir>/package, skipping the test
// when file is not in it.
func NPMPackage(t testing.TB, dir, file string) string {
	t.Helper()
	cache := os.Getenv("OPTC_CACHE")
	if cache == "" {
		root, ok := moduleRoot()
		if !ok {
			t.Skipf("no module root above the working directory to find .cache in")
		}
		cache = filepath.Join(root, ".cache")
	}
	p := filepath.Join(cache, "npm", dir, "package")
	if !exists(filepath.Join(p, file)) {
		t.Skipf("%s not found: run tools/fetch-models.sh (make fetch)", filepath.Join(p, file))
	}
	return p
}

// Dir returns the data folder or skips the test with a clear message.
func Dir(t testing.TB) string {
	t.Helper()
	d, ok := Find()
	if !ok {
		t.Skipf("stories260K test data not found (looked in %q): it lives in ../shared/llm beside the clone, or set %s", d, EnvDir)
	}
	return d
}

// Path returns the path of a file in the data folder, skipping the test
// when the folder or the file is absent.
func Path(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Dir(t), name)
	if !exists(p) {
		t.Skipf("%s not found in the stories260K test data folder", p)
	}
	return p
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
