package onnx

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/optc-dev/optc/ir"
)

// TestRealModels imports the real models tools/fetch-models.sh caches, when
// present. The expected counts come from onnx's Python API (graph inputs
// that are not initializers, Constant nodes, other nodes, nodes in all
// subgraphs).
func TestRealModels(t *testing.T) {
	cache := os.Getenv("OPTC_CACHE")
	if cache == "" {
		cache = filepath.Join("..", "..", ".cache")
	}
	for _, c := range []struct {
		path            string
		inputs, outputs []string
		nodes, consts   int // top-level nodes; initializers + Constant nodes
		allNodes        int // nodes of every graph, Constant nodes excluded
	}{
		{"vad-web/package/dist/silero_vad_legacy.onnx", []string{"input", "sr", "h", "c"}, []string{"output", "hn", "cn"}, 2, 69, 250},
		{"ocr-models/package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx", []string{"x"}, []string{"softmax_0.tmp_0"}, 221, 250, 221},
		{"ocr-models/package/assets/ch_PP-OCRv4_det_infer.onnx", []string{"x"}, []string{"sigmoid_0.tmp_0"}, 330, 342, 330},
	} {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			p := filepath.Join(cache, "npm", c.path)
			if _, err := os.Stat(p); err != nil {
				t.Skipf("%s not fetched (tools/fetch-models.sh)", p)
			}
			g, err := LoadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			names := func(vs []*ir.Value) []string {
				var out []string
				for _, v := range vs {
					out = append(out, v.Name)
				}
				return out
			}
			all := 0
			_ = g.Walk(func(*ir.Graph, *ir.Node) error { all++; return nil })
			if !reflect.DeepEqual(names(g.Inputs), c.inputs) || !reflect.DeepEqual(names(g.Outputs), c.outputs) ||
				len(g.Nodes) != c.nodes || len(g.Consts) != c.consts || all != c.allNodes {
				t.Fatalf("inputs %v outputs %v, %d nodes, %d consts, %d nodes in all; want %v %v %d %d %d",
					names(g.Inputs), names(g.Outputs), len(g.Nodes), len(g.Consts), all, c.inputs, c.outputs, c.nodes, c.consts, c.allNodes)
			}
		})
	}
}
