//go:build cgo

package ort

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	ortgo "github.com/yalue/onnxruntime_go"

	"github.com/optc-dev/optc/ir"
)

const cgoEnabled = true

var (
	initOnce sync.Once
	initErr  error
)

// initEnv loads the library and creates the ONNX Runtime environment once
// per process.
func initEnv() error {
	initOnce.Do(func() {
		lib, ok := Available()
		if !ok {
			initErr = errors.New("ort: " + SkipReason())
			return
		}
		ortgo.SetSharedLibraryPath(lib)
		if err := ortgo.InitializeEnvironment(ortgo.WithLogLevelError()); err != nil {
			initErr = fmt.Errorf("ort: loading %s: %w", lib, err)
		}
	})
	return initErr
}

// Version returns the ONNX Runtime library's version string.
func Version() (string, error) {
	if err := initEnv(); err != nil {
		return "", err
	}
	return ortgo.GetVersion(), nil
}

// Options configures a session.
type Options struct {
	// Threads is the intra-op thread count; 0 means ONNX Runtime's default
	// (one per physical core). 1 also sets one inter-op thread.
	Threads int
}

// Session is a loaded model.
type Session struct {
	path    string
	s       *ortgo.DynamicAdvancedSession
	inputs  []ortgo.InputOutputInfo
	outputs []ortgo.InputOutputInfo
}

// NewSession loads a model.
func NewSession(modelPath string, opts Options) (*Session, error) {
	if err := initEnv(); err != nil {
		return nil, err
	}
	ins, outs, err := ortgo.GetInputOutputInfo(modelPath)
	if err != nil {
		return nil, fmt.Errorf("ort: %s: %w", modelPath, err)
	}
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: %w", err)
	}
	defer so.Destroy()
	if opts.Threads > 0 {
		if err := so.SetIntraOpNumThreads(opts.Threads); err != nil {
			return nil, fmt.Errorf("ort: %w", err)
		}
	}
	if opts.Threads == 1 {
		if err := so.SetInterOpNumThreads(1); err != nil {
			return nil, fmt.Errorf("ort: %w", err)
		}
	}
	s, err := ortgo.NewDynamicAdvancedSession(modelPath, infoNames(ins), infoNames(outs), so)
	if err != nil {
		return nil, fmt.Errorf("ort: %s: %w", modelPath, err)
	}
	return &Session{path: modelPath, s: s, inputs: ins, outputs: outs}, nil
}

func infoNames(infos []ortgo.InputOutputInfo) []string {
	names := make([]string, len(infos))
	for i, in := range infos {
		names[i] = in.Name
	}
	return names
}

// Close releases the session.
func (s *Session) Close() error {
	if s == nil || s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}

// Run runs the model on the named inputs (every model input must be
// given) and returns every output by name.
func (s *Session) Run(inputs map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	for name := range inputs {
		if !hasInfo(s.inputs, name) {
			return nil, fmt.Errorf("ort: %s has no input %q (inputs: %v)", s.path, name, infoNames(s.inputs))
		}
	}
	in := make([]ortgo.Value, len(s.inputs))
	defer destroyAll(in)
	for i, info := range s.inputs {
		t, ok := inputs[info.Name]
		if !ok {
			return nil, fmt.Errorf("ort: missing input %q of %s", info.Name, s.path)
		}
		v, err := toORT(t)
		if err != nil {
			return nil, fmt.Errorf("ort: input %q: %w", info.Name, err)
		}
		in[i] = v
	}
	out := make([]ortgo.Value, len(s.outputs))
	defer destroyAll(out)
	for i, info := range s.outputs {
		// onnxruntime_go cannot wrap rank-0 outputs it allocates itself,
		// so scalars are preallocated.
		if info.OrtValueType == ortgo.ONNXTypeTensor && len(info.Dimensions) == 0 {
			v, err := newScalar(info.DataType)
			if err != nil {
				return nil, fmt.Errorf("ort: output %q: %w", info.Name, err)
			}
			out[i] = v
		}
	}
	if err := s.s.Run(in, out); err != nil {
		return nil, fmt.Errorf("ort: running %s: %w", s.path, err)
	}
	res := make(map[string]*ir.Tensor, len(out))
	for i, v := range out {
		t, err := fromORT(v)
		if err != nil {
			return nil, fmt.Errorf("ort: output %q: %w", s.outputs[i].Name, err)
		}
		res[s.outputs[i].Name] = t
	}
	return res, nil
}

func hasInfo(infos []ortgo.InputOutputInfo, name string) bool {
	for _, in := range infos {
		if in.Name == name {
			return true
		}
	}
	return false
}

func destroyAll(vs []ortgo.Value) {
	for _, v := range vs {
		if v != nil {
			v.Destroy()
		}
	}
}

// Run loads a model, runs it once with ONNX Runtime's default options and
// returns its outputs.
func Run(modelPath string, inputs map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	s, err := NewSession(modelPath, Options{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Run(inputs)
}

// Latency returns the median latency of one Run of the model (session
// creation excluded).
func Latency(modelPath string, inputs map[string]*ir.Tensor, opts Options, warmup, iters int) (time.Duration, error) {
	s, err := NewSession(modelPath, opts)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	return MedianLatency(warmup, iters, func() error {
		_, err := s.Run(inputs)
		return err
	})
}

// toORT copies a dense tensor into an ONNX Runtime value.
func toORT(t *ir.Tensor) (ortgo.Value, error) {
	t, err := t.Dense()
	if err != nil {
		return nil, err
	}
	switch d := t.Data.(type) {
	case []float32:
		return newORTTensor(t, d)
	case []float64:
		return newORTTensor(t, d)
	case []int8:
		if t.DType != ir.Int8 {
			break
		}
		return newORTTensor(t, d)
	case []uint8:
		if t.DType != ir.Uint8 {
			break
		}
		return newORTTensor(t, d)
	case []int16:
		return newORTTensor(t, d)
	case []uint16:
		switch t.DType {
		case ir.Uint16:
			return newORTTensor(t, d)
		case ir.Float16:
			return newORTHalf(t, d, ortgo.TensorElementDataTypeFloat16)
		case ir.BFloat16:
			return newORTHalf(t, d, ortgo.TensorElementDataTypeBFloat16)
		}
	case []int32:
		return newORTTensor(t, d)
	case []uint32:
		return newORTTensor(t, d)
	case []int64:
		return newORTTensor(t, d)
	case []uint64:
		return newORTTensor(t, d)
	case []bool:
		return newORTTensor(t, d)
	}
	return nil, fmt.Errorf("%s is not supported by the ONNX Runtime oracle", t)
}

func newORTTensor[T ortgo.TensorData](t *ir.Tensor, data []T) (ortgo.Value, error) {
	if len(data) != t.Len() {
		return nil, fmt.Errorf("%s holds %d elements", t, len(data))
	}
	if len(t.Shape) == 0 {
		return ortgo.NewScalar(data[0])
	}
	// ONNX Runtime may keep using the buffer, so it gets its own copy.
	return ortgo.NewTensor(ortgo.NewShape(t.Shape...), append([]T(nil), data...))
}

// newORTHalf passes f16/bf16 bits as a custom-data tensor (inputs only:
// onnxruntime_go v1.27 copies too few bytes of 16-bit custom outputs).
func newORTHalf(t *ir.Tensor, bits []uint16, dt ortgo.TensorElementDataType) (ortgo.Value, error) {
	if len(bits) != t.Len() {
		return nil, fmt.Errorf("%s holds %d elements", t, len(bits))
	}
	b := make([]byte, 2*len(bits))
	for i, v := range bits {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return ortgo.NewCustomDataTensor(ortgo.NewShape(t.Shape...), b, dt)
}

func newScalar(dt ortgo.TensorElementDataType) (ortgo.Value, error) {
	switch dt {
	case ortgo.TensorElementDataTypeFloat:
		return ortgo.NewEmptyScalar[float32]()
	case ortgo.TensorElementDataTypeDouble:
		return ortgo.NewEmptyScalar[float64]()
	case ortgo.TensorElementDataTypeInt8:
		return ortgo.NewEmptyScalar[int8]()
	case ortgo.TensorElementDataTypeUint8:
		return ortgo.NewEmptyScalar[uint8]()
	case ortgo.TensorElementDataTypeInt16:
		return ortgo.NewEmptyScalar[int16]()
	case ortgo.TensorElementDataTypeUint16:
		return ortgo.NewEmptyScalar[uint16]()
	case ortgo.TensorElementDataTypeInt32:
		return ortgo.NewEmptyScalar[int32]()
	case ortgo.TensorElementDataTypeUint32:
		return ortgo.NewEmptyScalar[uint32]()
	case ortgo.TensorElementDataTypeInt64:
		return ortgo.NewEmptyScalar[int64]()
	case ortgo.TensorElementDataTypeUint64:
		return ortgo.NewEmptyScalar[uint64]()
	case ortgo.TensorElementDataTypeBool:
		return ortgo.NewEmptyScalar[bool]()
	}
	return nil, fmt.Errorf("scalar of element type %s is not supported", dt)
}

// fromORT copies an ONNX Runtime value into a dense tensor.
func fromORT(v ortgo.Value) (*ir.Tensor, error) {
	switch x := v.(type) {
	case *ortgo.Tensor[float32]:
		return fromORTTensor(ir.Float32, x)
	case *ortgo.Tensor[float64]:
		return fromORTTensor(ir.Float64, x)
	case *ortgo.Tensor[int8]:
		return fromORTTensor(ir.Int8, x)
	case *ortgo.Tensor[uint8]:
		return fromORTTensor(ir.Uint8, x)
	case *ortgo.Tensor[int16]:
		return fromORTTensor(ir.Int16, x)
	case *ortgo.Tensor[uint16]:
		return fromORTTensor(ir.Uint16, x)
	case *ortgo.Tensor[int32]:
		return fromORTTensor(ir.Int32, x)
	case *ortgo.Tensor[uint32]:
		return fromORTTensor(ir.Uint32, x)
	case *ortgo.Tensor[int64]:
		return fromORTTensor(ir.Int64, x)
	case *ortgo.Tensor[uint64]:
		return fromORTTensor(ir.Uint64, x)
	case *ortgo.Tensor[bool]:
		return fromORTTensor(ir.Bool, x)
	case *ortgo.Scalar[float32]:
		return fromORTScalar(ir.Float32, x)
	case *ortgo.Scalar[float64]:
		return fromORTScalar(ir.Float64, x)
	case *ortgo.Scalar[int8]:
		return fromORTScalar(ir.Int8, x)
	case *ortgo.Scalar[uint8]:
		return fromORTScalar(ir.Uint8, x)
	case *ortgo.Scalar[int16]:
		return fromORTScalar(ir.Int16, x)
	case *ortgo.Scalar[uint16]:
		return fromORTScalar(ir.Uint16, x)
	case *ortgo.Scalar[int32]:
		return fromORTScalar(ir.Int32, x)
	case *ortgo.Scalar[uint32]:
		return fromORTScalar(ir.Uint32, x)
	case *ortgo.Scalar[int64]:
		return fromORTScalar(ir.Int64, x)
	case *ortgo.Scalar[uint64]:
		return fromORTScalar(ir.Uint64, x)
	case *ortgo.Scalar[bool]:
		return fromORTScalar(ir.Bool, x)
	case *ortgo.StringTensor:
		ss, err := x.GetContents()
		if err != nil {
			return nil, err
		}
		return ir.FromSlice(ir.String, x.GetShape(), ss), nil
	case nil:
		return nil, errors.New("no value")
	}
	return nil, fmt.Errorf("value of type %T (ONNX type %s) is not supported", v, v.GetONNXType())
}

func fromORTTensor[T ortgo.TensorData](d ir.DType, x *ortgo.Tensor[T]) (*ir.Tensor, error) {
	shape := append([]int64{}, x.GetShape()...)
	data := x.GetData()
	if int64(len(data)) != ir.NumElements(shape) {
		return nil, fmt.Errorf("%d elements for shape %v", len(data), shape)
	}
	return anyTensor(d, shape, append([]T(nil), data...)), nil
}

func fromORTScalar[T ortgo.TensorData](d ir.DType, x *ortgo.Scalar[T]) (*ir.Tensor, error) {
	return anyTensor(d, []int64{}, []T{x.GetData()}), nil
}

// anyTensor wraps a slice whose Go type matches d (guaranteed by callers).
func anyTensor(d ir.DType, shape []int64, data any) *ir.Tensor {
	return &ir.Tensor{DType: d, Shape: shape, Data: data}
}

// InputNames returns the model's input names in declaration order.
func (s *Session) InputNames() []string { return infoNames(s.inputs) }

// OutputNames returns the model's output names, sorted.
func (s *Session) OutputNames() []string {
	names := infoNames(s.outputs)
	sort.Strings(names)
	return names
}
