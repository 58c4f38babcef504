package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/optc-dev/optc/codegen"
	"github.com/optc-dev/optc/frontend/onnx"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/runtime/interp"
)

// inspectReport is what `optc inspect` prints; its JSON form is stable for
// scripts.
type inspectReport struct {
	Model      string            `json:"model"`
	Graph      string            `json:"graph"`
	Opsets     map[string]int64  `json:"opsets"`
	Meta       map[string]string `json:"meta,omitempty"`
	Inputs     []ioReport        `json:"inputs"`
	Outputs    []ioReport        `json:"outputs"`
	Nodes      int               `json:"nodes"`
	Subgraphs  int               `json:"subgraphs"`
	Params     int64             `json:"params"`
	ParamBytes int64             `json:"param_bytes"`
	FLOPs      int64             `json:"flops"`
	// FLOPsUnknownNodes counts nodes whose cost could not be computed
	// (unknown shapes or no cost model); FLOPs is then a lower bound.
	FLOPsUnknownNodes int `json:"flops_unknown_nodes"`
	// FLOPsDims are the symbolic input dims bound to compute FLOPs.
	FLOPsDims map[string]int64 `json:"flops_dims,omitempty"`
	Ops       []opReport       `json:"ops"`
	Coverage  coverage         `json:"coverage"`
}

type ioReport struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type opReport struct {
	Op      string `json:"op"`
	Count   int    `json:"count"`
	Interp  bool   `json:"interp"`
	Codegen bool   `json:"codegen"`
}

type coverage struct {
	Ops          int `json:"ops"`
	InterpOps    int `json:"interp_ops"`
	CodegenOps   int `json:"codegen_ops"`
	InterpNodes  int `json:"interp_nodes"`
	CodegenNodes int `json:"codegen_nodes"`
	Nodes        int `json:"nodes"`
}

func newInspectCmd() *cobra.Command {
	var asJSON bool
	var dims []string
	cmd := &cobra.Command{
		Use:   "inspect model.onnx [--dim name=size]",
		Short: "Print a model's graph summary, op counts, parameters, FLOPs and op coverage",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := onnx.LoadFile(args[0])
			if err != nil {
				return err
			}
			bind, err := parseDims(dims)
			if err != nil {
				return err
			}
			r, err := buildInspectReport(args[0], g, bind)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			return printInspect(cmd.OutOrStdout(), r)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	cmd.Flags().StringArrayVar(&dims, "dim", nil, "bind a symbolic input dim for FLOPs, as name=size (default 1)")
	return cmd
}

func buildInspectReport(path string, g *ir.Graph, bind map[string]int64) (*inspectReport, error) {
	var inputs []ioReport
	for _, v := range g.Inputs {
		inputs = append(inputs, ioReport{v.Name, v.Type.String()})
	}
	// FLOPs need concrete shapes: symbolic input dims are bound (default
	// 1) before shape inference fills the intermediate types. A model it
	// cannot fully infer is still inspectable.
	bound := bindInputDims(g, bind)
	inferErr := ir.InferShapes(g)
	st := ir.ComputeStats(g)
	cost, unknown := ir.GraphCost(g)
	r := &inspectReport{
		Model: filepath.Base(path), Graph: g.Name, Opsets: g.Opsets, Meta: g.Meta,
		Nodes: st.Nodes, Subgraphs: st.Subgraphs, Params: st.Params, ParamBytes: st.ParamBytes,
		FLOPs: cost.FLOPs, FLOPsUnknownNodes: unknown, FLOPsDims: bound, Inputs: inputs,
	}
	if inferErr != nil {
		r.FLOPsUnknownNodes = st.Nodes
	}
	for _, v := range g.Outputs {
		r.Outputs = append(r.Outputs, ioReport{v.Name, v.Type.String()})
	}
	domains := opDomains(g)
	for _, oc := range st.Ops {
		d := domains[oc.Op]
		op := opReport{Op: oc.Op, Count: oc.Count, Interp: interp.HasKernel(d[0], d[1]), Codegen: codegen.HasOp(d[0], d[1])}
		r.Ops = append(r.Ops, op)
		r.Coverage.Ops++
		r.Coverage.Nodes += oc.Count
		if op.Interp {
			r.Coverage.InterpOps++
			r.Coverage.InterpNodes += oc.Count
		}
		if op.Codegen {
			r.Coverage.CodegenOps++
			r.Coverage.CodegenNodes += oc.Count
		}
	}
	return r, nil
}

// opDomains maps a qualified op name back to its (domain, op) pair.
func opDomains(g *ir.Graph) map[string][2]string {
	m := map[string][2]string{}
	_ = g.Walk(func(_ *ir.Graph, n *ir.Node) error {
		m[ir.QualifiedOp(n.Domain, n.Op)] = [2]string{n.Domain, n.Op}
		return nil
	})
	return m
}

func printInspect(w io.Writer, r *inspectReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s\n", r.Model)
	fmt.Fprintf(tw, "opsets\t%s\n", formatOpsets(r.Opsets))
	if p := r.Meta["producer"]; p != "" {
		fmt.Fprintf(tw, "producer\t%s %s\n", p, r.Meta["producer_version"])
	}
	for _, in := range r.Inputs {
		fmt.Fprintf(tw, "input\t%s\t%s\n", in.Name, in.Type)
	}
	for _, out := range r.Outputs {
		fmt.Fprintf(tw, "output\t%s\t%s\n", out.Name, out.Type)
	}
	fmt.Fprintf(tw, "nodes\t%d (%d subgraphs)\n", r.Nodes, r.Subgraphs)
	fmt.Fprintf(tw, "params\t%s (%s)\n", groupDigits(r.Params), humanBytes(r.ParamBytes))
	flops := groupDigits(r.FLOPs)
	if r.FLOPsUnknownNodes > 0 {
		flops = fmt.Sprintf("≥ %s (%d nodes of unknown cost)", flops, r.FLOPsUnknownNodes)
	}
	if len(r.FLOPsDims) > 0 {
		flops += " at " + formatDims(r.FLOPsDims)
	}
	fmt.Fprintf(tw, "FLOPs\t%s\n", flops)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "op\tcount\tinterp\tcodegen")
	for _, op := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", op.Op, op.Count, yesNo(op.Interp), yesNo(op.Codegen))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	c := r.Coverage
	_, err := fmt.Fprintf(w, "\ncoverage: interpreter %d/%d ops (%d/%d nodes), codegen %d/%d ops (%d/%d nodes)\n",
		c.InterpOps, c.Ops, c.InterpNodes, c.Nodes, c.CodegenOps, c.Ops, c.CodegenNodes, c.Nodes)
	return err
}

// bindInputDims replaces the symbolic and unknown dims of the graph's
// inputs by concrete sizes (bind[name], default 1) and returns the
// bindings made, by dim name ("?" for anonymous dims).
func bindInputDims(g *ir.Graph, bind map[string]int64) map[string]int64 {
	bound := map[string]int64{}
	for _, v := range g.Inputs {
		if v.Type.Kind != ir.KindTensor || !v.Type.Ranked {
			continue
		}
		shape := append(ir.Shape{}, v.Type.Shape...)
		for i, d := range shape {
			if d.Known() {
				continue
			}
			name := d.Param
			if name == "" {
				name = "?"
			}
			n, ok := bind[name]
			if !ok {
				n = 1
			}
			bound[name] = n
			shape[i] = ir.D(n)
		}
		v.Type.Shape = shape
	}
	if len(bound) == 0 {
		return nil
	}
	// Declared types elsewhere (outputs, value_info) name the same dims.
	subst := func(v *ir.Value) {
		if v == nil || !v.Type.Ranked {
			return
		}
		shape := append(ir.Shape{}, v.Type.Shape...)
		for i, d := range shape {
			if n, ok := bound[d.Param]; ok && d.Param != "" {
				shape[i] = ir.D(n)
			}
		}
		v.Type.Shape = shape
	}
	for _, v := range g.Outputs {
		subst(v)
	}
	for _, n := range g.Nodes {
		for _, v := range n.Outputs {
			subst(v)
		}
	}
	return bound
}

func formatDims(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func formatOpsets(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := k
		if name == "" {
			name = "ai.onnx"
		}
		parts[i] = fmt.Sprintf("%s %d", name, m[k])
	}
	return strings.Join(parts, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
