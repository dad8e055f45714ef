/* The stamp's numbers as text, without printf (a no-change scan formats ~8 numbers a file). See stamp.h. */
#include "stamp.h"

#include <string.h>

static const char PAIRS[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

size_t stamp_u64(char *out, uint64_t v) {
  char tmp[20];
  size_t at = sizeof tmp;
  /* two digits a division: a stamp has ~60 digits, a no-change run formats them all on both sides */
  while (v >= 100) {
    unsigned pair = (unsigned)(v % 100) * 2;
    v /= 100;
    tmp[--at] = PAIRS[pair + 1];
    tmp[--at] = PAIRS[pair];
  }
  if (v >= 10) {
    tmp[--at] = PAIRS[v * 2 + 1];
    tmp[--at] = PAIRS[v * 2];
  } else {
    tmp[--at] = (char)('0' + v);
  }
  size_t n = sizeof tmp - at;
  memcpy(out, tmp + at, n);
  return n;
}

size_t stamp_i64(char *out, int64_t v) {
  if (v >= 0) return stamp_u64(out, (uint64_t)v);
  out[0] = '-';
  /* -(v + 1) + 1 stays within uint64_t for INT64_MIN as well */
  return 1 + stamp_u64(out + 1, (uint64_t)(-(v + 1)) + 1);
}

size_t stamp_head(char *out, int symlink, int64_t size, int64_t mtime_s, int64_t mtime_ns) {
  size_t n = 0;
  out[n++] = symlink ? 'l' : 'f';
  n += stamp_i64(out + n, size);
  out[n++] = '/';
  n += stamp_i64(out + n, mtime_s);
  out[n++] = '.';
  n += stamp_i64(out + n, mtime_ns);
  out[n++] = '/';
  return n;
}

size_t stamp_tail(char *out, int64_t mode, int64_t uid, int64_t gid) {
  size_t n = 0;
  out[n++] = '/';
  n += stamp_i64(out + n, mode);
  out[n++] = '/';
  n += stamp_i64(out + n, uid);
  out[n++] = '/';
  n += stamp_i64(out + n, gid);
  return n;
}
