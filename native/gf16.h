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

/* dst ^= c · src, word by word; len is a whole number of words (even). */
typedef void (*gf16_muladd_fn)(uint8_t *dst, const uint8_t *src, size_t len, uint16_t c);

typedef struct {
  const char *name;
  gf16_muladd_fn fn;
} gf16_kernel;

/* The kernels this CPU can run, fastest last; `count` receives their number. */
const gf16_kernel *gf16_kernels(int *count);
/* The kernel in use (the fastest, unless gf16_select chose another). */
const gf16_kernel *gf16_current(void);
/* Uses the named kernel from now on; 0 when this CPU has no such kernel. */
int gf16_select(const char *name);

static inline void gf16_muladd(uint8_t *dst, const uint8_t *src, size_t len, uint16_t c) {
  gf16_current()->fn(dst, src, len, c);
}

#endif
