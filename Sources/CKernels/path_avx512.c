// The AVX-512 path (F, BW, DQ, VL), 64-byte vectors. Only called when the CPU reports all four.
#if defined(__x86_64__) || defined(__i386__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#define KN(name) name##_avx512
#define VBYTES 64
#include "kernels.inc"
#pragma clang attribute pop
#endif
