package ir

import (
	"strings"
	"testing"
)

// onnxOps are the 178 op names of the default domain in ONNX 1.12
// (onnx.defs.get_all_schemas_with_history(), since_version <= 17).
const onnxOps = `Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool
BatchNormalization Bernoulli BitShift BlackmanWindow Cast CastLike Ceil Celu Clip Compress
Concat ConcatFromSequence Constant ConstantOfShape Conv ConvInteger ConvTranspose Cos Cosh
CumSum DFT DepthToSpace DequantizeLinear Det Div Dropout DynamicQuantizeLinear Einsum Elu
Equal Erf Exp Expand EyeLike Flatten Floor GRU Gather GatherElements GatherND Gemm
GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GridSample HammingWindow
HannWindow HardSigmoid HardSwish Hardmax Identity If InstanceNormalization IsInf IsNaN LRN
LSTM LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LpNormalization
LpPool MatMul MatMulInteger Max MaxPool MaxRoiPool MaxUnpool Mean MeanVarianceNormalization
MelWeightMatrix Min Mod Mul Multinomial Neg NegativeLogLikelihoodLoss NonMaxSuppression
NonZero Not OneHot Optional OptionalGetElement OptionalHasElement Or PRelu Pad Pow
QLinearConv QLinearMatMul QuantizeLinear RNN RandomNormal RandomNormalLike RandomUniform
RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax
ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize
ReverseSequence RoiAlign Round STFT Scan Scatter ScatterElements ScatterND Selu SequenceAt
SequenceConstruct SequenceEmpty SequenceErase SequenceInsert SequenceLength SequenceMap
Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax SoftmaxCrossEntropyLoss Softplus
Softsign SpaceToDepth Split SplitToSequence Sqrt Squeeze StringNormalizer Sub Sum Tan Tanh
TfIdfVectorizer ThresholdedRelu Tile TopK Transpose Trilu Unique Unsqueeze Upsample Where Xor`

func TestRegistryCoversONNX(t *testing.T) {
	names := strings.Fields(onnxOps)
	if len(names) != 178 {
		t.Fatalf("list has %d names", len(names))
	}
	for _, n := range names {
		if LookupOp("", n) == nil {
			t.Errorf("op %s not registered", n)
		}
		if LookupOp("ai.onnx", n) == nil {
			t.Errorf("op %s not found under ai.onnx", n)
		}
	}
	for _, n := range []string{"Adagrad", "Adam", "Momentum"} {
		if LookupOp("ai.onnx.preview.training", n) == nil {
			t.Errorf("training op %s not registered", n)
		}
	}
	if LookupOp("ai.onnx.preview.training", "Gradient") != nil {
		t.Errorf("Gradient is registered, but no backend can run it")
	}
	onnxOpCount := 0 // optc's own ops (domain "optc") are not counted
	for _, s := range RegisteredOps() {
		if s.Domain != DomainOptc {
			onnxOpCount++
		}
	}
	if got := onnxOpCount; got != 178+3 {
		t.Errorf("%d ops registered, want %d", got, 178+3)
	}
}

// TestRegistrySignatures spot-checks arities and defaults against the
// ONNX 1.12 operator specs (onnx/defs/*/defs.cc, old.cc).
func TestRegistrySignatures(t *testing.T) {
	cases := []struct {
		op             string
		minIn, maxIn   int
		minOut, maxOut int
		attr           string
		kind           AttrKind
		hasDefault     bool
		defInt         int64
		defFloat       float32
		defString      string
	}{
		{"Conv", 2, 3, 1, 1, "group", AttrInt, true, 1, 0, ""},
		{"Conv", 2, 3, 1, 1, "kernel_shape", AttrInts, false, 0, 0, ""},
		{"BatchNormalization", 5, 5, 1, 5, "epsilon", AttrFloat, true, 0, 1e-5, ""},
		{"LSTM", 3, 8, 0, 3, "direction", AttrString, true, 0, 0, "forward"},
		{"GRU", 3, 6, 0, 2, "linear_before_reset", AttrInt, true, 0, 0, ""},
		{"Concat", 1, -1, 1, 1, "axis", AttrInt, false, 0, 0, ""},
		{"Split", 1, 2, 1, -1, "axis", AttrInt, true, 0, 0, ""},
		{"Slice", 1, 5, 1, 1, "starts", AttrInts, false, 0, 0, ""},
		{"Loop", 2, -1, 1, -1, "body", AttrGraph, false, 0, 0, ""},
		{"If", 1, 1, 1, -1, "then_branch", AttrGraph, false, 0, 0, ""},
		{"Constant", 0, 0, 1, 1, "value", AttrTensor, false, 0, 0, ""},
		{"Clip", 1, 3, 1, 1, "max", AttrFloat, true, 0, 3.4028234663852886e+38, ""},
		{"Resize", 1, 4, 1, 1, "mode", AttrString, true, 0, 0, "nearest"},
		{"Dropout", 1, 3, 1, 2, "ratio", AttrFloat, true, 0, 0.5, ""},
		{"Unique", 1, 1, 1, 4, "sorted", AttrInt, true, 1, 0, ""},
		{"TopK", 1, 2, 2, 2, "axis", AttrInt, true, -1, 0, ""},
		{"LeakyRelu", 1, 1, 1, 1, "alpha", AttrFloat, true, 0, 0.01, ""},
		{"Cast", 1, 1, 1, 1, "to", AttrInt, false, 0, 0, ""},
		{"Optional", 0, 1, 1, 1, "type", AttrTypeProto, false, 0, 0, ""},
	}
	for _, c := range cases {
		s := LookupOp("", c.op)
		if s == nil {
			t.Errorf("%s: not registered", c.op)
			continue
		}
		if s.MinInputs != c.minIn || s.MaxInputs != c.maxIn || s.MinOutputs != c.minOut || s.MaxOutputs != c.maxOut {
			t.Errorf("%s: arity %d-%d:%d-%d, want %d-%d:%d-%d", c.op, s.MinInputs, s.MaxInputs,
				s.MinOutputs, s.MaxOutputs, c.minIn, c.maxIn, c.minOut, c.maxOut)
		}
		if k := s.AttrKinds[c.attr]; k != c.kind {
			t.Errorf("%s.%s: kind %d, want %d", c.op, c.attr, k, c.kind)
		}
		d, ok := s.Attrs[c.attr]
		if ok != c.hasDefault {
			t.Errorf("%s.%s: has default %v, want %v", c.op, c.attr, ok, c.hasDefault)
			continue
		}
		if ok && (d.Int != c.defInt || d.Float != c.defFloat || d.String != c.defString) {
			t.Errorf("%s.%s: default %+v", c.op, c.attr, d)
		}
	}
	if d := LookupOp("", "RNN").Attrs["activations"]; d == nil || strings.Join(d.Strings, ",") != "Tanh,Tanh" {
		t.Errorf("RNN activations default %+v", d)
	}
	if d := LookupOp("", "MeanVarianceNormalization").Attrs["axes"]; d == nil || len(d.Ints) != 3 || d.Ints[1] != 2 {
		t.Errorf("MVN axes default %+v", d)
	}
}

func TestOpRowErrors(t *testing.T) {
	for _, r := range []opRow{
		{"X", 1, "1", ""},
		{"X", 1, "a:1", ""},
		{"X", 1, "1:1", "foo"},
		{"X", 1, "1:1", "foo=q"},
		{"X", 1, "1:1", "foo=i:x"},
		{"X", 1, "1:1", "foo=g:x"},
	} {
		if _, err := r.schema(""); err == nil {
			t.Errorf("row %+v: no error", r)
		}
	}
}
