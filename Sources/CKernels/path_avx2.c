// The AVX2 + FMA path, 32-byte vectors. Only called when the CPU reports avx2 and fma.
#if defined(__x86_64__) || defined(__i386__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define KN(name) name##_avx2
#define VBYTES 32
#include "kernels.inc"
#pragma clang attribute pop
#endif
