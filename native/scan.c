/*
 * The scanner's walk of a data path, in C: readdir, lstat and readlink of every entry, in the
 * byte order of whole paths, with each file's record and stamp packed into chunks for the caller.
 *
 * Node's fs.lstatSync costs several microseconds per file above the system call, and a JS object
 * or string per file costs as much again; a no-change rescan is nothing but that. Here a file
 * costs what the kernel charges plus a few hundred bytes of formatting, and JS sees one string
 * and one array of numbers per chunk. Every decision stays with the caller (src/scan/scanner.ts,
 * whose JS walk does the same over node:fs and is the reference): it is asked about exclusions,
 * told about skipped entries, and turns chunks into records.
 *
 * scanTree(dir, rel, only, chunkSize, excluded, onChunk, onSkip, onProgress, since) -> complete (boolean)
 *   rel: dir's path relative to the data path ("" or ending in "/"), what `excluded` is asked with
 *   only: the names of dir's entries to walk (the others are left to another call), or null for all
 *   since: with `only`, when (ms since 1970) the listing those names came from began: dir must not
 *     have changed since, or the names are stale and dir's part counts as not scanned (0: no check)
 * A directory that changed while it was listed (its ctime not older than the listing's
 * start, less SETTLE_MARGIN_NS) may have lost an entry that was being renamed: it is listed again,
 * and after SETTLE_TRIES such listings it is skipped with EAGAIN, which makes the scan incomplete,
 * so that nothing below it is taken as gone (SPEC §5).
 *   excluded(rel, isDir) -> boolean, or null when nothing is excluded
 *   onChunk(text, info, targets, next, digest): text is "path\0stamp\0path\0stamp..." (stamps
 *     exactly as src/catalog/stamp.ts writes them) as bytes (an ArrayBuffer: JS makes a string of
 *     it only when it needs one), info FIELDS numbers per file (the enum below),
 *     targets the symlinks' targets in order joined by NUL, next the path of the first file of the
 *     next chunk (null for the last chunk, which comes also when there are no files at all), digest
 *     the SHA-256 of text's bytes (an ArrayBuffer of 32), which the catalog makes of its rows too
 *     (quickdigest.c)
 *   onSkip(path, errno, kind, mode): kind is KIND_ERROR (errno says why) or KIND_SPECIAL (mode
 *     says what)
 * Names are bytes: every path and target reaches JS in the lossless string form of
 * src/fsx/name-bytes.ts (jsstring.c), and every path from JS is turned back into its bytes.
 *   onProgress(files) every PROGRESS_EVERY files
 *   onDirs (optional, last argument): called once at the end with (text, info) for every directory
 *     the walk entered below dir (not dir itself, which its caller knows): text their paths joined
 *     by NUL, info FIELDS numbers each from an fstat of the directory as opened. The folder rows
 *     (src/dirs/) come from this same pass: a second walk read every folder again (readdir and
 *     lstat), a tenth of a no-change run.
 * Directories are opened relative to their parent without following symlinks, so the walk never
 * leaves the tree, however long its paths.
 *
 * syncfs(path) -> 0 or errno: syncfs(2) of the file system holding path, which Node lacks; the
 * alternative, running sync -f, costs a fork of the whole Node process each time.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <node_api.h>

#include "fsops.h"
#include "copyfiles.h"
#include "jsstring.h"
#include "sha256.h"
#include "stamp.h"
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { F_KIND, F_ERRNO, F_MODE, F_SIZE, F_MTIME_S, F_MTIME_NS, F_DEV, F_INO_HI, F_INO_LO, F_NLINK, F_UID, F_GID, FIELDS };
enum { KIND_ERROR = 0, KIND_FILE = 1, KIND_DIR = 2, KIND_SYMLINK = 3, KIND_SPECIAL = 4 };

typedef struct {
  char *data;
  size_t len, cap;
} buf_t;

static int buf_put(buf_t *b, const void *p, size_t n) {
  /* Nothing to add (an empty relative path): memcpy must not see the NULL of an empty buffer. */
  if (n == 0) return 0;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

static void fill_stat(double *f, const struct stat *st) {
  f[F_MODE] = st->st_mode;
  f[F_SIZE] = (double)st->st_size;
  f[F_MTIME_S] = (double)st->st_mtim.tv_sec;
  f[F_MTIME_NS] = (double)st->st_mtim.tv_nsec;
  f[F_DEV] = (double)st->st_dev;
  f[F_INO_HI] = (double)((uint64_t)st->st_ino >> 32);
  f[F_INO_LO] = (double)((uint64_t)st->st_ino & 0xffffffffu);
  f[F_NLINK] = (double)st->st_nlink;
  f[F_UID] = st->st_uid;
  f[F_GID] = st->st_gid;
  if (S_ISREG(st->st_mode)) f[F_KIND] = KIND_FILE;
  else if (S_ISDIR(st->st_mode)) f[F_KIND] = KIND_DIR;
  else if (S_ISLNK(st->st_mode)) f[F_KIND] = KIND_SYMLINK;
  else f[F_KIND] = KIND_SPECIAL;
}

typedef struct {
  char *name;
  size_t len;
  unsigned char d_type;
  int is_dir;
  double f[FIELDS];
  char *target; /* symlinks only */
  size_t target_len;
} entry_t;

/* Byte order of name + "/" for directories: "a b/x" < "a-b" < "a/x" < "a0" for whole paths. */
static int by_key(const void *pa, const void *pb) {
  const entry_t *a = pa, *b = pb;
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->name, b->name, n);
  if (c != 0) return c;
  unsigned ca = a->len > n ? (unsigned char)a->name[n] : (a->is_dir ? '/' : 0);
  unsigned cb = b->len > n ? (unsigned char)b->name[n] : (b->is_dir ? '/' : 0);
  if (ca == cb) return 0;
  return ca < cb ? -1 : 1;
}

static void free_entries(entry_t *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(v[i].name);
    free(v[i].target);
  }
  free(v);
}

/* The stamp of stamp.ts: kind, size/mtime_s.mtime_ns/dev:ino/mode/uid/gid[/target] (stamp.c's numbers). */
static int put_stamp(buf_t *b, const entry_t *e) {
  const double *f = e->f;
  int kind = (int)f[F_KIND];
  if (kind != KIND_FILE && kind != KIND_SYMLINK) return 0;
  char text[200];
  uint64_t ino = ((uint64_t)f[F_INO_HI] << 32) | (uint64_t)f[F_INO_LO];
  size_t n = stamp_head(text, kind == KIND_SYMLINK, (int64_t)f[F_SIZE], (int64_t)f[F_MTIME_S], (int64_t)f[F_MTIME_NS]);
  n += stamp_u64(text + n, (uint64_t)f[F_DEV]);
  text[n++] = ':';
  n += stamp_u64(text + n, ino);
  n += stamp_tail(text + n, (int64_t)f[F_MODE], (int64_t)f[F_UID], (int64_t)f[F_GID]);
  if (buf_put(b, text, n)) return -1;
  if (kind == KIND_SYMLINK && (buf_put(b, "/", 1) || buf_put(b, e->target, e->target_len))) return -1;
  return 0;
}

/* lstat (and readlink) of one entry; 0, or ENOMEM. */
static int stat_entry(int dfd, entry_t *e) {
  double *f = e->f;
  struct stat st;
  if (e->d_type == DT_DIR) {
    f[F_KIND] = KIND_DIR;
    f[F_MODE] = S_IFDIR;
  } else if (fstatat(dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    f[F_KIND] = KIND_ERROR;
    f[F_ERRNO] = errno;
  } else {
    fill_stat(f, &st);
  }
  e->is_dir = S_ISDIR((mode_t)f[F_MODE]) && f[F_KIND] != KIND_ERROR;
  if (f[F_KIND] == KIND_SYMLINK) {
    char target[PATH_MAX + 1];
    ssize_t len = readlinkat(dfd, e->name, target, PATH_MAX);
    if (len < 0) {
      f[F_KIND] = KIND_ERROR;
      f[F_ERRNO] = errno;
    } else {
      f[F_SIZE] = (double)len;
      e->target = malloc((size_t)len + 1);
      if (!e->target) return ENOMEM;
      memcpy(e->target, target, (size_t)len);
      e->target_len = (size_t)len;
    }
  }
  return 0;
}

static int stat_range(int dfd, entry_t *v, size_t from, size_t to) {
  int r = 0;
  for (size_t i = from; i < to; i++) r |= stat_entry(dfd, &v[i]);
  return r;
}


#define PROGRESS_EVERY 4096

typedef struct {
  napi_env env;
  napi_value excluded, on_chunk, on_skip, on_progress, on_dirs;
  size_t chunk_size;
  buf_t text, info, targets;
  buf_t dir_text, dir_info; /* with on_dirs: the directories entered, as onDirs gets them */
  size_t dir_count;
  size_t count, total;
  buf_t abs, rel;
  int complete;
  int stop; /* a JS exception is pending, or memory ran out */
  int depth;
  char **only; /* sorted, for bsearch; NULL: every entry of the top directory */
  size_t only_count;
  int64_t since_ns; /* with only: the top directory must not have changed since (0: no check) */
} walk_t;

/* File times come from the kernel's coarse clock (a few ms behind) or, on newer kernels, a finer
 * one: a change this close to a listing's start is taken as made during it. */
#define SETTLE_MARGIN_NS 20000000LL
#define SETTLE_TRIES 5

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The last time an entry of the open directory fd was added, removed or renamed (or fd itself
 * changed): its ctime, which, unlike the mtime, no tool can set to the future. */
static int64_t changed_ns(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return INT64_MAX;
  return (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
}

/* Waits (at most 100 ms) until a listing begun now would start after the change at `changed`. */
static void settle(int64_t changed) {
  for (int i = 0; i < 20 && now_ns() - SETTLE_MARGIN_NS <= changed; i++) {
    struct timespec d = {0, 5000000L};
    nanosleep(&d, NULL);
  }
}

static int by_string(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int call(walk_t *w, napi_value fn, size_t argc, napi_value *argv, napi_value *out) {
  napi_value global, ignored;
  if (napi_get_global(w->env, &global) != napi_ok || napi_call_function(w->env, global, fn, argc, argv, out ? out : &ignored) != napi_ok) {
    w->stop = 1;
    return -1;
  }
  return 0;
}

static int oom(walk_t *w) {
  if (!w->stop) napi_throw_error(w->env, NULL, "out of memory while scanning");
  w->stop = 1;
  return -1;
}

static napi_value js_string(walk_t *w, const char *s, size_t len) {
  napi_value v;
  if (js_name(w->env, s, len, &v) != napi_ok) return NULL;
  return v;
}

/* The current path (abs or rel) with name appended; the buffers are restored by the caller. */
static int push_name(buf_t *b, const char *name, size_t len) {
  return buf_put(b, name, len);
}

static int emit_chunk(walk_t *w, const char *next, size_t next_len) {
  napi_value argv[5], ab;
  void *data;
  /* The quick check compares this digest with the catalog's for the same range (quickdigest.c)
   * and reads the catalog's text only when they differ. */
  struct sha256 h;
  sha256_init(&h);
  if (w->text.len) sha256_update(&h, w->text.data, w->text.len); /* an empty chunk has no buffer yet */
  if (napi_create_arraybuffer(w->env, 32, &data, &argv[4]) != napi_ok) return oom(w);
  sha256_final(&h, data);
  /* The text as bytes, not a string: a chunk whose digest settles it never needs it as one, and
   * bytes go to the main thread without a copy (a string is converted here and copied there). */
  if (napi_create_arraybuffer(w->env, w->text.len, &data, &argv[0]) != napi_ok) return oom(w);
  if (w->text.len) memcpy(data, w->text.data, w->text.len);
  if (napi_create_arraybuffer(w->env, w->info.len, &data, &ab) != napi_ok) return oom(w);
  if (w->info.len) memcpy(data, w->info.data, w->info.len);
  if (napi_create_typedarray(w->env, napi_float64_array, w->info.len / sizeof(double), ab, 0, &argv[1]) != napi_ok) return oom(w);
  argv[2] = js_string(w, w->targets.data, w->targets.len);
  if (!argv[2]) return oom(w);
  if (next) {
    argv[3] = js_string(w, next, next_len);
    if (!argv[3]) return oom(w);
  } else {
    napi_get_null(w->env, &argv[3]);
  }
  w->text.len = w->info.len = w->targets.len = 0;
  w->count = 0;
  return call(w, w->on_chunk, 5, argv, NULL);
}

static int skip(walk_t *w, int err, int kind, double mode) {
  napi_value argv[4];
  argv[0] = js_string(w, w->abs.data, w->abs.len);
  if (!argv[0]) return oom(w);
  napi_create_int32(w->env, err, &argv[1]);
  napi_create_int32(w->env, kind, &argv[2]);
  napi_create_double(w->env, mode, &argv[3]);
  return call(w, w->on_skip, 4, argv, NULL);
}

/* A directory that cannot be opened or read, reported by its own path (w->abs without the "/"). */
static int skip_dir(walk_t *w, int err) {
  w->complete = 0;
  size_t len = w->abs.len;
  if (len > 1) w->abs.len--;
  int r = skip(w, err, KIND_ERROR, 0);
  w->abs.len = len;
  return r;
}

static int is_excluded(walk_t *w, int is_dir) {
  if (!w->excluded) return 0;
  napi_value argv[2], res;
  bool yes = false;
  argv[0] = js_string(w, w->rel.data, w->rel.len);
  if (!argv[0]) return oom(w);
  napi_get_boolean(w->env, is_dir, &argv[1]);
  if (call(w, w->excluded, 2, argv, &res)) return -1;
  napi_get_value_bool(w->env, res, &yes);
  return yes ? 1 : 0;
}

static int add_file(walk_t *w, const entry_t *e) {
  if (w->count == w->chunk_size && emit_chunk(w, w->abs.data, w->abs.len)) return -1;
  if (w->count > 0 && buf_put(&w->text, "", 1)) return oom(w);
  if (buf_put(&w->text, w->abs.data, w->abs.len) || buf_put(&w->text, "", 1) || put_stamp(&w->text, e)) return oom(w);
  if (buf_put(&w->info, e->f, sizeof e->f)) return oom(w);
  if (e->f[F_KIND] == KIND_SYMLINK) {
    if (w->targets.len > 0 && buf_put(&w->targets, "", 1)) return oom(w);
    if (buf_put(&w->targets, e->target, e->target_len)) return oom(w);
  }
  w->count++;
  w->total++;
  if (w->on_progress && w->total % PROGRESS_EVERY == 0) {
    napi_value n;
    napi_create_double(w->env, (double)w->total, &n);
    if (call(w, w->on_progress, 1, &n, NULL)) return -1;
  }
  return 0;
}

/* The directory open at fd, whose path is w->abs (no "/" at the end), into the folder records. */
static int add_dir(walk_t *w, int fd) {
  struct stat st;
  double f[FIELDS];
  memset(f, 0, sizeof f);
  if (fstat(fd, &st) != 0) {
    w->complete = 0;
    return skip(w, errno, KIND_ERROR, 0);
  }
  fill_stat(f, &st);
  if ((w->dir_count > 0 && buf_put(&w->dir_text, "", 1)) || buf_put(&w->dir_text, w->abs.data, w->abs.len) || buf_put(&w->dir_info, f, sizeof f))
    return oom(w);
  w->dir_count++;
  return 0;
}

static int emit_dirs(walk_t *w) {
  napi_value argv[2], ab;
  void *data;
  argv[0] = js_string(w, w->dir_text.len ? w->dir_text.data : "", w->dir_text.len);
  if (!argv[0] || napi_create_arraybuffer(w->env, w->dir_info.len, &data, &ab) != napi_ok) return oom(w);
  if (w->dir_info.len) memcpy(data, w->dir_info.data, w->dir_info.len);
  if (napi_create_typedarray(w->env, napi_float64_array, w->dir_info.len / sizeof(double), ab, 0, &argv[1]) != napi_ok) return oom(w);
  return call(w, w->on_dirs, 2, argv, NULL);
}

/* Reads and lstats the entries of an open directory (fd is taken over), sorted. */
static int list_dir(walk_t *w, int fd, entry_t **out, size_t *out_count, int *err) {
  DIR *dir = fdopendir(fd);
  *out = NULL;
  *out_count = 0;
  *err = 0;
  if (!dir) {
    *err = errno;
    close(fd);
    return 0;
  }
  entry_t *v = NULL;
  size_t count = 0, cap = 0;
  int failed = 0;
  for (;;) {
    errno = 0;
    struct dirent *d = readdir(dir);
    if (!d) {
      failed = errno;
      break;
    }
    const char *n = d->d_name;
    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
    if (count == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      entry_t *nv = realloc(v, ncap * sizeof *v);
      if (!nv) {
        failed = ENOMEM;
        break;
      }
      v = nv;
      cap = ncap;
    }
    entry_t *e = &v[count];
    memset(e, 0, sizeof *e);
    e->len = strlen(n);
    e->name = strdup(n);
    if (!e->name) {
      failed = ENOMEM;
      break;
    }
    e->d_type = d->d_type;
    count++;
  }
  if (!failed && count > 0) failed = stat_range(dirfd(dir), v, 0, count);
  closedir(dir);
  if (failed) {
    free_entries(v, count);
    if (failed == ENOMEM) return oom(w);
    *err = failed;
    return 0;
  }
  if (count > 1) qsort(v, count, sizeof *v, by_key);
  *out = v;
  *out_count = count;
  return 0;
}

static int walk_dir(walk_t *w, int fd);

static int walk_entry(walk_t *w, int dfd, entry_t *e) {
  int kind = (int)e->f[F_KIND];
  if (e->is_dir) {
    int ex = is_excluded(w, 1);
    if (ex) return ex < 0 ? -1 : 0;
    int fd = openat(dfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      w->complete = 0;
      return skip(w, errno, KIND_ERROR, 0);
    }
    if (w->on_dirs && add_dir(w, fd)) {
      close(fd);
      return -1;
    }
    if (buf_put(&w->abs, "/", 1) || buf_put(&w->rel, "/", 1)) {
      close(fd);
      return oom(w);
    }
    return walk_dir(w, fd);
  }
  int ex = is_excluded(w, 0);
  if (ex) return ex < 0 ? -1 : 0;
  switch (kind) {
    case KIND_FILE:
    case KIND_SYMLINK:
      return add_file(w, e);
    case KIND_ERROR:
      return skip(w, (int)e->f[F_ERRNO], KIND_ERROR, 0);
    default:
      return skip(w, 0, KIND_SPECIAL, e->f[F_MODE]);
  }
}

/* Walks the open directory fd (taken over), whose path (with "/" at the end) is in w->abs. */
static int walk_dir(walk_t *w, int fd) {
  int dfd = dup(fd);
  entry_t *v;
  size_t count;
  int err;
  if (dfd < 0) {
    int err = errno;
    close(fd);
    return skip_dir(w, err);
  }
  int top = w->depth == 0;
  int64_t since = top && w->only ? w->since_ns : 0;
  for (int tries = 1;; tries++) {
    int64_t started = now_ns() - SETTLE_MARGIN_NS;
    if (list_dir(w, fd, &v, &count, &err)) {
      close(dfd);
      return -1;
    }
    if (err) {
      close(dfd);
      return skip_dir(w, err);
    }
    int64_t changed = changed_ns(dfd);
    if (changed < started && (since == 0 || changed < since)) break;
    free_entries(v, count);
    /* Stale names from an earlier listing cannot be listed again here: another part holds the rest. */
    if (since != 0 || tries == SETTLE_TRIES) {
      close(dfd);
      return skip_dir(w, EAGAIN);
    }
    settle(changed);
    fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      err = errno;
      close(dfd);
      return skip_dir(w, err);
    }
  }
  size_t abs_len = w->abs.len, rel_len = w->rel.len;
  int r = 0;
  w->depth++;
  for (size_t i = 0; i < count && r == 0; i++) {
    if (top && w->only) {
      const char *name = v[i].name;
      if (!bsearch(&name, w->only, w->only_count, sizeof *w->only, by_string)) continue;
    }
    w->abs.len = abs_len;
    w->rel.len = rel_len;
    if (push_name(&w->abs, v[i].name, v[i].len) || push_name(&w->rel, v[i].name, v[i].len)) r = oom(w);
    else r = walk_entry(w, dfd, &v[i]);
  }
  w->depth--;
  w->abs.len = abs_len;
  w->rel.len = rel_len;
  free_entries(v, count);
  close(dfd);
  return r;
}

static void free_only(walk_t *w) {
  for (size_t i = 0; i < w->only_count; i++) free(w->only[i]);
  free(w->only);
  w->only = NULL;
  w->only_count = 0;
}

/* Copies the JS array of names (or null) into w->only, sorted. */
static int read_only(walk_t *w, napi_value arr) {
  napi_valuetype t;
  napi_typeof(w->env, arr, &t);
  if (t == napi_null || t == napi_undefined) return 0;
  uint32_t n;
  if (napi_get_array_length(w->env, arr, &n) != napi_ok) {
    napi_throw_type_error(w->env, NULL, "scanTree: only must be an array of names or null");
    w->stop = 1;
    return -1;
  }
  w->only = calloc(n ? n : 1, sizeof *w->only);
  if (!w->only) return oom(w);
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    size_t len;
    enum js_utf8_result got = JS_UTF8_NOT_STRING;
    if (napi_get_element(w->env, arr, i, &el) == napi_ok) got = js_utf8(w->env, el, &w->only[i], &len);
    if (got == JS_UTF8_NO_MEMORY) return oom(w);
    if (got != JS_UTF8_OK) {
      napi_throw_type_error(w->env, NULL, "scanTree: only must be an array of names or null");
      w->stop = 1;
      return -1;
    }
    w->only_count = i + 1;
  }
  qsort(w->only, w->only_count, sizeof *w->only, by_string);
  return 0;
}

static napi_value scan_tree(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 8) {
    napi_throw_type_error(env, NULL, "scanTree(dir, rel, only, chunkSize, excluded, onChunk, onSkip, onProgress)");
    return NULL;
  }
  walk_t w;
  memset(&w, 0, sizeof w);
  w.env = env;
  w.complete = 1;
  napi_valuetype t;
  size_t plen, rlen;
  uint32_t chunk;
  char *rel = NULL, *dir = NULL;
  enum js_utf8_result got_dir = js_utf8(env, argv[0], &dir, &plen);
  enum js_utf8_result got_rel = js_utf8(env, argv[1], &rel, &rlen);
  if (got_dir == JS_UTF8_NOT_STRING || got_rel == JS_UTF8_NOT_STRING || napi_get_value_uint32(env, argv[3], &chunk) != napi_ok || chunk == 0) {
    free(rel);
    free(dir);
    napi_throw_type_error(env, NULL, "scanTree needs a directory, its relative path and a chunk size");
    return NULL;
  }
  w.chunk_size = chunk;
  napi_typeof(env, argv[4], &t);
  w.excluded = t == napi_function ? argv[4] : NULL;
  w.on_chunk = argv[5];
  w.on_skip = argv[6];
  napi_typeof(env, argv[7], &t);
  w.on_progress = t == napi_function ? argv[7] : NULL;
  double since_ms = 0;
  if (argc >= 9) napi_get_value_double(env, argv[8], &since_ms);
  w.since_ns = since_ms > 0 ? (int64_t)(since_ms * 1e6) : 0;
  if (argc >= 10) {
    napi_typeof(env, argv[9], &t);
    w.on_dirs = t == napi_function ? argv[9] : NULL;
  }
  /* Every failure below sets w.stop (with a JS exception pending) and falls through to the cleanup. */
  if (got_dir != JS_UTF8_OK || got_rel != JS_UTF8_OK) oom(&w);
  else read_only(&w, argv[2]);
  if (!w.stop) {
    if (buf_put(&w.rel, rel, rlen) || buf_put(&w.abs, dir, plen) || (plen == 0 || dir[plen - 1] != '/' ? buf_put(&w.abs, "/", 1) : 0)) oom(&w);
  }
  if (!w.stop) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) skip_dir(&w, errno);
    else walk_dir(&w, fd);
  }
  free(rel);
  free(dir);
  if (!w.stop && w.on_dirs) emit_dirs(&w);
  if (!w.stop) emit_chunk(&w, NULL, 0);
  free(w.text.data);
  free(w.info.data);
  free(w.targets.data);
  free(w.dir_text.data);
  free(w.dir_info.data);
  free(w.abs.data);
  free(w.rel.data);
  free_only(&w);
  if (w.stop) return NULL;
  napi_value result;
  napi_get_boolean(env, w.complete, &result);
  return result;
}

static napi_value sync_fs(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1], result;
  char *path = NULL;
  enum js_utf8_result got = JS_UTF8_NOT_STRING;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= 1) got = js_utf8(env, argv[0], &path, &len);
  if (got == JS_UTF8_NOT_STRING) {
    napi_throw_type_error(env, NULL, "syncfs(path) needs a path");
    return NULL;
  }
  if (got == JS_UTF8_NO_MEMORY) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  int err = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  free(path);
  if (fd < 0) err = errno;
  else {
    if (syncfs(fd) != 0) err = errno;
    close(fd);
  }
  napi_create_int32(env, err, &result);
  return result;
}

/*
 * startSyncfs(path) -> boolean: a syncfs(2) of the file system holding path on a thread of its
 * own, not waited for: the write-back of what a FUSE mount (gocryptfs) wrote to the disk under it
 * starts while the copies go on, as sync_file_range starts it for a plain disk's copies
 * (copyfeed.c), and the syncfs before the next catalog commit then waits for less. At most one
 * at a time (false: one is still running, or the path could not be opened); errors are left to
 * that commit's own syncfs.
 */
static int sync_started;

static void *background_sync(void *arg) {
  int fd = (int)(intptr_t)arg;
  syncfs(fd);
  close(fd);
  __atomic_store_n(&sync_started, 0, __ATOMIC_RELEASE);
  return NULL;
}

static napi_value start_sync_fs(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1], result;
  char *path = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || js_utf8(env, argv[0], &path, &len) != JS_UTF8_OK) {
    free(path);
    napi_throw_type_error(env, NULL, "startSyncfs(path) needs a path");
    return NULL;
  }
  int started = 0;
  if (__atomic_exchange_n(&sync_started, 1, __ATOMIC_ACQ_REL) == 0) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    pthread_t t;
    if (fd >= 0 && pthread_create(&t, NULL, background_sync, (void *)(intptr_t)fd) == 0) {
      pthread_detach(t);
      started = 1;
    } else {
      if (fd >= 0) close(fd);
      __atomic_store_n(&sync_started, 0, __ATOMIC_RELEASE);
    }
  }
  free(path);
  napi_get_boolean(env, started, &result);
  return result;
}

/* syncfsRunning() -> boolean: whether startSyncfs's thread is still running (it holds the file system open). */
static napi_value sync_fs_running(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, __atomic_load_n(&sync_started, __ATOMIC_ACQUIRE) != 0, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, fields;
  fsops_init(env, exports);
  copyfiles_init(env, exports);
  napi_create_function(env, "scanTree", NAPI_AUTO_LENGTH, scan_tree, NULL, &fn);
  napi_set_named_property(env, exports, "scanTree", fn);
  napi_create_function(env, "syncfs", NAPI_AUTO_LENGTH, sync_fs, NULL, &fn);
  napi_set_named_property(env, exports, "syncfs", fn);
  napi_create_function(env, "startSyncfs", NAPI_AUTO_LENGTH, start_sync_fs, NULL, &fn);
  napi_set_named_property(env, exports, "startSyncfs", fn);
  napi_create_function(env, "syncfsRunning", NAPI_AUTO_LENGTH, sync_fs_running, NULL, &fn);
  napi_set_named_property(env, exports, "syncfsRunning", fn);
  napi_create_int32(env, FIELDS, &fields);
  napi_set_named_property(env, exports, "FIELDS", fields);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
