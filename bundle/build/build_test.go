package build_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/optc-dev/optc/bundle"
	"github.com/optc-dev/optc/bundle/build"
	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/targets"
)

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"models/fmnist-mlp.onnx": "fmnist_mlp",
		"ResNet 50.onnx":         "resnet_50",
		"3dunet.onnx":            "m3dunet",
		"--.onnx":                "model",
	} {
		if got := build.SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func files(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

func TestEmitStages(t *testing.T) {
	host, err := targets.Lookup("x86_64", "x86-64-v3")
	if err != nil {
		t.Fatal(err)
	}
	c := codegentest.Cases()[0] // the MLP
	for _, tt := range []struct{ emit, files string }{
		{"llvm", "model.ll"},
		{"asm", "model.s"},
		{"obj", "libmodel.a manifest.json model.h model.o weights.safetensors"},
		{"lib", "libmodel.so model.h"},
		{"bundle", "libmodel.so manifest.json model.h weights.safetensors"},
	} {
		t.Run(tt.emit, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			codegentest.Bundle(t, c.Build(), host, c.Shapes, dir, tt.emit)
			if got := files(t, dir); got != tt.files {
				t.Errorf("files %q, want %q", got, tt.files)
			}
		})
	}
}

// TestDeterministic builds the same model twice: weights, header and
// manifest are byte-identical, and the manifest's hashes verify.
func TestDeterministic(t *testing.T) {
	host := codegentest.Host(t)
	c := codegentest.Cases()[0]
	a, b := t.TempDir(), t.TempDir()
	codegentest.Bundle(t, c.Build(), host, c.Shapes, a, "")
	codegentest.Bundle(t, c.Build(), host, c.Shapes, b, "")
	for _, f := range []string{bundle.WeightsFile, "model.h"} {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two builds", f)
		}
	}
	m, err := bundle.ReadManifest(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(a); err != nil {
		t.Error(err)
	}
	if len(m.Bindings) != 1 || !m.Bindings[0].Default || m.Bindings[0].Param != "N" {
		t.Errorf("shape bindings %+v, want N bound to 1 by default", m.Bindings)
	}
	h, _ := os.ReadFile(filepath.Join(a, "model.h"))
	for _, want := range []string{"#define OPTC_MODEL_NUM_INPUTS 1", "#define OPTC_MODEL_INPUT_BYTES {3136}", "optc_model_run(optc_model *model"} {
		if !bytes.Contains(h, []byte(want)) {
			t.Errorf("header lacks %q", want)
		}
	}
}
