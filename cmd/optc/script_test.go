package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/optc-dev/optc/data"
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
		// [fmnist]: Debian's dataset-fashion-mnist is installed (eval scripts).
		Condition: func(cond string) (bool, error) {
			if cond != "fmnist" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			_, err := os.Stat(data.FashionMNISTDir)
			return err == nil, nil
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("ONNXDATA", onnxTestData)
			models, err := filepath.Abs(filepath.Join("..", "..", "testdata", "models"))
			if err != nil {
				return err
			}
			env.Setenv("MODELS", models) // the committed fixture models (eval scripts)
			return nil
		},
	})
}
