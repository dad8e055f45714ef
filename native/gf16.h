/*
 * GF(2^16) as PAR2 2.0 defines it: polynomial x^16 + x^12 + x^3 + x + 1 (0x1100B), generator 2,
 * data read as little-endian 16-bit words.
 */
#ifndef BLAINE_GF16_H
#define BLAINE_GF16_H

#include <stddef.h>
#include <stdint.h>

/* Fills the log/antilog tables and picks the fastest kernel; safe to call more than once. */
void gf16_init(void);

uint16_t gf16_mul(uint16_t a, uint16_t b);
/* 2^e, e taken modulo 65535. */
uint16_t gf16_exp(uint32_t e);
uint16_t gf16_log(uint16_t a);

/*
 * A constant made ready for one kernel (lookup tables or bit matrices): made once per constant,
 * used for every region multiplied by it.
 */
typedef struct {
  uint16_t c;
  _Alignas(64) uint8_t bytes[];
} gf16_prepared;

/* Room for any kernel's prepared constant; kernels say how much of it they use (gf16_kernel.size). */
#define GF16_PREPARED_MAX (64 + 1024)

/* dst ^= c · src, word by word; len is a whole number of words (even). */
typedef void (*gf16_apply_fn)(uint8_t *dst, const uint8_t *src, size_t len, const gf16_prepared *p);

typedef struct {
  const char *name;
  /* Bytes one prepared constant takes (a multiple of 64), header included. */
  size_t size;
  void (*prepare)(gf16_prepared *p, uint16_t c);
  gf16_apply_fn apply;
  /* dst ^= Σ p[i]·src[i] over four sources in one pass, or NULL where the kernel has none. */
  void (*apply4)(uint8_t *dst, const uint8_t *const src[4], size_t len, const gf16_prepared *const p[4]);
} gf16_kernel;

/* The kernels this CPU can run, fastest last; `count` receives their number. */
const gf16_kernel *gf16_kernels(int *count);
/* The kernel in use (the fastest, unless gf16_select chose another). */
const gf16_kernel *gf16_current(void);
/* Uses the named kernel from now on; 0 when this CPU has no such kernel. */
int gf16_select(const char *name);
/* Four products into dst with kernel k: its apply4, or four applies. */
void gf16_apply4(const gf16_kernel *k, uint8_t *dst, const uint8_t *const src[4], size_t len, const gf16_prepared *const p[4]);

/* Prepares c for the current kernel (sets p->c too). */
void gf16_prepare(gf16_prepared *p, uint16_t c);
/* dst ^= c · src with the current kernel. */
void gf16_muladd(uint8_t *dst, const uint8_t *src, size_t len, uint16_t c);

#endif
