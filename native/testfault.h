/*
 * Test-only failures for the PAR2 creator's error paths: the Nth allocation fails (ENOMEM) or the
 * Nth write fails (ENOSPC), counted from when a test arms them through the addon's
 * `nativeTestFaults(allocNth, writeNth)`. Unarmed (0, the default) each call costs one atomic load.
 *
 * A file includes this header after its system headers; the macros below then route its
 * allocations and writes through the counters.
 */
#ifndef BLAINE_TESTFAULT_H
#define BLAINE_TESTFAULT_H

#include <stddef.h>
#include <sys/types.h>

/* Arms the counters: the nth allocation / write from now on fails; 0 disarms one. */
void testfault_arm(unsigned alloc_nth, unsigned write_nth);

void *testfault_malloc(size_t n);
void *testfault_calloc(size_t n, size_t size);
int testfault_posix_memalign(void **p, size_t align, size_t n);
ssize_t testfault_pwrite(int fd, const void *buf, size_t n, off_t off);

#ifndef BLAINE_TESTFAULT_IMPL
#define malloc(n) testfault_malloc(n)
#define calloc(n, size) testfault_calloc(n, size)
#define posix_memalign(p, align, n) testfault_posix_memalign(p, align, n)
#define pwrite(fd, buf, n, off) testfault_pwrite(fd, buf, n, off)
#endif

#endif
