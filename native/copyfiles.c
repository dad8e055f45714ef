/*
 * Copying many small files onto a disk on a worker thread, hashing each with SHA-256 on the way.
 * For files of a few KiB the work is all system calls and the JS calls around them; doing a batch
 * of them per call, off the main thread, lets the main thread record the previous batch's catalog
 * rows meanwhile. Each file goes to its temporary name (open, read, write, owner, mode, mtime,
 * close). The caller renames it into place in order, after journalling, exactly as a copy made in
 * JS (src/fsx/copy.ts) — unless it gave a destination to place the file at: then this thread
 * renames it there too, but only onto no existing name (RENAME_NOREPLACE) and only when the file
 * had the size the caller expected; otherwise the copy stays at its temporary name for the caller.
 * The caller gives a destination only for a step it has journalled (src/apply/copy-ahead.ts): the
 * rename was a fifth of the executor thread's time in a first backup of small files.
 * What goes wrong is reported per file, never thrown.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>

#include "copyfiles.h"
#include "jsstring.h"
#include "sha256.h"

/* Per file in `meta`: mode, uid, gid, mtime seconds, mtime nanoseconds, 1 to chown, the size to place the file at its destination with (-1: not placed). */
#define META_FIELDS 7
/* Per file in `out`: outcome (enum outcome), errno, bytes copied, 1 when placed at its destination. */
#define OUT_FIELDS 4
#define BUFFER_BYTES (256 * 1024)
#define DIGEST_BYTES 32

enum outcome { DONE = 0, SOURCE_ERROR = 1, TARGET_ERROR = 2, NOT_REGULAR = 3 };

struct batch {
  size_t count;
  char *paths;        /* source, temporary name and destination ("" for none) of each file, each NUL-terminated */
  const double *meta;
  double *out;
  uint8_t *digests;   /* DIGEST_BYTES per file */
  napi_ref refs[4];   /* meta, out, digests, callback */
  napi_async_work work;
};

static int open_source(const char *src) {
  int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
  int fd;
  do fd = open(src, flags | O_NOATIME);
  while (fd < 0 && errno == EINTR);
  /* O_NOATIME is for the owner or root only. */
  if (fd < 0 && errno == EPERM) {
    do fd = open(src, flags);
    while (fd < 0 && errno == EINTR);
  }
  return fd;
}

static int write_all(int fd, const uint8_t *p, size_t n, off_t at) {
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, at);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    at += w;
    n -= (size_t)w;
  }
  return 0;
}

/* One file: fills out[0..3] and digest; leaves no temporary file behind unless it succeeded. */
static void copy_one(const char *src, const char *tmp, const char *dest, const double *meta, double *out, uint8_t *digest, uint8_t *buf) {
  out[0] = DONE;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  int in = open_source(src);
  if (in < 0) {
    out[0] = SOURCE_ERROR;
    out[1] = errno;
    return;
  }
  struct stat st;
  if (fstat(in, &st) != 0) {
    out[0] = SOURCE_ERROR;
    out[1] = errno;
    close(in);
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    out[0] = NOT_REGULAR;
    close(in);
    return;
  }
  int dst;
  do dst = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  while (dst < 0 && errno == EINTR);
  if (dst < 0) {
    out[0] = TARGET_ERROR;
    out[1] = errno;
    close(in);
    return;
  }
  struct sha256 h;
  sha256_init(&h);
  off_t pos = 0;
  int failed = DONE, err = 0;
  for (;;) {
    ssize_t n = pread(in, buf, BUFFER_BYTES, pos);
    if (n < 0) {
      if (errno == EINTR) continue;
      failed = SOURCE_ERROR;
      err = errno;
      break;
    }
    if (n == 0) break;
    sha256_update(&h, buf, (size_t)n);
    if (write_all(dst, buf, (size_t)n, pos) != 0) {
      failed = TARGET_ERROR;
      err = errno;
      break;
    }
    pos += n;
    /* A short read ending at the size fstat gave is the end (src/fsx/copy.ts copySmall). */
    if (n < BUFFER_BYTES && pos == st.st_size) break;
  }
  if (failed == DONE) {
    /* chown before chmod: chown clears set-user-ID and set-group-ID bits. */
    struct timespec times[2] = {{0, UTIME_OMIT}, {(time_t)meta[3], (long)meta[4]}};
    if ((meta[5] != 0 && fchown(dst, (uid_t)meta[1], (gid_t)meta[2]) != 0) || fchmod(dst, (mode_t)meta[0] & 07777) != 0 ||
        futimens(dst, times) != 0) {
      failed = TARGET_ERROR;
      err = errno;
    }
  }
  /* Network and FUSE file systems may report a failed delayed write only at close. */
  if (close(dst) != 0 && failed == DONE) {
    failed = TARGET_ERROR;
    err = errno;
  }
  close(in);
  if (failed != DONE) {
    unlink(tmp);
    out[0] = failed;
    out[1] = err;
    return;
  }
  out[2] = (double)pos;
  sha256_final(&h, digest);
  /* A file that changed size while read, or a name taken meanwhile, stays for the caller to handle. */
  if (dest[0] != '\0' && meta[6] >= 0 && (double)pos == meta[6] && renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) == 0) out[3] = 1;
}

static void execute(napi_env env, void *data) {
  (void)env;
  struct batch *b = data;
  uint8_t *buf = malloc(BUFFER_BYTES);
  const char *p = b->paths;
  for (size_t i = 0; i < b->count; i++) {
    const char *src = p;
    const char *tmp = src + strlen(src) + 1;
    const char *dest = tmp + strlen(tmp) + 1;
    p = dest + strlen(dest) + 1;
    double *out = b->out + i * OUT_FIELDS;
    if (!buf) {
      out[0] = TARGET_ERROR;
      out[1] = ENOMEM;
      continue;
    }
    copy_one(src, tmp, dest, b->meta + i * META_FIELDS, out, b->digests + i * DIGEST_BYTES, buf);
  }
  free(buf);
}

static void free_batch(napi_env env, struct batch *b) {
  for (int i = 0; i < 4; i++)
    if (b->refs[i]) napi_delete_reference(env, b->refs[i]);
  if (b->work) napi_delete_async_work(env, b->work);
  free(b->paths);
  free(b);
}

static void complete(napi_env env, napi_status status, void *data) {
  struct batch *b = data;
  napi_value callback, global, arg;
  napi_get_reference_value(env, b->refs[3], &callback);
  napi_get_global(env, &global);
  napi_get_boolean(env, status == napi_ok, &arg);
  free_batch(env, b);
  napi_call_function(env, global, callback, 1, &arg, NULL);
}

/* The data of a Float64Array of at least `want` elements, or NULL. */
static void *float64s(napi_env env, napi_value v, size_t want) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_float64_array || length < want) return NULL;
  return data;
}

/*
 * copyFiles(count, paths, meta, out, digests, callback): paths holds each file's source,
 * temporary name and destination ("" for none), each followed by "\0"; meta, out (Float64Array) and digests (a Buffer of 32 bytes
 * a file) as above. callback(true) runs on the main thread once every file is done.
 */
static napi_value copy_files(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  uint32_t count = 0;
  struct batch *b = calloc(1, sizeof *b);
  if (!b) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  size_t len = 0, digest_len = 0;
  void *digests = NULL;
  napi_valuetype cb_type = napi_undefined;
  int ok = napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 6 &&
           napi_get_value_uint32(env, argv[0], &count) == napi_ok && js_utf8(env, argv[1], &b->paths, &len) == JS_UTF8_OK;
  if (ok) {
    b->count = count;
    b->meta = float64s(env, argv[2], (size_t)count * META_FIELDS);
    b->out = float64s(env, argv[3], (size_t)count * OUT_FIELDS);
    ok = b->meta && b->out && napi_get_buffer_info(env, argv[4], &digests, &digest_len) == napi_ok && digest_len >= (size_t)count * DIGEST_BYTES &&
         napi_typeof(env, argv[5], &cb_type) == napi_ok && cb_type == napi_function;
  }
  /* Exactly 3 × count names: a shorter string would send the thread past its end. */
  size_t names = 0;
  for (size_t i = 0; ok && i < len; i++) names += b->paths[i] == '\0';
  if (!ok || names != 3 * (size_t)count) {
    free(b->paths);
    free(b);
    napi_throw_type_error(env, NULL, "copyFiles(count, paths, meta, out, digests, callback) got arguments of the wrong kind or size");
    return NULL;
  }
  b->digests = digests;
  napi_value name;
  napi_create_string_utf8(env, "blaine.copyFiles", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[2], 1, &b->refs[0]) != napi_ok || napi_create_reference(env, argv[3], 1, &b->refs[1]) != napi_ok ||
      napi_create_reference(env, argv[4], 1, &b->refs[2]) != napi_ok || napi_create_reference(env, argv[5], 1, &b->refs[3]) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, b, &b->work) != napi_ok || napi_queue_async_work(env, b->work) != napi_ok) {
    free_batch(env, b);
    napi_throw_error(env, NULL, "copyFiles: cannot start the work");
    return NULL;
  }
  return NULL;
}

/*
 * sha256(buffer[, portable]): the 32-byte digest, so tests can hold this code against node:crypto;
 * with portable true, by the plain C compression even where the CPU has SHA instructions.
 */
static napi_value sha256_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  void *data, *out;
  size_t len;
  bool portable = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok ||
      (argc > 1 && napi_get_value_bool(env, argv[1], &portable) != napi_ok)) {
    napi_throw_type_error(env, NULL, "sha256(buffer[, portable]) needs a Buffer and a boolean");
    return NULL;
  }
  /* The choice is this hash's own: copies hashing on other threads meanwhile keep theirs. */
  struct sha256 h;
  if (portable) sha256_init_portable(&h);
  else sha256_init(&h);
  /* In uneven pieces, so a partial block carried between updates is exercised too. */
  for (size_t at = 0, piece = 1; at < len; at += piece, piece = piece * 3 + 1) {
    size_t n = len - at < piece ? len - at : piece;
    sha256_update(&h, (const uint8_t *)data + at, n);
  }
  napi_create_buffer(env, DIGEST_BYTES, &out, &result);
  sha256_final(&h, out);
  return result;
}

void copyfiles_init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "copyFiles", NAPI_AUTO_LENGTH, copy_files, NULL, &fn);
  napi_set_named_property(env, exports, "copyFiles", fn);
  napi_create_function(env, "sha256", NAPI_AUTO_LENGTH, sha256_buffer, NULL, &fn);
  napi_set_named_property(env, exports, "sha256", fn);
}
