/*
 * What the CPU can run, looked at once for the whole addon (gf16.c, crc32.c, sha256.c choose their
 * kernels from it). Every field is 0 on a CPU other than x86.
 */
#ifndef BLAINE_CPU_H
#define BLAINE_CPU_H

typedef struct {
  int ssse3, sse41, pclmul, avx2, avx512f, avx512bw, gfni, sha;
} cpu_features;

/* Detected on the first call (from any thread, once); the same answer ever after. */
const cpu_features *cpu(void);

#endif
