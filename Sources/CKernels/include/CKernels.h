// sdfarm's CPU kernels with runtime dispatch: one C source (kernels.inc) compiled three times — portable,
// AVX2+FMA, AVX-512 — and a table of function pointers chosen once per process from the CPU's features
// (cpuid via __builtin_cpu_supports) and the SDFARM_KERNELS environment variable. A path the CPU lacks is
// never called, so no illegal instruction on older CPUs.
#ifndef SDFARM_CKERNELS_H
#define SDFARM_CKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set paths, lowest first.
typedef enum {
    SDK_PATH_PORTABLE = 0,
    SDK_PATH_AVX2 = 1,
    SDK_PATH_AVX512 = 2,
} sdk_path;

/// The highest path this CPU can run.
sdk_path sdk_best_supported_path(void);

/// The path in use: the best supported one unless SDFARM_KERNELS (portable | avx2 | avx512 | auto) asked for
/// a lower one. A request above what the CPU supports falls back to the best supported path.
sdk_path sdk_active_path(void);

/// Makes `path` the active one (tests compare paths). Returns 0 on success, -1 when the CPU cannot run it.
int sdk_set_path(sdk_path path);

/// "portable", "avx2" or "avx512".
const char *sdk_path_name(sdk_path path);

/// Winograd F(m, 3) for m = 2 or 4: transforms 3×3 weights w [cout][cin][3][3], output channels
/// co0..<co1, into u [(m+2)²][co1-co0][cin] (element stride ldE between the (m+2)² matrices).
/// `stream` nonzero writes u with non-temporal stores (for transformed weights larger than the caches).
void sdk_winograd_weights(int m, const float *w, int cin, int co0, int co1, float *u, long ldE, int stream);

/// Input transform of one tile row. `x` points at channel 0 of one image [C][H][W]; channels c0..<c1 of
/// tile row `ty` (tiles of m×m outputs, tilesX per row, zero padding `pad`) are written to
/// v[e·ldE + c·ldC + t0 + tx] for e < (m+2)², tx < tilesX.
void sdk_winograd_input(int m, const float *x, int H, int W, int pad, int c0, int c1, int ty, int tilesX,
                        float *v, long ldE, long ldC, long t0);

/// Output transform of one tile row: reads mm[e·ldE + (co-co0)·ldC + t0 + tx] for channels co0..<co1
/// and writes the m×m outputs of tile row `ty` into y (channel 0 of one image [Cout][OH][OW]),
/// adding bias[co] when bias is not NULL.
void sdk_winograd_output(int m, const float *mm, long ldE, long ldC, long t0, int co0, int co1,
                         float *y, int OH, int OW, int ty, int tilesX, const float *bias);

/// Fused blocked attention (online softmax) for one head over query rows q0..<q1.
/// q: row i at q + i·ldq (d floats); k, v: key j at k + j·ldk, v + j·ldk; out row i at o + i·ldo.
/// `kt` is scratch of sdk_attention_scratch(d, nk) floats (the head's keys and values packed, filled when `pack`
/// is nonzero; pass the same buffer with pack = 0 for later row ranges of the same head). causal masks keys j > i.
/// d ≤ 1024.
void sdk_attention_rows(const float *q, long ldq, const float *k, const float *v, long ldk, float *o, long ldo,
                        int d, int nk, int q0, int q1, float scale, int causal, float *kt, int pack);

/// Floats of scratch `sdk_attention_rows` needs for head size d and nk keys.
long sdk_attention_scratch(int d, int nk);

/// GroupNorm of `count` contiguous floats of one group: mean and 1/sqrt(var + eps) accumulated in double,
/// then out = x·scale[c] + shift[c] per channel of `spatial` floats (optionally SiLU).
void sdk_group_norm(const float *x, float *out, int channels, long spatial, const float *weight,
                    const float *bias, float eps, int silu);

/// LayerNorm of `rows` rows of d floats (statistics in double).
void sdk_layer_norm(const float *x, float *out, long rows, int d, const float *weight, const float *bias, float eps);

/// GEGLU of `rows` rows: x row [2n] → out row [n] = x[:n] · gelu(x[n:]) (erf form).
void sdk_geglu(const float *x, float *out, long rows, int n);

/// out[i] = x[i] + bias[i % n] for count floats (n divides count); in place allowed.
void sdk_add_row_bias(const float *x, float *out, long count, const float *bias, int n);

#ifdef __cplusplus
}
#endif

#endif
