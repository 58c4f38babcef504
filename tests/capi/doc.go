// Package capi tests the C ABI of compiled bundles for real: a C program
// (testdata/capi.c) that includes a bundle's generated header and links its shared
// library is built and run by the tests, natively on the host and, for
// aarch64, cross-compiled with aarch64-linux-gnu-gcc and run under
// qemu-aarch64. Its outputs are compared with the interpreter's.
package capi
