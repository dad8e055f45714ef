#ifndef BLAINE_SHA1_H
#define BLAINE_SHA1_H
#include <stddef.h>
#include <stdint.h>

/* SHA-1 as FIPS 180-4 (section 6.1) defines it, for hashing small files on the addon's threads. */
struct sha1 {
  uint32_t h[5];
  uint64_t length;      /* bytes hashed so far */
  uint8_t block[64];    /* a partial block waiting for more bytes */
  size_t used;          /* bytes of `block` in use */
  int sha_instructions; /* compress with the CPU's SHA instructions (chosen by sha1_init) */
};

void sha1_init(struct sha1 *s);
void sha1_update(struct sha1 *s, const void *data, size_t n);
void sha1_final(struct sha1 *s, uint8_t digest[20]);
/* Tests: this hash keeps to the plain C compression even where the CPU has SHA instructions. */
void sha1_init_portable(struct sha1 *s);

#endif
