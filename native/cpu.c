#include "cpu.h"

#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CPU_X86 1
#endif

static cpu_features found;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void) {
#ifdef CPU_X86
  /* __builtin_cpu_supports also checks that the OS saves the wide registers (XGETBV). */
  __builtin_cpu_init();
  found.ssse3 = __builtin_cpu_supports("ssse3");
  found.sse41 = __builtin_cpu_supports("sse4.1");
  found.pclmul = __builtin_cpu_supports("pclmul");
  found.avx2 = __builtin_cpu_supports("avx2");
  found.avx512f = __builtin_cpu_supports("avx512f");
  found.avx512bw = __builtin_cpu_supports("avx512bw");
  found.gfni = __builtin_cpu_supports("gfni");
  /* The SHA extensions (CPUID leaf 7, EBX bit 29) work on SSE registers: no OS check needed. */
  unsigned a, b, c, d;
  found.sha = found.ssse3 && found.sse41 && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) != 0;
#endif
}

const cpu_features *cpu(void) {
  pthread_once(&once, detect);
  return &found;
}
