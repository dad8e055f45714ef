/*
 * A big file's copy in C (see copyfeed.h): the JS thread only opens the two files before and sets
 * owner, mode and mtime after, as for every copy (src/fsx/copy.ts).
 *
 * Three threads share a ring of buffers: this one reads each buffer and hashes it (SHA-256), a
 * writer writes it, and a consumer (the PAR2 creator of the file, when its set is made in the
 * copy's read pass) takes it on its own thread. A buffer is read into again once both are done
 * with it, so the copy runs ahead of the slower of them by up to the ring. The copy made in
 * JavaScript did the same with libuv's pool for the reads and writes and the JS thread for the
 * hash, and handed each buffer to the creator through the JS thread: per buffer a round trip
 * through the event loop for the read, the write and the feed, while the JS thread was also what
 * started files, recorded them and copied the small ones.
 *
 * Once the data is written, its write-back to the disk is started (sync_file_range WRITE): the
 * syncfs before the catalog commit then finds it on its way instead of starting it, and the disk
 * works while the cores go on with the next files (the final syncfs of a backup of 1 GiB waited
 * ~0.6 s with every core idle).
 */
#define _GNU_SOURCE
#include "copyfeed.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sha256.h"

struct ring {
  const copyfeed_job *job;
  pthread_mutex_t lock;
  pthread_cond_t changed;
  uint8_t *mem;
  size_t *len;
  uint64_t *at;
  /* Per buffer: the writer and the consumer that still need it (0: free to read into). */
  unsigned *refs;
  /* Buffers read so far; the reader has ended (no more will come); the writer failed, or a stop. */
  uint64_t filled;
  int ended, stop;
  int write_err, feed_err;
  uint64_t fed;
};

/*
 * Rings of buffers kept for the next copies: a ring mapped afresh per file cost its page faults
 * and the zeroing of its pages every time (3% of a backup's CPU, 1 GiB of media-sized files). Two
 * are kept of each size (a fed copy's and a plain one's), as many as run at once (BIG_AHEAD in
 * src/apply/copy-ahead.ts); a ring of a size between them is not kept.
 */
#define KEPT_EACH 2
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  void *mem;
  size_t bytes;
} kept[2 * KEPT_EACH];

/* The slots for rings of this size: the first KEPT_EACH for rings up to 8 MiB, the others above. */
static int kept_from(size_t bytes) { return bytes <= (8u << 20) ? 0 : KEPT_EACH; }

static void *ring_take(size_t bytes) {
  void *mem = NULL;
  pthread_mutex_lock(&kept_lock);
  for (int i = kept_from(bytes); i < kept_from(bytes) + KEPT_EACH && !mem; i++) {
    if (kept[i].mem && kept[i].bytes == bytes) {
      mem = kept[i].mem;
      kept[i].mem = NULL;
    }
  }
  pthread_mutex_unlock(&kept_lock);
  if (mem) return mem;
  mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  /* No MADV_HUGEPAGE: its faults compacted memory to find huge pages, dearer than the small faults. */
  return mem == MAP_FAILED ? NULL : mem;
}

static void ring_give(void *mem, size_t bytes) {
  pthread_mutex_lock(&kept_lock);
  for (int i = kept_from(bytes); i < kept_from(bytes) + KEPT_EACH && mem; i++) {
    if (!kept[i].mem) {
      kept[i].mem = mem;
      kept[i].bytes = bytes;
      mem = NULL;
    }
  }
  pthread_mutex_unlock(&kept_lock);
  if (mem) munmap(mem, bytes);
}

static uint8_t *slot(struct ring *r, uint64_t i) { return r->mem + (i % r->job->buffers) * r->job->chunk; }

static void release(struct ring *r, uint64_t i) {
  pthread_mutex_lock(&r->lock);
  r->refs[i % r->job->buffers]--;
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->lock);
}

/* Waits for buffer i to be read; 0 when none will be (the reader ended before it) or `stop_too` and a stop. */
static int await_filled(struct ring *r, uint64_t i, int stop_too) {
  pthread_mutex_lock(&r->lock);
  while (i >= r->filled && !r->ended && !(stop_too && r->stop)) pthread_cond_wait(&r->changed, &r->lock);
  int have = i < r->filled && !(stop_too && r->stop);
  pthread_mutex_unlock(&r->lock);
  return have;
}

static void fail_stop(struct ring *r, int *where, int err) {
  pthread_mutex_lock(&r->lock);
  if (where && !*where) *where = err;
  r->stop = 1;
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->lock);
}

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t at) {
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, (off_t)at);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    at += (uint64_t)w;
    n -= (size_t)w;
  }
  return 0;
}

static void *writer_main(void *arg) {
  struct ring *r = arg;
  pthread_setname_np(pthread_self(), "blaine-copy-w");
  const copyfeed_job *j = r->job;
  for (uint64_t i = 0; await_filled(r, i, 1); i++) {
    int e = j->fail_write_nth == i + 1 ? j->fail_write_errno : write_all(j->out_fd, slot(r, i), r->len[i % j->buffers], r->at[i % j->buffers]);
    if (e) {
      fail_stop(r, &r->write_err, e);
      return NULL;
    }
    release(r, i);
    if (j->stop_after_writes == i + 1) {
      fail_stop(r, NULL, 0);
      return NULL;
    }
  }
  return NULL;
}

static void *feeder_main(void *arg) {
  struct ring *r = arg;
  pthread_setname_np(pthread_self(), "blaine-feed");
  const copyfeed_job *j = r->job;
  /* Every buffer read is released, fed or not, so that the reader never waits for this thread in vain. */
  for (uint64_t i = 0; await_filled(r, i, 0); i++) {
    pthread_mutex_lock(&r->lock);
    int skip = r->feed_err != 0 || r->stop;
    if (r->stop && !r->feed_err) r->feed_err = ECANCELED;
    pthread_mutex_unlock(&r->lock);
    if (!skip) {
      size_t n = r->len[i % j->buffers];
      int e = j->feed(j->feed_ctx, slot(r, i), n);
      pthread_mutex_lock(&r->lock);
      if (e) r->feed_err = e;
      else r->fed += n;
      pthread_mutex_unlock(&r->lock);
    }
    release(r, i);
  }
  return NULL;
}

void copyfeed_run(const copyfeed_job *j, copyfeed_result *res) {
  memset(res, 0, sizeof *res);
  struct ring r = {.job = j};
  size_t n = j->buffers;
  /* Mapped, not malloc'ed: a ring of 19 MiB freed per file stayed in malloc's arenas (peak RSS +90 MiB). */
  size_t ring_bytes = n * j->chunk;
  void *mem = n >= 3 && j->chunk > 0 ? ring_take(ring_bytes) : NULL;
  r.len = calloc(n, sizeof *r.len);
  r.at = calloc(n, sizeof *r.at);
  r.refs = calloc(n, sizeof *r.refs);
  if (!mem || !r.len || !r.at || !r.refs) {
    res->write_err = ENOMEM;
    goto out;
  }
  r.mem = mem;
  pthread_mutex_init(&r.lock, NULL);
  pthread_cond_init(&r.changed, NULL);
  pthread_t writer, feeder;
  int feeding = j->feed != NULL;
  if (pthread_create(&writer, NULL, writer_main, &r) != 0) {
    res->write_err = EAGAIN;
    goto destroy;
  }
  if (feeding && pthread_create(&feeder, NULL, feeder_main, &r) != 0) {
    /* The copy goes on without its consumer, which is told why. */
    feeding = 0;
    r.feed_err = EAGAIN;
  }
  posix_fadvise(j->in_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  struct sha256 hash;
  sha256_init(&hash);
  uint64_t pos = 0;
  for (uint64_t i = 0;; i++) {
    unsigned s = (unsigned)(i % n);
    pthread_mutex_lock(&r.lock);
    while (r.refs[s] && !r.stop) pthread_cond_wait(&r.changed, &r.lock);
    int stopped = r.stop;
    pthread_mutex_unlock(&r.lock);
    if (stopped) {
      /* The writer failed (its error says why) or a test's stop. */
      if (!r.write_err) res->read_err = ECANCELED;
      break;
    }
    if (j->cancel && __atomic_load_n(j->cancel, __ATOMIC_RELAXED)) {
      res->read_err = ECANCELED;
      break;
    }
    ssize_t got;
    if (j->fail_read_nth == i + 1) {
      got = -1;
      errno = j->fail_read_errno;
    } else {
      do got = pread(j->in_fd, slot(&r, i), j->chunk, (off_t)pos);
      while (got < 0 && errno == EINTR);
    }
    if (got < 0) {
      res->read_err = errno;
      break;
    }
    if (got == 0) break;
    sha256_update(&hash, slot(&r, i), (size_t)got);
    pthread_mutex_lock(&r.lock);
    r.len[s] = (size_t)got;
    r.at[s] = pos;
    r.refs[s] = 1u + (feeding ? 1u : 0u);
    r.filled = i + 1;
    pthread_cond_broadcast(&r.changed);
    pthread_mutex_unlock(&r.lock);
    pos += (uint64_t)got;
  }
  pthread_mutex_lock(&r.lock);
  r.ended = 1;
  if (res->read_err) r.stop = 1;
  pthread_cond_broadcast(&r.changed);
  pthread_mutex_unlock(&r.lock);
  pthread_join(writer, NULL);
  if (feeding) pthread_join(feeder, NULL);
  res->write_err = r.write_err;
  res->feed_err = r.feed_err;
  res->fed = r.fed;
  res->bytes = pos;
  sha256_final(&hash, res->sha256);
#ifdef SYNC_FILE_RANGE_WRITE
  /* Only a start: no wait, and a file system that cannot (FUSE) just says so. */
  if (!res->read_err && !res->write_err) sync_file_range(j->out_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
destroy:
  pthread_cond_destroy(&r.changed);
  pthread_mutex_destroy(&r.lock);
out:
  if (mem) ring_give(mem, ring_bytes);
  free(r.len);
  free(r.at);
  free(r.refs);
}
