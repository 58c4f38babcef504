// Package targets describes the machines optc compiles for and drives the
// external LLVM toolchain in one place.
//
// A Target names an architecture (x86_64, aarch64), its LLVM triple and
// data layout, the CPU model handed to llc (-mcpu), the CPU features the
// generated code may use and the vector width the kernels are written for.
// Lookup resolves a user's -t/--mcpu choice; Host describes the machine
// running optc; MissingFeatures checks a target against the running CPU
// (bundles call it when they are opened).
//
// x86_64 levels are the psABI's x86-64, -v2, -v3 and -v4, plus
// x86-64-v4-vnni (aliases avx512vnni, cascadelake, sapphirerapids): v4
// with AVX512-VNNI, which codegen's int8 kernels use (vpdpbusd), and the
// native choice on a CPU that has it. The aarch64 CPUs with the ARMv8.2
// dot product (cortex-a55, cortex-a76, neoverse-n1, neoverse-v1, apple-m1)
// add +dotprod (sdot, for the int8 kernels) and require asimddp.
//
// Toolchain finds LLVM 14's opt and llc (Debian package llvm-14), the C
// compiler that links shared libraries for the target (the system cc for
// the host, aarch64-linux-gnu-gcc for ARM64) and, for tests, the program
// that runs ARM64 binaries on an x86-64 host (qemu-aarch64). Every
// external command goes through this package.
//
// targets imports nothing of optc.
package targets
