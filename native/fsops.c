/*
 * File-system calls Node does not offer: setting a time to the nanosecond (also before 1970, also
 * on a symlink itself), flock(2), whose locks the kernel drops when their holder dies, and the
 * subdirectories of a directory without a JS object per entry.
 * Each returns 0 or the errno, never throws for what the file system says.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <sys/stat.h>
#include <node_api.h>

#include "fsops.h"
#include "jsstring.h"

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) return 0;
  return 1;
}

static napi_value errno_value(napi_env env, int err) {
  napi_value v;
  napi_create_int32(env, err, &v);
  return v;
}

/* A JS number of whole seconds and one of nanoseconds (0..999999999) as a timespec. */
static int read_time(napi_env env, napi_value sec_v, napi_value nsec_v, struct timespec *ts) {
  double sec, nsec;
  if (napi_get_value_double(env, sec_v, &sec) != napi_ok || napi_get_value_double(env, nsec_v, &nsec) != napi_ok) return 0;
  if (!isfinite(sec) || sec != floor(sec) || nsec < 0 || nsec > 999999999 || nsec != floor(nsec)) return 0;
  ts->tv_sec = (time_t)sec;
  ts->tv_nsec = (long)nsec;
  return 1;
}

/* setMtime(path, sec, nsec, noFollow): the access time is left as it is. */
static napi_value set_mtime(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char *path = NULL;
  size_t len;
  bool no_follow = false;
  struct timespec times[2];
  enum js_utf8_result got = JS_UTF8_NOT_STRING;
  if (get_args(env, info, 4, argv)) got = js_utf8(env, argv[0], &path, &len);
  if (got == JS_UTF8_NO_MEMORY) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (got != JS_UTF8_OK || !read_time(env, argv[1], argv[2], &times[1]) || napi_get_value_bool(env, argv[3], &no_follow) != napi_ok) {
    free(path);
    napi_throw_type_error(env, NULL, "setMtime(path, sec, nsec, noFollow) needs a path, whole seconds, nanoseconds and a boolean");
    return NULL;
  }
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  int err = utimensat(AT_FDCWD, path, times, no_follow ? AT_SYMLINK_NOFOLLOW : 0) == 0 ? 0 : errno;
  free(path);
  return errno_value(env, err);
}

/* setMtimeFd(fd, sec, nsec) */
static napi_value set_mtime_fd(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  struct timespec times[2];
  if (!get_args(env, info, 3, argv) || napi_get_value_int32(env, argv[0], &fd) != napi_ok || !read_time(env, argv[1], argv[2], &times[1])) {
    napi_throw_type_error(env, NULL, "setMtimeFd(fd, sec, nsec) needs a descriptor, whole seconds and nanoseconds");
    return NULL;
  }
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  return errno_value(env, futimens(fd, times) == 0 ? 0 : errno);
}

/* flock(fd, shared, wait): 0, or the errno (EWOULDBLOCK when held elsewhere and not waiting). */
static napi_value flock_fd(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  bool shared = false, wait = false;
  if (!get_args(env, info, 3, argv) || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_bool(env, argv[1], &shared) != napi_ok || napi_get_value_bool(env, argv[2], &wait) != napi_ok) {
    napi_throw_type_error(env, NULL, "flock(fd, shared, wait) needs a descriptor and two booleans");
    return NULL;
  }
  int op = (shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
  int rc;
  do rc = flock(fd, op);
  while (rc != 0 && errno == EINTR);
  return errno_value(env, rc == 0 ? 0 : errno);
}

/*
 * subdirs(path): the names of path's subdirectories (symlinks to directories are not), as JS
 * strings in the lossless form of src/fsx/name-bytes.ts; or the errno when path cannot be listed
 * to its end. A folder walk over a library of small files would otherwise make a JS object for
 * every file only to learn it is not a directory (~5-10 us a file on the main thread).
 */
static napi_value subdirs(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char *path = NULL;
  size_t len;
  enum js_utf8_result got = JS_UTF8_NOT_STRING;
  if (get_args(env, info, 1, argv)) got = js_utf8(env, argv[0], &path, &len);
  if (got == JS_UTF8_NO_MEMORY) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (got != JS_UTF8_OK) {
    napi_throw_type_error(env, NULL, "subdirs(path) needs a path");
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(path);
  if (fd < 0) return errno_value(env, errno);
  DIR *dir = fdopendir(fd);
  if (dir == NULL) {
    int err = errno;
    close(fd);
    return errno_value(env, err);
  }
  napi_value names;
  uint32_t count = 0;
  int err = 0;
  if (napi_create_array(env, &names) != napi_ok) err = ENOMEM;
  while (err == 0) {
    errno = 0;
    struct dirent *e = readdir(dir);
    if (e == NULL) {
      err = errno;
      break;
    }
    const char *n = e->d_name;
    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
    int is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      /* A file system that does not say (some network ones): ask, never following a symlink. */
      struct stat st;
      is_dir = fstatat(dirfd(dir), n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (!is_dir) continue;
    napi_value name;
    if (js_name(env, n, strlen(n), &name) != napi_ok || napi_set_element(env, names, count++, name) != napi_ok) err = ENOMEM;
  }
  closedir(dir);
  return err == 0 ? names : errno_value(env, err);
}

void fsops_init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "setMtime", NAPI_AUTO_LENGTH, set_mtime, NULL, &fn);
  napi_set_named_property(env, exports, "setMtime", fn);
  napi_create_function(env, "setMtimeFd", NAPI_AUTO_LENGTH, set_mtime_fd, NULL, &fn);
  napi_set_named_property(env, exports, "setMtimeFd", fn);
  napi_create_function(env, "flock", NAPI_AUTO_LENGTH, flock_fd, NULL, &fn);
  napi_set_named_property(env, exports, "flock", fn);
  napi_create_function(env, "subdirs", NAPI_AUTO_LENGTH, subdirs, NULL, &fn);
  napi_set_named_property(env, exports, "subdirs", fn);
}
