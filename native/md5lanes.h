/*
 * MD5 of many independent messages at once, one message per 32-bit SIMD lane: 8 with AVX2, 16
 * with AVX-512. A single MD5 is one serial chain that keeps a core's scalar units a third busy;
 * PAR2's slice checksums are many such chains with nothing between them, so they can share one
 * instruction stream and leave the file's own MD5 (which cannot be split) alone on its thread.
 */
#ifndef BLAINE_MD5LANES_H
#define BLAINE_MD5LANES_H

#include <stddef.h>
#include <stdint.h>

/* Names the kernels this CPU runs ("scalar", "avx2", "avx512"), fastest last; *count gets how many. */
const char *const *md5_lanes_kernels(unsigned *count);
/*
 * out[i] = MD5(data[i][0 .. len[i])) for i < n (any n, any lengths, each message in memory of its
 * own). Whole blocks common to a group of lanes run side by side; each message's tail and padding
 * run alone. `kernel` names one of md5_lanes_kernels (NULL: the widest); 0, or -1 for an unknown name.
 */
int md5_lanes(const uint8_t *const data[], const size_t len[], unsigned n, uint8_t (*out)[16], const char *kernel);

/*
 * md5_update for a stream whose chain may run beside another thread's: bulk blocks pair up with
 * a block run another thread is hashing through this function at the same time (md5_blocks2, two
 * chains for little more than the price of one), the waiting thread asleep meanwhile. With nobody
 * to pair with it hashes alone, looking for a partner every 16 KiB. The digest is md5_update's.
 */
#include "md5.h"
void md5_update_shared(md5_ctx *m, const void *data, size_t len);

#endif
