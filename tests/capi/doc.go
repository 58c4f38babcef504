// Package capi tests the C ABI of compiled bundles for real: a C program
// (testdata/capi.c) that includes a bundle's generated header and links its shared
// library is built and run by the tests, natively on the host and, for
// aarch64, cross-compiled with aarch64-linux-gnu-gcc and run under
// qemu-aarch64. Its outputs are compared with the interpreter's.
//
// The cases: codegen's hand-built case tables (TestCABI, TestOpCasesCABI),
// and every fixture model of testdata/models plus the real models (PP-OCR
// det and cls, Silero VAD) compiled whole (TestModelsCABI, arm64_test.go;
// -short skips PP-OCR det under qemu). A model that does not compile fully
// native cannot run from C: its subtest skips naming the nodes that fall
// back (at the time of writing the two LMs, whose run-time shape
// arithmetic stays on the interpreter).
package capi
