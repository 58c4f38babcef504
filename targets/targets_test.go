package targets

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, tt := range []struct {
		name, mcpu string
		cpu        string
		bits       int
		fma        bool
	}{
		{"x86_64", "x86-64", "x86-64", 128, false},
		{"x86_64", "baseline", "x86-64", 128, false},
		{"x86_64", "avx2", "x86-64-v3", 256, true},
		{"x86_64", "haswell", "x86-64-v3", 256, true},
		{"x86_64", "x86-64-v4", "x86-64-v4", 512, true},
		{"amd64", "avx512", "x86-64-v4", 512, true},
		{"aarch64", "", "generic", 128, true},
		{"arm64", "neoverse-n1", "neoverse-n1", 128, true},
	} {
		tg, err := Lookup(tt.name, tt.mcpu)
		if err != nil {
			t.Errorf("Lookup(%q, %q): %v", tt.name, tt.mcpu, err)
			continue
		}
		if tg.CPU != tt.cpu || tg.VectorBits != tt.bits || tg.HasFMA != tt.fma {
			t.Errorf("Lookup(%q, %q) = %+v", tt.name, tt.mcpu, tg)
		}
	}
	for _, tt := range []struct{ name, mcpu, msg string }{
		{"riscv64", "", `unsupported target "riscv64" (supported: x86_64, aarch64)`},
		{"x86_64", "pentium", `unsupported --mcpu "pentium" for x86_64`},
		{"aarch64", "x86-64-v3", `unsupported --mcpu "x86-64-v3" for aarch64`},
	} {
		_, err := Lookup(tt.name, tt.mcpu)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Lookup(%q, %q) = %v, want %q", tt.name, tt.mcpu, err, tt.msg)
		}
	}
}

func TestHost(t *testing.T) {
	h, err := Host()
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != HostArch() {
		t.Errorf("Host().Name = %s, want %s", h.Name, HostArch())
	}
	// The host target runs here by definition.
	if missing, err := MissingFeatures(h); err != nil || len(missing) > 0 {
		t.Errorf("host target misses %v (%v)", missing, err)
	}
}

func TestCheckHost(t *testing.T) {
	other := "aarch64"
	if HostArch() == "aarch64" {
		other = "x86_64"
	}
	if err := CheckHost(other, "generic", nil); err == nil || !strings.Contains(err.Error(), "compiled for "+other+", but this machine is "+HostArch()) {
		t.Errorf("other arch: %v", err)
	}
	err := CheckHost(HostArch(), "x86-64-v9", []string{"no-such-feature"})
	if err == nil || !strings.Contains(err.Error(), "this CPU lacks no-such-feature") {
		t.Errorf("missing feature: %v", err)
	}
}

func TestMissingToolchain(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tg, _ := Lookup("x86_64", "x86-64")
	_, err := FindToolchain(tg)
	var te *ToolError
	if !errors.As(err, &te) || te.Package != "llvm-14" || !strings.Contains(err.Error(), "install the Debian package llvm-14") {
		t.Errorf("FindToolchain with an empty PATH: %v", err)
	}
}

func TestToolchainVerify(t *testing.T) {
	tg, _ := Lookup("x86_64", "x86-64-v3")
	tc, err := FindToolchain(tg)
	if err != nil {
		t.Skip(err)
	}
	good := "define i32 @f(i32 %x) {\n  %y = add i32 %x, 1\n  ret i32 %y\n}\n"
	if err := tc.Verify(context.Background(), []byte(good)); err != nil {
		t.Errorf("valid module: %v", err)
	}
	// %y is used before it is defined in the same block.
	bad := "define i32 @f(i32 %x) {\n  %z = add i32 %y, 1\n  %y = add i32 %x, 1\n  ret i32 %z\n}\n"
	if err := tc.Verify(context.Background(), []byte(bad)); err == nil || !strings.Contains(err.Error(), "LLVM verifier rejected the module") {
		t.Errorf("invalid module: %v", err)
	}
}
