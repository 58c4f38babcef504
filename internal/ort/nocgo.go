//go:build !cgo

package ort

import (
	"errors"
	"time"

	"github.com/optc-dev/optc/ir"
)

const cgoEnabled = false

var errNoCgo = errors.New("ort: ONNX Runtime needs cgo (built with CGO_ENABLED=0)")

// Options configures a session.
type Options struct {
	Threads int
}

// Session is unavailable without cgo.
type Session struct{}

func NewSession(modelPath string, opts Options) (*Session, error)           { return nil, errNoCgo }
func (s *Session) Run(map[string]*ir.Tensor) (map[string]*ir.Tensor, error) { return nil, errNoCgo }
func (s *Session) Close() error                                             { return nil }
func Version() (string, error)                                              { return "", errNoCgo }
func Run(modelPath string, inputs map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	return nil, errNoCgo
}
func Latency(modelPath string, inputs map[string]*ir.Tensor, opts Options, warmup, iters int) (time.Duration, error) {
	return 0, errNoCgo
}
func (s *Session) InputNames() []string  { return nil }
func (s *Session) OutputNames() []string { return nil }
