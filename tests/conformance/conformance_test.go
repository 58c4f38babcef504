package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/frontend/onnx/onnxpb"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
	"github.com/optc-dev/optc/runtime/interp"
)

// confSuites are the suites of libonnx-testdata the runner covers, in
// the order they run.
var confSuites = []string{"node", "pytorch-converted", "pytorch-operator", "simple"}

const confDefaultRoot = "/usr/share/libonnx-testdata/data"

func confDataRoot() string {
	if r := os.Getenv("OPTC_ONNX_TESTDATA"); r != "" {
		return r
	}
	return confDefaultRoot
}

func confTimeout(t *testing.T) time.Duration {
	s := os.Getenv("OPTC_CONFORMANCE_TIMEOUT")
	if s == "" {
		return 20 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("OPTC_CONFORMANCE_TIMEOUT=%q: want a positive duration such as 20s", s)
	}
	return d
}

type confOutcome int

const (
	confPassed confOutcome = iota
	confFailed
	confSkipped // skiplist "skip"
	confXFailed // skiplist "xfail" that failed as expected
)

type confResult struct {
	id      string // suite/name
	dir     string
	outcome confOutcome
	msg     string
}

type confRecorder struct {
	mu      sync.Mutex
	results []confResult
}

func (r *confRecorder) add(res confResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
}

func TestConformance(t *testing.T) { confRun(t, "", true) }

// TestPassesOnConformance runs every conformance test again after the
// generic passes (constant folding, dead-code elimination, with the
// verifier after each): the passes must not change any result.
func TestPassesOnConformance(t *testing.T) { confRun(t, "fold,dce", false) }

func confRun(t *testing.T, pipeline string, summary bool) {
	root := confDataRoot()
	if _, err := os.Stat(filepath.Join(root, "node")); err != nil {
		t.Skipf("ONNX conformance data not found at %s: install Debian's libonnx-testdata (apt-get install libonnx-testdata) or set OPTC_ONNX_TESTDATA", root)
	}
	cases, err := confListCases(root)
	if err != nil {
		t.Fatal(err)
	}
	skips, err := confLoadSkiplist("skiplist.txt", cases)
	if err != nil {
		t.Fatal(err)
	}
	timeout := confTimeout(t)
	rec := &confRecorder{}
	for _, suite := range confSuites {
		t.Run(suite, func(t *testing.T) {
			for _, name := range cases[suite] {
				id := suite + "/" + name
				dir := filepath.Join(root, suite, name)
				t.Run(name, func(t *testing.T) {
					entry, listed := skips[id]
					if listed && entry.kind == "skip" {
						rec.add(confResult{id: id, dir: dir, outcome: confSkipped})
						t.Skip("skiplist.txt: " + entry.reason)
					}
					t.Parallel()
					err := confRunCase(dir, pipeline, timeout)
					switch {
					case listed && err != nil:
						rec.add(confResult{id: id, dir: dir, outcome: confXFailed, msg: err.Error()})
						t.Skipf("xfail (skiplist.txt: %s); fails with: %s", entry.reason, confFirstLine(err.Error()))
					case listed:
						rec.add(confResult{id: id, dir: dir, outcome: confFailed, msg: "passes but is listed as xfail"})
						t.Errorf("remove %s from skiplist.txt: it passes now", id)
					case err != nil:
						rec.add(confResult{id: id, dir: dir, outcome: confFailed, msg: err.Error()})
						t.Error(err)
					default:
						rec.add(confResult{id: id, dir: dir, outcome: confPassed})
					}
				})
			}
		})
	}
	if summary {
		confFinish(t, rec)
	}
}

// confFinish prints the report (with -v or $OPTC_CONFORMANCE_REPORT) and
// the summary line.
func confFinish(t *testing.T, rec *confRecorder) {
	rec.mu.Lock()
	results := append([]confResult(nil), rec.results...)
	rec.mu.Unlock()
	sort.Slice(results, func(i, j int) bool { return results[i].id < results[j].id })
	// One line per suite that ran, then the overall line (last, so that
	// `make conformance` ends with it).
	type tally struct{ passed, failed, skipped int }
	perSuite := map[string]*tally{}
	var all tally
	for _, r := range results {
		suite, _, _ := strings.Cut(r.id, "/")
		if perSuite[suite] == nil {
			perSuite[suite] = &tally{}
		}
		for _, c := range []*tally{perSuite[suite], &all} {
			switch r.outcome {
			case confPassed:
				c.passed++
			case confFailed:
				c.failed++
			default:
				c.skipped++
			}
		}
	}
	for _, suite := range confSuites {
		if c := perSuite[suite]; c != nil {
			fmt.Printf("conformance %s: %d passed, %d failed, %d skipped\n", suite, c.passed, c.failed, c.skipped)
		}
	}
	summary := fmt.Sprintf("conformance: %d passed, %d failed, %d skipped", all.passed, all.failed, all.skipped)
	path := os.Getenv("OPTC_CONFORMANCE_REPORT")
	if testing.Verbose() || path != "" {
		report := confReport(results)
		if testing.Verbose() {
			fmt.Print(report)
		}
		if path != "" {
			if err := os.WriteFile(path, []byte(report+summary+"\n"), 0o644); err != nil {
				t.Errorf("writing the report: %v", err)
			}
		}
	}
	fmt.Println(summary)
}

// confReport is the per-op table of failing and xfail tests (every op type
// in each such model counts once per test), then the first error line of
// each failing test.
func confReport(results []confResult) string {
	type counts struct{ failed, xfail int }
	ops := map[string]*counts{}
	var failures []string
	for _, r := range results {
		if r.outcome != confFailed && r.outcome != confXFailed {
			continue
		}
		for _, op := range confModelOps(filepath.Join(r.dir, "model.onnx")) {
			c := ops[op]
			if c == nil {
				c = &counts{}
				ops[op] = c
			}
			if r.outcome == confFailed {
				c.failed++
			} else {
				c.xfail++
			}
		}
		if r.outcome == confFailed {
			failures = append(failures, fmt.Sprintf("  %s: %s", r.id, confFirstLine(r.msg)))
		}
	}
	names := make([]string, 0, len(ops))
	for op := range ops {
		names = append(names, op)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := ops[names[i]], ops[names[j]]
		if a.failed+a.xfail != b.failed+b.xfail {
			return a.failed+a.xfail > b.failed+b.xfail
		}
		return names[i] < names[j]
	})
	var sb strings.Builder
	sb.WriteString("conformance report: ops in failing tests (each op counts once per test)\n")
	fmt.Fprintf(&sb, "  %-36s %7s %7s\n", "op", "failed", "xfail")
	for _, op := range names {
		fmt.Fprintf(&sb, "  %-36s %7d %7d\n", op, ops[op].failed, ops[op].xfail)
	}
	fmt.Fprintf(&sb, "conformance report: %d failing tests\n", len(failures))
	for _, f := range failures {
		sb.WriteString(f + "\n")
	}
	return sb.String()
}

func confFirstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// confModelOps lists the distinct op types (domain-qualified outside the
// default domain) of a model, subgraphs included. It reads the protobuf
// directly so that models the frontend rejects are covered too.
func confModelOps(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return []string{"(unreadable model)"}
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return []string{"(unreadable model)"}
	}
	set := map[string]bool{}
	var walk func(g *onnxpb.GraphProto)
	walk = func(g *onnxpb.GraphProto) {
		for _, n := range g.GetNode() {
			op := n.GetOpType()
			if d := n.GetDomain(); d != "" && d != "ai.onnx" {
				op = d + "." + op
			}
			set[op] = true
			for _, a := range n.GetAttribute() {
				if a.GetG() != nil {
					walk(a.GetG())
				}
				for _, sg := range a.GetGraphs() {
					walk(sg)
				}
			}
		}
	}
	walk(m.GetGraph())
	ops := make([]string, 0, len(set))
	for op := range set {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

// confListCases returns the test directories of every suite, sorted.
func confListCases(root string) (map[string][]string, error) {
	cases := map[string][]string{}
	for _, suite := range confSuites {
		ents, err := os.ReadDir(filepath.Join(root, suite))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.IsDir() {
				cases[suite] = append(cases[suite], e.Name())
			}
		}
	}
	return cases, nil
}

type confSkipEntry struct {
	kind   string // "skip" or "xfail"
	reason string
}

// confLoadSkiplist parses skiplist.txt: "<suite>/<test>  <kind>  <reason>"
// per line, '#' comments and blank lines ignored. Every entry needs a known
// kind and a reason and must name an existing test, once.
func confLoadSkiplist(path string, cases map[string][]string) (map[string]confSkipEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	exists := map[string]bool{}
	for suite, names := range cases {
		for _, n := range names {
			exists[suite+"/"+n] = true
		}
	}
	entries := map[string]confSkipEntry{}
	var problems []string
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("%s:%d: %s", path, ln, fmt.Sprintf(format, args...)))
		}
		if len(fields) < 3 {
			bad("want \"<suite>/<test>  skip|xfail  <reason>\", got %q (every entry needs a reason)", line)
			continue
		}
		id, kind := fields[0], fields[1]
		reason := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(line, id)), kind))
		if kind != "skip" && kind != "xfail" {
			bad("kind %q of %s: want skip or xfail", kind, id)
			continue
		}
		if !exists[id] {
			bad("%s: no such test (want <suite>/<test name> with suite one of %v)", id, confSuites)
			continue
		}
		if _, dup := entries[id]; dup {
			bad("%s is listed twice", id)
			continue
		}
		entries[id] = confSkipEntry{kind: kind, reason: reason}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, errors.New("invalid skip list:\n" + strings.Join(problems, "\n"))
	}
	return entries, nil
}

// confRunCase runs every test data set of one test directory. It returns
// nil when every output of every set matches.
func confRunCase(dir, pipeline string, timeout time.Duration) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in the conformance runner: %v", r)
		}
	}()
	g, err := onnx.LoadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return fmt.Errorf("loading the model: %w", err)
	}
	if pipeline != "" {
		ps, err := passes.ParsePipeline(pipeline)
		if err != nil {
			return err
		}
		if err := passes.Run(passes.NewContext(1), g, ps); err != nil {
			return err
		}
	}
	sets, err := confNumbered(dir, "test_data_set_", "")
	if err != nil {
		return err
	}
	if len(sets) == 0 {
		return errors.New("no test_data_set_* directories")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, set := range sets {
		if err := confRunSet(ctx, timeout, g, set); err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(set), err)
		}
	}
	return nil
}

func confRunSet(ctx context.Context, timeout time.Duration, g *ir.Graph, set string) error {
	inFiles, err := confNumbered(set, "input_", ".pb")
	if err != nil {
		return err
	}
	outFiles, err := confNumbered(set, "output_", ".pb")
	if err != nil {
		return err
	}
	if len(inFiles) > len(g.Inputs) {
		return fmt.Errorf("%d input files for a graph with %d inputs", len(inFiles), len(g.Inputs))
	}
	if len(outFiles) > len(g.Outputs) {
		return fmt.Errorf("%d output files for a graph with %d outputs", len(outFiles), len(g.Outputs))
	}
	inputs := make(map[string]interp.Value, len(g.Inputs))
	for i, in := range g.Inputs {
		if i >= len(inFiles) {
			inputs[in.Name] = nil // not given: an absent optional input
			continue
		}
		tv, err := onnx.ReadTestData(inFiles[i], in.Type)
		if err != nil {
			return fmt.Errorf("reading input %d %q: %w", i, in.Name, err)
		}
		inputs[in.Name] = confValue(tv)
	}
	wants := make([]onnx.TestValue, len(outFiles))
	for i, f := range outFiles {
		tv, err := onnx.ReadTestData(f, g.Outputs[i].Type)
		if err != nil {
			return fmt.Errorf("reading expected output %d %q: %w", i, g.Outputs[i].Name, err)
		}
		wants[i] = tv
	}
	got, err := confRunGraph(ctx, timeout, g, inputs)
	if err != nil {
		return err
	}
	var diffs []string
	for i, want := range wants {
		name := g.Outputs[i].Name
		if d := confCompare(got[name], want); d != "" {
			diffs = append(diffs, fmt.Sprintf("output %d %q: %s", i, name, d))
		}
	}
	if len(diffs) > 0 {
		return errors.New(strings.Join(diffs, "\n"))
	}
	return nil
}

// confRunGraph runs the interpreter, giving up when ctx expires even if a
// kernel never returns (its goroutine is then abandoned).
func confRunGraph(ctx context.Context, timeout time.Duration, g *ir.Graph, inputs map[string]interp.Value) (map[string]interp.Value, error) {
	type result struct {
		out map[string]interp.Value
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- result{err: fmt.Errorf("panic in the interpreter: %v", r)}
			}
		}()
		out, err := interp.Run(ctx, g, inputs)
		ch <- result{out, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("timed out after %v: %w", timeout, r.err)
		}
		if r.err != nil {
			return nil, fmt.Errorf("running: %w", r.err)
		}
		return r.out, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("timed out after %v (a kernel did not return)", timeout)
	}
}

// confNumbered lists dir's entries named prefix<N>suffix, by N.
func confNumbered(dir, prefix, suffix string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type numbered struct {
		n    int
		path string
	}
	var found []numbered
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		rest, ok = strings.CutSuffix(rest, suffix)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 {
			continue
		}
		found = append(found, numbered{n, filepath.Join(dir, e.Name())})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].n < found[j].n })
	paths := make([]string, len(found))
	for i, f := range found {
		if f.n != i {
			return nil, fmt.Errorf("%s: %s%d%s is missing", dir, prefix, i, suffix)
		}
		paths[i] = f.path
	}
	return paths, nil
}
