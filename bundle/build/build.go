package build

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"crypto/sha256"
	"encoding/hex"

	"github.com/optc-dev/optc/bundle"
	"github.com/optc-dev/optc/codegen"
	"github.com/optc-dev/optc/ir"
	"github.com/optc-dev/optc/safetensors"
	"github.com/optc-dev/optc/targets"
)

//go:embed csrc/optc_shim.c
var shimSource string

// Emit stages, in pipeline order.
var Stages = []string{"llvm", "asm", "obj", "lib", "bundle"}

// Options configure Build.
type Options struct {
	Name      string // model name (a C identifier; see SanitizeName)
	OutDir    string
	Emit      string // one of Stages; "" means bundle
	Version   string // optc version for the manifest
	Source    string // path of the source model (hashed into the manifest)
	Pipeline  string
	Toolchain *targets.Toolchain
	Threads   int // default thread count compiled into the library (0: all cores)
}

// Output lists what Build wrote.
type Output struct {
	Files    []string // paths written, in order
	Manifest *bundle.Manifest
}

// SanitizeName turns a file name into a lower-case C identifier.
func SanitizeName(s string) string {
	s = strings.TrimSuffix(filepath.Base(s), filepath.Ext(s))
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.Trim(b.String(), "_")
	if out == "" {
		out = "model"
	}
	if out[0] >= '0' && out[0] <= '9' {
		out = "m" + out
	}
	return out
}

// Build runs the pipeline up to opts.Emit and writes the results into
// opts.OutDir.
func Build(ctx context.Context, res *codegen.Result, opts Options) (*Output, error) {
	emit := opts.Emit
	if emit == "" {
		emit = "bundle"
	}
	stage := -1
	for i, s := range Stages {
		if s == emit {
			stage = i
		}
	}
	if stage < 0 {
		return nil, fmt.Errorf("--emit=%s: unknown stage (want one of %s)", emit, strings.Join(Stages, ", "))
	}
	tc := opts.Toolchain
	name := opts.Name
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	out := &Output{}
	write := func(file string, data []byte) error {
		p := filepath.Join(opts.OutDir, file)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		out.Files = append(out.Files, p)
		return nil
	}
	if err := tc.Verify(ctx, res.Module); err != nil {
		return nil, err
	}
	if emit == "llvm" {
		return out, write(name+".ll", res.Module)
	}
	optimized, err := tc.Optimize(ctx, res.Module)
	if err != nil {
		return nil, err
	}
	if emit == "asm" {
		asm, err := tc.Compile(ctx, optimized, true)
		if err != nil {
			return nil, err
		}
		return out, write(name+".s", asm)
	}
	obj, err := tc.Compile(ctx, optimized, false)
	if err != nil {
		return nil, err
	}
	tensors, meta := weightTensors(res)
	hdr, err := safetensors.EncodeHeader(tensors, meta, 64)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "optc-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	shimC := filepath.Join(tmp, "optc_shim.c")
	infoC := filepath.Join(tmp, "optc_info.c")
	if err := os.WriteFile(shimC, []byte(shimSource), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(infoC, infoSource(res, name, tc.Target, hdr, opts.Threads), 0o644); err != nil {
		return nil, err
	}
	objPath := filepath.Join(tmp, name+".o")
	if err := os.WriteFile(objPath, obj, 0o644); err != nil {
		return nil, err
	}
	if err := write(name+".h", headerSource(res, name, tc.Target, opts.Version)); err != nil {
		return nil, err
	}
	files := map[string]bundle.File{}
	var libFile string
	if emit == "obj" {
		if err := write(name+".o", obj); err != nil {
			return nil, err
		}
		shimO, infoO := filepath.Join(tmp, "optc_shim.o"), filepath.Join(tmp, "optc_info.o")
		if err := tc.CompileC(ctx, shimC, shimO); err != nil {
			return nil, err
		}
		if err := tc.CompileC(ctx, infoC, infoO); err != nil {
			return nil, err
		}
		libFile = "lib" + name + ".a"
		if err := tc.Archive(ctx, filepath.Join(opts.OutDir, libFile), objPath, shimO, infoO); err != nil {
			return nil, err
		}
		out.Files = append(out.Files, filepath.Join(opts.OutDir, libFile))
	} else {
		libFile = "lib" + name + ".so"
		shimO, err := shimObject(ctx, tc, tmp)
		if err != nil {
			return nil, err
		}
		if err := tc.LinkShared(ctx, filepath.Join(opts.OutDir, libFile), objPath, shimO, infoC); err != nil {
			return nil, err
		}
		out.Files = append(out.Files, filepath.Join(opts.OutDir, libFile))
		if emit == "lib" {
			return out, nil
		}
	}
	var wbuf bytes.Buffer
	if err := safetensors.Write(&wbuf, tensors, meta, 64); err != nil {
		return nil, err
	}
	if err := write(bundle.WeightsFile, wbuf.Bytes()); err != nil {
		return nil, err
	}
	m := manifest(res, opts, emit, tc.Target)
	for i, st := range res.Steps {
		if st.Native {
			continue
		}
		file := fmt.Sprintf("interp_%d.optc", i)
		var gb bytes.Buffer
		if err := ir.Print(&gb, st.Graph); err != nil {
			return nil, fmt.Errorf("step %d (interpreter): %w", i, err)
		}
		if err := write(file, gb.Bytes()); err != nil {
			return nil, err
		}
		m.Steps[i].Graph = file
	}
	for role, f := range map[string]string{"lib": libFile, "weights": bundle.WeightsFile, "header": name + ".h"} {
		sum, err := bundle.HashFile(filepath.Join(opts.OutDir, f))
		if err != nil {
			return nil, err
		}
		files[role] = bundle.File{Path: f, SHA256: sum}
	}
	m.Files = files
	if err := m.Write(opts.OutDir); err != nil {
		return nil, err
	}
	out.Files = append(out.Files, filepath.Join(opts.OutDir, bundle.ManifestFile))
	out.Manifest = m
	return out, nil
}

// weightTensors turns codegen's weights into safetensors entries: flat F32
// tensors (I8/U8 for quantized codes) in blob order; the metadata records each one's source constant,
// encoding and logical shape, and the SHA-256 of the data.
func weightTensors(res *codegen.Result) ([]safetensors.WriteTensor, map[string]string) {
	meta := map[string]string{"optc.format": "optc-weights-1"}
	var ts []safetensors.WriteTensor
	h := sha256.New()
	for _, w := range res.Weights {
		data, dt, n := safetensors.Float32Bytes(w.Data), "F32", int64(len(w.Data))
		if w.Raw != nil {
			data, dt, n = w.Raw, w.DType, int64(len(w.Raw))
		}
		h.Write(data)
		ts = append(ts, safetensors.WriteTensor{Name: w.Name, DType: dt, Shape: []int64{n}, Data: data})
		enc, _ := json.Marshal(struct {
			Of       string  `json:"of"`
			Encoding string  `json:"encoding"`
			Shape    []int64 `json:"shape"`
		}{w.Of, w.Encoding, nonNil(w.Shape)})
		meta["optc.tensor."+w.Name] = string(enc)
	}
	meta["optc.data_sha256"] = hex.EncodeToString(h.Sum(nil))
	return ts, meta
}

func nonNil(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

func ioOf(vals []*ir.Value) []bundle.IO {
	ios := make([]bundle.IO, 0, len(vals))
	for _, v := range vals {
		shape, _ := v.Type.Shape.Concrete()
		ios = append(ios, bundle.IO{Name: v.Name, DType: v.Type.DType.String(), Shape: nonNil(shape)})
	}
	return ios
}

func manifest(res *codegen.Result, opts Options, emit string, t *targets.Target) *bundle.Manifest {
	m := &bundle.Manifest{
		Format: bundle.FormatVersion, OptcVersion: opts.Version, Name: opts.Name,
		Target:   bundle.Target{Arch: t.Name, Triple: t.Triple, CPU: t.CPU, Features: t.Features, Required: t.Required, VectorBits: t.VectorBits},
		Pipeline: opts.Pipeline, Emit: emit,
		Inputs: ioOf(res.Graph.Inputs), Outputs: ioOf(res.Graph.Outputs),
		FullyNative: res.FullyNative(), Kernels: res.Kernels,
		Weights: bundle.WeightsInfo{Tensors: len(res.Weights), Bytes: res.WeightBytes},
	}
	if opts.Source != "" {
		sum, err := bundle.HashFile(opts.Source)
		if err == nil {
			m.Source = &bundle.Source{File: filepath.Base(opts.Source), SHA256: sum}
			if abs, err := filepath.Abs(opts.Source); err == nil {
				m.Source.Path = abs
			}
		}
	}
	for _, b := range res.Bindings {
		m.Bindings = append(m.Bindings, bundle.Binding(b))
	}
	for _, f := range res.Fallback {
		m.Fallback = append(m.Fallback, bundle.Fallback(f))
	}
	seg := 0
	for _, st := range res.Steps {
		s := bundle.Step{Kind: "interp", Inputs: ioOf(st.Inputs), Outputs: ioOf(st.Outputs)}
		if st.Native {
			s.Kind, s.Index, s.Symbol, s.Scratch = "native", seg, st.Func, st.Scratch
			seg++
		}
		m.Steps = append(m.Steps, s)
	}
	return m
}

// gccFeature maps Target.Required names to __builtin_cpu_supports names.
var gccFeature = map[string]string{
	"sse4.2": "sse4.2", "popcnt": "popcnt", "avx2": "avx2", "fma": "fma", "bmi2": "bmi2",
	"avx512f": "avx512f", "avx512bw": "avx512bw", "avx512dq": "avx512dq", "avx512vl": "avx512vl",
}

// infoSource is the generated C file with the model's constants.
func infoSource(res *codegen.Result, name string, t *targets.Target, hdr []byte, threads int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "/* Generated by optc: constants of model %s. */\n#include <stdint.h>\n\n", name)
	b.WriteString("#define H __attribute__((visibility(\"hidden\")))\n")
	b.WriteString("typedef int32_t (*optc_segment_fn)(const void *const *, void *const *, const uint8_t *, uint8_t *, void *);\n")
	fmt.Fprintf(&b, "H const char optc_info_name[] = %q;\n", name)
	fmt.Fprintf(&b, "H const char optc_info_target[] = %q;\n", fmt.Sprintf("%s (%s)", t.Name, t.CPU))
	fmt.Fprintf(&b, "H const uint64_t optc_info_header_len = %d;\n", len(hdr))
	fmt.Fprintf(&b, "H const uint64_t optc_info_weight_bytes = %d;\n", res.WeightBytes)
	b.WriteString("H const unsigned char optc_info_header[] = {")
	for i, c := range hdr {
		if i%24 == 0 {
			b.WriteString("\n\t")
		}
		fmt.Fprintf(&b, "%d,", c)
	}
	b.WriteString("\n};\n")
	var syms []string
	var scratch int64
	for _, st := range res.Steps {
		if st.Native {
			syms = append(syms, st.Func)
			fmt.Fprintf(&b, "int32_t %s(const void *const *, void *const *, const uint8_t *, uint8_t *, void *);\n", st.Func)
			scratch = max(scratch, st.Scratch)
		}
	}
	fmt.Fprintf(&b, "H const int optc_info_num_segments = %d;\n", len(syms))
	fmt.Fprintf(&b, "H const optc_segment_fn optc_info_segments[] = {%s};\n", strings.Join(append(syms, "0"), ", "))
	fmt.Fprintf(&b, "H const int64_t optc_info_scratch_bytes = %d;\n", scratch)
	fmt.Fprintf(&b, "H const int optc_info_fully_native = %d;\n", b2i(res.FullyNative()))
	fmt.Fprintf(&b, "H const int optc_info_default_threads = %d;\n", threads)
	b.WriteString("H const char *optc_info_check_cpu(void) {\n")
	if t.Name == "x86_64" {
		b.WriteString("\t__builtin_cpu_init();\n")
		req := append([]string(nil), t.Required...)
		sort.Strings(req)
		for _, f := range req {
			if g, ok := gccFeature[f]; ok {
				fmt.Fprintf(&b, "\tif (!__builtin_cpu_supports(%q)) return %q;\n", g, f)
			}
		}
	}
	b.WriteString("\treturn 0;\n}\n")
	// Per-model names, so that a program can link several bundles.
	fmt.Fprintf(&b, `
typedef struct optc_model optc_model;
optc_model *optc_model_open(const char *);
int optc_model_run(optc_model *, const void *const *, void *const *);
int optc_model_set_threads(optc_model *, int);
void optc_model_close(optc_model *);
optc_model *%[1]s_open(const char *p) { return optc_model_open(p); }
int %[1]s_run(optc_model *m, const void *const *in, void *const *out) { return optc_model_run(m, in, out); }
int %[1]s_set_threads(optc_model *m, int n) { return optc_model_set_threads(m, n); }
void %[1]s_close(optc_model *m) { optc_model_close(m); }
`, name)
	return b.Bytes()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// headerSource is the public C header of a bundle.
func headerSource(res *codegen.Result, name string, t *targets.Target, version string) []byte {
	var b bytes.Buffer
	guard := "OPTC_" + strings.ToUpper(name) + "_H"
	fmt.Fprintf(&b, "/* %s.h: C interface of the optc-compiled model %q.\n", name, name)
	fmt.Fprintf(&b, " * Generated by optc %s for %s (%s%s). Do not edit.\n *\n", version, t.Name, t.CPU, prefixed(" ", t.Features))
	b.WriteString(" * Tensors are dense, row-major, caller-allocated; inputs and outputs\n")
	b.WriteString(" * must not overlap. A model handle runs one call at a time.\n *\n")
	writeIO := func(kind string, vals []*ir.Value) {
		fmt.Fprintf(&b, " * %s:\n", kind)
		for i, v := range vals {
			fmt.Fprintf(&b, " *   [%d] %q %s (%d elements)\n", i, v.Name, v.Type, elems(v))
		}
	}
	writeIO("Inputs", res.Graph.Inputs)
	writeIO("Outputs", res.Graph.Outputs)
	if !res.FullyNative() {
		b.WriteString(" *\n * NOTE: some nodes of this model run on optc's interpreter, so\n")
		b.WriteString(" * optc_model_run returns an error: open the bundle from Go with\n")
		b.WriteString(" * runtime.Open instead. The fallback nodes are listed in manifest.json.\n")
	}
	b.WriteString(" */\n")
	fmt.Fprintf(&b, "#ifndef %s\n#define %s\n\n#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n", guard, guard)
	list := func(vals []*ir.Value, size func(*ir.Value) int64) string {
		var parts []string
		for _, v := range vals {
			parts = append(parts, fmt.Sprint(size(v)))
		}
		if len(parts) == 0 {
			return "{0}"
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	bytesOf := func(v *ir.Value) int64 { return v.Type.DType.StorageBytes(elems(v)) }
	// The signature under this model's own macro names, then under the
	// generic OPTC_MODEL_* names (defined by the first header included).
	for _, prefix := range []string{"OPTC_" + strings.ToUpper(name), "OPTC_MODEL"} {
		if prefix == "OPTC_MODEL" {
			b.WriteString("#ifndef OPTC_MODEL_NAME\n")
		}
		fmt.Fprintf(&b, "#define %s_NAME %q\n", prefix, name)
		fmt.Fprintf(&b, "#define %s_FULLY_NATIVE %d\n", prefix, b2i(res.FullyNative()))
		fmt.Fprintf(&b, "#define %s_NUM_INPUTS %d\n", prefix, len(res.Graph.Inputs))
		fmt.Fprintf(&b, "#define %s_NUM_OUTPUTS %d\n", prefix, len(res.Graph.Outputs))
		fmt.Fprintf(&b, "/* Element counts and byte sizes of each input and output, in order. */\n")
		fmt.Fprintf(&b, "#define %s_INPUT_ELEMS %s\n", prefix, list(res.Graph.Inputs, elems))
		fmt.Fprintf(&b, "#define %s_OUTPUT_ELEMS %s\n", prefix, list(res.Graph.Outputs, elems))
		fmt.Fprintf(&b, "#define %s_INPUT_BYTES %s\n", prefix, list(res.Graph.Inputs, bytesOf))
		fmt.Fprintf(&b, "#define %s_OUTPUT_BYTES %s\n", prefix, list(res.Graph.Outputs, bytesOf))
		if prefix == "OPTC_MODEL" {
			b.WriteString("#endif\n")
		}
		b.WriteString("\n")
	}
	b.WriteString(`typedef struct optc_model optc_model;

/* Maps the weights (weights.safetensors of the same bundle) and checks them
 * and the CPU. Returns NULL on error (see optc_last_error). */
optc_model *optc_model_open(const char *weights_path);

/* Runs the model: inputs[i] and outputs[i] point to the buffers listed
 * above. Returns 0, or -1 with optc_last_error set. */
int optc_model_run(optc_model *model, const void *const *inputs, void *const *outputs);

/* Sets the number of threads (default: all cores, or $OPTC_NUM_THREADS). */
int optc_model_set_threads(optc_model *model, int threads);
int optc_model_threads(optc_model *model);

void optc_model_close(optc_model *model);

/* The last error of this thread, "" if none. */
const char *optc_last_error(void);
`)
	fmt.Fprintf(&b, `
/* The same functions under this model's own names, for programs that
 * link several bundles (each library binds its optc_* names internally). */
optc_model *%[1]s_open(const char *weights_path);
int %[1]s_run(optc_model *model, const void *const *inputs, void *const *outputs);
int %[1]s_set_threads(optc_model *model, int threads);
void %[1]s_close(optc_model *model);
`, name)
	if res.FullyNative() {
		b.WriteString(`
/* The compiled graph itself, for callers that manage memory themselves:
 * weights = the data section of weights.safetensors, scratch = a 64-byte
 * aligned buffer, pool = NULL (single-threaded). */
int32_t optc_graph_run(const void *const *inputs, void *const *outputs,
                       const uint8_t *weights, uint8_t *scratch, void *pool);
`)
	}
	b.WriteString("\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n")
	return b.Bytes()
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

func elems(v *ir.Value) int64 {
	s, _ := v.Type.Shape.Concrete()
	return ir.NumElements(s)
}
