/*
 * MD5 (RFC 1321), which PAR2 uses for file ids, slice checksums and packet checksums.
 *
 * MD5 is one long dependency chain per message, so a core runs one stream at a fraction of its
 * width. PAR2 needs two digests of the same bytes (the whole file and the current slice), and a
 * slice is a multiple of 64 bytes long, so their blocks coincide: md5_blocks2 runs two chains in
 * one loop, each step of one independent of the other's, and the CPU overlaps them for nearly
 * the price of one. The step list below is generated from the RFC's tables (constants
 * floor(|sin(i+1)| * 2^32), per-round shifts and message-word orders).
 */
#include "md5.h"

#include <string.h>

#define F(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define G(b, c, d) ((c) ^ ((d) & ((b) ^ (c))))
#define H(b, c, d) ((b) ^ (c) ^ (d))
#define I(b, c, d) ((c) ^ ((b) | ~(d)))
#define ROTL(x, s) (((x) << (s)) | ((x) >> (32 - (s))))

static inline uint32_t word_at(const uint8_t *p, int i) {
  p += 4 * i;
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define STEP1(f, a, b, c, d, k, s, t)        \
  do {                                       \
    a += f(b, c, d) + x[k] + (t);            \
    a = ROTL(a, s) + b;                      \
  } while (0)

void md5_blocks(uint32_t st[4], const uint8_t *data, size_t blocks) {
  uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
  for (size_t n = 0; n < blocks; n++, data += 64) {
    uint32_t x[16];
    for (int i = 0; i < 16; i++) x[i] = word_at(data, i);
    uint32_t a0 = a, b0 = b, c0 = c, d0 = d;
    STEP1(F, a, b, c, d, 0, 7, 0xd76aa478u);
    STEP1(F, d, a, b, c, 1, 12, 0xe8c7b756u);
    STEP1(F, c, d, a, b, 2, 17, 0x242070dbu);
    STEP1(F, b, c, d, a, 3, 22, 0xc1bdceeeu);
    STEP1(F, a, b, c, d, 4, 7, 0xf57c0fafu);
    STEP1(F, d, a, b, c, 5, 12, 0x4787c62au);
    STEP1(F, c, d, a, b, 6, 17, 0xa8304613u);
    STEP1(F, b, c, d, a, 7, 22, 0xfd469501u);
    STEP1(F, a, b, c, d, 8, 7, 0x698098d8u);
    STEP1(F, d, a, b, c, 9, 12, 0x8b44f7afu);
    STEP1(F, c, d, a, b, 10, 17, 0xffff5bb1u);
    STEP1(F, b, c, d, a, 11, 22, 0x895cd7beu);
    STEP1(F, a, b, c, d, 12, 7, 0x6b901122u);
    STEP1(F, d, a, b, c, 13, 12, 0xfd987193u);
    STEP1(F, c, d, a, b, 14, 17, 0xa679438eu);
    STEP1(F, b, c, d, a, 15, 22, 0x49b40821u);
    STEP1(G, a, b, c, d, 1, 5, 0xf61e2562u);
    STEP1(G, d, a, b, c, 6, 9, 0xc040b340u);
    STEP1(G, c, d, a, b, 11, 14, 0x265e5a51u);
    STEP1(G, b, c, d, a, 0, 20, 0xe9b6c7aau);
    STEP1(G, a, b, c, d, 5, 5, 0xd62f105du);
    STEP1(G, d, a, b, c, 10, 9, 0x02441453u);
    STEP1(G, c, d, a, b, 15, 14, 0xd8a1e681u);
    STEP1(G, b, c, d, a, 4, 20, 0xe7d3fbc8u);
    STEP1(G, a, b, c, d, 9, 5, 0x21e1cde6u);
    STEP1(G, d, a, b, c, 14, 9, 0xc33707d6u);
    STEP1(G, c, d, a, b, 3, 14, 0xf4d50d87u);
    STEP1(G, b, c, d, a, 8, 20, 0x455a14edu);
    STEP1(G, a, b, c, d, 13, 5, 0xa9e3e905u);
    STEP1(G, d, a, b, c, 2, 9, 0xfcefa3f8u);
    STEP1(G, c, d, a, b, 7, 14, 0x676f02d9u);
    STEP1(G, b, c, d, a, 12, 20, 0x8d2a4c8au);
    STEP1(H, a, b, c, d, 5, 4, 0xfffa3942u);
    STEP1(H, d, a, b, c, 8, 11, 0x8771f681u);
    STEP1(H, c, d, a, b, 11, 16, 0x6d9d6122u);
    STEP1(H, b, c, d, a, 14, 23, 0xfde5380cu);
    STEP1(H, a, b, c, d, 1, 4, 0xa4beea44u);
    STEP1(H, d, a, b, c, 4, 11, 0x4bdecfa9u);
    STEP1(H, c, d, a, b, 7, 16, 0xf6bb4b60u);
    STEP1(H, b, c, d, a, 10, 23, 0xbebfbc70u);
    STEP1(H, a, b, c, d, 13, 4, 0x289b7ec6u);
    STEP1(H, d, a, b, c, 0, 11, 0xeaa127fau);
    STEP1(H, c, d, a, b, 3, 16, 0xd4ef3085u);
    STEP1(H, b, c, d, a, 6, 23, 0x04881d05u);
    STEP1(H, a, b, c, d, 9, 4, 0xd9d4d039u);
    STEP1(H, d, a, b, c, 12, 11, 0xe6db99e5u);
    STEP1(H, c, d, a, b, 15, 16, 0x1fa27cf8u);
    STEP1(H, b, c, d, a, 2, 23, 0xc4ac5665u);
    STEP1(I, a, b, c, d, 0, 6, 0xf4292244u);
    STEP1(I, d, a, b, c, 7, 10, 0x432aff97u);
    STEP1(I, c, d, a, b, 14, 15, 0xab9423a7u);
    STEP1(I, b, c, d, a, 5, 21, 0xfc93a039u);
    STEP1(I, a, b, c, d, 12, 6, 0x655b59c3u);
    STEP1(I, d, a, b, c, 3, 10, 0x8f0ccc92u);
    STEP1(I, c, d, a, b, 10, 15, 0xffeff47du);
    STEP1(I, b, c, d, a, 1, 21, 0x85845dd1u);
    STEP1(I, a, b, c, d, 8, 6, 0x6fa87e4fu);
    STEP1(I, d, a, b, c, 15, 10, 0xfe2ce6e0u);
    STEP1(I, c, d, a, b, 6, 15, 0xa3014314u);
    STEP1(I, b, c, d, a, 13, 21, 0x4e0811a1u);
    STEP1(I, a, b, c, d, 4, 6, 0xf7537e82u);
    STEP1(I, d, a, b, c, 11, 10, 0xbd3af235u);
    STEP1(I, c, d, a, b, 2, 15, 0x2ad7d2bbu);
    STEP1(I, b, c, d, a, 9, 21, 0xeb86d391u);
    a += a0;
    b += b0;
    c += c0;
    d += d0;
  }
  st[0] = a;
  st[1] = b;
  st[2] = c;
  st[3] = d;
}

#define STEP2(f, a, b, c, d, k, s, t)        \
  do {                                       \
    a##1 += f(b##1, c##1, d##1) + x[k] + (t); \
    a##2 += f(b##2, c##2, d##2) + y[k] + (t); \
    a##1 = ROTL(a##1, s) + b##1;             \
    a##2 = ROTL(a##2, s) + b##2;             \
  } while (0)

void md5_blocks2(uint32_t s1[4], const uint8_t *d1, uint32_t s2[4], const uint8_t *d2, size_t blocks) {
  uint32_t a1 = s1[0], b1 = s1[1], c1 = s1[2], e1 = s1[3];
  uint32_t a2 = s2[0], b2 = s2[1], c2 = s2[2], e2 = s2[3];
  for (size_t n = 0; n < blocks; n++, d1 += 64, d2 += 64) {
    uint32_t x[16], y[16];
    for (int i = 0; i < 16; i++) x[i] = word_at(d1, i);
    for (int i = 0; i < 16; i++) y[i] = word_at(d2, i);
    uint32_t a01 = a1, b01 = b1, c01 = c1, e01 = e1, a02 = a2, b02 = b2, c02 = c2, e02 = e2;
    STEP2(F, a, b, c, e, 0, 7, 0xd76aa478u);
    STEP2(F, e, a, b, c, 1, 12, 0xe8c7b756u);
    STEP2(F, c, e, a, b, 2, 17, 0x242070dbu);
    STEP2(F, b, c, e, a, 3, 22, 0xc1bdceeeu);
    STEP2(F, a, b, c, e, 4, 7, 0xf57c0fafu);
    STEP2(F, e, a, b, c, 5, 12, 0x4787c62au);
    STEP2(F, c, e, a, b, 6, 17, 0xa8304613u);
    STEP2(F, b, c, e, a, 7, 22, 0xfd469501u);
    STEP2(F, a, b, c, e, 8, 7, 0x698098d8u);
    STEP2(F, e, a, b, c, 9, 12, 0x8b44f7afu);
    STEP2(F, c, e, a, b, 10, 17, 0xffff5bb1u);
    STEP2(F, b, c, e, a, 11, 22, 0x895cd7beu);
    STEP2(F, a, b, c, e, 12, 7, 0x6b901122u);
    STEP2(F, e, a, b, c, 13, 12, 0xfd987193u);
    STEP2(F, c, e, a, b, 14, 17, 0xa679438eu);
    STEP2(F, b, c, e, a, 15, 22, 0x49b40821u);
    STEP2(G, a, b, c, e, 1, 5, 0xf61e2562u);
    STEP2(G, e, a, b, c, 6, 9, 0xc040b340u);
    STEP2(G, c, e, a, b, 11, 14, 0x265e5a51u);
    STEP2(G, b, c, e, a, 0, 20, 0xe9b6c7aau);
    STEP2(G, a, b, c, e, 5, 5, 0xd62f105du);
    STEP2(G, e, a, b, c, 10, 9, 0x02441453u);
    STEP2(G, c, e, a, b, 15, 14, 0xd8a1e681u);
    STEP2(G, b, c, e, a, 4, 20, 0xe7d3fbc8u);
    STEP2(G, a, b, c, e, 9, 5, 0x21e1cde6u);
    STEP2(G, e, a, b, c, 14, 9, 0xc33707d6u);
    STEP2(G, c, e, a, b, 3, 14, 0xf4d50d87u);
    STEP2(G, b, c, e, a, 8, 20, 0x455a14edu);
    STEP2(G, a, b, c, e, 13, 5, 0xa9e3e905u);
    STEP2(G, e, a, b, c, 2, 9, 0xfcefa3f8u);
    STEP2(G, c, e, a, b, 7, 14, 0x676f02d9u);
    STEP2(G, b, c, e, a, 12, 20, 0x8d2a4c8au);
    STEP2(H, a, b, c, e, 5, 4, 0xfffa3942u);
    STEP2(H, e, a, b, c, 8, 11, 0x8771f681u);
    STEP2(H, c, e, a, b, 11, 16, 0x6d9d6122u);
    STEP2(H, b, c, e, a, 14, 23, 0xfde5380cu);
    STEP2(H, a, b, c, e, 1, 4, 0xa4beea44u);
    STEP2(H, e, a, b, c, 4, 11, 0x4bdecfa9u);
    STEP2(H, c, e, a, b, 7, 16, 0xf6bb4b60u);
    STEP2(H, b, c, e, a, 10, 23, 0xbebfbc70u);
    STEP2(H, a, b, c, e, 13, 4, 0x289b7ec6u);
    STEP2(H, e, a, b, c, 0, 11, 0xeaa127fau);
    STEP2(H, c, e, a, b, 3, 16, 0xd4ef3085u);
    STEP2(H, b, c, e, a, 6, 23, 0x04881d05u);
    STEP2(H, a, b, c, e, 9, 4, 0xd9d4d039u);
    STEP2(H, e, a, b, c, 12, 11, 0xe6db99e5u);
    STEP2(H, c, e, a, b, 15, 16, 0x1fa27cf8u);
    STEP2(H, b, c, e, a, 2, 23, 0xc4ac5665u);
    STEP2(I, a, b, c, e, 0, 6, 0xf4292244u);
    STEP2(I, e, a, b, c, 7, 10, 0x432aff97u);
    STEP2(I, c, e, a, b, 14, 15, 0xab9423a7u);
    STEP2(I, b, c, e, a, 5, 21, 0xfc93a039u);
    STEP2(I, a, b, c, e, 12, 6, 0x655b59c3u);
    STEP2(I, e, a, b, c, 3, 10, 0x8f0ccc92u);
    STEP2(I, c, e, a, b, 10, 15, 0xffeff47du);
    STEP2(I, b, c, e, a, 1, 21, 0x85845dd1u);
    STEP2(I, a, b, c, e, 8, 6, 0x6fa87e4fu);
    STEP2(I, e, a, b, c, 15, 10, 0xfe2ce6e0u);
    STEP2(I, c, e, a, b, 6, 15, 0xa3014314u);
    STEP2(I, b, c, e, a, 13, 21, 0x4e0811a1u);
    STEP2(I, a, b, c, e, 4, 6, 0xf7537e82u);
    STEP2(I, e, a, b, c, 11, 10, 0xbd3af235u);
    STEP2(I, c, e, a, b, 2, 15, 0x2ad7d2bbu);
    STEP2(I, b, c, e, a, 9, 21, 0xeb86d391u);
    a1 += a01;
    b1 += b01;
    c1 += c01;
    e1 += e01;
    a2 += a02;
    b2 += b02;
    c2 += c02;
    e2 += e02;
  }
  s1[0] = a1;
  s1[1] = b1;
  s1[2] = c1;
  s1[3] = e1;
  s2[0] = a2;
  s2[1] = b2;
  s2[2] = c2;
  s2[3] = e2;
}

/* Two digests of the same bytes: the message words are loaded once for both chains. */
#define STEP2S(f, a, b, c, d, k, s, t)        \
  do {                                       \
    a##1 += f(b##1, c##1, d##1) + x[k] + (t); \
    a##2 += f(b##2, c##2, d##2) + x[k] + (t); \
    a##1 = ROTL(a##1, s) + b##1;             \
    a##2 = ROTL(a##2, s) + b##2;             \
  } while (0)

static void md5_blocks_same(uint32_t s1[4], uint32_t s2[4], const uint8_t *d1, size_t blocks) {
  uint32_t a1 = s1[0], b1 = s1[1], c1 = s1[2], e1 = s1[3];
  uint32_t a2 = s2[0], b2 = s2[1], c2 = s2[2], e2 = s2[3];
  for (size_t n = 0; n < blocks; n++, d1 += 64) {
    uint32_t x[16];
    for (int i = 0; i < 16; i++) x[i] = word_at(d1, i);
    uint32_t a01 = a1, b01 = b1, c01 = c1, e01 = e1, a02 = a2, b02 = b2, c02 = c2, e02 = e2;
    STEP2S(F, a, b, c, e, 0, 7, 0xd76aa478u);
    STEP2S(F, e, a, b, c, 1, 12, 0xe8c7b756u);
    STEP2S(F, c, e, a, b, 2, 17, 0x242070dbu);
    STEP2S(F, b, c, e, a, 3, 22, 0xc1bdceeeu);
    STEP2S(F, a, b, c, e, 4, 7, 0xf57c0fafu);
    STEP2S(F, e, a, b, c, 5, 12, 0x4787c62au);
    STEP2S(F, c, e, a, b, 6, 17, 0xa8304613u);
    STEP2S(F, b, c, e, a, 7, 22, 0xfd469501u);
    STEP2S(F, a, b, c, e, 8, 7, 0x698098d8u);
    STEP2S(F, e, a, b, c, 9, 12, 0x8b44f7afu);
    STEP2S(F, c, e, a, b, 10, 17, 0xffff5bb1u);
    STEP2S(F, b, c, e, a, 11, 22, 0x895cd7beu);
    STEP2S(F, a, b, c, e, 12, 7, 0x6b901122u);
    STEP2S(F, e, a, b, c, 13, 12, 0xfd987193u);
    STEP2S(F, c, e, a, b, 14, 17, 0xa679438eu);
    STEP2S(F, b, c, e, a, 15, 22, 0x49b40821u);
    STEP2S(G, a, b, c, e, 1, 5, 0xf61e2562u);
    STEP2S(G, e, a, b, c, 6, 9, 0xc040b340u);
    STEP2S(G, c, e, a, b, 11, 14, 0x265e5a51u);
    STEP2S(G, b, c, e, a, 0, 20, 0xe9b6c7aau);
    STEP2S(G, a, b, c, e, 5, 5, 0xd62f105du);
    STEP2S(G, e, a, b, c, 10, 9, 0x02441453u);
    STEP2S(G, c, e, a, b, 15, 14, 0xd8a1e681u);
    STEP2S(G, b, c, e, a, 4, 20, 0xe7d3fbc8u);
    STEP2S(G, a, b, c, e, 9, 5, 0x21e1cde6u);
    STEP2S(G, e, a, b, c, 14, 9, 0xc33707d6u);
    STEP2S(G, c, e, a, b, 3, 14, 0xf4d50d87u);
    STEP2S(G, b, c, e, a, 8, 20, 0x455a14edu);
    STEP2S(G, a, b, c, e, 13, 5, 0xa9e3e905u);
    STEP2S(G, e, a, b, c, 2, 9, 0xfcefa3f8u);
    STEP2S(G, c, e, a, b, 7, 14, 0x676f02d9u);
    STEP2S(G, b, c, e, a, 12, 20, 0x8d2a4c8au);
    STEP2S(H, a, b, c, e, 5, 4, 0xfffa3942u);
    STEP2S(H, e, a, b, c, 8, 11, 0x8771f681u);
    STEP2S(H, c, e, a, b, 11, 16, 0x6d9d6122u);
    STEP2S(H, b, c, e, a, 14, 23, 0xfde5380cu);
    STEP2S(H, a, b, c, e, 1, 4, 0xa4beea44u);
    STEP2S(H, e, a, b, c, 4, 11, 0x4bdecfa9u);
    STEP2S(H, c, e, a, b, 7, 16, 0xf6bb4b60u);
    STEP2S(H, b, c, e, a, 10, 23, 0xbebfbc70u);
    STEP2S(H, a, b, c, e, 13, 4, 0x289b7ec6u);
    STEP2S(H, e, a, b, c, 0, 11, 0xeaa127fau);
    STEP2S(H, c, e, a, b, 3, 16, 0xd4ef3085u);
    STEP2S(H, b, c, e, a, 6, 23, 0x04881d05u);
    STEP2S(H, a, b, c, e, 9, 4, 0xd9d4d039u);
    STEP2S(H, e, a, b, c, 12, 11, 0xe6db99e5u);
    STEP2S(H, c, e, a, b, 15, 16, 0x1fa27cf8u);
    STEP2S(H, b, c, e, a, 2, 23, 0xc4ac5665u);
    STEP2S(I, a, b, c, e, 0, 6, 0xf4292244u);
    STEP2S(I, e, a, b, c, 7, 10, 0x432aff97u);
    STEP2S(I, c, e, a, b, 14, 15, 0xab9423a7u);
    STEP2S(I, b, c, e, a, 5, 21, 0xfc93a039u);
    STEP2S(I, a, b, c, e, 12, 6, 0x655b59c3u);
    STEP2S(I, e, a, b, c, 3, 10, 0x8f0ccc92u);
    STEP2S(I, c, e, a, b, 10, 15, 0xffeff47du);
    STEP2S(I, b, c, e, a, 1, 21, 0x85845dd1u);
    STEP2S(I, a, b, c, e, 8, 6, 0x6fa87e4fu);
    STEP2S(I, e, a, b, c, 15, 10, 0xfe2ce6e0u);
    STEP2S(I, c, e, a, b, 6, 15, 0xa3014314u);
    STEP2S(I, b, c, e, a, 13, 21, 0x4e0811a1u);
    STEP2S(I, a, b, c, e, 4, 6, 0xf7537e82u);
    STEP2S(I, e, a, b, c, 11, 10, 0xbd3af235u);
    STEP2S(I, c, e, a, b, 2, 15, 0x2ad7d2bbu);
    STEP2S(I, b, c, e, a, 9, 21, 0xeb86d391u);
    a1 += a01;
    b1 += b01;
    c1 += c01;
    e1 += e01;
    a2 += a02;
    b2 += b02;
    c2 += c02;
    e2 += e02;
  }
  s1[0] = a1;
  s1[1] = b1;
  s1[2] = c1;
  s1[3] = e1;
  s2[0] = a2;
  s2[1] = b2;
  s2[2] = c2;
  s2[3] = e2;
}

void md5_init(md5_ctx *m) {
  m->st[0] = 0x67452301u;
  m->st[1] = 0xefcdab89u;
  m->st[2] = 0x98badcfeu;
  m->st[3] = 0x10325476u;
  m->bytes = 0;
}

void md5_update(md5_ctx *m, const void *data, size_t len) {
  const uint8_t *p = data;
  size_t fill = (size_t)(m->bytes & 63);
  m->bytes += len;
  if (fill) {
    size_t take = 64 - fill < len ? 64 - fill : len;
    memcpy(m->buf + fill, p, take);
    p += take;
    len -= take;
    if (fill + take < 64) return;
    md5_blocks(m->st, m->buf, 1);
  }
  if (len >= 64) {
    md5_blocks(m->st, p, len / 64);
    p += len & ~(size_t)63;
    len &= 63;
  }
  if (len) memcpy(m->buf, p, len);
}

void md5_update2(md5_ctx *m1, md5_ctx *m2, const void *data, size_t len) {
  if ((m1->bytes & 63) || (m2->bytes & 63) || len < 64) {
    md5_update(m1, data, len);
    md5_update(m2, data, len);
    return;
  }
  size_t whole = len & ~(size_t)63;
  md5_blocks_same(m1->st, m2->st, data, whole / 64);
  m1->bytes += whole;
  m2->bytes += whole;
  if (whole < len) {
    md5_update(m1, (const uint8_t *)data + whole, len - whole);
    md5_update(m2, (const uint8_t *)data + whole, len - whole);
  }
}

void md5_update_pair(md5_ctx *m1, const void *d1, md5_ctx *m2, const void *d2, size_t len) {
  const uint8_t *p1 = d1, *p2 = d2;
  if (m1->bytes != m2->bytes) {
    md5_update(m1, p1, len);
    md5_update(m2, p2, len);
    return;
  }
  size_t head = (size_t)((64 - (m1->bytes & 63)) & 63);
  if (head > len) head = len;
  md5_update(m1, p1, head);
  md5_update(m2, p2, head);
  p1 += head;
  p2 += head;
  len -= head;
  size_t whole = len & ~(size_t)63;
  if (whole) {
    md5_blocks2(m1->st, p1, m2->st, p2, whole / 64);
    m1->bytes += whole;
    m2->bytes += whole;
  }
  md5_update(m1, p1 + whole, len - whole);
  md5_update(m2, p2 + whole, len - whole);
}

void md5_final(md5_ctx *m, uint8_t out[16]) {
  uint64_t bits = m->bytes * 8;
  static const uint8_t pad[64] = {0x80};
  size_t fill = (size_t)(m->bytes & 63);
  size_t padlen = fill < 56 ? 56 - fill : 120 - fill;
  uint8_t tail[8];
  for (int i = 0; i < 8; i++) tail[i] = (uint8_t)(bits >> (8 * i));
  md5_update(m, pad, padlen);
  md5_update(m, tail, 8);
  for (int i = 0; i < 4; i++) {
    out[4 * i] = (uint8_t)m->st[i];
    out[4 * i + 1] = (uint8_t)(m->st[i] >> 8);
    out[4 * i + 2] = (uint8_t)(m->st[i] >> 16);
    out[4 * i + 3] = (uint8_t)(m->st[i] >> 24);
  }
}

void md5_digest(const void *data, size_t len, uint8_t out[16]) {
  md5_ctx m;
  md5_init(&m);
  md5_update(&m, data, len);
  md5_final(&m, out);
}
