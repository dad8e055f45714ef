#ifndef BLAINE_STAMP_H
#define BLAINE_STAMP_H
#include <stddef.h>
#include <stdint.h>

/*
 * The quick check's stamp (src/catalog/stamp.ts) in C, for the two places that make it: the scan
 * (scan.c, from lstat) and the catalog's digest of its rows (quickdigest.c, from the columns). Both
 * go through these helpers, so that one file's stamp is the same bytes on either side.
 */

/* Decimal digits of v (a '-' first when negative), as %lld prints them; returns the length (at most 20). */
size_t stamp_i64(char *out, int64_t v);
/* The same for an unsigned value, as %llu prints it. */
size_t stamp_u64(char *out, uint64_t v);

/* The stamp's head up to the inode: kind letter, size, '/', mtime seconds, '.', nanoseconds, '/'. At most 64 bytes. */
size_t stamp_head(char *out, int symlink, int64_t size, int64_t mtime_s, int64_t mtime_ns);
/* What follows the inode: '/', mode, '/', uid, '/', gid. At most 64 bytes. */
size_t stamp_tail(char *out, int64_t mode, int64_t uid, int64_t gid);

#endif
