package realmodels

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/npy"
)

// TestRealModelsCLI runs the real models through the `optc run` command
// (inputs and outputs as .npy files), as a user would, and compares with
// the ONNX Runtime goldens.
func TestRealModelsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the optc binary; skipped with -short")
	}
	for _, s := range rmSpecs {
		t.Run(s.name, func(t *testing.T) {
			model := rmModelPath(t, s)
			stored, want := rmReadGolden(t, s)
			bin := rmOptcBinary(t)
			got, err := s.run(stored, rmCLI(t, bin, model))
			if err != nil {
				t.Fatalf("optc run: %v", err)
			}
			for _, d := range rmCompareAll(got, want) {
				t.Errorf("optc run vs golden: %s", d)
			}
		})
	}
}

var (
	rmBinOnce sync.Once
	rmBin     string
	rmBinErr  error
)

// rmOptcBinary builds cmd/optc once per test process.
func rmOptcBinary(t *testing.T) string {
	rmBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "optc-bin-")
		if err != nil {
			rmBinErr = err
			return
		}
		rmBin = filepath.Join(dir, "optc")
		out, err := exec.Command("go", "build", "-o", rmBin, "github.com/optc-dev/optc/cmd/optc").CombinedOutput()
		if err != nil {
			rmBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if rmBinErr != nil {
		t.Fatal(rmBinErr)
	}
	return rmBin
}

// rmCLI runs `optc run model -i name=file.npy … -o dir` and reads the
// outputs back.
func rmCLI(t *testing.T, bin, model string) rmExec {
	return func(inputs map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
		dir := t.TempDir()
		names := make([]string, 0, len(inputs))
		for k := range inputs {
			names = append(names, k)
		}
		sort.Strings(names)
		args := []string{"run", model, "-o", filepath.Join(dir, "out")}
		for _, k := range names {
			f := filepath.Join(dir, k+".npy")
			if err := npy.WriteFile(f, inputs[k]); err != nil {
				return nil, err
			}
			args = append(args, "-i", k+"="+f)
		}
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("optc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		files, err := filepath.Glob(filepath.Join(dir, "out", "*.npy"))
		if err != nil {
			return nil, err
		}
		res := map[string]*ir.Tensor{}
		for _, f := range files {
			tt, err := npy.ReadFile(f)
			if err != nil {
				return nil, err
			}
			res[strings.TrimSuffix(filepath.Base(f), ".npy")] = tt
		}
		return res, nil
	}
}
