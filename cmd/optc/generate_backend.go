package main

import (
	"errors"
	"fmt"

	"github.com/optc-dev/optc/runtime/llm"
	"github.com/optc-dev/optc/runtime/llm/spec"
)

// genBackend opens the models of optc generate (target and draft) on the
// backend --backend names: "interp" (the reference interpreter) or
// "native" (the graph compiled by codegen per token count, bundles in a
// temporary directory removed at exit; attention and rotary embedding
// stay on the interpreter inside the bundles).
type genBackend struct {
	name    string
	threads int
	dir     string // --native-dir: bundles kept and reused across runs
	native  []*llm.NativeModel
}

// genBackendNames are the values of --backend.
const genBackendNames = "interp or native"

func newGenBackend(f *generateFlags) (*genBackend, error) {
	if err := checkNativeDir(f); err != nil {
		return nil, err
	}
	switch f.backend {
	case "", "interp":
		return &genBackend{name: "interp"}, nil
	case "native":
		// Native code runs on --threads threads (1 when not given), like
		// llama-bench's -t.
		return &genBackend{name: "native", threads: max(f.threads, 1), dir: f.nativeDir}, nil
	}
	return nil, fmt.Errorf("generate: --backend %q: want %s", f.backend, genBackendNames)
}

// checkNativeDir rejects --native-dir without --backend native.
func checkNativeDir(f *generateFlags) error {
	if f.nativeDir != "" && f.backend != "native" {
		return fmt.Errorf("generate: --native-dir needs --backend native")
	}
	return nil
}

// open binds m to the backend.
func (b *genBackend) open(m *llm.Model) (spec.Model, error) {
	if b.name != "native" {
		return m, nil
	}
	nm, err := llm.NewNative(m, llm.NativeOptions{Threads: b.threads, Dir: b.dir})
	if err != nil {
		return nil, fmt.Errorf("generate: --backend native: %w", err)
	}
	b.native = append(b.native, nm)
	return nm, nil
}

// Close releases the native models and their compile directories.
func (b *genBackend) Close() error {
	var errs []error
	for _, nm := range b.native {
		errs = append(errs, nm.Close())
	}
	b.native = nil
	return errors.Join(errs...)
}

// genNativeReport is the "native" object of --json: the bundles the
// native backend compiled (target and draft together) and the ops left
// to the interpreter inside them.
type genNativeReport struct {
	BundlesCompiled int     `json:"bundles_compiled"`
	BundlesReused   int     `json:"bundles_reused"`
	CompileMS       float64 `json:"compile_ms"`
	Interpreted     string  `json:"interpreted_ops"`
}

// report summarizes the native models' bundles (nil on the interpreter).
func (b *genBackend) report() *genNativeReport {
	if b.name != "native" {
		return nil
	}
	r := &genNativeReport{}
	for _, nm := range b.native {
		s := nm.Stats()
		r.BundlesCompiled += s.Bundles
		r.BundlesReused += s.Reused
		r.CompileMS += ms(s.CompileTime.Seconds())
		if r.Interpreted == "" {
			r.Interpreted = s.FallbackSummary()
		}
	}
	return r
}
