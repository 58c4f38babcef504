package native_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/optc-dev/optc/bundle"
	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/native"
)

// smallBundle compiles the softmax test graph into a fresh directory.
func smallBundle(t *testing.T) (string, *ir.Graph) {
	t.Helper()
	for _, c := range codegentest.Cases() {
		if c.Name == "softmax_rows" {
			g := c.Build()
			dir := t.TempDir()
			codegentest.Bundle(t, g, codegentest.Host(t), c.Shapes, dir, "")
			return dir, g
		}
	}
	t.Fatal("no softmax_rows case")
	return "", nil
}

func editManifest(t *testing.T, dir string, edit func(m *bundle.Manifest)) {
	t.Helper()
	m, err := bundle.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	if err := m.Write(dir); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		spoil func(t *testing.T, dir string)
		msg   string
	}{
		{"weights changed", func(t *testing.T, dir string) {
			p := filepath.Join(dir, bundle.WeightsFile)
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 1
			os.WriteFile(p, b, 0o644)
		}, "weights.safetensors does not match its manifest hash"},
		{"library changed", func(t *testing.T, dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, "libmodel.so"), os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte{0})
			f.Close()
		}, "libmodel.so does not match its manifest hash"},
		{"weights missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, bundle.WeightsFile))
		}, "weights file"},
		{"other CPU", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *bundle.Manifest) { m.Target.Required = append(m.Target.Required, "avx10.9") })
		}, "this CPU lacks avx10.9 (recompile with a lower --mcpu)"},
		{"other architecture", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *bundle.Manifest) { m.Target.Arch = "riscv64" })
		}, "compiled for riscv64, but this machine is"},
		{"not a bundle stage", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *bundle.Manifest) { m.Emit = "lib" })
		}, "only --emit=bundle output can be run"},
		{"format", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *bundle.Manifest) { m.Format = 99 })
		}, "manifest format 99"},
		{"no manifest", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, bundle.ManifestFile))
		}, "manifest.json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := smallBundle(t)
			tt.spoil(t, dir)
			_, err := native.Open(dir, native.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Open: %v, want %q", err, tt.msg)
			}
		})
	}
}

// TestShimHeaderCheck swaps in another compile's weights and fixes the
// manifest hash, so only the library's own safetensors header check can
// catch it.
func TestShimHeaderCheck(t *testing.T) {
	dir, _ := smallBundle(t)
	other := t.TempDir()
	for _, c := range codegentest.Cases() {
		if c.Name == "mlp_batch1" {
			codegentest.Bundle(t, c.Build(), codegentest.Host(t), c.Shapes, other, "")
		}
	}
	b, err := os.ReadFile(filepath.Join(other, bundle.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, bundle.WeightsFile), b, 0o644)
	sum, _ := bundle.HashFile(filepath.Join(dir, bundle.WeightsFile))
	editManifest(t, dir, func(m *bundle.Manifest) {
		f := m.Files["weights"]
		f.SHA256 = sum
		m.Files["weights"] = f
	})
	_, err = native.Open(dir, native.Options{})
	if err == nil || !strings.Contains(err.Error(), "not this model's weights file") && !strings.Contains(err.Error(), "header differs") {
		t.Errorf("Open: %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	dir, g := smallBundle(t)
	m, err := native.Open(dir, native.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Threads() != 1 {
		t.Errorf("Threads() = %d", m.Threads())
	}
	good := codegentest.Inputs(t, g, 1)
	for _, tt := range []struct {
		name string
		in   map[string]*ir.Tensor
		msg  string
	}{
		{"missing", map[string]*ir.Tensor{}, `missing input "x"`},
		{"unknown", map[string]*ir.Tensor{"x": good["x"], "q": good["x"]}, `unknown input "q"`},
		{"shape", map[string]*ir.Tensor{"x": ir.NewTensor(ir.Float32, 6, 36)}, "shape [6 36], the model was compiled for [6 37]"},
		{"dtype", map[string]*ir.Tensor{"x": ir.NewTensor(ir.Float64, 6, 37)}, "dtype f64, the model was compiled for f32"},
	} {
		if _, err := m.Run(context.Background(), tt.in); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.msg)
		}
	}
	if _, err := m.Run(context.Background(), good); err != nil {
		t.Errorf("good input after errors: %v", err)
	}
	m.Close()
	if _, err := m.Run(context.Background(), good); err == nil {
		t.Error("Run after Close: no error")
	}
}

func TestManifestContents(t *testing.T) {
	dir, _ := smallBundle(t)
	b, err := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"optc_version", "target", "inputs", "outputs", "steps", "files", "weights", "pipeline"} {
		if _, ok := m[k]; !ok {
			t.Errorf("manifest has no %q", k)
		}
	}
}
