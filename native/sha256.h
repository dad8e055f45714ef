#ifndef BLAINE_SHA256_H
#define BLAINE_SHA256_H
#include <stddef.h>
#include <stdint.h>

/* SHA-256 as FIPS 180-4 (section 6.2) defines it: the content hash of files copied on the addon's threads. */
struct sha256 {
  uint32_t h[8];
  uint64_t length;      /* bytes hashed so far */
  uint8_t block[64];    /* a partial block waiting for more bytes */
  size_t used;          /* bytes of `block` in use */
  int sha_instructions; /* compress with the CPU's SHA instructions (chosen by sha256_init) */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
void sha256_final(struct sha256 *s, uint8_t digest[32]);
/* Tests: this hash keeps to the plain C compression even where the CPU has SHA instructions. */
void sha256_init_portable(struct sha256 *s);

#endif
