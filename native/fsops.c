/*
 * File-system calls Node does not offer: setting a time to the nanosecond (also before 1970, also
 * on a symlink itself) and flock(2), whose locks the kernel drops when their holder dies.
 * Each returns 0 or the errno, never throws for what the file system says.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <sys/file.h>
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

void fsops_init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "setMtime", NAPI_AUTO_LENGTH, set_mtime, NULL, &fn);
  napi_set_named_property(env, exports, "setMtime", fn);
  napi_create_function(env, "setMtimeFd", NAPI_AUTO_LENGTH, set_mtime_fd, NULL, &fn);
  napi_set_named_property(env, exports, "setMtimeFd", fn);
  napi_create_function(env, "flock", NAPI_AUTO_LENGTH, flock_fd, NULL, &fn);
  napi_set_named_property(env, exports, "flock", fn);
}
