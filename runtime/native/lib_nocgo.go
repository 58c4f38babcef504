//go:build !cgo

package native

import "errors"

type library struct{}

func openLibrary(libPath, weightsPath string) (*library, error) {
	return nil, errors.New("this optc was built without cgo: compiled bundles cannot be loaded (rebuild with CGO_ENABLED=1)")
}

func (l *library) run(seg int, ins, outs [][]byte) error { return errors.New("no cgo") }
func (l *library) setThreads(n int) error                { return errors.New("no cgo") }
func (l *library) threads() int                          { return 0 }
func (l *library) close()                                {}
