package interp

import (
	"runtime"
	"sync"

	"github.com/optc-dev/optc/ir"
)

// Numeric plumbing shared by the convolution, pooling, normalization and
// vision kernels: conversion of tensors to a compute precision, a float
// dtype dispatcher, a parallel loop and a cache-friendly GEMM.

// convFloat is the set of compute precisions of the float kernels: float32
// (also used for f16 and bf16 tensors) and float64.
type convFloat interface{ ~float32 | ~float64 }

// convNum adds int32, the accumulator type of the integer convolutions.
type convNum interface{ ~float32 | ~float64 | ~int32 }

// convIsFloat reports whether d is a dtype the float kernels accept.
func convIsFloat(d ir.DType) bool {
	return d == ir.Float32 || d == ir.Float64 || d == ir.Float16 || d == ir.BFloat16
}

// convPlanes splits an N×C×… tensor into its batch n, channels ch and the
// number sp of elements per channel plane (0 when the tensor is empty).
func convPlanes(x *ir.Tensor) (n, ch, sp int) {
	n, ch = int(x.Shape[0]), int(x.Shape[1])
	if n*ch > 0 {
		sp = x.Len() / (n * ch)
	}
	return n, ch, sp
}

// convByFloat runs f32 for float32, float16 and bfloat16 tensors (all
// computed in float32) and f64 for float64 ones; other dtypes are an error
// naming the node and what it got.
func convByFloat(c *Call, what string, d ir.DType, f32, f64 func() ([]Value, error)) ([]Value, error) {
	switch d {
	case ir.Float32, ir.Float16, ir.BFloat16:
		return f32()
	case ir.Float64:
		return f64()
	}
	return nil, c.Errorf("%s: unsupported dtype %s (want f32, f64, f16 or bf16)", what, d)
}

// convElems returns the elements of a dense numeric tensor in precision T.
// The tensor's own slice is returned (not copied) when its Go type is
// already []T, so callers must not write to the result.
func convElems[T convFloat](t *ir.Tensor) []T {
	if d, ok := t.Data.([]T); ok {
		return d
	}
	n := t.Len()
	out := make([]T, n)
	switch d := t.Data.(type) {
	case []float32:
		for i, v := range d {
			out[i] = T(v)
		}
	case []float64:
		for i, v := range d {
			out[i] = T(v)
		}
	case []uint16:
		switch t.DType {
		case ir.Float16:
			for i, v := range d {
				out[i] = T(ir.F16ToF32(v))
			}
		case ir.BFloat16:
			for i, v := range d {
				out[i] = T(ir.BF16ToF32(v))
			}
		default:
			for i, v := range d {
				out[i] = T(v)
			}
		}
	default:
		for i := range out {
			out[i] = T(t.Float64At(i))
		}
	}
	return out
}

// convTensor wraps values computed in precision T as a tensor of dtype d
// (rounding to f16/bf16 when d is a half type). It takes ownership of v
// when no conversion is needed.
func convTensor[T convFloat](d ir.DType, shape []int64, v []T) *ir.Tensor {
	s := append([]int64{}, shape...)
	switch d {
	case ir.Float32:
		if f, ok := any(v).([]float32); ok {
			return &ir.Tensor{DType: d, Shape: s, Data: f}
		}
	case ir.Float64:
		if f, ok := any(v).([]float64); ok {
			return &ir.Tensor{DType: d, Shape: s, Data: f}
		}
	}
	t := ir.NewTensor(d, s...)
	switch out := t.Data.(type) {
	case []float32:
		for i, x := range v {
			out[i] = float32(x)
		}
	case []float64:
		for i, x := range v {
			out[i] = float64(x)
		}
	case []uint16:
		if d == ir.BFloat16 {
			for i, x := range v {
				out[i] = ir.F32ToBF16(float32(x))
			}
		} else {
			for i, x := range v {
				out[i] = ir.F32ToF16(float32(x))
			}
		}
	default:
		for i, x := range v {
			t.SetFloat64(i, float64(x))
		}
	}
	return t
}

// convOuts returns vals cut to the number of outputs the node declares
// (optional trailing outputs may be left off in the model).
func convOuts(c *Call, vals ...Value) ([]Value, error) {
	if len(vals) > len(c.Node.Outputs) {
		vals = vals[:len(c.Node.Outputs)]
	}
	return vals, nil
}

// convParallel splits [0, n) into contiguous chunks and runs fn on them
// with up to GOMAXPROCS goroutines. work is a rough cost of the whole loop
// (multiply-adds); small loops run on the calling goroutine.
func convParallel(n int, work int64, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 || work < 1<<15 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	// A few chunks per worker balance uneven chunk costs.
	chunks := workers * 4
	if chunks > n {
		chunks = n
	}
	var wg sync.WaitGroup
	next := make(chan int, chunks)
	for i := 0; i < chunks; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i*n/chunks, (i+1)*n/chunks)
			}
		}()
	}
	wg.Wait()
}

// convGemm computes C += A·B for row-major A (m×k, row stride lda),
// B (k×n, row stride ldb) and C (m×n, row stride ldc). The loop order is
// i-k-j with four rows of B combined per pass over a row of C, so the
// inner loop streams contiguous memory.
func convGemm[T convNum](m, n, k int, a []T, lda int, b []T, ldb int, cm []T, ldc int) {
	if n == 0 {
		return
	}
	for i := 0; i < m; i++ {
		c := cm[i*ldc : i*ldc+n]
		ar := a[i*lda : i*lda+k]
		p := 0
		for ; p+4 <= k; p += 4 {
			a0, a1, a2, a3 := ar[p], ar[p+1], ar[p+2], ar[p+3]
			// Re-slicing to len(c) lets the compiler drop bounds checks
			// from the inner loop.
			b0 := b[p*ldb : p*ldb+n][:len(c)]
			b1 := b[(p+1)*ldb : (p+1)*ldb+n][:len(c)]
			b2 := b[(p+2)*ldb : (p+2)*ldb+n][:len(c)]
			b3 := b[(p+3)*ldb : (p+3)*ldb+n][:len(c)]
			for j := range c {
				c[j] += a0*b0[j] + a1*b1[j] + a2*b2[j] + a3*b3[j]
			}
		}
		for ; p < k; p++ {
			a0 := ar[p]
			b0 := b[p*ldb : p*ldb+n][:len(c)]
			for j := range c {
				c[j] += a0 * b0[j]
			}
		}
	}
}
