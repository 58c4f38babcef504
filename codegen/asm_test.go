package codegen_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/optc-dev/optc/codegen"
	"github.com/optc-dev/optc/codegen/codegentest"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/targets"
)

// Codegen golden tests in the style of Go's test/codegen: small graphs are
// compiled to assembly (opt -O3, llc) for several targets, and regexes
// assert what the hot code must (and, prefixed with "-", must not)
// contain. Checks apply to the functions whose symbol contains the given
// fragment ("" = the whole module).

type asmCheck struct {
	target string // "arch/mcpu"
	fn     string // symbol fragment
	res    []string
}

func gemmGraph() *ir.Graph {
	rng := rand.New(rand.NewPCG(1, 1))
	b := ir.NewBuilder("g")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(64, 96)))
	w := b.Const("w", codegentest.Random(rng, 96, 80))
	bias := b.Const("bias", codegentest.Random(rng, 80))
	b.Output(b.Op1("Relu", nil, b.Op1("Add", nil, b.Op1("MatMul", nil, x, w), bias)))
	return b.Graph()
}

func ewGraph() *ir.Graph {
	b := ir.NewBuilder("g")
	x := b.Input("x", ir.TensorType(ir.Float32, ir.ShapeOf(16, 1000)))
	b.Output(b.Op1("Mul", nil, x, b.Op1("Sigmoid", nil, x)))
	return b.Graph()
}

var asmTests = []struct {
	name   string
	graph  func() *ir.Graph
	checks []asmCheck
}{
	{"gemm_bias_relu", gemmGraph, []asmCheck{
		// AVX2: 6x16 tile, FMA on ymm registers in the micro-kernel.
		{"x86_64/x86-64-v3", "_uk6", []string{`vfmadd\d+ps\s+[^\n]*%ymm`, `vbroadcastss`, `-%zmm`}},
		// AVX-512: zmm FMAs.
		{"x86_64/x86-64-v4", "_uk12", []string{`vfmadd\d+ps\s+[^\n]*%zmm`}},
		// NEON: fmla on 4 x f32 vectors.
		{"aarch64/generic", "_uk8", []string{`fmla\s+v\d+\.4s`}},
		// Baseline x86-64 has no FMA: separate multiply and add, no libm fmaf call.
		{"x86_64/x86-64", "_uk6", []string{`mulps`, `addps`, `-vfmadd`, `-fmaf`}},
		// No allocator anywhere in the generated code.
		{"x86_64/x86-64-v3", "", []string{`-call\s+\S*(malloc|free|calloc)`}},
		{"aarch64/generic", "", []string{`-bl\s+\S*(malloc|free|calloc)`}},
	}},
	{"conv3x3_relu", convGraph, []asmCheck{
		// Conv as im2col + the GEMM micro-kernel: vector FMA in the tile.
		{"x86_64/x86-64-v3", "_uk6", []string{`vfmadd\d+ps\s+[^\n]*%ymm`}},
		{"aarch64/generic", "_uk8", []string{`fmla\s+v\d+\.4s`}},
		{"x86_64/x86-64-v3", "", []string{`-call\s+\S*(malloc|free|calloc)`}},
	}},
	{"dwconv3x3", dwConvGraph, []asmCheck{
		// Depthwise: broadcast weight times a vector of output columns.
		{"x86_64/x86-64-v3", "", []string{`vfmadd\d+ps\s+[^\n]*%ymm`}},
		{"aarch64/generic", "", []string{`fmla\s+v\d+\.4s`}},
	}},
	{"silu_fused", ewGraph, []asmCheck{
		// One fused loop: the polynomial exp is inline (FMAs, no libm call).
		{"x86_64/x86-64-v3", "", []string{`vfmadd\d+ps\s+[^\n]*%ymm`, `vdivps`, `-call\s+\S*(malloc|free|exp)`}},
		{"aarch64/generic", "", []string{`fmla\s+v\d+\.4s`, `fdiv\s+v\d+\.4s`, `-bl\s+\S*(malloc|free|exp)`}},
	}},
}

func TestAsm(t *testing.T) {
	for _, tt := range asmTests {
		byTarget := map[string][]asmCheck{}
		for _, c := range tt.checks {
			byTarget[c.target] = append(byTarget[c.target], c)
		}
		for tg, checks := range byTarget {
			t.Run(tt.name+"/"+tg, func(t *testing.T) {
				t.Parallel()
				target := lookupTarget(t, tg)
				asm := compileAsm(t, tt.graph(), target)
				for _, c := range checks {
					text := asm
					if c.fn != "" {
						text = funcAsm(asm, c.fn)
						if text == "" {
							t.Fatalf("no function matching %q in the assembly", c.fn)
						}
					}
					for _, re := range c.res {
						neg := strings.HasPrefix(re, "-")
						re = strings.TrimPrefix(re, "-")
						found := regexp.MustCompile(re).MatchString(text)
						if found == neg {
							what := "missing"
							if neg {
								what = "unexpected"
							}
							t.Errorf("%s in %q: %s %q", tg, c.fn, what, re)
						}
					}
				}
				if t.Failed() {
					p := filepath.Join(t.TempDir(), "out.s")
					os.WriteFile(p, []byte(asm), 0o644)
					t.Logf("assembly in %s", p)
				}
			})
		}
	}
}

// lookupTarget resolves an "arch/mcpu" test target spec.
func lookupTarget(t *testing.T, spec string) *targets.Target {
	t.Helper()
	arch, mcpu, _ := strings.Cut(spec, "/")
	target, err := targets.Lookup(arch, mcpu)
	if err != nil {
		t.Fatal(err)
	}
	return target
}

func compileAsm(t *testing.T, g *ir.Graph, target *targets.Target) string {
	t.Helper()
	res, err := codegen.Compile(g, codegen.Options{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	tc := codegentest.Toolchain(t, target)
	ctx := context.Background()
	if err := tc.Verify(ctx, res.Module); err != nil {
		t.Fatal(err)
	}
	opt, err := tc.Optimize(ctx, res.Module)
	if err != nil {
		t.Fatal(err)
	}
	asm, err := tc.Compile(ctx, opt, true)
	if err != nil {
		t.Fatal(err)
	}
	return string(asm)
}

var asmLabel = regexp.MustCompile(`^([A-Za-z_][\w.$]*):`)

// funcAsm returns the assembly of the functions whose symbol contains
// frag (from the label to .Lfunc_end).
func funcAsm(asm, frag string) string {
	var out strings.Builder
	in := false
	for _, line := range strings.Split(asm, "\n") {
		if m := asmLabel.FindStringSubmatch(line); m != nil {
			in = strings.Contains(m[1], frag)
		}
		if strings.HasPrefix(line, ".Lfunc_end") {
			in = false
		}
		if in {
			out.WriteString(line)
			out.WriteByte('\n')
		}
	}
	return out.String()
}

// TestModulesVerify compiles every differential test graph for every
// target level: each module passes opt -verify and llc.
func TestModulesVerify(t *testing.T) {
	verifyModules(t, codegentest.Cases(), allTargetLevels, false)
}

// allTargetLevels are the targets every module must verify and compile for.
var allTargetLevels = []string{"x86_64/x86-64", "x86_64/x86-64-v3", "x86_64/x86-64-v4", "aarch64/generic"}

// verifyModules compiles each case for each target ("arch/mcpu"): the
// module passes opt -verify and llc, and with requireNative no node falls
// back to the interpreter.
func verifyModules(t *testing.T, cases []codegentest.Case, tgs []string, requireNative bool) {
	for _, c := range cases {
		for _, tg := range tgs {
			t.Run(fmt.Sprintf("%s/%s", c.Name, tg), func(t *testing.T) {
				t.Parallel()
				target := lookupTarget(t, tg)
				res, err := codegen.Compile(c.Build(), codegen.Options{Target: target, Shapes: c.Shapes})
				if err != nil {
					t.Fatal(err)
				}
				if requireNative && !res.FullyNative() {
					t.Fatalf("fallback: %v", res.Fallback)
				}
				tc := codegentest.Toolchain(t, target)
				if err := tc.Verify(context.Background(), res.Module); err != nil {
					t.Fatal(err)
				}
				if _, err := tc.Compile(context.Background(), res.Module, false); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
