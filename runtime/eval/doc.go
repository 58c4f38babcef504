// Package eval measures a model's quality on real data, backend-neutrally
// (anything runtime.Open returns): top-1 accuracy for classifiers and bits
// per byte / perplexity for byte-level language models. `optc eval` and the
// fixture regression test (tests/fixtures) both call it, so the numbers the
// CLI prints are the numbers the test checks.
//
// eval imports ir and runtime.
package eval
