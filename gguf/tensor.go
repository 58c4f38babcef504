package gguf

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/optc-dev/optc/ir"
)

// Info returns the directory entry of a tensor.
func (f *File) Info(name string) (*TensorInfo, bool) {
	i, ok := f.tensors[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Raw returns the stored bytes of a tensor.
func (f *File) Raw(name string) ([]byte, *TensorInfo, error) {
	ti, ok := f.Info(name)
	if !ok {
		return nil, nil, fmt.Errorf("gguf: %s: no tensor %q", f.Name, name)
	}
	b := make([]byte, ti.Size)
	if _, err := f.r.ReadAt(b, f.DataOffset+int64(ti.Offset)); err != nil && !(err == io.EOF && len(b) == 0) {
		return nil, nil, fmt.Errorf("gguf: %s: tensor %q: %w", f.Name, name, err)
	}
	return b, ti, nil
}

// Tensor reads a tensor into a dense ir.Tensor of its natural dtype
// (F32, F16, BF16, F64, I8, I16, I32, I64); the block-quantized types
// (Q8_0, Q4_0, Q4_1) are dequantized exactly to f32, block by block as
// ggml defines them.
func (f *File) Tensor(name string) (*ir.Tensor, error) {
	b, ti, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	t, err := decodeTensor(ti, b)
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: tensor %q: %w", f.Name, name, err)
	}
	return t, nil
}

// Float32 reads a floating-point or quantized tensor as dense f32 (F16
// and BF16 widen exactly).
func (f *File) Float32(name string) (*ir.Tensor, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, err
	}
	switch t.DType {
	case ir.Float32:
		return t, nil
	case ir.Float16, ir.BFloat16, ir.Float64:
		return ir.FromSlice(ir.Float32, t.Shape, t.Float32s()), nil
	}
	return nil, fmt.Errorf("gguf: %s: tensor %q is %s, not a floating-point type", f.Name, name, t.DType)
}

func decodeTensor(ti *TensorInfo, b []byte) (*ir.Tensor, error) {
	shape := ti.Shape()
	n := int(ti.Elems())
	le := binary.LittleEndian
	switch ti.Type {
	case F32:
		d := make([]float32, n)
		for i := range d {
			d[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return ir.FromSlice(ir.Float32, shape, d), nil
	case F16, BF16:
		d := make([]uint16, n)
		for i := range d {
			d[i] = le.Uint16(b[2*i:])
		}
		dt := ir.Float16
		if ti.Type == BF16 {
			dt = ir.BFloat16
		}
		return ir.FromSlice(dt, shape, d), nil
	case F64:
		d := make([]float64, n)
		for i := range d {
			d[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		return ir.FromSlice(ir.Float64, shape, d), nil
	case I8:
		d := make([]int8, n)
		for i := range d {
			d[i] = int8(b[i])
		}
		return ir.FromSlice(ir.Int8, shape, d), nil
	case I16:
		d := make([]int16, n)
		for i := range d {
			d[i] = int16(le.Uint16(b[2*i:]))
		}
		return ir.FromSlice(ir.Int16, shape, d), nil
	case I32:
		d := make([]int32, n)
		for i := range d {
			d[i] = int32(le.Uint32(b[4*i:]))
		}
		return ir.FromSlice(ir.Int32, shape, d), nil
	case I64:
		d := make([]int64, n)
		for i := range d {
			d[i] = int64(le.Uint64(b[8*i:]))
		}
		return ir.FromSlice(ir.Int64, shape, d), nil
	case Q8_0, Q4_0, Q4_1:
		d := make([]float32, n)
		if err := Dequantize(ti.Type, d, b); err != nil {
			return nil, err
		}
		return ir.FromSlice(ir.Float32, shape, d), nil
	}
	return nil, fmt.Errorf("tensor type %s is not supported (optc reads %s)", ti.Type, supportedTypes())
}

// Dequantize decodes len(dst) elements of a block-quantized type from src,
// exactly as ggml's dequantize_row_* reference functions do: per block of
// 32, an f16 scale d (and for Q4_1 an f16 minimum m), then
//
//	Q8_0: y[j] = q[j]·d                                     (q int8)
//	Q4_0: y[j] = (lo(q[j])−8)·d, y[j+16] = (hi(q[j])−8)·d   (j < 16)
//	Q4_1: y[j] = lo(q[j])·d + m, y[j+16] = hi(q[j])·d + m
//
// where lo/hi are the low and high nibbles; products in float32.
func Dequantize(t TensorType, dst []float32, src []byte) error {
	bi := blockInfos[t]
	if bi.blockElems != 32 || (t != Q8_0 && t != Q4_0 && t != Q4_1) {
		return fmt.Errorf("Dequantize: %s is not a 32-element block type", t)
	}
	nb := len(dst) / 32
	if len(dst)%32 != 0 || int64(len(src)) != int64(nb)*bi.blockBytes {
		return fmt.Errorf("Dequantize %s: %d values from %d bytes", t, len(dst), len(src))
	}
	for i := 0; i < nb; i++ {
		blk := src[int64(i)*bi.blockBytes:]
		y := dst[i*32 : i*32+32]
		d := ir.F16ToF32(binary.LittleEndian.Uint16(blk))
		switch t {
		case Q8_0:
			for j, q := range blk[2:34] {
				y[j] = float32(int8(q)) * d
			}
		case Q4_0:
			for j, q := range blk[2:18] {
				y[j] = float32(int(q&0x0f)-8) * d
				y[j+16] = float32(int(q>>4)-8) * d
			}
		case Q4_1:
			m := ir.F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
			for j, q := range blk[4:20] {
				y[j] = float32(q&0x0f)*d + m
				y[j+16] = float32(q>>4)*d + m
			}
		}
	}
	return nil
}

// Quantize encodes src (a multiple of 32 values) as Q8_0 or Q4_0 the way
// ggml's quantize_row_*_ref does, for writing test and exported files:
//
//	Q8_0: d = max|x|/127, q = round(x/d)
//	Q4_0: m = the x of largest magnitude (signed), d = m/−8,
//	      q = min(15, trunc(x/d + 8.5))
func Quantize(t TensorType, src []float32) ([]byte, error) {
	if len(src)%32 != 0 || (t != Q8_0 && t != Q4_0) {
		return nil, fmt.Errorf("Quantize: %d values as %s (want Q8_0 or Q4_0, a multiple of 32 values)", len(src), t)
	}
	bb := blockInfos[t].blockBytes
	out := make([]byte, int64(len(src)/32)*bb)
	for i := 0; i < len(src)/32; i++ {
		x := src[i*32 : i*32+32]
		blk := out[int64(i)*bb : int64(i+1)*bb]
		switch t {
		case Q8_0:
			var amax float32
			for _, v := range x {
				amax = max(amax, float32(math.Abs(float64(v))))
			}
			d := amax / 127
			var id float32
			if d != 0 {
				id = 1 / d
			}
			binary.LittleEndian.PutUint16(blk, ir.F32ToF16(d))
			for j, v := range x {
				blk[2+j] = byte(int8(math.Round(float64(v * id))))
			}
		case Q4_0:
			var amax, m float32
			for _, v := range x {
				if a := float32(math.Abs(float64(v))); a > amax {
					amax, m = a, v
				}
			}
			d := m / -8
			var id float32
			if d != 0 {
				id = 1 / d
			}
			binary.LittleEndian.PutUint16(blk, ir.F32ToF16(d))
			for j := 0; j < 16; j++ {
				q0 := min(15, int8(x[j]*id+8.5))
				q1 := min(15, int8(x[j+16]*id+8.5))
				blk[2+j] = byte(q0) | byte(q1)<<4
			}
		}
	}
	return out, nil
}
