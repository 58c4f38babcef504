// Package conformance runs optc's reference interpreter against the ONNX
// backend conformance suite shipped by Debian's libonnx-testdata package
// (/usr/share/libonnx-testdata/data/{node,pytorch-converted,
// pytorch-operator,simple}; override the root with $OPTC_ONNX_TESTDATA).
//
// TestConformance has one subtest per test directory, named
// <suite>/<test name>, e.g.
//
//	go test ./tests/conformance -run 'TestConformance/node/test_relu$' -v
//
// Each test loads model.onnx with frontend/onnx, runs every
// test_data_set_* through runtime/interp and compares every output with
// ONNX's tolerances (|got-want| <= 1e-7 + 1e-3*|want| for floats, NaN
// equals NaN, infinities exactly; exact for integers, bools and strings;
// same dtype and shape; sequences and optionals element-wise). A test that
// runs longer than $OPTC_CONFORMANCE_TIMEOUT (default 20s) fails alone.
//
// skiplist.txt lists tests that are not run ("skip": random-number ops,
// training ops, ops ONNX Runtime does not implement either) or that are
// expected to fail ("xfail"), one per line with a reason. An xfail test
// that passes fails the run so the list stays honest.
//
// After all subtests the runner prints exactly one line
//
//	conformance: N passed, M failed, K skipped
//
// counting only the tests that ran (-run filters apply; skipped = skip +
// xfail). With -v, or with $OPTC_CONFORMANCE_REPORT=path, it also writes a
// report: a per-op table of failing tests and the first error of each.
//
// The package has test code only; nothing in optc imports it.
package conformance
