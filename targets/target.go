package targets

import (
	"fmt"
	goruntime "runtime"
	"sort"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// Target is a code generation target.
type Target struct {
	// Name is the architecture: "x86_64" or "aarch64".
	Name string
	// Triple and DataLayout are written into every LLVM module.
	Triple     string
	DataLayout string
	// CPU is the llc -mcpu value (also the target-cpu function attribute).
	CPU string
	// Features is the llc -mattr value ("+avx2,+fma"); may be empty.
	Features string
	// Required lists the CPU features (cpuid names, lower case) the code
	// needs at run time; a bundle refuses to open on a CPU lacking one.
	Required []string
	// VectorBits is the width of the SIMD registers the kernels use.
	VectorBits int
	// VectorRegs is the number of SIMD registers (register tiles are sized
	// to fit them).
	VectorRegs int
	// HasFMA says whether fused multiply-add is a single instruction.
	HasFMA bool
}

// Lanes is the number of float32 elements in one vector register.
func (t *Target) Lanes() int { return t.VectorBits / 32 }

// Cross reports whether code for t cannot run natively on this machine.
func (t *Target) Cross() bool { return t.Name != HostArch() }

func (t *Target) String() string {
	s := t.Name + " (" + t.CPU
	if t.Features != "" {
		s += " " + t.Features
	}
	return s + ")"
}

const (
	x86Triple     = "x86_64-unknown-linux-gnu"
	x86Layout     = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
	aarch64Triple = "aarch64-unknown-linux-gnu"
	aarch64Layout = "e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128"
)

// x86Level describes one x86-64 micro-architecture level (the psABI's
// x86-64, -v2, -v3, -v4), which is what optc selects with --mcpu.
type x86Level struct {
	cpu      string
	level    int
	features string
	required []string
	bits     int
}

var x86Levels = []x86Level{
	{"x86-64", 1, "", nil, 128},
	{"x86-64-v2", 2, "", []string{"sse4.2", "popcnt"}, 128},
	{"x86-64-v3", 3, "+avx2,+fma", []string{"avx2", "fma", "bmi2"}, 256},
	{"x86-64-v4", 4, "+avx512f", []string{"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma"}, 512},
}

// x86Aliases maps the --mcpu spellings optc accepts to levels.
var x86Aliases = map[string]string{
	"baseline": "x86-64", "x86-64": "x86-64", "sse2": "x86-64",
	"x86-64-v2": "x86-64-v2",
	"x86-64-v3": "x86-64-v3", "avx2": "x86-64-v3", "haswell": "x86-64-v3",
	"x86-64-v4": "x86-64-v4", "avx512": "x86-64-v4", "avx512f": "x86-64-v4", "skylake-avx512": "x86-64-v4",
	"x86-64-v4-vnni": x86VNNIName, "avx512vnni": x86VNNIName, "cascadelake": x86VNNIName, "sapphirerapids": x86VNNIName,
}

// x86VNNI is level 4 plus AVX512-VNNI (vpdpbusd, the int8 dot product of
// codegen's int8 GEMM); llc gets -mcpu=x86-64-v4 -mattr=+avx512f,+avx512vnni.
// It is the native choice on a level-4 CPU that has VNNI.
var x86VNNI = x86Level{"x86-64-v4", 4, "+avx512f,+avx512vnni",
	[]string{"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512vnni", "avx2", "fma"}, 512}

const x86VNNIName = "x86-64-v4-vnni"

// aarch64CPUs are the --mcpu values accepted for aarch64; all have NEON
// (mandatory in ARMv8-A), which is all the kernels use.
var aarch64CPUs = map[string]bool{
	"generic": true, "cortex-a53": true, "cortex-a55": true, "cortex-a72": true, "cortex-a76": true,
	"neoverse-n1": true, "neoverse-v1": true, "apple-m1": true,
}

// aarch64DotProd are the --mcpu values with the ARMv8.2 dot product
// (sdot, used by codegen's int8 kernels).
var aarch64DotProd = map[string]bool{
	"cortex-a55": true, "cortex-a76": true, "neoverse-n1": true, "neoverse-v1": true, "apple-m1": true,
}

// HostArch is the architecture optc runs on, in Target.Name spelling.
func HostArch() string {
	switch goruntime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return goruntime.GOARCH
}

// Names lists the supported target names.
func Names() []string { return []string{"x86_64", "aarch64"} }

// Lookup resolves a target name and an --mcpu choice. An empty name means
// the host architecture; an empty mcpu (or "native") means the best level
// the running CPU supports when name is the host, and the baseline (x86_64)
// or generic (aarch64) otherwise.
func Lookup(name, mcpu string) (*Target, error) {
	if name == "" || name == "host" || name == "native" {
		name = HostArch()
	}
	switch name {
	case "x86_64", "x86-64", "amd64":
		return lookupX86(mcpu)
	case "aarch64", "arm64":
		return lookupAArch64(mcpu)
	}
	return nil, fmt.Errorf("unsupported target %q (supported: %s)", name, strings.Join(Names(), ", "))
}

func lookupX86(mcpu string) (*Target, error) {
	var lv x86Level
	switch m := strings.ToLower(mcpu); m {
	case "", "native", "host":
		lv = x86Levels[0]
		if HostArch() == "x86_64" {
			lv = x86Levels[hostX86Level()-1]
			if lv.level == 4 && cpuid.CPU.Supports(cpuid.AVX512VNNI) {
				lv = x86VNNI
			}
		}
	default:
		cpu, ok := x86Aliases[m]
		if !ok {
			return nil, fmt.Errorf("unsupported --mcpu %q for x86_64 (supported: %s)", mcpu, strings.Join(sortedKeys(x86Aliases), ", "))
		}
		for _, l := range x86Levels {
			if l.cpu == cpu {
				lv = l
			}
		}
		if cpu == x86VNNIName {
			lv = x86VNNI
		}
	}
	return &Target{
		Name: "x86_64", Triple: x86Triple, DataLayout: x86Layout,
		CPU: lv.cpu, Features: lv.features, Required: lv.required, VectorBits: lv.bits,
		VectorRegs: map[bool]int{false: 16, true: 32}[lv.level >= 4], HasFMA: lv.level >= 3,
	}, nil
}

func lookupAArch64(mcpu string) (*Target, error) {
	m := strings.ToLower(mcpu)
	if m == "" || m == "native" || m == "host" {
		m = "generic"
	}
	if !aarch64CPUs[m] {
		return nil, fmt.Errorf("unsupported --mcpu %q for aarch64 (supported: %s)", mcpu, strings.Join(sortedKeys(aarch64CPUs), ", "))
	}
	t := &Target{
		Name: "aarch64", Triple: aarch64Triple, DataLayout: aarch64Layout,
		CPU: m, Features: "+neon", Required: []string{"asimd"}, VectorBits: 128,
		VectorRegs: 32, HasFMA: true,
	}
	if aarch64DotProd[m] {
		t.Features += ",+dotprod"
		t.Required = append(t.Required, "asimddp")
	}
	return t, nil
}

// hostX86Level is the psABI level (1-4) of the running x86-64 CPU.
func hostX86Level() int {
	lv := cpuid.CPU.X64Level()
	if lv < 1 {
		return 1
	}
	// Level 4 is only worth it (and only tested) with full AVX-512 F/BW/DQ/VL.
	if lv > 4 {
		lv = 4
	}
	return lv
}

// Host returns the target that describes the running machine.
func Host() (*Target, error) { return Lookup("", "") }

// MissingFeatures returns the features t needs that the running CPU lacks,
// or an error when t is for another architecture altogether.
func MissingFeatures(t *Target) ([]string, error) {
	return missingFeatures(t.Name, t.Required)
}

// CheckHost returns a clear error when code compiled for arch with the
// required features cannot run on this machine.
func CheckHost(arch, cpu string, required []string) error {
	missing, err := missingFeatures(arch, required)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("compiled for %s (%s), which needs CPU features %s; this CPU lacks %s (recompile with a lower --mcpu)",
			arch, cpu, strings.Join(required, ","), strings.Join(missing, ","))
	}
	return nil
}

func missingFeatures(arch string, required []string) ([]string, error) {
	if arch != HostArch() {
		return nil, fmt.Errorf("compiled for %s, but this machine is %s", arch, HostArch())
	}
	var missing []string
	for _, f := range required {
		if !hostHas(f) {
			missing = append(missing, f)
		}
	}
	return missing, nil
}

// hostFeature maps the feature names used in Required to cpuid features.
var hostFeature = map[string]cpuid.FeatureID{
	"sse4.2": cpuid.SSE42, "popcnt": cpuid.POPCNT, "avx2": cpuid.AVX2, "fma": cpuid.FMA3, "bmi2": cpuid.BMI2,
	"avx512f": cpuid.AVX512F, "avx512bw": cpuid.AVX512BW, "avx512dq": cpuid.AVX512DQ, "avx512vl": cpuid.AVX512VL,
	"avx512vnni": cpuid.AVX512VNNI,
	"asimd":      cpuid.ASIMD, "asimddp": cpuid.ASIMDDP,
}

func hostHas(f string) bool {
	if f == "asimd" && goruntime.GOARCH == "arm64" {
		return true // mandatory in ARMv8-A
	}
	id, ok := hostFeature[f]
	return ok && cpuid.CPU.Supports(id)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
