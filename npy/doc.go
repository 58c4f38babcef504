// Package npy reads and writes NumPy's .npy and .npz files as *ir.Tensor.
//
// Supported: format versions 1.0, 2.0 and 3.0; little- and big-endian data
// in C order; the dtypes f2 f4 f8, i1 i2 i4 i8, u1 u2 u4 u8, b1 and the
// fixed-width string dtypes U<n> (UTF-32) and S<n> (bytes, read only).
// Fortran-ordered arrays (unless their layout equals C order), structured
// and object (pickled) arrays are rejected with an error that says so.
//
// .npz files are zip archives of .npy members named "<key>.npy", stored
// (numpy.savez) or deflated (numpy.savez_compressed). Writers are
// deterministic: arrays are written in sorted key order, with a fixed zip
// timestamp, and the .npy header is byte-for-byte the one numpy.save
// writes. File writers are atomic: they write a temporary file in the
// destination's directory and rename it, so a failure never leaves a
// partial file behind.
//
// Corrupt or truncated input yields an error, never a panic, and never an
// allocation much larger than the input actually provides.
//
// npy imports only the ir package of optc.
package npy
