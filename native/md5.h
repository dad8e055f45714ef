/* MD5 (RFC 1321), one stream or two at once. */
#ifndef BLAINE_MD5_H
#define BLAINE_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t st[4];
  uint64_t bytes;
  uint8_t buf[64];
} md5_ctx;

void md5_init(md5_ctx *m);
void md5_update(md5_ctx *m, const void *data, size_t len);
/* Feeds the same bytes to two digests, in one interleaved pass when both are at a block boundary. */
void md5_update2(md5_ctx *m1, md5_ctx *m2, const void *data, size_t len);
/* Two digests of different bytes of the same length, interleaved when both are at the same offset. */
void md5_update_pair(md5_ctx *m1, const void *d1, md5_ctx *m2, const void *d2, size_t len);
void md5_final(md5_ctx *m, uint8_t out[16]);
void md5_digest(const void *data, size_t len, uint8_t out[16]);
/* Raw compression of whole 64-byte blocks; md5_blocks2 runs two independent streams together. */
void md5_blocks(uint32_t st[4], const uint8_t *data, size_t blocks);
void md5_blocks2(uint32_t s1[4], const uint8_t *d1, uint32_t s2[4], const uint8_t *d2, size_t blocks);

#endif
