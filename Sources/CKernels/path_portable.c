// The portable path: baseline instruction set (SSE2 on x86-64), 16-byte vectors.
#define KN(name) name##_portable
#define VBYTES 16
#include "kernels.inc"
