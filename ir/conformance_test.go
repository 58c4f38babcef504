package ir_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
)

// The ONNX backend test models (Debian libonnx-testdata: node, simple,
// pytorch-converted, pytorch-operator) declare the type of every graph
// output. This test imports each model, forgets the types of the outputs
// of every node whose op has shape inference, runs InferShapes and checks
// the result against the declarations; it also round-trips every model
// through Print and Parse and runs Verify.
const onnxTestData = "/usr/share/libonnx-testdata/data"

// inferSkip lists node tests whose declared output types ONNX's own shape
// inference would not produce either, with the reason.
var inferSkip = map[string]string{}

func TestConformanceInferAndRoundTrip(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(onnxTestData, "*", "test_*"))
	if len(dirs) == 0 {
		t.Skip("ONNX test data not installed (Debian package libonnx-testdata)")
	}
	sort.Strings(dirs)
	var loaded, inferred, exact, printed int
	for _, dir := range dirs {
		name := filepath.Join(filepath.Base(filepath.Dir(dir)), filepath.Base(dir))
		g, err := onnx.LoadFile(filepath.Join(dir, "model.onnx"))
		if err != nil {
			continue // the frontend's tests report import failures
		}
		loaded++
		if err := ir.Verify(g); err != nil {
			t.Errorf("%s: Verify: %v", name, err)
		}
		var buf bytes.Buffer
		if err := ir.Print(&buf, g); err != nil {
			t.Errorf("%s: Print: %v", name, err)
		} else {
			printed++
			g2, err := ir.Parse(buf.String())
			if err != nil {
				t.Errorf("%s: Parse: %v", name, err)
			} else if s := g2.String(); s != buf.String() {
				t.Errorf("%s: print∘parse is not the identity", name)
			}
		}

		declared := map[*ir.Value]ir.Type{}
		for _, v := range g.Outputs {
			declared[v] = v.Type
		}
		forgot := map[*ir.Value]bool{}
		_ = g.Walk(func(_ *ir.Graph, n *ir.Node) error {
			if s := ir.LookupOp(n.Domain, n.Op); s == nil || s.Infer == nil {
				return nil
			}
			for _, v := range n.Outputs {
				if v != nil {
					v.Type = ir.Type{}
					forgot[v] = true
				}
			}
			return nil
		})
		if err := ir.InferShapes(g); err != nil {
			if _, skip := inferSkip[name]; !skip {
				t.Errorf("%s: InferShapes: %v", name, err)
			}
			continue
		}
		for _, v := range g.Outputs {
			want := declared[v]
			if !forgot[v] || v.Type.Kind != ir.KindTensor || (!v.Type.Ranked && v.Type.DType == ir.Undefined) {
				continue
			}
			inferred++
			if reason, skip := inferSkip[name]; skip {
				t.Logf("%s: skipped (%s)", name, reason)
				continue
			}
			if msg := conflict(want, v.Type); msg != "" {
				t.Errorf("%s: output %s declared %s, inferred %s: %s", name, v.Name, want, v.Type, msg)
				continue
			}
			if want.String() == v.Type.String() {
				exact++
			} else if os.Getenv("OPTC_INFER_DIFF") != "" {
				t.Logf("%s: output %s declared %s, inferred %s", name, v.Name, want, v.Type)
			}
		}
	}
	t.Logf("%d of %d models imported; %d printed and parsed back; %d outputs inferred, %d exactly as declared", loaded, len(dirs), printed, inferred, exact)
}

// conflict describes how an inferred type contradicts a declared one
// ("" when compatible).
func conflict(decl, inf ir.Type) string {
	if decl.Kind != inf.Kind {
		return "kind"
	}
	if decl.DType != ir.Undefined && inf.DType != ir.Undefined && decl.DType != inf.DType {
		return "dtype"
	}
	if !decl.Ranked || !inf.Ranked {
		return ""
	}
	if len(decl.Shape) != len(inf.Shape) {
		return "rank"
	}
	var bad []string
	for i, d := range decl.Shape {
		e := inf.Shape[i]
		if d.Known() && e.Known() && d.Size != e.Size {
			bad = append(bad, "dim "+strconv.Itoa(i))
		}
	}
	return strings.Join(bad, ", ")
}
