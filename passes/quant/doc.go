// Package quant holds optc's quantization passes: uniform int8/int4
// (per tensor, channel or group; symmetric or asymmetric; weight-only or
// with statically calibrated int8 activations), NUPES power-exponent
// quantization (data-free and data-driven) and AdaPT per-layer fixed
// point, plus per-layer sensitivity and the accuracy-budget loop.
//
// # What it produces
//
// Weights of Gemm, MatMul and Conv layers (a dense float32 constant
// operand, the other operand a run-time activation) become ir.Quantized
// tensors; ir.Quantized.Decode is their meaning for every backend (the
// interpreter decodes them once and caches the result). Activation
// quantization inserts ONNX QuantizeLinear → DequantizeLinear pairs with
// static scale and zero point on a layer's input, which the interpreter
// runs with integer semantics (round half to even, saturate to
// uint8/int8); the layer itself then computes on the 8-bit grid values in
// float32, which is the ONNX QDQ convention — an integer backend that
// accumulates int8×int8 in int32 and rescales agrees up to float32
// rounding of the accumulation. Biases stay float32.
//
// # Methods
//
// Uniform: symmetric codes k = clamp(round(w/(M/Qmax)), ±Qmax) with
// M = max|w| of the channel/group and scale M/Qmax; asymmetric codes with
// a zero point over [min(w,0), max(w,0)]. Activations (8 bits): ranges
// from min-max, percentile (default 99.99), MSE-optimal clipping (search
// of α·[min,max] on a 2048-bin histogram) or the KL-entropy calibrator
// (TensorRT's algorithm on the |x| histogram), statistics from the float
// model on the calibration set.
//
// NUPES (papers.md §1.1): codes of sign(w)|w|^a on a uniform grid,
// decoded sign(k)·M·(|k|/Qmax)^(1/a). Data-free: the exponent per layer
// (or per channel, exponent=channel) minimizing ||W − Ŵ(a)||² by
// golden-section search on [0.1, 1] to 1e-3 (a = 1 kept when it is at
// least as good, so NUPES never has more weight error than uniform
// symmetric quantization at the same size). Data-driven: layer by layer,
// on calibration inputs propagated through the already quantized
// preceding layers, minimize ||W X − Ŵ(a) X||² jointly over the exponent
// and the codes themselves. Differences from the paper: instead of Adam
// with a straight-through estimator on latent codes we use exact
// coordinate descent on the quadratic loss through the Gram matrix
// H = X Xᵀ (each code moves to the best grid point anywhere in ±Qmax
// given the others — the whole quantized space, not only round up/down),
// alternated with golden-section steps on the exponent with the codes
// fixed; every step is a descent step, deterministic, with no learning
// rate to tune. With the codes fixed a row's loss is a quadratic in the
// Qmax+1 decode-table entries, so each exponent step first expands it
// around the current table (two passes over H per row) and then every
// golden-section probe costs O(Qmax²) instead of O(R²). The calibration
// inputs come from one forward pass per Build: layers are quantized in
// program order, so the values a layer's input depends on are final when
// it is asked for; they are kept (per batch, while a node not yet run
// reads them) and only the nodes up to the next layer's input run, which
// gives the same values as re-running the whole partially quantized
// model for every layer (it starts over if a node already run changed,
// e.g. a weight also read before its layer). The scale M stays max|w|
// per channel/group. With a = 1
// the codes and the decoded values equal uniform symmetric quantization
// bit for bit (same float64 expression; T_1[m] = m).
//
// Integer NUPES (table=int; --quant nupes:B[:method]:int, nupes_int.go):
// the decode table is rounded to int8, T[m] = round(L·(m/Qmax)^(1/a)) with
// L = r·Qmax and r the largest power of two keeping L ≤ 127 (4 bits: 112,
// 3 bits: 96), and the weight is ±(scale/r)·T[|k|] (ir.QuantPowerInt).
// With int8 activations (the preset adds them) a layer is integer-only:
// y = s_a·(scale/r)·(Σ a·T[k] − z_a·Σ T[k]), the table folded into the
// requantization's one float multiply per channel (scale/r is exact). The
// exponent comes from the float-table search; data-free codes are then
// re-rounded to the nearest integer-table entry (an exponent returns to 1
// unless its integer table has less weight error), data-driven codes are
// kept (the integer table is within 1/(2r) of a scale of the float one).
// With a = 1, T[m] = r·m and codes and decoded values are uniform
// symmetric quantization's bit for bit.
//
// AdaPT (papers.md §1.2): each layer gets a fixed-point format ⟨WL, FL⟩
// with FL = WL − 1 − ceil(log2 max|w|). Push-down picks the smallest WL
// in [min-wl, max-wl] whose KL divergence between the histograms of the
// float and the quantized weights (kl-bins bins over [−max|w|, max|w|])
// is at most kl-eps. The optional fine-tuning (finetune=STEPS) keeps the
// weights in fixed point and takes gradient steps on the layer-output
// loss ||W X − Ŵ X||² over calibration inputs, stochastically rounded
// (seeded) to the grid; push-up raises WL and FL by 2 when, over a
// look-back window, more than 99% of the quantized updates vanish while
// an unquantized step would still cut the loss by more than 5% per step.
// With mode=weight+act (preset adapt:act; act=fixed is the default for
// scheme=adapt) each layer's input activation gets its own format
// ⟨WL_a, FL_a⟩ too (adapt_act.go): the same push-down criterion applied
// to a seeded sample (≤ 65,536 values) of the activation over the
// calibration rows, FL_a = WL_a − 1 − ceil(log2 a) with a the range the
// activation calibrator picks (calib=, default the 99.99th percentile;
// calib=minmax gives AdaPT's max|x|), WL_a in [min-wl, min(max-wl, 8)].
// It is QuantizeLinear → DequantizeLinear with scale 2^−FL_a and an int8
// zero point 0, after a Clip to [−2^(WL_a−1), 2^(WL_a−1)−1]·2^−FL_a when
// WL_a < 8, so the int8 codes hold WL_a-bit values. Those layers' weight
// word lengths are capped at 8 as well, so every layer is int8 × int8 →
// int32 on the native kernels, rescaled by the power of two
// 2^−(FL_w+FL_a) (exact in float32); act=int8 keeps uniform int8
// activations from the calibrator instead.
// Differences from the paper: AdaPT is a training-time method (whole
// network, task loss, precision switched between epochs, gradient
// diversity for push-up, stochastic rounding); optc is post-training, so
// push-down is applied once to the trained weights and to calibration
// activations, fine-tuning is layer-wise on a reconstruction loss with no
// labels, the push-up signal is the vanishing-update test above,
// activations round to nearest (ties to even) and are at most 8 bits
// (the int8 kernels; words of 9–16 bits would need int16 activation
// kernels), and biases and the elementwise ops between layers stay
// float32, so the network is fixed point at every layer's product, not
// end to end.
//
// # Sensitivity and budget
//
// Every Build reports per layer: spec, bits, stored bytes, and the SQNR of
// the layer's output on calibration data (quantized model vs float model,
// earlier layers' error included). Quantizer.Sensitivity measures the
// metric change when only one layer is quantized; Quantizer.Budget
// (optc quant-report --max-drop) falls back the most sensitive layers
// along Fallback's ladder (→ int8 → int8 weight-only → float) until the
// measured drop fits, and never returns a model over budget.
//
// Everything is deterministic: token sampling and stochastic rounding
// draw from PCG generators seeded by Options.Seed and the layer name, and
// parallel work is split per output channel with results combined in a
// fixed order.
//
// quant imports ir, passes and runtime/interp (to run calibration data).
package quant
