// SHA-256's compression function over whole 64-byte blocks: the x86 SHA extensions where the CPU has them
// (checked with cpuid once per process), a portable C version elsewhere. Padding and the byte stream are
// RenderFormat's SHA256 (Swift).
#ifndef CSHA256_H
#define CSHA256_H
#include <stddef.h>
#include <stdint.h>

typedef enum { SDFARM_SHA256_PORTABLE = 0, SDFARM_SHA256_SHA_EXTENSIONS = 1 } sdfarm_sha256_impl;

// The implementation this CPU can run that `sdfarm_sha256_blocks` uses: the SHA extensions where present,
// unless SDFARM_KERNELS=portable forces the portable code for every kernel.
sdfarm_sha256_impl sdfarm_sha256_active(void);
// Whether this CPU has the SHA extensions (with SSSE3 and SSE4.1, which the code also needs).
int sdfarm_sha256_has_extensions(void);

// Feeds `blocks` 64-byte blocks at `data` into the state a..h.
void sdfarm_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);
// The same through a named implementation; SHA_EXTENSIONS must only be asked for where the CPU has them.
void sdfarm_sha256_blocks_with(sdfarm_sha256_impl impl, uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
