package interp

import (
	"fmt"

	"github.com/optc-dev/optc/ir"
)

// Linear algebra kernels: MatMul, Gemm, MatMulInteger, QLinearMatMul,
// Det and Trilu. Einsum lives in linalg_einsum.go.

func init() {
	Register("MatMul", laMatMulKernel)
	Register("Gemm", laGemmKernel)
	Register("MatMulInteger", laMatMulIntegerKernel)
	Register("QLinearMatMul", laQLinearMatMulKernel)
	Register("Det", laDetKernel)
	Register("Trilu", laTriluKernel)
}

// laGemmRows computes c[m×n] = a[m×k] · b[k×n] for row-major contiguous
// operands with an i-k-j loop, accumulating in T (float32 for float32, as
// ONNX Runtime does).
//
// The k loop is blocked so that the rows of b in use stay in cache across
// the rows of a; within a block, four rows of b are folded into each pass
// over the output row (c += (a0·b0 + a1·b1) + (a2·b2 + a3·b3), in T),
// which quarters the loads and stores of c.
func laGemmRows[T laNum](m, n, k int, a, b, c []T) {
	clear(c[:m*n])
	kb := max(4, laGemmBlockElems/max(n, 1)) &^ 3
	for k0 := 0; k0 < k; k0 += kb {
		k1 := min(k, k0+kb)
		for i := 0; i < m; i++ {
			crow := c[i*n : i*n+n]
			arow := a[i*k : i*k+k]
			p := k0
			for ; p+4 <= k1; p += 4 {
				a0, a1, a2, a3 := arow[p], arow[p+1], arow[p+2], arow[p+3]
				b0 := b[p*n : p*n+n]
				b1 := b[(p+1)*n : (p+1)*n+n]
				b2 := b[(p+2)*n : (p+2)*n+n]
				b3 := b[(p+3)*n : (p+3)*n+n]
				for j := range crow {
					crow[j] += (a0*b0[j] + a1*b1[j]) + (a2*b2[j] + a3*b3[j])
				}
			}
			for ; p < k1; p++ {
				av := arow[p]
				brow := b[p*n : p*n+n]
				for j := range crow {
					crow[j] += av * brow[j]
				}
			}
		}
	}
}

// laGemmBlockElems is the number of elements of b kept hot per k block
// (about 128 KiB of float32).
const laGemmBlockElems = 32 << 10

// laMatMulShape resolves numpy.matmul shapes: it returns M, K, N, the
// broadcast batch shape, per-batch flat matrix indices of a and b, and
// the output shape (with the dims of 1-D operands removed).
type laMatMulPlan struct {
	m, k, n      int
	batch        int
	aIdx, bIdx   []int
	outShape     []int64
	aMat, bMat   int // elements per matrix of a and b
	aFull, bFull []int64
}

func laPlanMatMul(aShape, bShape []int64) (*laMatMulPlan, error) {
	if len(aShape) == 0 || len(bShape) == 0 {
		return nil, fmt.Errorf("MatMul operands must have rank >= 1, got %v and %v", aShape, bShape)
	}
	ar := append([]int64{}, aShape...)
	br := append([]int64{}, bShape...)
	squeezeA, squeezeB := false, false
	if len(ar) == 1 {
		ar = []int64{1, ar[0]}
		squeezeA = true
	}
	if len(br) == 1 {
		br = []int64{br[0], 1}
		squeezeB = true
	}
	m, k := ar[len(ar)-2], ar[len(ar)-1]
	k2, n := br[len(br)-2], br[len(br)-1]
	if k != k2 {
		return nil, fmt.Errorf("MatMul inner dimensions differ: %v · %v", aShape, bShape)
	}
	ba, bb := ar[:len(ar)-2], br[:len(br)-2]
	batch, err := broadcastShapes(ba, bb)
	if err != nil {
		return nil, fmt.Errorf("MatMul batch dims: %v", err)
	}
	p := &laMatMulPlan{m: int(m), k: int(k), n: int(n), aFull: ar, bFull: br}
	p.batch = int(ir.NumElements(batch))
	p.aIdx = broadcastIndex(ba, batch)
	p.bIdx = broadcastIndex(bb, batch)
	p.aMat, p.bMat = int(m*k), int(k*n)
	p.outShape = append([]int64{}, batch...)
	if !squeezeA {
		p.outShape = append(p.outShape, m)
	}
	if !squeezeB {
		p.outShape = append(p.outShape, n)
	}
	return p, nil
}

func laRunMatMul[T laNum](p *laMatMulPlan, a, b []T) []T {
	out := make([]T, p.batch*p.m*p.n)
	for i := 0; i < p.batch; i++ {
		ao, bo := p.aIdx[i]*p.aMat, p.bIdx[i]*p.bMat
		laGemmRows(p.m, p.n, p.k, a[ao:ao+p.aMat], b[bo:bo+p.bMat], out[i*p.m*p.n:(i+1)*p.m*p.n])
	}
	return out
}

// laMatMulTensors multiplies two tensors of the same canonical dtype.
func laMatMulTensors(c *Call, a, b *ir.Tensor) (*ir.Tensor, error) {
	p, err := laPlanMatMul(a.Shape, b.Shape)
	if err != nil {
		return nil, c.Errorf("%v", err)
	}
	switch ad := a.Data.(type) {
	case []float32:
		return ir.FromSlice(a.DType, p.outShape, laRunMatMul(p, ad, b.Data.([]float32))), nil
	case []float64:
		return ir.FromSlice(a.DType, p.outShape, laRunMatMul(p, ad, b.Data.([]float64))), nil
	case []int64:
		return ir.FromSlice(a.DType, p.outShape, laRunMatMul(p, ad, b.Data.([]int64))), nil
	case []uint64:
		return ir.FromSlice(a.DType, p.outShape, laRunMatMul(p, ad, b.Data.([]uint64))), nil
	}
	return nil, c.Errorf("MatMul of %s is not supported", a.DType)
}

// laMatMulTypes are the dtypes MatMul and Gemm accept.
var laMatMulTypes = []ir.DType{ir.Float32, ir.Float16, ir.BFloat16, ir.Float64, ir.Int32, ir.Int64, ir.Uint32, ir.Uint64}

func laMatMulKernel(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 2, 2)
	if err != nil {
		return nil, err
	}
	a, b := args[0], args[1]
	if a.DType != b.DType {
		return nil, c.Errorf("operand dtypes differ: %s and %s", a.DType, b.DType)
	}
	if err := laRequire(c, "A", a.DType, laMatMulTypes...); err != nil {
		return nil, err
	}
	ca, _ := laCanon(c, a)
	cb, _ := laCanon(c, b)
	y, err := laMatMulTensors(c, ca, cb)
	if err != nil {
		return nil, err
	}
	return one(laUncanon(y, a.DType))
}

// laTranspose2D returns the transpose of a row-major r×s matrix.
func laTranspose2D[T laNum](d []T, r, s int) []T {
	out := make([]T, len(d))
	for i := 0; i < r; i++ {
		for j := 0; j < s; j++ {
			out[j*r+i] = d[i*s+j]
		}
	}
	return out
}

// laGemm computes alpha·A'·B' + beta·C for canonical operands.
func laGemm[T laNum](a, b []T, m, k, n int, transA, transB bool, alpha float64, cData []T, cIdx []int, beta float64) []T {
	if transA {
		a = laTranspose2D(a, k, m)
	}
	if transB {
		b = laTranspose2D(b, n, k)
	}
	y := make([]T, m*n)
	laGemmRows(m, n, k, a, b, y)
	if alpha != 1 {
		for i := range y {
			y[i] = laScaleBy(y[i], alpha)
		}
	}
	if cData != nil && beta != 0 {
		for i := range y {
			y[i] += laScaleBy(cData[cIdx[i]], beta)
		}
	}
	return y
}

// laScaleBy multiplies v by a float attribute s: in T for floating-point
// T, through float64 (truncating) for integers.
func laScaleBy[T laNum](v T, s float64) T {
	switch x := any(v).(type) {
	case float32:
		return T(x * float32(s))
	case float64:
		return T(x * s)
	}
	if s == 1 {
		return v
	}
	return T(float64(v) * s)
}

func laGemmKernel(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 2, 3)
	if err != nil {
		return nil, err
	}
	a, b, ct := args[0], args[1], args[2]
	if a.DType != b.DType || (ct != nil && ct.DType != a.DType) {
		return nil, c.Errorf("operand dtypes differ")
	}
	if err := laRequire(c, "A", a.DType, laMatMulTypes...); err != nil {
		return nil, err
	}
	if a.Rank() != 2 || b.Rank() != 2 {
		return nil, c.Errorf("A and B must be 2-D, got %v and %v", a.Shape, b.Shape)
	}
	transA := c.Node.AttrInt("transA", 0) != 0
	transB := c.Node.AttrInt("transB", 0) != 0
	alpha := float64(c.Node.AttrFloat("alpha", 1))
	beta := float64(c.Node.AttrFloat("beta", 1))
	m, k := a.Shape[0], a.Shape[1]
	if transA {
		m, k = k, m
	}
	kb, n := b.Shape[0], b.Shape[1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		return nil, c.Errorf("inner dimensions differ: A %v (transA=%v), B %v (transB=%v)", a.Shape, transA, b.Shape, transB)
	}
	outShape := []int64{m, n}
	var cIdx []int
	if ct != nil {
		bs, err := broadcastShapes(ct.Shape, outShape)
		if err != nil || !sameShape(bs, outShape) {
			return nil, c.Errorf("C of shape %v does not broadcast to %v", ct.Shape, outShape)
		}
		cIdx = broadcastIndex(ct.Shape, outShape)
	}
	ca, _ := laCanon(c, a)
	cb, _ := laCanon(c, b)
	var cc *ir.Tensor
	if ct != nil {
		cc, _ = laCanon(c, ct)
	}
	M, K, N := int(m), int(k), int(n)
	var y *ir.Tensor
	switch ad := ca.Data.(type) {
	case []float32:
		y = ir.FromSlice(ir.Float32, outShape, laGemm(ad, cb.Data.([]float32), M, K, N, transA, transB, alpha, laDataOrNil[float32](cc), cIdx, beta))
	case []float64:
		y = ir.FromSlice(ir.Float64, outShape, laGemm(ad, cb.Data.([]float64), M, K, N, transA, transB, alpha, laDataOrNil[float64](cc), cIdx, beta))
	case []int64:
		y = ir.FromSlice(ir.Int64, outShape, laGemm(ad, cb.Data.([]int64), M, K, N, transA, transB, alpha, laDataOrNil[int64](cc), cIdx, beta))
	case []uint64:
		y = ir.FromSlice(ir.Uint64, outShape, laGemm(ad, cb.Data.([]uint64), M, K, N, transA, transB, alpha, laDataOrNil[uint64](cc), cIdx, beta))
	default:
		return nil, c.Errorf("Gemm of %s is not supported", a.DType)
	}
	return one(laUncanon(y, a.DType))
}

// laDataOrNil returns the data of t, or nil for a nil tensor.
func laDataOrNil[T laNum](t *ir.Tensor) []T {
	if t == nil {
		return nil
	}
	return t.Data.([]T)
}

// laZeroPointed returns x - zp as an int64 tensor, where zp is either a
// scalar or broadcasts against x after rowShape adjustment: a 1-D zero
// point of length x.Shape[-2] (per row of A) is reshaped to [M, 1] when
// perRow is set.
func laZeroPointed(c *Call, x, zp *ir.Tensor, perRow bool, what string) (*ir.Tensor, error) {
	xi := laConvert(x, ir.Int64)
	if zp == nil {
		return xi, nil
	}
	if zp.DType != x.DType {
		return nil, c.Errorf("%s zero point dtype %s differs from its tensor's %s", what, zp.DType, x.DType)
	}
	zs := zp.Shape
	if perRow && zp.Rank() == 1 && zp.Len() != 1 {
		zs = []int64{zp.Shape[0], 1}
	}
	bs, err := broadcastShapes(zs, x.Shape)
	if err != nil || !sameShape(bs, x.Shape) {
		return nil, c.Errorf("%s zero point of shape %v does not fit a tensor of shape %v", what, zp.Shape, x.Shape)
	}
	idx := broadcastIndex(zs, x.Shape)
	out := xi.Data.([]int64)
	if xi == x {
		out = append([]int64(nil), out...)
	}
	for i := range out {
		out[i] -= zp.Int64At(idx[i])
	}
	return ir.FromSlice(ir.Int64, x.Shape, out), nil
}

func laMatMulIntegerKernel(c *Call, in []Value) ([]Value, error) {
	args, err := tensorArgs(c, in, 2, 4)
	if err != nil {
		return nil, err
	}
	a, b, azp, bzp := args[0], args[1], args[2], args[3]
	for _, t := range []*ir.Tensor{a, b} {
		if err := laRequire(c, "input", t.DType, ir.Int8, ir.Uint8); err != nil {
			return nil, err
		}
	}
	y, err := laIntegerProduct(c, a, azp, "A", b, bzp, "B")
	if err != nil {
		return nil, err
	}
	return one(laConvert(y, ir.Int32))
}

// laIntegerProduct is the int64 matrix product of a and b with their zero
// points (nil: none) subtracted, a's per row and b's per column; aName and
// bName name them in errors.
func laIntegerProduct(c *Call, a, azp *ir.Tensor, aName string, b, bzp *ir.Tensor, bName string) (*ir.Tensor, error) {
	ai, err := laZeroPointed(c, a, azp, true, aName)
	if err != nil {
		return nil, err
	}
	bi, err := laZeroPointed(c, b, bzp, false, bName)
	if err != nil {
		return nil, err
	}
	return laMatMulTensors(c, ai, bi)
}

// laScaleFor returns, for every element of an output of shape out, the
// float32 scale of a per-tensor or per-row/per-column scale tensor s.
func laScaleIndex(c *Call, s *ir.Tensor, perRow bool, out []int64, what string) ([]int, error) {
	ss := s.Shape
	if perRow && s.Rank() == 1 && s.Len() != 1 {
		ss = []int64{s.Shape[0], 1}
	}
	bs, err := broadcastShapes(ss, out)
	if err != nil || !sameShape(bs, out) {
		return nil, c.Errorf("%s of shape %v does not fit an output of shape %v", what, s.Shape, out)
	}
	return broadcastIndex(ss, out), nil
}

func laQLinearMatMulKernel(c *Call, in []Value) ([]Value, error) {
	ts, err := tensorArgs(c, in, 8, 8)
	if err != nil {
		return nil, err
	}
	a, as, azp, b, bs, bzp, ys, yzp := ts[0], ts[1], ts[2], ts[3], ts[4], ts[5], ts[6], ts[7]
	for _, t := range []*ir.Tensor{a, b, yzp} {
		if err := laRequire(c, "quantized tensor", t.DType, ir.Int8, ir.Uint8); err != nil {
			return nil, err
		}
	}
	for _, t := range []*ir.Tensor{as, bs, ys} {
		if err := laRequire(c, "scale", t.DType, ir.Float32); err != nil {
			return nil, err
		}
	}
	if ys.Len() != 1 || yzp.Len() != 1 {
		return nil, c.Errorf("y_scale and y_zero_point must be scalars")
	}
	acc, err := laIntegerProduct(c, a, azp, "a", b, bzp, "b")
	if err != nil {
		return nil, err
	}
	// Scales index against the output as if a were [.., M, 1] and b
	// [.., 1, N]; 1-D operands are not meaningful for per-row scales.
	aIdx, err := laScaleIndex(c, as, true, acc.Shape, "a_scale")
	if err != nil {
		return nil, err
	}
	bIdx, err := laScaleIndex(c, bs, false, acc.Shape, "b_scale")
	if err != nil {
		return nil, err
	}
	asd, bsd := as.Data.([]float32), bs.Data.([]float32)
	ysv := ys.Data.([]float32)[0]
	lo, hi := laQuantRange(yzp.DType)
	zp := float32(yzp.Int64At(0))
	out := ir.NewTensor(yzp.DType, acc.Shape...)
	for i, v := range acc.Data.([]int64) {
		// Requantize as ONNX Runtime does: the float32 multiplier
		// a_scale·b_scale/y_scale applied to the int32 accumulator.
		mult := asd[aIdx[i]] * bsd[bIdx[i]] / ysv
		q := laRoundEven32(float32(int32(v))*mult) + zp
		out.SetFloat64(i, float64(laClamp32(q, lo, hi)))
	}
	return one(out)
}

// laDet computes determinants of the trailing n×n matrices of d by LU
// decomposition with partial pivoting.
func laDet[T laFloat](d []T, n, count int) []T {
	out := make([]T, count)
	m := make([]T, n*n)
	for b := 0; b < count; b++ {
		copy(m, d[b*n*n:(b+1)*n*n])
		det := T(1)
		for col := 0; col < n; col++ {
			piv := col
			for r := col + 1; r < n; r++ {
				if laAbs(m[r*n+col]) > laAbs(m[piv*n+col]) {
					piv = r
				}
			}
			if m[piv*n+col] == 0 {
				det = 0
				break
			}
			if piv != col {
				for j := 0; j < n; j++ {
					m[col*n+j], m[piv*n+j] = m[piv*n+j], m[col*n+j]
				}
				det = -det
			}
			p := m[col*n+col]
			det *= p
			for r := col + 1; r < n; r++ {
				f := m[r*n+col] / p
				if f == 0 {
					continue
				}
				for j := col; j < n; j++ {
					m[r*n+j] -= f * m[col*n+j]
				}
			}
		}
		out[b] = det
	}
	return out
}

func laAbs[T laNum](v T) T {
	if v < 0 {
		return -v
	}
	return v
}

func laDetKernel(c *Call, in []Value) ([]Value, error) {
	x, err := laTypedArg(c, in, 0, "X", laFloatTypes...)
	if err != nil {
		return nil, err
	}
	r := x.Rank()
	if r < 2 || x.Shape[r-1] != x.Shape[r-2] {
		return nil, c.Errorf("want a tensor of square matrices [..., M, M], got shape %v", x.Shape)
	}
	n := int(x.Shape[r-1])
	outShape := append([]int64{}, x.Shape[:r-2]...)
	count := int(ir.NumElements(outShape))
	cx, _ := laCanon(c, x)
	var y *ir.Tensor
	switch d := cx.Data.(type) {
	case []float32:
		y = ir.FromSlice(ir.Float32, outShape, laDet(d, n, count))
	case []float64:
		y = ir.FromSlice(ir.Float64, outShape, laDet(d, n, count))
	}
	return one(laUncanon(y, x.DType))
}

// laTrilu copies the kept triangle of every trailing rows×cols matrix.
func laTrilu[T ir.Elem](dst, src []T, rows, cols, k int64, upper bool) {
	mat := rows * cols
	if mat == 0 {
		return
	}
	for base := int64(0); base < int64(len(src)); base += mat {
		for i := int64(0); i < rows; i++ {
			for j := int64(0); j < cols; j++ {
				// upper keeps j-i >= k, lower keeps j-i <= k.
				if (upper && j-i >= k) || (!upper && j-i <= k) {
					dst[base+i*cols+j] = src[base+i*cols+j]
				}
			}
		}
	}
}

func laTriluKernel(c *Call, in []Value) ([]Value, error) {
	x, err := tensorArg(c, in, 0)
	if err != nil {
		return nil, err
	}
	kt, err := optTensorArg(c, in, 1)
	if err != nil {
		return nil, err
	}
	k := int64(0)
	if kt != nil {
		if k, err = laScalarInt(c, kt, "k"); err != nil {
			return nil, err
		}
	}
	r := x.Rank()
	if r < 2 {
		return nil, c.Errorf("input must have rank >= 2, got shape %v", x.Shape)
	}
	upper := c.Node.AttrInt("upper", 1) != 0
	rows, cols := x.Shape[r-2], x.Shape[r-1]
	out := ir.NewTensor(x.DType, x.Shape...)
	switch d := x.Data.(type) {
	case []float32:
		laTrilu(out.Data.([]float32), d, rows, cols, k, upper)
	case []float64:
		laTrilu(out.Data.([]float64), d, rows, cols, k, upper)
	case []int8:
		laTrilu(out.Data.([]int8), d, rows, cols, k, upper)
	case []uint8:
		laTrilu(out.Data.([]uint8), d, rows, cols, k, upper)
	case []int16:
		laTrilu(out.Data.([]int16), d, rows, cols, k, upper)
	case []uint16:
		laTrilu(out.Data.([]uint16), d, rows, cols, k, upper)
	case []int32:
		laTrilu(out.Data.([]int32), d, rows, cols, k, upper)
	case []uint32:
		laTrilu(out.Data.([]uint32), d, rows, cols, k, upper)
	case []int64:
		laTrilu(out.Data.([]int64), d, rows, cols, k, upper)
	case []uint64:
		laTrilu(out.Data.([]uint64), d, rows, cols, k, upper)
	case []bool:
		laTrilu(out.Data.([]bool), d, rows, cols, k, upper)
	case []string:
		laTrilu(out.Data.([]string), d, rows, cols, k, upper)
	default:
		return nil, c.Errorf("unsupported dtype %s", x.DType)
	}
	return one(out)
}
