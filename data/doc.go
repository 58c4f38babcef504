// Package data reads the real datasets optc measures models on and writes
// them in the forms the CLI and the training scripts consume.
//
//   - IDX (the MNIST / Fashion-MNIST container format, optionally gzipped):
//     ReadIDX, ReadIDXFile. Fashion-MNIST comes from the Debian package
//     dataset-fashion-mnist under FashionMNISTDir.
//   - Fashion-MNIST as classifier data: LoadFashionMNIST gives uint8 images
//     and labels; Normalize turns images into float32 NCHW [N,1,28,28] in
//     [0,1]; CalibSample draws the fixed, seeded calibration sample.
//   - The Go corpus: the *.go files of the Go standard library
//     ($(go env GOROOT)/src), split by package directory with CorpusSplit
//     (see its comment for the exact rule) and written as train and valid
//     byte streams by WriteCorpus.
//
// data imports only the ir package of optc.
package data
