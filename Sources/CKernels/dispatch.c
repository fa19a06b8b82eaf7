// Chooses the kernel path once per process and forwards each call through a table of function pointers.
#include "CKernels.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define DECLARE(path)                                                                                           \
    void winograd_weights_##path(int, const float *, int, int, int, float *, long, int);                         \
    void winograd_input_##path(int, const float *, int, int, int, int, int, int, int, float *, long, long, long); \
    void winograd_output_##path(int, const float *, long, long, long, int, int, float *, int, int, int, int,      \
                                const float *);                                                                 \
    void attention_rows_##path(const float *, long, const float *, const float *, long, float *, long, int, int,  \
                               int, int, float, int, float *, int);                                             \
    void group_norm_##path(const float *, float *, int, long, const float *, const float *, float, int);         \
    void layer_norm_##path(const float *, float *, long, int, const float *, const float *, float);              \
    void geglu_##path(const float *, float *, long, int);                                                       \
    void add_row_bias_##path(const float *, float *, long, const float *, int);

DECLARE(portable)
#if defined(__x86_64__) || defined(__i386__)
DECLARE(avx2)
DECLARE(avx512)
#define HAVE_X86_PATHS 1
#endif

typedef struct {
    void (*winograd_weights)(int, const float *, int, int, int, float *, long, int);
    void (*winograd_input)(int, const float *, int, int, int, int, int, int, int, float *, long, long, long);
    void (*winograd_output)(int, const float *, long, long, long, int, int, float *, int, int, int, int, const float *);
    void (*attention_rows)(const float *, long, const float *, const float *, long, float *, long, int, int, int, int,
                           float, int, float *, int);
    void (*group_norm)(const float *, float *, int, long, const float *, const float *, float, int);
    void (*layer_norm)(const float *, float *, long, int, const float *, const float *, float);
    void (*geglu)(const float *, float *, long, int);
    void (*add_row_bias)(const float *, float *, long, const float *, int);
} table;

#define TABLE(path) { winograd_weights_##path, winograd_input_##path, winograd_output_##path, attention_rows_##path, group_norm_##path, \
                      layer_norm_##path, geglu_##path, add_row_bias_##path }

static const table tables[3] = {
    TABLE(portable),
#ifdef HAVE_X86_PATHS
    TABLE(avx2),
    TABLE(avx512),
#else
    TABLE(portable),
    TABLE(portable),
#endif
};

sdk_path sdk_best_supported_path(void) {
#ifdef HAVE_X86_PATHS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl"))
        return SDK_PATH_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SDK_PATH_AVX2;
#endif
    return SDK_PATH_PORTABLE;
}

static _Atomic int active = -1;

static int initial_path(void) {
    sdk_path best = sdk_best_supported_path();
    const char *want = getenv("SDFARM_KERNELS");
    if (!want || !*want || strcmp(want, "auto") == 0) return best;
    sdk_path asked = best;
    if (strcmp(want, "portable") == 0) asked = SDK_PATH_PORTABLE;
    else if (strcmp(want, "avx2") == 0) asked = SDK_PATH_AVX2;
    else if (strcmp(want, "avx512") == 0) asked = SDK_PATH_AVX512;
    return asked < best ? asked : best;
}

sdk_path sdk_active_path(void) {
    int p = atomic_load_explicit(&active, memory_order_acquire);
    if (p < 0) {
        p = initial_path();
        atomic_store_explicit(&active, p, memory_order_release);
    }
    return (sdk_path)p;
}

int sdk_set_path(sdk_path path) {
    if (path < SDK_PATH_PORTABLE || path > sdk_best_supported_path()) return -1;
    atomic_store_explicit(&active, (int)path, memory_order_release);
    return 0;
}

const char *sdk_path_name(sdk_path path) {
    switch (path) {
    case SDK_PATH_AVX2: return "avx2";
    case SDK_PATH_AVX512: return "avx512";
    default: return "portable";
    }
}

static inline const table *current(void) { return &tables[sdk_active_path()]; }

void sdk_winograd_weights(int m, const float *w, int cin, int co0, int co1, float *u, long ldE, int stream) {
    current()->winograd_weights(m, w, cin, co0, co1, u, ldE, stream);
}

void sdk_winograd_input(int m, const float *x, int H, int W, int pad, int c0, int c1, int ty, int tilesX,
                        float *v, long ldE, long ldC, long t0) {
    current()->winograd_input(m, x, H, W, pad, c0, c1, ty, tilesX, v, ldE, ldC, t0);
}

void sdk_winograd_output(int m, const float *mm, long ldE, long ldC, long t0, int co0, int co1,
                         float *y, int OH, int OW, int ty, int tilesX, const float *bias) {
    current()->winograd_output(m, mm, ldE, ldC, t0, co0, co1, y, OH, OW, ty, tilesX, bias);
}

void sdk_attention_rows(const float *q, long ldq, const float *k, const float *v, long ldk, float *o, long ldo,
                        int d, int nk, int q0, int q1, float scale, int causal, float *kt, int pack) {
    current()->attention_rows(q, ldq, k, v, ldk, o, ldo, d, nk, q0, q1, scale, causal, kt, pack);
}

// Keys and values packed [nk rounded up to a key block][d]; every path's key block is at most 128.
long sdk_attention_scratch(int d, int nk) { return 2L * d * (nk + 128); }

void sdk_group_norm(const float *x, float *out, int channels, long spatial, const float *weight,
                    const float *bias, float eps, int silu) {
    current()->group_norm(x, out, channels, spatial, weight, bias, eps, silu);
}

void sdk_layer_norm(const float *x, float *out, long rows, int d, const float *weight, const float *bias, float eps) {
    current()->layer_norm(x, out, rows, d, weight, bias, eps);
}

void sdk_geglu(const float *x, float *out, long rows, int n) { current()->geglu(x, out, rows, n); }

void sdk_add_row_bias(const float *x, float *out, long count, const float *bias, int n) {
    current()->add_row_bias(x, out, count, bias, n);
}
