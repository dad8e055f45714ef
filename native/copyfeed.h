/*
 * One big file copied between two open descriptors in C, hashed with SHA-256, each buffer also
 * handed to a consumer (a PAR2 creator being fed) on a thread of its own: the reads and hashing on
 * the calling thread, the writes on a second, the consumer on a third, through a ring of buffers.
 * See copyfeed.c.
 */
#ifndef BLAINE_COPYFEED_H
#define BLAINE_COPYFEED_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  int in_fd, out_fd;
  /* Bytes per read and write, and buffers in the ring (at least 3). */
  size_t chunk;
  unsigned buffers;
  /* Given every buffer read, in order, on its own thread; 0 or an errno (then no more are given). NULL: none. */
  int (*feed)(void *ctx, const uint8_t *data, size_t len);
  void *feed_ctx;
  /* Nonzero (set by another thread): the copy stops before its next read, with ECANCELED. */
  const int32_t *cancel;
  /* Tests (the fault layer, src/fsx/fault.ts): the nth read or write (1-based) fails with the errno; 0: none. */
  uint64_t fail_read_nth, fail_write_nth;
  int fail_read_errno, fail_write_errno;
  /* Tests: the copy stops (ECANCELED) once this many writes are done, as a crash right after that write would leave it; 0: never. */
  uint64_t stop_after_writes;
} copyfeed_job;

typedef struct {
  /* The first read error, write error and consumer error; 0 for none. read_err is ECANCELED after a cancel or a stop. */
  int read_err, write_err, feed_err;
  /* Bytes read (and hashed), and bytes the consumer took without an error. */
  uint64_t bytes, fed;
  uint8_t sha256[32];
} copyfeed_result;

/* Runs the copy on the calling thread (and two threads it starts); every thread has ended when it returns. */
void copyfeed_run(const copyfeed_job *job, copyfeed_result *result);

#endif
