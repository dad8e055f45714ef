/*
 * SHA-256, written from FIPS 180-4: constants K (4.2.2), initial hash value (5.3.3), padding
 * (5.1.1), the message schedule with sigma0/sigma1 and the 64-round compression with Ch, Maj,
 * Sigma0, Sigma1 (4.1.2, 6.2.2). It is the content hash (SPEC §3): SHA-1 has public collisions.
 * Node's hash stays in use for large files, where a call per file costs nothing; this one hashes
 * small files on the addon's threads. On x86 CPUs with the SHA extensions the compression uses
 * them (SHA256RNDS2: two rounds; SHA256MSG1/SHA256MSG2: the schedule, four words at a time).
 */
#include <string.h>
#include "cpu.h"
#include "sha256.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SHA256_X86 1
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
    0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
    0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
    0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
    0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void compress_portable(uint32_t h[8], const uint8_t *m) {
  uint32_t w[64];
  for (int t = 0; t < 16; t++) w[t] = load_be32(m + 4 * t);
  for (int t = 16; t < 64; t++) {
    uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int t = 0; t < 64; t++) {
    uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
    uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

#ifdef SHA256_X86
/*
 * One block with the SHA extensions. SHA256RNDS2 keeps the working variables in two registers,
 * {A,B,E,F} and {C,D,G,H} (A, C in the top lanes), and runs two rounds with the two message+K words
 * in the low lanes of its third operand; four rounds are two calls, the second on the upper pair
 * moved down. Schedule group i (words 4i..4i+3, i >= 4) is
 * msg2(msg1(W[i-4], W[i-3]) + {w[4i-7]..w[4i-4]}, W[i-1]): msg1 adds sigma0 of the next word to
 * w[t-16], the add brings in w[t-7] (taken across groups i-2 and i-1 by alignr), msg2 adds sigma1
 * of w[t-2], the last two lanes from the first two it has just made.
 */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_x86(uint32_t h[8], const uint8_t *m, size_t blocks) {
  /* Big-endian words: reverse the bytes of each 32-bit lane. */
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i dcba = _mm_loadu_si128((const __m128i *)h);      /* lanes 0..3: a, b, c, d */
  __m128i hgfe = _mm_loadu_si128((const __m128i *)(h + 4)); /* lanes 0..3: e, f, g, h */
  __m128i badc = _mm_shuffle_epi32(dcba, 0xb1);             /* b, a, d, c */
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);             /* h, g, f, e */
  __m128i abef = _mm_alignr_epi8(badc, efgh, 8);            /* f, e, b, a */
  __m128i cdgh = _mm_blend_epi16(efgh, badc, 0xf0);         /* h, g, d, c */
  /* The state stays in registers from block to block: only the first and last pay the shuffles. */
  for (; blocks > 0; blocks--, m += 64) {
  const __m128i abef0 = abef, cdgh0 = cdgh;
  __m128i w[4];
  /* Unrolled whole, so the four schedule registers stay registers (w[i & 3] needs constant i). */
#pragma GCC unroll 16
  for (int i = 0; i < 16; i++) {
    __m128i *cur = &w[i & 3];
    if (i < 4) {
      *cur = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(m + 16 * i)), bswap);
    } else {
      __m128i older = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
      __m128i minus7 = _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4);
      *cur = _mm_sha256msg2_epu32(_mm_add_epi32(older, minus7), w[(i + 3) & 3]);
    }
    __m128i wk = _mm_add_epi32(*cur, _mm_loadu_si128((const __m128i *)(K + 4 * i)));
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
    abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));
  }
  abef = _mm_add_epi32(abef, abef0);
  cdgh = _mm_add_epi32(cdgh, cdgh0);
  }
  /* Back to a..d and e..h in memory order. */
  __m128i feba = _mm_shuffle_epi32(abef, 0x1b); /* a, b, e, f */
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1); /* g, h, c, d */
  _mm_storeu_si128((__m128i *)h, _mm_blend_epi16(feba, dchg, 0xf0));
  _mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(dchg, feba, 8));
}
#endif

/* `blocks` whole 64-byte blocks from m. */
static void compress(const struct sha256 *s, uint32_t h[8], const uint8_t *m, size_t blocks) {
#ifdef SHA256_X86
  if (s->sha_instructions) {
    compress_x86(h, m, blocks);
    return;
  }
#endif
  (void)s;
  for (; blocks > 0; blocks--, m += 64) compress_portable(h, m);
}

void sha256_init(struct sha256 *s) {
  static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  s->sha_instructions = cpu()->sha;
  memcpy(s->h, initial, sizeof initial);
  s->length = 0;
  s->used = 0;
}

void sha256_init_portable(struct sha256 *s) {
  sha256_init(s);
  s->sha_instructions = 0;
}

void sha256_update(struct sha256 *s, const void *data, size_t n) {
  const uint8_t *p = data;
  s->length += n;
  if (s->used > 0) {
    size_t take = 64 - s->used < n ? 64 - s->used : n;
    memcpy(s->block + s->used, p, take);
    s->used += take;
    p += take;
    n -= take;
    if (s->used < 64) return;
    compress(s, s->h, s->block, 1);
    s->used = 0;
  }
  compress(s, s->h, p, n / 64);
  p += n / 64 * 64;
  n %= 64;
  memcpy(s->block, p, n);
  s->used = n;
}

void sha256_final(struct sha256 *s, uint8_t digest[32]) {
  uint64_t bits = s->length * 8;
  /* A 1 bit, then zeros up to 56 bytes into a block, then the message length in bits, big-endian. */
  s->block[s->used++] = 0x80;
  if (s->used > 56) {
    memset(s->block + s->used, 0, 64 - s->used);
    compress(s, s->h, s->block, 1);
    s->used = 0;
  }
  memset(s->block + s->used, 0, 56 - s->used);
  for (int i = 0; i < 8; i++) s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  compress(s, s->h, s->block, 1);
  for (int i = 0; i < 8; i++) {
    digest[4 * i] = (uint8_t)(s->h[i] >> 24);
    digest[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
    digest[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
    digest[4 * i + 3] = (uint8_t)s->h[i];
  }
}
