/* The counters behind testfault.h. */
#define _GNU_SOURCE
#define BLAINE_TESTFAULT_IMPL
#include "testfault.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* Calls left before the one that fails; 0: unarmed. Decremented by whichever thread calls. */
static unsigned alloc_left, write_left;

void testfault_arm(unsigned alloc_nth, unsigned write_nth) {
  __atomic_store_n(&alloc_left, alloc_nth, __ATOMIC_SEQ_CST);
  __atomic_store_n(&write_left, write_nth, __ATOMIC_SEQ_CST);
}

/* True when this call is the armed one (the counter then disarms itself). */
static int fires(unsigned *left) {
  unsigned n = __atomic_load_n(left, __ATOMIC_RELAXED);
  while (n != 0) {
    if (__atomic_compare_exchange_n(left, &n, n - 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return n == 1;
  }
  return 0;
}

void *testfault_malloc(size_t n) { return fires(&alloc_left) ? NULL : malloc(n); }

void *testfault_calloc(size_t n, size_t size) { return fires(&alloc_left) ? NULL : calloc(n, size); }

int testfault_posix_memalign(void **p, size_t align, size_t n) { return fires(&alloc_left) ? ENOMEM : posix_memalign(p, align, n); }

ssize_t testfault_pwrite(int fd, const void *buf, size_t n, off_t off) {
  if (fires(&write_left)) {
    errno = ENOSPC;
    return -1;
  }
  return pwrite(fd, buf, n, off);
}
