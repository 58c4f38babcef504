package runtime

import (
	"fmt"
	"os"

	"github.com/optc-dev/optc/ir"
)

// openText loads a graph in optc's IR text format (ir.Print; what
// `optc quant-report -o model.q.txt` writes) on the reference interpreter.
func openText(path string) (*Model, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, err := ir.Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := ir.Verify(g); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Model{path: path, backend: "interp", graph: g}, nil
}
