// Package eval measures a model's quality on real data, backend-neutrally
// (anything runtime.Open returns): top-1 accuracy for classifiers and bits
// per byte / perplexity for byte-level language models. `optc eval` and the
// fixture regression test (tests/fixtures) both call it, so the numbers the
// CLI prints are the numbers the test checks.
//
// LMCalibration turns text into a byte LM's inputs fed exactly as ByteLM
// feeds them: the calibration data of passes/quant for language models
// (optc eval/quant-report/compile --quant --calib text.txt).
//
// eval imports ir and runtime.
package eval
