/*
 * CRC-32. The x86 crc32 instruction computes CRC-32C, a different polynomial, so it cannot serve
 * PAR2. Two methods instead:
 * - slicing by 8: eight tables fold eight bytes per step with independent lookups (~2 GB/s);
 * - carry-less multiplication (PCLMULQDQ) where the CPU has it: four 128-bit accumulators are
 *   each moved 512 bits ahead by multiplying their halves by x^(512±32) mod P and XORing in the
 *   next input, which keeps the CRC of "accumulators ‖ rest of the input" unchanged; at the end
 *   the one remaining 128-bit value goes through the table method, so no Barrett reduction is
 *   needed. The constants are computed here from the polynomial (bit-reflected, as the CRC is).
 */
#include "crc32.h"

#include <string.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#define CRC_X86 1
#include <immintrin.h>
#endif

static uint32_t table[8][256];
static int ready;
static int have_clmul;
static uint64_t k544, k480, k160, k96;

static uint32_t table_update(uint32_t crc, const uint8_t *p, size_t len);

/* x^n mod P, bit-reflected over 32 bits and shifted left by one, as the folding multiplications want it. */
static uint64_t fold_constant(unsigned n) {
  uint64_t r = 1;
  for (unsigned i = 0; i < n; i++) {
    r <<= 1;
    if (r & 0x100000000ull) r ^= 0x104C11DB7ull;
  }
  uint64_t reflected = 0;
  for (int b = 0; b < 32; b++) reflected |= ((r >> b) & 1) << (31 - b);
  return reflected << 1;
}

#ifdef CRC_X86
__attribute__((target("pclmul,sse4.1"))) static inline __m128i fold(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

/* len >= 64. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t clmul_update(uint32_t crc, const uint8_t *p, size_t len) {
  const __m128i k4 = _mm_set_epi64x((long long)k480, (long long)k544);
  const __m128i k1 = _mm_set_epi64x((long long)k96, (long long)k160);
  __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)~crc));
  __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
  __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
  p += 64;
  len -= 64;
  for (; len >= 64; p += 64, len -= 64) {
    x0 = _mm_xor_si128(fold(x0, k4), _mm_loadu_si128((const __m128i *)p));
    x1 = _mm_xor_si128(fold(x1, k4), _mm_loadu_si128((const __m128i *)(p + 16)));
    x2 = _mm_xor_si128(fold(x2, k4), _mm_loadu_si128((const __m128i *)(p + 32)));
    x3 = _mm_xor_si128(fold(x3, k4), _mm_loadu_si128((const __m128i *)(p + 48)));
  }
  __m128i x = _mm_xor_si128(fold(x0, k1), x1);
  x = _mm_xor_si128(fold(x, k1), x2);
  x = _mm_xor_si128(fold(x, k1), x3);
  for (; len >= 16; p += 16, len -= 16) x = _mm_xor_si128(fold(x, k1), _mm_loadu_si128((const __m128i *)p));
  uint8_t rest[16];
  _mm_storeu_si128((__m128i *)rest, x);
  /* The accumulated value is a message of its own, read from a register that starts at zero. */
  uint32_t c = table_update(0xffffffffu, rest, 16);
  return table_update(c, p, len);
}
#endif

void crc32_init(void) {
  if (__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) return;
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    for (int t = 1; t < 8; t++) table[t][n] = (table[t - 1][n] >> 8) ^ table[0][table[t - 1][n] & 0xff];
  }
  k544 = fold_constant(4 * 128 + 32);
  k480 = fold_constant(4 * 128 - 32);
  k160 = fold_constant(128 + 32);
  k96 = fold_constant(128 - 32);
  have_clmul = cpu()->pclmul && cpu()->sse41;
  __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
}

uint32_t crc32_update_table(uint32_t crc, const void *data, size_t len) { return table_update(crc, data, len); }

uint32_t crc32_update(uint32_t crc, const void *data, size_t len) {
#ifdef CRC_X86
  if (have_clmul && len >= 64) return clmul_update(crc, data, len);
#endif
  return table_update(crc, data, len);
}

static uint32_t table_update(uint32_t crc, const uint8_t *p, size_t len) {
  uint32_t c = ~crc;
  while (len && ((uintptr_t)p & 7)) {
    c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    len--;
  }
  while (len >= 8) {
    uint32_t lo = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    lo ^= c;
    c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
        table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^ table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

uint32_t crc32_zeros(uint32_t crc, size_t len) {
  static const uint8_t zeros[4096];
  while (len) {
    size_t n = len < sizeof zeros ? len : sizeof zeros;
    crc = crc32_update(crc, zeros, n);
    len -= n;
  }
  return crc;
}
