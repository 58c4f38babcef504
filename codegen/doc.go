// Package codegen lowers an ir.Graph with static shapes to LLVM IR (text,
// LLVM 14 dialect, written with github.com/llir/llvm) for one target.
//
// The pipeline, one file per step:
//
//	bind.go       symbolic dims are bound to concrete sizes (--shape, default 1)
//	partition.go  nodes codegen can lower vs. nodes left to the interpreter;
//	              dead nodes dropped; consecutive nodes grouped into segments
//	lower.go      the op registry (registerLowering) and the lowering of a
//	              native segment's nodes into kernels: elementwise chains
//	              fused into one loop (and into the epilogue of a preceding
//	              MatMul/Gemm), views (Reshape, Flatten, …) become aliases
//	plan.go       static memory plan: segment inputs/outputs, packed weights,
//	              liveness-based arena offsets for intermediates
//	emit.go       one entry function per segment; kernels are task functions
//	              run through optc_parallel_for (provided by the runtime shim)
//	ew.go, expr.go, gemm.go, softmax.go, views.go   the kernels; each file
//	              registers the ops it lowers in an init function; views
//	              alias data of any lowered dtype (gemm.go: GEMV-shaped
//	              GEMMs, M up to one row tile, prefetch B 4 KB ahead)
//	trig.go       vectorized Sin/Cos (Cephes, three-part π/4 reduction:
//	              accurate for |x| up to about 8192, rotary angles)
//	pool.go, norm.go, reduce.go, copy.go   pooling, LayerNorm, reductions,
//	              and data movement (Transpose, Slice, Concat, Split,
//	              Gather, Expand, Pad, nearest Resize) as strided region
//	              copies (regionKernel)
//	gather.go     Gather with run-time int32/int64 indices (constant
//	              indices stay region copies); an index out of range
//	              makes the entry return StatusIndexRange, never a read
//	              outside the data
//	resize.go     Resize/Upsample other than integer replication: nearest,
//	              linear, cubic over every coordinate transformation, from
//	              per-dim tap tables computed at run time (scales, sizes and
//	              roi may be run-time inputs; ones that disagree with the
//	              compiled shape return StatusResizeScales)
//	ew_int.go     typed elementwise: Cast (f32, f64, integers, bool), Where,
//	              integer Add/Sub/Mul/Div/Max/Min/Neg/Abs (scalar loops;
//	              a zero divisor returns StatusDivZero); the integer forms
//	              of ew.go's ops arrive through registerAltLowering
//	conv.go, conv_direct.go, conv_dw.go, conv_transpose.go   group-1
//	              Conv with constant weights as a direct implicit GEMM
//	              (conv_direct.go: the input copied once into zero-padded
//	              phase planes, so strides and dilations become contiguous
//	              vector loads; an mr x nr register tile over output
//	              channels x a grid of output columns, weights packed at
//	              compile time, masked stores of the grid's valid columns;
//	              unpadded 1x1 convs read their input in place); other
//	              Convs as im2col (packed straight into the GEMM's B
//	              panels) + the GEMM micro-kernel, per image and group; both
//	              with the bias/activation epilogue; depthwise as a direct
//	              vector kernel over the same phase planes; ConvTranspose (any
//	              group, auto_pad, output_shape, output_padding) as a
//	              GEMM + gather col2im (BatchNorm is folded by passes' fold-bn)
//	gemm_quant.go, gemm_nupes.go   weight-only quantized MatMul/Gemm: a
//	              constant B (or A) with an ir.Quantized encoding — uniform
//	              per tensor/column/group of K, symmetric or with zero
//	              points, NUPES power codes up to 4 bits (decode table:
//	              vpermps on x86, select chain elsewhere), fixed point up
//	              to 16 bits — is stored as its codes in panel order (4-,
//	              8- or 16-bit) and decoded in registers in the k loop
//	              (one row tile), once per kc x nr slice per task (several
//	              row tiles), or per task into a stack buffer (constant A;
//	              a group-1 Conv's filters too: the direct kernel's
//	              [M/mr][C·KH·KW][mr] tiles are quantPack's panels with
//	              nr = mr, each task decoding its row tiles, as vectors of
//	              mr lanes, before its first tile, tasks taking fewer row
//	              tiles where theirs would pass 256 KiB of stack; the im2col
//	              GEMM's as its quantized A). Other encodings, grouped and
//	              depthwise filters, and constants whose decoded buffer
//	              would pass 256 KiB (a quantized A; one row tile of
//	              filters) are decoded to float32 at compile time and
//	              listed in Result.Decoded
//	gemm_i8.go, conv_i8.go   int8 weight+activation layers: QuantizeLinear
//	              and DequantizeLinear (per tensor, or per axis: a row of
//	              elements per channel, its scale and zero point splat) lowered, the rounding
//	              bit for bit the interpreter's; a DequantizeLinear whose
//	              readers are all MatMul/Gemm/Conv with 8-bit symmetric
//	              per-channel weights (or AdaPT fixed point of any word
//	              up to 8 bits: with a fixed-point activation the scale
//	              s_a·s_w is 2^−(FL_a+FL_w)) becomes a view of the codes, and
//	              those layers accumulate u8 activation × i8 weight codes
//	              in int32 (AVX512-VNNI vpdpbusd on x86-64-v4-vnni,
//	              pmaddwd on other x86 levels, sdot on aarch64 CPUs with
//	              the dot product (codes − 128), else bytes widened to
//	              32-bit lanes), subtract z_a·Σw in int32
//	              and scale by s_a·s_w in the epilogue. Conv reduces over
//	              (channel group of 4, kh, kw, channel): the input is
//	              copied into z_a-padded planes of 4 interleaved channels
//	              and im2col is one 32-bit gather per (k, column)
//	conv_dw_i8.go   grouped and depthwise int8 Conv (group > 1, 8-bit
//	              symmetric or fixed-point weights), direct: per (image,
//	              group) the codes become int32 planes of a − z_a (zero
//	              padded, split into stride phases), then per output
//	              channel and row L columns of multiply-adds over the taps
//	              (depthwise in registers, Cg > 1 through an accumulator
//	              plane): float32 FMAs on the integers when every sum is
//	              exact there (255·128·Cg·KH·KW < 2^24), else int32;
//	              ×s_a·s_w, + bias, scalar epilogue
//	gemm_nupes_i8.go   integer-only NUPES on those int8 layers (GEMM and
//	              Conv): a power_int weight (ir.QuantPowerInt, one
//	              exponent, per-column scales, ≤ 4 bits) stays 4-bit codes
//	              (nibbles of the int8 panels / filter rows) and each task
//	              decodes its panels or filter rows once through the 16-entry
//	              int8 table (pshufb from x86-64-v2, tbl on aarch64, a
//	              select chain on x86-64 v1) into a stack buffer for the
//	              int8 micro-kernel; Σ T[k] is the int32 correction and
//	              s_a·scale/r (r a power of two) the epilogue's scale
//	control.go    control flow: after binding, Compile re-infers types inside
//	              subgraphs, folds what became constant and replaces each If
//	              with a constant condition by its branch (ctrlSimplify); an
//	              If with a run-time condition whose branches lower completely
//	              (outputs of the If's static shapes) branches in the entry
//	              function between the then and else kernels, each ending in
//	              copies into the If's outputs; comparisons (Equal, Less, …)
//	              of small integer or float tensors
//	lstm.go       LSTM (layouts 0 and 1, all directions, peepholes, clip,
//	              input_forget, run-time sequence_lens): the input projection
//	              of all steps as one GEMM, the recurrence as one kernel with
//	              a vector-FMA GEMV over R^T packed k-major per step
//	pad_border.go Pad in reflect and edge modes (region copies from the
//	              output itself with negative or zero strides)
//	attention.go  optc_attn_block, exported by every bundle of a graph with
//	              an optc.Attention node (which stays an interpreter step: it
//	              reads the KV cache bound to the run): online softmax of a
//	              group of query rows over one block of keys and values, the
//	              scores vectorized over keys (transposed block) or over the
//	              head, its reductions on 4 accumulators; runtime/native
//	              binds it to the interpreter's kernel
//	llvm.go       the small layer over llir/llvm the kernels are written in
//
// Adding a kernel (Conv, pooling, a normalization, …): a new file with a
// type implementing kernel (inputs, output, temps, emit, describe) and an
// init function calling registerLowering for its ops (a check function
// for the forms it supports; nodes it refuses run on the interpreter).
// Implementing fusable lets following elementwise ops fuse into its
// epilogue, as gemmKernel does.
//
// A segment's entry point has the C signature
//
//	int32_t f(const void *const *inputs, void *const *outputs,
//	          const uint8_t *weights, uint8_t *scratch, void *pool);
//
// It returns 0, or one of the Status* codes when a run-time check of a
// kernel fails (a Gather index out of range, Resize scales that do not
// give the compiled shape, an integer division by zero); the shim turns
// the code into optc_last_error's message.
//
// and a fully native graph's single segment is also exported as
// optc_graph_run. Weights are stored contiguously in the order of
// Result.Weights, each at a 64-byte aligned offset, in the layout the
// kernels stream (MatMul/Gemm B operands pre-packed into panels).
//
// codegen imports ir, targets and passes (control.go folds what shape
// binding made constant, in every graph whose Shape/Size nodes became
// static, with passes.Fold, which evaluates nodes on the
// reference interpreter); it never runs generated code.
package codegen
