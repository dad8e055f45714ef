/*
 * SHA-1, written from FIPS 180-4: initial hash value (5.3.1), padding (5.1.1), the 80-step
 * compression with functions f_t and constants K_t (4.1.1, 4.2.1, 6.1.2). Node's hash stays in use
 * for large files, where a call per file costs nothing; this one hashes small files on the addon's
 * threads. The plain C compression made ~175 MB/s, a tenth of a first backup's CPU time: on x86
 * CPUs with the SHA extensions the compression uses them instead (Intel's SHA1RNDS4 / SHA1NEXTE /
 * SHA1MSG1 / SHA1MSG2, four rounds or four schedule words per instruction).
 */
#include <string.h>
#include "cpu.h"
#include "sha1.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SHA1_X86 1
#endif

static uint32_t rotl(uint32_t x, int n) {
  return (x << n) | (x >> (32 - n));
}

static uint32_t load_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void compress_portable(uint32_t h[5], const uint8_t *m) {
  uint32_t w[80];
  for (int t = 0; t < 16; t++) w[t] = load_be32(m + 4 * t);
  for (int t = 16; t < 80; t++) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int t = 0; t < 80; t++) {
    uint32_t f, k;
    if (t < 20) {
      f = (b & c) ^ (~b & d); /* Ch */
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d; /* Parity */
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) ^ (b & d) ^ (c & d); /* Maj */
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    uint32_t next = rotl(a, 5) + f + e + k + w[t];
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = next;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

#ifdef SHA1_X86
/*
 * One block with the SHA extensions. ABCD sits in one register with A in the top lane, E in the top
 * lane of another; message words likewise, w[t] in the top lane of its group of four. Group i of
 * the schedule is msg2(msg1(W[i-4], W[i-3]) ^ W[i-2], W[i-1]): msg1 gives w[t-16] ^ w[t-14], the
 * xor adds w[t-8], msg2 adds w[t-3] and rotates, lane by lane. SHA1NEXTE turns the A of four rounds
 * back into the E of the next four (rotated by 30) and adds their message words.
 */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_x86(uint32_t h[5], const uint8_t *m) {
  const __m128i bswap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1b);
  __m128i e = _mm_set_epi32((int)h[4], 0, 0, 0);
  const __m128i abcd0 = abcd, e0 = e;
  __m128i w[4];
  for (int i = 0; i < 4; i++) w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(m + 16 * i)), bswap);
  /* `before`: ABCD as it was before the last four rounds, from which SHA1NEXTE derives E. */
  __m128i before = abcd;
  abcd = _mm_sha1rnds4_epu32(abcd, _mm_add_epi32(e, w[0]), 0);
#define SHA1_GROUP(i, f)                                                                                         \
  do {                                                                                                           \
    if ((i) >= 4)                                                                                                \
      w[(i) & 3] = _mm_sha1msg2_epu32(                                                                           \
          _mm_xor_si128(_mm_sha1msg1_epu32(w[(i) & 3], w[((i) + 1) & 3]), w[((i) + 2) & 3]), w[((i) + 3) & 3]); \
    __m128i next_e = _mm_sha1nexte_epu32(before, w[(i) & 3]);                                                   \
    before = abcd;                                                                                               \
    abcd = _mm_sha1rnds4_epu32(abcd, next_e, f);                                                                 \
  } while (0)
  SHA1_GROUP(1, 0); SHA1_GROUP(2, 0); SHA1_GROUP(3, 0); SHA1_GROUP(4, 0);
  SHA1_GROUP(5, 1); SHA1_GROUP(6, 1); SHA1_GROUP(7, 1); SHA1_GROUP(8, 1); SHA1_GROUP(9, 1);
  SHA1_GROUP(10, 2); SHA1_GROUP(11, 2); SHA1_GROUP(12, 2); SHA1_GROUP(13, 2); SHA1_GROUP(14, 2);
  SHA1_GROUP(15, 3); SHA1_GROUP(16, 3); SHA1_GROUP(17, 3); SHA1_GROUP(18, 3); SHA1_GROUP(19, 3);
#undef SHA1_GROUP
  e = _mm_sha1nexte_epu32(before, e0);
  abcd = _mm_add_epi32(abcd, abcd0);
  _mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1b));
  h[4] = (uint32_t)_mm_extract_epi32(e, 3);
}

#endif

static void compress(const struct sha1 *s, uint32_t h[5], const uint8_t *m) {
#ifdef SHA1_X86
  if (s->sha_instructions) {
    compress_x86(h, m);
    return;
  }
#endif
  (void)s;
  compress_portable(h, m);
}

void sha1_init(struct sha1 *s) {
  s->sha_instructions = cpu()->sha;
  s->h[0] = 0x67452301;
  s->h[1] = 0xefcdab89;
  s->h[2] = 0x98badcfe;
  s->h[3] = 0x10325476;
  s->h[4] = 0xc3d2e1f0;
  s->length = 0;
  s->used = 0;
}

void sha1_init_portable(struct sha1 *s) {
  sha1_init(s);
  s->sha_instructions = 0;
}

void sha1_update(struct sha1 *s, const void *data, size_t n) {
  const uint8_t *p = data;
  s->length += n;
  if (s->used > 0) {
    size_t take = 64 - s->used < n ? 64 - s->used : n;
    memcpy(s->block + s->used, p, take);
    s->used += take;
    p += take;
    n -= take;
    if (s->used < 64) return;
    compress(s, s->h, s->block);
    s->used = 0;
  }
  for (; n >= 64; p += 64, n -= 64) compress(s, s->h, p);
  memcpy(s->block, p, n);
  s->used = n;
}

void sha1_final(struct sha1 *s, uint8_t digest[20]) {
  uint64_t bits = s->length * 8;
  /* A 1 bit, then zeros up to 56 bytes into a block, then the message length in bits, big-endian. */
  s->block[s->used++] = 0x80;
  if (s->used > 56) {
    memset(s->block + s->used, 0, 64 - s->used);
    compress(s, s->h, s->block);
    s->used = 0;
  }
  memset(s->block + s->used, 0, 56 - s->used);
  for (int i = 0; i < 8; i++) s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  compress(s, s->h, s->block);
  for (int i = 0; i < 5; i++) {
    digest[4 * i] = (uint8_t)(s->h[i] >> 24);
    digest[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
    digest[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
    digest[4 * i + 3] = (uint8_t)s->h[i];
  }
}
