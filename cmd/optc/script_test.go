package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// The CLI is tested end to end as txtar scripts in testdata/script: each
// runs optc commands and checks their output, exit status and files.

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"optc": main,
	})
}

// onnxTestData is Debian's libonnx-testdata, whose models the scripts use.
const onnxTestData = "/usr/share/libonnx-testdata/data"

func TestScripts(t *testing.T) {
	if _, err := os.Stat(onnxTestData); err != nil {
		t.Skipf("CLI scripts need Debian's libonnx-testdata (%s): %v; run tools/install-deps.sh", onnxTestData, err)
	}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("ONNXDATA", onnxTestData)
			return nil
		},
	})
}
