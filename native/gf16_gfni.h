/*
 * The GFNI kernels of gf16.c (one product, and four products into one destination), written once
 * for any vector width. gf16.c includes this file once per width after defining:
 *   GFNI_TARGET            the function attribute's target string
 *   GFNI_APPLY, GFNI_APPLY4 the two functions' names
 *   V, V_BYTES             the vector type and its size in bytes
 *   v_load(p), v_store(p, v), v_and, v_xor, v_srli16(v, n), v_packus16, v_unpacklo8, v_unpackhi8,
 *   v_affine(v, m), v_zero(), v_set1_64(x), v_set1_16(x)   the width's intrinsics
 * The file undefines them at its end, ready for the next width. See gf16.c for the method (pack the low and high bytes of 2 × V_BYTES
 * / 2 words, multiply each by the constant's 8×8 blocks, interleave back).
 */

/* The low and high bytes' products of the words at src, against one constant's four blocks. */
#define GFNI_PRODUCTS(src, ll, hl, lh, hh, pl, ph)                                         \
  do {                                                                                     \
    V a_ = v_load(src), b_ = v_load((src) + V_BYTES);                                       \
    V l_ = v_packus16(v_and(a_, low_byte), v_and(b_, low_byte));                            \
    V h_ = v_packus16(v_srli16(a_, 8), v_srli16(b_, 8));                                    \
    pl = v_xor(pl, v_xor(v_affine(l_, ll), v_affine(h_, hl)));                              \
    ph = v_xor(ph, v_xor(v_affine(l_, lh), v_affine(h_, hh)));                              \
  } while (0)

/* dst ^= (pl, ph) interleaved back into words. */
#define GFNI_STORE(dst, pl, ph)                                                            \
  do {                                                                                     \
    v_store(dst, v_xor(v_load(dst), v_unpacklo8(pl, ph)));                                  \
    v_store((dst) + V_BYTES, v_xor(v_load((dst) + V_BYTES), v_unpackhi8(pl, ph)));          \
  } while (0)

__attribute__((target(GFNI_TARGET))) static void GFNI_APPLY(uint8_t *dst, const uint8_t *src, size_t len, const gf16_prepared *p) {
  const affine_blocks m = *(const affine_blocks *)p->bytes;
  const V ll = v_set1_64((long long)m.ll), hl = v_set1_64((long long)m.hl);
  const V lh = v_set1_64((long long)m.lh), hh = v_set1_64((long long)m.hh);
  const V low_byte = v_set1_16(0x00ff);
  size_t i = 0;
  for (; i + 2 * V_BYTES <= len; i += 2 * V_BYTES) {
    V pl = v_zero(), ph = v_zero();
    GFNI_PRODUCTS(src + i, ll, hl, lh, hh, pl, ph);
    GFNI_STORE(dst + i, pl, ph);
  }
  if (i < len) tail(dst + i, src + i, len - i, p);
}

/*
 * Four sources into one destination: the destination is loaded and stored once for four
 * products instead of once for each, which is most of what a single product's loop spends
 * beyond its four affine operations.
 */
__attribute__((target(GFNI_TARGET))) static void GFNI_APPLY4(uint8_t *dst, const uint8_t *const src[4], size_t len, const gf16_prepared *const p[4]) {
  V m[4][4];
  for (int k = 0; k < 4; k++) {
    const affine_blocks *a = (const affine_blocks *)p[k]->bytes;
    m[k][0] = v_set1_64((long long)a->ll);
    m[k][1] = v_set1_64((long long)a->hl);
    m[k][2] = v_set1_64((long long)a->lh);
    m[k][3] = v_set1_64((long long)a->hh);
  }
  const V low_byte = v_set1_16(0x00ff);
  size_t i = 0;
  for (; i + 2 * V_BYTES <= len; i += 2 * V_BYTES) {
    V pl = v_zero(), ph = v_zero();
    for (int k = 0; k < 4; k++) GFNI_PRODUCTS(src[k] + i, m[k][0], m[k][1], m[k][2], m[k][3], pl, ph);
    GFNI_STORE(dst + i, pl, ph);
  }
  if (i < len) {
    for (int k = 0; k < 4; k++) tail(dst + i, src[k] + i, len - i, p[k]);
  }
}

#undef GFNI_PRODUCTS
#undef GFNI_STORE
#undef GFNI_TARGET
#undef GFNI_APPLY
#undef GFNI_APPLY4
#undef V
#undef V_BYTES
#undef v_load
#undef v_store
#undef v_and
#undef v_xor
#undef v_srli16
#undef v_packus16
#undef v_unpacklo8
#undef v_unpackhi8
#undef v_affine
#undef v_zero
#undef v_set1_64
#undef v_set1_16
