/*
 * Multiply-accumulate of a region by a constant in GF(2^16), the whole cost of PAR2 recovery.
 *
 * Multiplying by a constant c is linear over GF(2), so a word's product is the XOR of the
 * products of its parts. The kernels differ in how they cut the word:
 * - scalar: two 256-entry tables (low byte, high byte) of 16-bit products;
 * - SSSE3/AVX2: four nibbles, each looked up in two 16-byte tables (low and high byte of the
 *   product) with pshufb, 8 lookups per 16 or 32 words;
 * - GFNI: the 16×16 bit matrix of c as four 8×8 blocks, applied with gf2p8affineqb, 4 per
 *   32 (AVX2) or 64 (AVX-512) words.
 * The SIMD kernels first gather the low bytes and the high bytes of a block of words into two
 * vectors (packus), work on those, and interleave the two product vectors back (unpack), which
 * undoes the pack's lane order exactly, so the destination keeps PAR2's plain word layout.
 * Each kernel is compiled for its instruction set with a function attribute and chosen at run
 * time, so the addon builds with default flags and runs on any x86-64 (or other) CPU.
 */
#include "gf16.h"

#include "cpu.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define GF16_X86 1
#include <immintrin.h>
#endif

#define GF16_POLY 0x1100B

static uint16_t log_table[65536];
static uint16_t exp_table[65535 * 2];
static int ready;

static void fill_tables(void) {
  uint32_t x = 1;
  for (uint32_t i = 0; i < 65535; i++) {
    exp_table[i] = (uint16_t)x;
    exp_table[i + 65535] = (uint16_t)x;
    log_table[x] = (uint16_t)i;
    x <<= 1;
    if (x & 0x10000) x ^= GF16_POLY;
  }
  log_table[0] = 0;
}

uint16_t gf16_mul(uint16_t a, uint16_t b) {
  if (a == 0 || b == 0) return 0;
  return exp_table[(uint32_t)log_table[a] + log_table[b]];
}

uint16_t gf16_exp(uint32_t e) { return exp_table[e % 65535]; }

uint16_t gf16_log(uint16_t a) { return log_table[a]; }

/* ---- portable ---- */

typedef struct {
  uint16_t lo[256], hi[256];
} byte_tables;

static void prepare_scalar(gf16_prepared *p, uint16_t c) {
  byte_tables *t = (byte_tables *)p->bytes;
  uint32_t lc = log_table[c];
  t->lo[0] = t->hi[0] = 0;
  for (int b = 1; b < 256; b++) {
    t->lo[b] = c ? exp_table[lc + log_table[b]] : 0;
    t->hi[b] = c ? exp_table[lc + log_table[b << 8]] : 0;
  }
}

static void apply_scalar(uint8_t *dst, const uint8_t *src, size_t len, const gf16_prepared *p) {
  const uint16_t *lo = ((const byte_tables *)p->bytes)->lo, *hi = ((const byte_tables *)p->bytes)->hi;
  /* Byte by byte, so the word order is little-endian on any CPU. */
  for (size_t i = 0; i + 1 < len; i += 2) {
    uint16_t p = lo[src[i]] ^ hi[src[i + 1]];
    dst[i] ^= (uint8_t)p;
    dst[i + 1] ^= (uint8_t)(p >> 8);
  }
}

#ifdef GF16_X86

/* The last few words of a region, below one vector's worth, from the prepared kernel's constant. */
static void tail(uint8_t *dst, const uint8_t *src, size_t len, const gf16_prepared *p) {
  _Alignas(64) uint8_t room[GF16_PREPARED_MAX];
  gf16_prepared *t = (gf16_prepared *)room;
  prepare_scalar(t, p->c);
  apply_scalar(dst, src, len, t);
}

/*
 * Nibble tables: for nibble position k (bits 4k..4k+3 of the word) and value n, the product
 * c · (n << 4k), its low bytes in lo[k][n] and high bytes in hi[k][n].
 */
typedef struct {
  uint8_t lo[4][16];
  uint8_t hi[4][16];
} nibble_tables;

static void prepare_nibbles(gf16_prepared *p, uint16_t c) {
  nibble_tables *t = (nibble_tables *)p->bytes;
  /* Products are linear: entry n is the XOR of c·x^(4k+i) over the bits i of n; each entry adds one
   * basis product to an earlier entry. */
  uint32_t x = c;
  for (int k = 0; k < 4; k++) {
    uint16_t basis[4];
    for (int i = 0; i < 4; i++) {
      basis[i] = (uint16_t)x;
      x <<= 1;
      if (x & 0x10000) x ^= GF16_POLY;
    }
    uint16_t prod[16];
    prod[0] = 0;
    for (int n = 1; n < 16; n++) {
      int top = 31 - __builtin_clz((unsigned)n);
      prod[n] = prod[n ^ (1 << top)] ^ basis[top];
    }
    for (int n = 0; n < 16; n++) {
      t->lo[k][n] = (uint8_t)prod[n];
      t->hi[k][n] = (uint8_t)(prod[n] >> 8);
    }
  }
}

__attribute__((target("ssse3"))) static void apply_ssse3(uint8_t *dst, const uint8_t *src, size_t len, const gf16_prepared *p) {
  const nibble_tables t = *(const nibble_tables *)p->bytes;
  __m128i tl[4], th[4];
  for (int k = 0; k < 4; k++) {
    tl[k] = _mm_loadu_si128((const __m128i *)t.lo[k]);
    th[k] = _mm_loadu_si128((const __m128i *)t.hi[k]);
  }
  const __m128i low_byte = _mm_set1_epi16(0x00ff);
  const __m128i nib = _mm_set1_epi8(0x0f);
  size_t i = 0;
  for (; i + 32 <= len; i += 32) {
    __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
    __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
    __m128i l = _mm_packus_epi16(_mm_and_si128(a, low_byte), _mm_and_si128(b, low_byte));
    __m128i h = _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8));
    __m128i n0 = _mm_and_si128(l, nib), n1 = _mm_and_si128(_mm_srli_epi16(l, 4), nib);
    __m128i n2 = _mm_and_si128(h, nib), n3 = _mm_and_si128(_mm_srli_epi16(h, 4), nib);
    __m128i pl = _mm_xor_si128(_mm_xor_si128(_mm_shuffle_epi8(tl[0], n0), _mm_shuffle_epi8(tl[1], n1)),
                               _mm_xor_si128(_mm_shuffle_epi8(tl[2], n2), _mm_shuffle_epi8(tl[3], n3)));
    __m128i ph = _mm_xor_si128(_mm_xor_si128(_mm_shuffle_epi8(th[0], n0), _mm_shuffle_epi8(th[1], n1)),
                               _mm_xor_si128(_mm_shuffle_epi8(th[2], n2), _mm_shuffle_epi8(th[3], n3)));
    __m128i da = _mm_loadu_si128((const __m128i *)(dst + i));
    __m128i db = _mm_loadu_si128((const __m128i *)(dst + i + 16));
    _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(da, _mm_unpacklo_epi8(pl, ph)));
    _mm_storeu_si128((__m128i *)(dst + i + 16), _mm_xor_si128(db, _mm_unpackhi_epi8(pl, ph)));
  }
  if (i < len) tail(dst + i, src + i, len - i, p);
}

__attribute__((target("avx2"))) static void apply_avx2(uint8_t *dst, const uint8_t *src, size_t len, const gf16_prepared *p) {
  const nibble_tables t = *(const nibble_tables *)p->bytes;
  __m256i tl[4], th[4];
  for (int k = 0; k < 4; k++) {
    tl[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t.lo[k]));
    th[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t.hi[k]));
  }
  const __m256i low_byte = _mm256_set1_epi16(0x00ff);
  const __m256i nib = _mm256_set1_epi8(0x0f);
  size_t i = 0;
  for (; i + 64 <= len; i += 64) {
    __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
    __m256i b = _mm256_loadu_si256((const __m256i *)(src + i + 32));
    __m256i l = _mm256_packus_epi16(_mm256_and_si256(a, low_byte), _mm256_and_si256(b, low_byte));
    __m256i h = _mm256_packus_epi16(_mm256_srli_epi16(a, 8), _mm256_srli_epi16(b, 8));
    __m256i n0 = _mm256_and_si256(l, nib), n1 = _mm256_and_si256(_mm256_srli_epi16(l, 4), nib);
    __m256i n2 = _mm256_and_si256(h, nib), n3 = _mm256_and_si256(_mm256_srli_epi16(h, 4), nib);
    __m256i pl = _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi8(tl[0], n0), _mm256_shuffle_epi8(tl[1], n1)),
                                  _mm256_xor_si256(_mm256_shuffle_epi8(tl[2], n2), _mm256_shuffle_epi8(tl[3], n3)));
    __m256i ph = _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi8(th[0], n0), _mm256_shuffle_epi8(th[1], n1)),
                                  _mm256_xor_si256(_mm256_shuffle_epi8(th[2], n2), _mm256_shuffle_epi8(th[3], n3)));
    __m256i da = _mm256_loadu_si256((const __m256i *)(dst + i));
    __m256i db = _mm256_loadu_si256((const __m256i *)(dst + i + 32));
    _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(da, _mm256_unpacklo_epi8(pl, ph)));
    _mm256_storeu_si256((__m256i *)(dst + i + 32), _mm256_xor_si256(db, _mm256_unpackhi_epi8(pl, ph)));
  }
  if (i < len) tail(dst + i, src + i, len - i, p);
}

/*
 * The four 8×8 blocks of multiplication by c, in gf2p8affineqb's layout: result bit i of a byte
 * is the parity of (matrix byte 7-i AND the input byte). ll maps the low input byte to the low
 * output byte, hl the high input byte to the low output byte, and so on.
 */
typedef struct {
  uint64_t ll, hl, lh, hh;
} affine_blocks;

/* spread[b]: bit i of b moved to bit 8·(7-i), i.e. b as column 0 of an affine matrix. */
static uint64_t spread[256];

static void fill_spread(void) {
  for (int b = 0; b < 256; b++) {
    uint64_t q = 0;
    for (int i = 0; i < 8; i++) q |= (uint64_t)((b >> i) & 1) << (8 * (7 - i));
    spread[b] = q;
  }
}

static void prepare_affine(gf16_prepared *p, uint16_t c) {
  affine_blocks *m = (affine_blocks *)p->bytes;
  /* Column j of the 16×16 matrix is c·x^j: c doubled j times. Small files prepare a constant per
   * slice and recovery slice, so this stays at a few dozen operations. */
  uint32_t col = c;
  uint64_t ll = 0, hl = 0, lh = 0, hh = 0;
  for (int j = 0; j < 16; j++) {
    uint64_t lo = spread[col & 0xff], hi = spread[(col >> 8) & 0xff];
    if (j < 8) {
      ll |= lo << j;
      lh |= hi << j;
    } else {
      hl |= lo << (j - 8);
      hh |= hi << (j - 8);
    }
    col <<= 1;
    if (col & 0x10000) col ^= GF16_POLY;
  }
  m->ll = ll;
  m->hl = hl;
  m->lh = lh;
  m->hh = hh;
}

/* The AVX2 (32-byte) and AVX-512 (64-byte) GFNI kernels, from one template (gf16_gfni.h). */
#define GFNI_TARGET "avx2,gfni"
#define GFNI_APPLY apply_gfni_avx2
#define GFNI_APPLY4 apply4_gfni_avx2
#define V __m256i
#define V_BYTES 32
#define v_load(p) _mm256_loadu_si256((const void *)(p))
#define v_store(p, v) _mm256_storeu_si256((void *)(p), v)
#define v_and _mm256_and_si256
#define v_xor _mm256_xor_si256
#define v_srli16 _mm256_srli_epi16
#define v_packus16 _mm256_packus_epi16
#define v_unpacklo8 _mm256_unpacklo_epi8
#define v_unpackhi8 _mm256_unpackhi_epi8
#define v_affine(v, m) _mm256_gf2p8affine_epi64_epi8(v, m, 0)
#define v_zero _mm256_setzero_si256
#define v_set1_64 _mm256_set1_epi64x
#define v_set1_16 _mm256_set1_epi16
#include "gf16_gfni.h"

#define GFNI_TARGET "avx512f,avx512bw,gfni"
#define GFNI_APPLY apply_gfni_avx512
#define GFNI_APPLY4 apply4_gfni_avx512
#define V __m512i
#define V_BYTES 64
#define v_load(p) _mm512_loadu_si512((const void *)(p))
#define v_store(p, v) _mm512_storeu_si512((void *)(p), v)
#define v_and _mm512_and_si512
#define v_xor _mm512_xor_si512
#define v_srli16 _mm512_srli_epi16
#define v_packus16 _mm512_packus_epi16
#define v_unpacklo8 _mm512_unpacklo_epi8
#define v_unpackhi8 _mm512_unpackhi_epi8
#define v_affine(v, m) _mm512_gf2p8affine_epi64_epi8(v, m, 0)
#define v_zero _mm512_setzero_si512
#define v_set1_64 _mm512_set1_epi64
#define v_set1_16 _mm512_set1_epi16
#include "gf16_gfni.h"

#endif /* GF16_X86 */

static gf16_kernel available[5];
static int available_count;
static const gf16_kernel *current;

void gf16_init(void) {
  if (__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) return;
  fill_tables();
#ifdef GF16_X86
  fill_spread();
#endif
  int n = 0;
  available[n++] = (gf16_kernel){"scalar", 64 + sizeof(byte_tables), prepare_scalar, apply_scalar, NULL};
#ifdef GF16_X86
  const cpu_features *f = cpu();
  if (f->ssse3) available[n++] = (gf16_kernel){"ssse3", 64 + sizeof(nibble_tables), prepare_nibbles, apply_ssse3, NULL};
  if (f->avx2) available[n++] = (gf16_kernel){"avx2", 64 + sizeof(nibble_tables), prepare_nibbles, apply_avx2, NULL};
  if (f->avx2 && f->gfni) available[n++] = (gf16_kernel){"gfni-avx2", 64 + 64, prepare_affine, apply_gfni_avx2, apply4_gfni_avx2};
  if (f->avx512f && f->avx512bw && f->gfni) available[n++] = (gf16_kernel){"gfni-avx512", 64 + 64, prepare_affine, apply_gfni_avx512, apply4_gfni_avx512};
#endif
  available_count = n;
  current = &available[n - 1];
  __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
}

const gf16_kernel *gf16_kernels(int *count) {
  *count = available_count;
  return available;
}

const gf16_kernel *gf16_current(void) { return current; }

void gf16_prepare(gf16_prepared *p, uint16_t c) {
  p->c = c;
  current->prepare(p, c);
}

void gf16_muladd(uint8_t *dst, const uint8_t *src, size_t len, uint16_t c) {
  if (c == 0) return;
  _Alignas(64) uint8_t room[GF16_PREPARED_MAX];
  gf16_prepared *p = (gf16_prepared *)room;
  gf16_prepare(p, c);
  current->apply(dst, src, len, p);
}

void gf16_apply4(const gf16_kernel *k, uint8_t *dst, const uint8_t *const src[4], size_t len, const gf16_prepared *const p[4]) {
  if (k->apply4) {
    k->apply4(dst, src, len, p);
    return;
  }
  for (int i = 0; i < 4; i++) k->apply(dst, src[i], len, p[i]);
}

int gf16_select(const char *name) {
  for (int i = 0; i < available_count; i++) {
    if (strcmp(available[i].name, name) == 0) {
      current = &available[i];
      return 1;
    }
  }
  return 0;
}
