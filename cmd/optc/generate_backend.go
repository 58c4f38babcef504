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
	native  []*llm.NativeModel
}

// genBackendNames are the values of --backend.
const genBackendNames = "interp or native"

func newGenBackend(f *generateFlags) (*genBackend, error) {
	switch f.backend {
	case "", "interp":
		return &genBackend{name: "interp"}, nil
	case "native":
		// Native code runs on --threads threads (1 when not given), like
		// llama-bench's -t.
		return &genBackend{name: "native", threads: max(f.threads, 1)}, nil
	}
	return nil, fmt.Errorf("generate: --backend %q: want %s", f.backend, genBackendNames)
}

// open binds m to the backend.
func (b *genBackend) open(m *llm.Model) (spec.Model, error) {
	if b.name != "native" {
		return m, nil
	}
	nm, err := llm.NewNative(m, llm.NativeOptions{Threads: b.threads})
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
