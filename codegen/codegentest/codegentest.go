// Package codegentest holds helpers for tests of generated code: compile a
// graph into a bundle, make seeded inputs, compare tensors with a stated
// tolerance. It is imported only by tests.
package codegentest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optc-dev/optc/bundle/build"
	"github.com/optc-dev/optc/codegen"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/passes"
	"github.com/optc-dev/optc/targets"
)

// Toolchain returns the toolchain for t, skipping the test when LLVM 14 or
// the target's C compiler is not installed.
func Toolchain(tb testing.TB, t *targets.Target) *targets.Toolchain {
	tb.Helper()
	tc, err := targets.FindToolchain(t)
	if err != nil {
		tb.Skipf("toolchain for %s: %v", t.Name, err)
	}
	return tc
}

// Host is the target of this machine.
func Host(tb testing.TB) *targets.Target {
	tb.Helper()
	t, err := targets.Host()
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// Bundle compiles g (shapes bound in place) for t into dir with the given
// emit stage ("" = bundle) and returns codegen's result.
func Bundle(tb testing.TB, g *ir.Graph, t *targets.Target, shapes map[string][]int64, dir, emit string) *codegen.Result {
	tb.Helper()
	res := Compile(tb, g, t, shapes)
	tc := Toolchain(tb, t)
	if _, err := build.Build(context.Background(), res, build.Options{Name: "model", OutDir: dir, Emit: emit, Version: "test", Toolchain: tc}); err != nil {
		tb.Fatalf("build: %v", err)
	}
	return res
}

// Compile runs optc compile's default passes on g (folding a transposed
// weight, for one; the graph stays equivalent for the interpreter) and
// compiles it for t, binding shapes in place: Bundle without the
// toolchain, so a test can see what falls back before it builds anything.
func Compile(tb testing.TB, g *ir.Graph, t *targets.Target, shapes map[string][]int64) *codegen.Result {
	tb.Helper()
	pl, err := passes.ParsePipeline(codegen.DefaultPipeline)
	if err != nil {
		tb.Fatal(err)
	}
	if err := passes.Run(passes.NewContext(1), g, pl); err != nil {
		tb.Fatal(err)
	}
	res, err := codegen.Compile(g, codegen.Options{Target: t, Shapes: shapes})
	if err != nil {
		tb.Fatalf("compile: %v", err)
	}
	return res
}

// Inputs makes seeded inputs for g's (bound) inputs: float32 uniform in
// [-1, 1).
func Inputs(tb testing.TB, g *ir.Graph, seed uint64) map[string]*ir.Tensor {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	in := map[string]*ir.Tensor{}
	for _, v := range g.Inputs {
		shape, ok := v.Type.Shape.Concrete()
		if !ok || v.Type.DType != ir.Float32 {
			tb.Fatalf("input %s: need a bound f32 tensor, have %s", v.Name, v.Type)
		}
		in[v.Name] = Random(rng, shape...)
	}
	return in
}

// Random is a float32 tensor uniform in [-1, 1).
func Random(rng *rand.Rand, shape ...int64) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	d := t.Data.([]float32)
	for i := range d {
		d[i] = float32(rng.Float64()*2 - 1)
	}
	return t
}

// Close reports whether every element of got is within atol + rtol*|want|
// of want (NaN matches NaN, infinities must be equal) and describes the
// worst element otherwise.
func Close(got, want *ir.Tensor, atol, rtol float64) error {
	if got.DType != want.DType {
		return fmt.Errorf("dtype %s, want %s", got.DType, want.DType)
	}
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	worst, wi := 0.0, -1
	for i := 0; i < want.Len(); i++ {
		g, w := got.Float64At(i), want.Float64At(i)
		switch {
		case math.IsNaN(w):
			if !math.IsNaN(g) {
				return fmt.Errorf("element %d: got %g, want NaN", i, g)
			}
			continue
		case math.IsInf(w, 0):
			if g != w {
				return fmt.Errorf("element %d: got %g, want %g", i, g, w)
			}
			continue
		}
		excess := math.Abs(g-w) - (atol + rtol*math.Abs(w))
		if math.IsNaN(g) || excess > worst {
			worst, wi = excess, i
			if math.IsNaN(g) {
				worst = math.Inf(1)
			}
		}
	}
	if wi >= 0 {
		return fmt.Errorf("element %d: got %g, want %g (tolerance %g + %g·|want|)", wi, got.Float64At(wi), want.Float64At(wi), atol, rtol)
	}
	return nil
}
