/*
 * The catalog's side of the quick check's digest, as an SQLite extension that lives in this addon
 * (src/catalog/catalog.ts loads it into its connection with loadExtension).
 *
 * blaine_quick_digest(root, path, kind, size, mtime_s, mtime_ns, inode, mode, uid, gid, link_target, recheck)
 * is an aggregate over rows in byte order of path (NULL when they come in any other order): the SHA-256 of
 * "root path\0stamp\0root path\0stamp…", the very text that src/catalog/rows.ts STAMP_SQL and
 * statements.ts quickText build from the same rows (a row marked `recheck` has an empty stamp),
 * and that the scan hashes for each chunk (scan.c emit_chunk). Equal digests are equal texts,
 * short of a SHA-256 collision; building the text in SQL (format() and group_concat) and turning
 * it into a JS string was a third of a no-change run's main thread.
 */
#include <sqlite3ext.h>
#include <string.h>

#include "sha256.h"
#include "stamp.h"

SQLITE_EXTENSION_INIT1

typedef struct {
  struct sha256 h;
  int started; /* the hash is initialised */
  int unordered; /* a row came out of byte order: no digest (NULL), the caller compares the text */
  int64_t rows;
  unsigned char *last; /* the previous row's path (malloc'd), to check the order */
  size_t last_len, last_cap;
} digest_t;

/*
 * The statement reads one volume's rows along the primary key, so they come in byte order of path
 * without a sort (an ORDER BY through a subquery copied every value, a third of the time). SQLite
 * does not promise that order to an aggregate: each path is checked to come after the last.
 */
static int in_order(digest_t *d, sqlite3_value *path) {
  const unsigned char *p = sqlite3_value_blob(path);
  size_t n = (size_t)sqlite3_value_bytes(path);
  if (d->rows > 0) {
    size_t common = n < d->last_len ? n : d->last_len;
    int c = common ? memcmp(d->last, p, common) : 0;
    if (c > 0 || (c == 0 && d->last_len >= n)) return 0;
  }
  if (n > d->last_cap) {
    size_t cap = n < 256 ? 256 : n * 2;
    unsigned char *grown = sqlite3_realloc64(d->last, cap);
    if (!grown) return -1;
    d->last = grown;
    d->last_cap = cap;
  }
  if (n) memcpy(d->last, p, n);
  d->last_len = n;
  return 1;
}

static void put(digest_t *d, const void *p, size_t n) {
  if (n > 0) sha256_update(&d->h, p, n);
}

static void put_value(digest_t *d, sqlite3_value *v) {
  int type = sqlite3_value_type(v);
  if (type == SQLITE_NULL) return;
  /* blob and text alike: the bytes as stored (the row's columns are BLOBs, the inode TEXT) */
  const void *p = type == SQLITE_BLOB ? sqlite3_value_blob(v) : (const void *)sqlite3_value_text(v);
  put(d, p, (size_t)sqlite3_value_bytes(v));
}

static void digest_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc != 12) {
    sqlite3_result_error(ctx, "blaine_quick_digest takes 12 arguments", -1);
    return;
  }
  digest_t *d = sqlite3_aggregate_context(ctx, sizeof *d);
  if (!d) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (!d->started) {
    sha256_init(&d->h);
    d->started = 1;
  }
  if (d->unordered) return;
  int ordered = in_order(d, argv[1]);
  if (ordered < 0) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (!ordered) {
    d->unordered = 1;
    return;
  }
  if (d->rows++ > 0) put(d, "", 1);
  put_value(d, argv[0]);
  put_value(d, argv[1]);
  put(d, "", 1);
  /* STAMP_SQL: iif(e.recheck, '', …) — an empty stamp, which no scanned file has */
  if (sqlite3_value_type(argv[11]) != SQLITE_NULL && sqlite3_value_int64(argv[11]) != 0) return;
  char text[64];
  int64_t kind = sqlite3_value_int64(argv[2]);
  /* kind 2 (folders) never reaches here: the statement reads file rows only */
  size_t n = stamp_head(text, kind == 1, sqlite3_value_int64(argv[3]), sqlite3_value_int64(argv[4]), sqlite3_value_int64(argv[5]));
  put(d, text, n);
  put_value(d, argv[6]);
  n = stamp_tail(text, sqlite3_value_int64(argv[7]), sqlite3_value_int64(argv[8]), sqlite3_value_int64(argv[9]));
  put(d, text, n);
  if (sqlite3_value_type(argv[10]) != SQLITE_NULL) {
    put(d, "/", 1);
    put_value(d, argv[10]);
  }
}

static void digest_final(sqlite3_context *ctx) {
  digest_t *d = sqlite3_aggregate_context(ctx, 0);
  struct sha256 empty;
  uint8_t out[32];
  if (d) sqlite3_free(d->last);
  if (d && d->unordered) {
    sqlite3_result_null(ctx);
    return;
  }
  if (d && d->started) sha256_final(&d->h, out);
  else {
    /* no rows: the digest of the empty text, as the scan gives an empty chunk */
    sha256_init(&empty);
    sha256_final(&empty, out);
  }
  sqlite3_result_blob(ctx, out, 32, SQLITE_TRANSIENT);
}

__attribute__((visibility("default"))) int sqlite3_blainequick_init(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
  (void)err;
  SQLITE_EXTENSION_INIT2(api);
  return sqlite3_create_function(db, "blaine_quick_digest", 12, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL, NULL, digest_step, digest_final);
}
