package targets

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// LLVMMajor is the LLVM version whose IR github.com/llir/llvm v0.3.6 writes.
const LLVMMajor = 14

// Toolchain holds the external programs that turn LLVM IR into a shared
// library for one target.
type Toolchain struct {
	Target *Target
	Opt    string // LLVM 14 opt
	LLC    string // LLVM 14 llc
	CC     string // C compiler and linker for the target
	AR     string // archiver for the target (binutils ar)
	// Run is the command prefix that runs the target's binaries on this
	// machine: empty for the host, qemu-aarch64 for ARM64 on x86-64.
	Run []string
	// OptLevel is the opt/llc optimization level (0-3; FindToolchain sets 3).
	OptLevel int
}

// ToolError is returned when a program the toolchain needs is missing.
type ToolError struct {
	Tool    string // what is missing ("llc 14")
	Package string // the Debian package that provides it
	Detail  string
}

func (e *ToolError) Error() string {
	s := e.Tool + " not found"
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s + ": install the Debian package " + e.Package
}

// FindToolchain locates the programs for t. LLVM tools are looked up as
// llc-14/opt-14, then llc/opt reporting version 14, in $PATH.
func FindToolchain(t *Target) (*Toolchain, error) {
	opt, err := findLLVMTool("opt")
	if err != nil {
		return nil, err
	}
	llc, err := findLLVMTool("llc")
	if err != nil {
		return nil, err
	}
	tc := &Toolchain{Target: t, Opt: opt, LLC: llc, OptLevel: 3}
	if t.Cross() {
		if t.Name != "aarch64" || HostArch() != "x86_64" {
			return nil, fmt.Errorf("cross-compiling from %s to %s is not supported", HostArch(), t.Name)
		}
		if tc.CC, err = exec.LookPath("aarch64-linux-gnu-gcc"); err != nil {
			return nil, &ToolError{Tool: "aarch64-linux-gnu-gcc", Package: "gcc-aarch64-linux-gnu (and libc6-dev-arm64-cross)"}
		}
		tc.AR, _ = exec.LookPath("aarch64-linux-gnu-ar")
		tc.Run = []string{"qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"}
		return tc, nil
	}
	for _, cc := range []string{os.Getenv("CC"), "cc", "gcc", "clang"} {
		if cc == "" {
			continue
		}
		if p, err := exec.LookPath(cc); err == nil {
			tc.CC = p
			break
		}
	}
	if tc.CC == "" {
		return nil, &ToolError{Tool: "C compiler (cc)", Package: "gcc"}
	}
	tc.AR, _ = exec.LookPath("ar")
	return tc, nil
}

// CheckRunner reports whether the target's binaries can be run here (for
// tests): nil for the host, an error naming qemu-user when it is missing.
func (tc *Toolchain) CheckRunner() error {
	if len(tc.Run) == 0 {
		return nil
	}
	if _, err := exec.LookPath(tc.Run[0]); err != nil {
		return &ToolError{Tool: tc.Run[0], Package: "qemu-user"}
	}
	return nil
}

var (
	toolCacheMu sync.Mutex
	toolCache   = map[string]string{}
	versionRE   = regexp.MustCompile(`LLVM version (\d+)\.`)
)

func findLLVMTool(name string) (string, error) {
	toolCacheMu.Lock()
	defer toolCacheMu.Unlock()
	key := name + "\x00" + os.Getenv("PATH")
	if p, ok := toolCache[key]; ok {
		return p, nil
	}
	var seen []string
	for _, cand := range []string{fmt.Sprintf("%s-%d", name, LLVMMajor), name} {
		p, err := exec.LookPath(cand)
		if err != nil {
			continue
		}
		out, _ := exec.Command(p, "--version").CombinedOutput()
		m := versionRE.FindSubmatch(out)
		if m == nil || string(m[1]) != fmt.Sprint(LLVMMajor) {
			v := "unknown"
			if m != nil {
				v = string(m[1])
			}
			seen = append(seen, fmt.Sprintf("%s is LLVM %s", p, v))
			continue
		}
		toolCache[key] = p
		return p, nil
	}
	detail := fmt.Sprintf("looked for %s-%d and %s in $PATH", name, LLVMMajor, name)
	if len(seen) > 0 {
		detail += "; " + strings.Join(seen, ", ")
	}
	return "", &ToolError{Tool: fmt.Sprintf("%s %d", name, LLVMMajor), Package: fmt.Sprintf("llvm-%d", LLVMMajor), Detail: detail}
}

// run executes a command with stdin and returns its stdout; a failure
// carries the command's stderr.
func run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 4000 {
			msg = msg[:4000] + " …"
		}
		return nil, fmt.Errorf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

func (tc *Toolchain) cpuArgs() []string {
	args := []string{"-mtriple=" + tc.Target.Triple, "-mcpu=" + tc.Target.CPU}
	if tc.Target.Features != "" {
		args = append(args, "-mattr="+tc.Target.Features)
	}
	return args
}

func (tc *Toolchain) optFlag() string { return fmt.Sprintf("-O%d", tc.OptLevel) }

// Verify runs the LLVM verifier (opt -verify) on a module in text form.
func (tc *Toolchain) Verify(ctx context.Context, ll []byte) error {
	if _, err := run(ctx, ll, tc.Opt, "-verify", "-disable-output"); err != nil {
		return fmt.Errorf("LLVM verifier rejected the module: %w", err)
	}
	return nil
}

// Optimize runs opt -O3 for the target and returns the optimized module
// in text form.
func (tc *Toolchain) Optimize(ctx context.Context, ll []byte) ([]byte, error) {
	args := append([]string{tc.optFlag(), "-S"}, tc.cpuArgs()...)
	return run(ctx, ll, tc.Opt, append(args, "-o", "-")...)
}

// Compile runs llc -O3 and returns assembly (asm = true) or an ELF object
// (position independent, ready for a shared library).
func (tc *Toolchain) Compile(ctx context.Context, ll []byte, asm bool) ([]byte, error) {
	ft := "obj"
	if asm {
		ft = "asm"
	}
	args := append([]string{tc.optFlag(), "-relocation-model=pic", "-filetype=" + ft}, tc.cpuArgs()...)
	return run(ctx, ll, tc.LLC, append(args, "-o", "-")...)
}

// CompileC compiles one C source file to a position-independent object.
func (tc *Toolchain) CompileC(ctx context.Context, src, obj string, flags ...string) error {
	args := append([]string{"-c", "-O2", "-fPIC", "-std=c11", "-Wall"}, flags...)
	_, err := run(ctx, nil, tc.CC, append(args, "-o", obj, src)...)
	return err
}

// LinkShared links objects (and C sources) into a shared library. Its
// references to its own symbols bind inside it (-Bsymbolic), so several
// libraries exporting the same names can live in one process.
func (tc *Toolchain) LinkShared(ctx context.Context, out string, inputs ...string) error {
	args := []string{"-shared", "-fPIC", "-O2", "-std=c11", "-Wl,-Bsymbolic", "-o", out}
	args = append(args, inputs...)
	_, err := run(ctx, nil, tc.CC, append(args, "-lpthread", "-lm")...)
	return err
}

// LinkExecutable builds a program from C sources and objects (tests use
// it for the C ABI program).
func (tc *Toolchain) LinkExecutable(ctx context.Context, out string, args ...string) error {
	_, err := run(ctx, nil, tc.CC, append([]string{"-O2", "-o", out}, args...)...)
	return err
}

// Archive packs objects into a static library.
func (tc *Toolchain) Archive(ctx context.Context, out string, objs ...string) error {
	if tc.AR == "" {
		return &ToolError{Tool: "ar", Package: "binutils"}
	}
	_ = os.Remove(out)
	_, err := run(ctx, nil, tc.AR, append([]string{"rcs", out}, objs...)...)
	return err
}

// Command returns a command that runs a target binary on this machine
// (through qemu for a cross target), with extra environment entries.
func (tc *Toolchain) Command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, tc.Run...), prog), args...)
	return exec.CommandContext(ctx, argv[0], argv[1:]...)
}
