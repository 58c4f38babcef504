package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/optc-dev/optc/data"
	"github.com/optc-dev/optc/runtime/llm/llmtest"
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
		// [llm]: the shared stories260K model is present (generate scripts).
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "fmnist":
				_, err := os.Stat(data.FashionMNISTDir)
				return err == nil, nil
			case "llm":
				_, ok := llmtest.Find()
				return ok, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("ONNXDATA", onnxTestData)
			models, err := filepath.Abs(filepath.Join("..", "..", "testdata", "models"))
			if err != nil {
				return err
			}
			env.Setenv("MODELS", models) // the committed fixture models (eval scripts)
			llmDir, _ := llmtest.Find()
			env.Setenv("LLMDATA", llmDir) // ../shared/llm: stories260K (generate scripts)
			return nil
		},
	})
}
