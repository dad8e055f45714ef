/*
 * The addon's entry point and the parity functions' N-API glue.
 *
 * scan.c keeps its own NAPI_MODULE_INIT; binding.gyp renames the symbols it defines (see the
 * defines there), and the real entry point below calls it and then adds the parity functions.
 *
 * par2Kernels() -> names of the GF(2^16) kernels this CPU runs, fastest last
 * par2SelectKernel(name) -> boolean: use that kernel from now on (tests, benchmarks)
 * gfMulAdd(dst, src, c[, kernel]): dst ^= c · src with the current kernel or the named one, on the
 *   calling thread (tests)
 * gfMulAdd4(dst, srcs, cs, kernel): dst ^= Σ cs[i] · srcs[i] over four sources, by the named
 *   kernel's four-source path (tests)
 * gfMul(a, b) -> product; md5(buf) -> Buffer; crc32(buf, portable?) -> number, by the table
 *   method when portable is true (tests)
 * md5LaneKernels() -> names of the multi-buffer MD5 kernels, fastest last; md5Lanes(bufs[,
 *   kernel]) -> Buffer of 16 bytes per buffer, their MD5s side by side in SIMD lanes (tests)
 * par2Open(slice, recovery, size, name, budget) -> handle; throws RangeError for bad arguments
 * par2Info(handle) -> [passes, memory bytes]
 * par2Feed(handle, buf, cb(errno)), par2Finish(handle, indexPath, recoveryPath, cb(errno, bytes)),
 * par2FromFile(handle, dataPath, indexPath, recoveryPath, cb(errno, bytes)): run on a thread of
 *   their own, not libuv's pool: a file's parity holds its thread for seconds, and the pool's
 *   four threads are what the copy's reads and writes wait for. Calls on one handle are queued
 *   and run in the order made, one at a time (the caller need not await each); a call made
 *   after par2Close calls back ECANCELED. buf must stay unchanged until cb: it is read on
 *   another thread.
 * par2Close(handle): frees the creator now, or when its running work ends, which it asks to stop
 *   early (par2FromFile then calls back with ECANCELED).
 * copyFd(inFd, outFd, handle|null, cancel, faults, cb(readErr, writeErr, feedErr, bytes, fed, sha256)):
 *   copies a big file between two open descriptors in C (copyfeed.c), on libuv's pool thread and
 *   two of its own, feeding the creator `handle` every buffer when given (the handle's own queue
 *   must be idle meanwhile; par2Close during the copy stops the feeding, ECANCELED). cancel: an
 *   Int32Array whose element 0 set nonzero stops the copy; faults: null, or a Float64Array of the
 *   test faults [readNth, readErrno, writeNth, writeErrno, stopAfterWrites] (copyfeed.h).
 * nativeTestFaults(allocNth, writeNth): tests only; the creator's allocNth-th allocation (ENOMEM)
 *   and writeNth-th write (ENOSPC) from now on fail, 0 for none (testfault.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "copyfeed.h"
#include "crc32.h"
#include "gf16.h"
#include "jsstring.h"
#include "md5.h"
#include "md5lanes.h"
#include "par2create.h"
#define BLAINE_TESTFAULT_IMPL
#include "testfault.h"

#undef napi_register_module_v1
#undef node_api_module_get_api_version_v1

napi_value blaine_scan_init(napi_env env, napi_value exports);

typedef struct job job;

/*
 * A creator and the calls queued for it. One thread at a time works through the queue in order
 * (started by the call that finds none at work, ending when the queue is empty), so a copy can
 * hand over its next chunk while the one before is still being hashed: the creator's serial MD5
 * then never waits for the JS thread to come round between two chunks.
 */
typedef struct {
  par2_creator *creator;
  int busy;   /* calls queued or running, not yet called back (JS thread only) */
  int closed; /* set on the JS thread, read by the worker */
  pthread_mutex_t lock;
  job *head, *tail; /* calls not yet started */
  int working;      /* a thread is working through the queue */
} handle;

enum op { OP_FEED, OP_FINISH, OP_FROM_FILE };

struct job {
  job *next;
  enum op op;
  handle *h;
  napi_ref handle_ref, buf_ref;
  napi_threadsafe_function done;
  const uint8_t *data;
  size_t len;
  char *data_path, *index_path, *recovery_path;
  int err;
  uint64_t bytes;
};

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* NULL when v is not a string or memory ran out: the callers answer both with a type error. */
static char *get_string(napi_env env, napi_value v) {
  char *s;
  size_t len;
  js_utf8(env, v, &s, &len);
  return s;
}

static napi_value kernels(napi_env env, napi_callback_info info) {
  (void)info;
  int n;
  const gf16_kernel *k = gf16_kernels(&n);
  napi_value arr, s;
  napi_create_array_with_length(env, (size_t)n, &arr);
  for (int i = 0; i < n; i++) {
    napi_create_string_utf8(env, k[i].name, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, (uint32_t)i, s);
  }
  return arr;
}

static napi_value select_kernel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *name = argc == 1 ? get_string(env, argv[0]) : NULL;
  if (!name) return throw_type(env, "par2SelectKernel(name) needs a name");
  int ok = gf16_select(name);
  free(name);
  napi_get_boolean(env, ok, &result);
  return result;
}

static int get_buffer(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return 0;
  return napi_get_buffer_info(env, v, (void **)data, len) == napi_ok;
}

/* The kernel named by v (a string), or NULL with a type error thrown. */
static const gf16_kernel *kernel_named(napi_env env, napi_value v) {
  char *name = get_string(env, v);
  int n;
  const gf16_kernel *all = gf16_kernels(&n), *k = NULL;
  for (int i = 0; name && i < n; i++) {
    if (strcmp(all[i].name, name) == 0) k = &all[i];
  }
  free(name);
  if (!k) throw_type(env, "no such GF(2^16) kernel on this CPU");
  return k;
}

static napi_value gf_muladd(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *dst, *src;
  size_t dl, sl;
  uint32_t c;
  if (argc < 3 || !get_buffer(env, argv[0], &dst, &dl) || !get_buffer(env, argv[1], &src, &sl) || dl != sl || dl % 2 ||
      napi_get_value_uint32(env, argv[2], &c) != napi_ok || c > 0xffff) {
    return throw_type(env, "gfMulAdd(dst, src, c[, kernel]) needs two buffers of the same even length and a 16-bit constant");
  }
  if (argc < 4) {
    gf16_muladd(dst, src, dl, (uint16_t)c);
    return undefined(env);
  }
  const gf16_kernel *k = kernel_named(env, argv[3]);
  if (!k) return NULL;
  _Alignas(64) uint8_t room[GF16_PREPARED_MAX];
  gf16_prepared *p = (gf16_prepared *)room;
  p->c = (uint16_t)c;
  k->prepare(p, (uint16_t)c);
  k->apply(dst, src, dl, p);
  return undefined(env);
}

static napi_value gf_muladd4(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *dst, *src[4];
  size_t dl, sl;
  uint32_t c[4];
  bool arrays = false;
  const char *usage = "gfMulAdd4(dst, [4 buffers], [4 constants], kernel) needs buffers of the same even length and 16-bit constants";
  if (argc < 4 || !get_buffer(env, argv[0], &dst, &dl) || dl % 2 || napi_is_array(env, argv[1], &arrays) != napi_ok || !arrays) return throw_type(env, usage);
  for (uint32_t i = 0; i < 4; i++) {
    if (napi_get_element(env, argv[1], i, &v) != napi_ok || !get_buffer(env, v, &src[i], &sl) || sl != dl) return throw_type(env, usage);
    if (napi_get_element(env, argv[2], i, &v) != napi_ok || napi_get_value_uint32(env, v, &c[i]) != napi_ok || c[i] > 0xffff) return throw_type(env, usage);
  }
  const gf16_kernel *k = kernel_named(env, argv[3]);
  if (!k) return NULL;
  _Alignas(64) uint8_t room[4][GF16_PREPARED_MAX];
  const gf16_prepared *p[4];
  for (int i = 0; i < 4; i++) {
    gf16_prepared *q = (gf16_prepared *)room[i];
    q->c = (uint16_t)c[i];
    k->prepare(q, (uint16_t)c[i]);
    p[i] = q;
  }
  gf16_apply4(k, dst, (const uint8_t *const *)src, dl, p);
  return undefined(env);
}

static napi_value gf_mul(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  uint32_t a, b;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_uint32(env, argv[0], &a) != napi_ok || napi_get_value_uint32(env, argv[1], &b) != napi_ok) {
    return throw_type(env, "gfMul(a, b) needs two numbers");
  }
  napi_create_uint32(env, gf16_mul((uint16_t)a, (uint16_t)b), &result);
  return result;
}

static napi_value md5(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1], result;
  uint8_t *data;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !get_buffer(env, argv[0], &data, &len)) return throw_type(env, "md5(buf) needs a buffer");
  void *out;
  napi_create_buffer(env, 16, &out, &result);
  md5_digest(data, len, out);
  return result;
}

static napi_value md5_lane_kernels(napi_env env, napi_callback_info info) {
  (void)info;
  unsigned n;
  const char *const *names = md5_lanes_kernels(&n);
  napi_value arr, s;
  napi_create_array_with_length(env, n, &arr);
  for (unsigned i = 0; i < n; i++) {
    napi_create_string_utf8(env, names[i], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, i, s);
  }
  return arr;
}

static napi_value md5_lanes_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t n = 0;
  bool is_array = false;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[0], &n) != napi_ok) {
    return throw_type(env, "md5Lanes(buffers[, kernel]) needs an array of buffers");
  }
  char *kernel = argc > 1 ? get_string(env, argv[1]) : NULL;
  if (argc > 1 && !kernel) return throw_type(env, "md5Lanes(buffers, kernel) needs a kernel name");
  const uint8_t **data = calloc(n ? n : 1, sizeof *data);
  size_t *len = calloc(n ? n : 1, sizeof *len);
  void *out = NULL;
  if (!data || !len) {
    napi_throw_error(env, NULL, "md5Lanes: out of memory");
    goto done;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    uint8_t *d;
    if (napi_get_element(env, argv[0], i, &v) != napi_ok || !get_buffer(env, v, &d, &len[i])) {
      throw_type(env, "md5Lanes(buffers[, kernel]) needs an array of buffers");
      goto done;
    }
    data[i] = d;
  }
  napi_create_buffer(env, 16 * (size_t)n, &out, &result);
  if (md5_lanes(data, len, n, out, kernel) != 0) {
    result = NULL;
    throw_type(env, "md5Lanes: no such kernel on this CPU");
  }
done:
  free(kernel);
  free(data);
  free(len);
  return result;
}

static napi_value crc32(napi_env env, napi_callback_info info) {
  size_t argc = 2, len;
  napi_value argv[2], result;
  uint8_t *data;
  bool portable = false;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !get_buffer(env, argv[0], &data, &len)) return throw_type(env, "crc32(buf) needs a buffer");
  if (argc > 1) napi_get_value_bool(env, argv[1], &portable);
  /* Only tests ask for the table method, for this call alone. */
  napi_create_uint32(env, portable ? crc32_update_table(0, data, len) : crc32_update(0, data, len), &result);
  return result;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  handle *h = data;
  par2_free(h->creator);
  pthread_mutex_destroy(&h->lock);
  free(h);
}

static napi_value par2_open_js(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t slice, recovery, size, budget;
  uint8_t *name;
  size_t name_len;
  if (argc < 5 || napi_get_value_int64(env, argv[0], &slice) != napi_ok || napi_get_value_int64(env, argv[1], &recovery) != napi_ok ||
      napi_get_value_int64(env, argv[2], &size) != napi_ok || !get_buffer(env, argv[3], &name, &name_len) ||
      napi_get_value_int64(env, argv[4], &budget) != napi_ok || slice <= 0 || recovery <= 0 || recovery > 32768 || size <= 0 || budget <= 0) {
    return throw_type(env, "par2Open(slice, recovery, size, name, budget) needs positive numbers and a name buffer");
  }
  int err;
  par2_creator *c = par2_open((uint64_t)slice, (uint32_t)recovery, (uint64_t)size, (const char *)name, name_len, (uint64_t)budget, &err);
  if (!c) {
    if (err == ENOMEM) napi_throw_error(env, "ENOMEM", "not enough memory for the parity buffers");
    else napi_throw_range_error(env, "EINVAL", "these PAR2 settings are invalid (slice size a multiple of 4, at most 32768 slices)");
    return NULL;
  }
  handle *h = calloc(1, sizeof *h);
  if (!h) {
    par2_free(c);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  if (pthread_mutex_init(&h->lock, NULL) != 0) {
    par2_free(c);
    free(h);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  h->creator = c;
  napi_create_external(env, h, finalize_handle, NULL, &result);
  return result;
}

static handle *get_handle(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  napi_get_value_external(env, v, &p);
  return p;
}

static napi_value par2_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result, v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  handle *h = argc ? get_handle(env, argv[0]) : NULL;
  if (!h || !h->creator) return throw_type(env, "par2Info(handle) needs an open handle");
  napi_create_array_with_length(env, 2, &result);
  napi_create_uint32(env, par2_passes(h->creator), &v);
  napi_set_element(env, result, 0, v);
  napi_create_double(env, (double)par2_memory(h->creator), &v);
  napi_set_element(env, result, 1, v);
  return result;
}

static void execute(napi_env env, void *data) {
  (void)env;
  job *j = data;
  par2_creator *c = j->h->creator;
  switch (j->op) {
    case OP_FEED:
      j->err = par2_feed(c, j->data, j->len);
      break;
    case OP_FINISH:
      j->err = par2_finish(c, j->index_path, j->recovery_path, &j->bytes);
      break;
    case OP_FROM_FILE:
      j->err = par2_from_file(c, j->data_path, j->index_path, j->recovery_path, &j->bytes);
      break;
  }
}

/* Back on the JS thread: the job's callback gets (errno, bytes). env is NULL when Node is shutting down. */
static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  job *j = data;
  handle *h = j->h;
  h->busy--;
  if (h->closed && h->busy == 0) {
    par2_free(h->creator);
    h->creator = NULL;
  }
  if (env) {
    napi_value argv[2], global;
    napi_create_int32(env, j->err, &argv[0]);
    napi_create_double(env, (double)j->bytes, &argv[1]);
    napi_delete_reference(env, j->handle_ref);
    if (j->buf_ref) napi_delete_reference(env, j->buf_ref);
    napi_get_global(env, &global);
    napi_call_function(env, global, cb, 2, argv, NULL);
  }
  free(j->data_path);
  free(j->index_path);
  free(j->recovery_path);
  free(j);
}

/* Takes the next queued call, or ends the work (NULL). */
static job *next_job(handle *h) {
  pthread_mutex_lock(&h->lock);
  job *j = h->head;
  if (j) {
    h->head = j->next;
    if (!h->head) h->tail = NULL;
  } else {
    h->working = 0;
  }
  pthread_mutex_unlock(&h->lock);
  return j;
}

static void *queue_thread(void *data) {
  job *j = data;
  pthread_setname_np(pthread_self(), "blaine-par2");
  while (j) {
    handle *h = j->h;
    if (__atomic_load_n(&h->closed, __ATOMIC_RELAXED)) j->err = ECANCELED;
    else execute(NULL, j);
    /* The next call is taken before this one is called back: the callback may let the handle be
     * freed, while a queued call's own reference keeps it alive. */
    job *next = next_job(h);
    napi_threadsafe_function done = j->done;
    napi_call_threadsafe_function(done, j, napi_tsfn_blocking);
    napi_release_threadsafe_function(done, napi_tsfn_release);
    j = next;
  }
  return NULL;
}

/* Common part of the three asynchronous calls: argv[0] is the handle, argv[argc-1] the callback. */
static napi_value start(napi_env env, napi_callback_info info, enum op op) {
  size_t argc = 5;
  napi_value argv[5], name;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t want = op == OP_FEED ? 3 : op == OP_FINISH ? 4 : 5;
  napi_valuetype t;
  if (argc < want || napi_typeof(env, argv[want - 1], &t) != napi_ok || t != napi_function) return throw_type(env, "parity call: wrong arguments");
  handle *h = get_handle(env, argv[0]);
  if (!h || !h->creator || h->closed) return throw_type(env, "parity call: the handle is closed");
  job *j = calloc(1, sizeof *j);
  if (!j) return throw_type(env, "out of memory");
  j->op = op;
  j->h = h;
  int ok = 1;
  if (op == OP_FEED) {
    uint8_t *d;
    ok = get_buffer(env, argv[1], &d, &j->len);
    j->data = d;
    if (ok) napi_create_reference(env, argv[1], 1, &j->buf_ref);
  } else {
    size_t p = 1;
    if (op == OP_FROM_FILE) ok = (j->data_path = get_string(env, argv[p++])) != NULL;
    ok = ok && (j->index_path = get_string(env, argv[p++])) != NULL;
    ok = ok && (j->recovery_path = get_string(env, argv[p])) != NULL;
  }
  if (!ok) {
    if (j->buf_ref) napi_delete_reference(env, j->buf_ref);
    free(j->data_path);
    free(j->index_path);
    free(j->recovery_path);
    free(j);
    return throw_type(env, "parity call: wrong arguments");
  }
  napi_create_string_utf8(env, "blaine:par2", NAPI_AUTO_LENGTH, &name);
  pthread_attr_t attr;
  pthread_t thread;
  int started = napi_create_threadsafe_function(env, argv[want - 1], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &j->done) == napi_ok;
  if (started) {
    napi_create_reference(env, argv[0], 1, &j->handle_ref);
    h->busy++;
    pthread_mutex_lock(&h->lock);
    if (h->working) {
      /* The thread at work takes it after the calls before it. */
      if (h->tail) h->tail->next = j;
      else h->head = j;
      h->tail = j;
    } else {
      pthread_attr_init(&attr);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      started = pthread_create(&thread, &attr, queue_thread, j) == 0;
      pthread_attr_destroy(&attr);
      h->working = started;
    }
    pthread_mutex_unlock(&h->lock);
    if (!started) {
      h->busy--;
      napi_delete_reference(env, j->handle_ref);
      napi_release_threadsafe_function(j->done, napi_tsfn_abort);
    }
  }
  if (!started) {
    if (j->buf_ref) napi_delete_reference(env, j->buf_ref);
    free(j->data_path);
    free(j->index_path);
    free(j->recovery_path);
    free(j);
    napi_throw_error(env, "EAGAIN", "cannot start a thread for parity");
    return NULL;
  }
  return undefined(env);
}

static napi_value par2_feed_js(napi_env env, napi_callback_info info) { return start(env, info, OP_FEED); }
static napi_value par2_finish_js(napi_env env, napi_callback_info info) { return start(env, info, OP_FINISH); }
static napi_value par2_from_file_js(napi_env env, napi_callback_info info) { return start(env, info, OP_FROM_FILE); }

static napi_value par2_close_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  handle *h = argc ? get_handle(env, argv[0]) : NULL;
  if (!h) return throw_type(env, "par2Close(handle) needs a handle");
  __atomic_store_n(&h->closed, 1, __ATOMIC_RELAXED);
  if (h->busy && h->creator) par2_cancel(h->creator);
  if (!h->busy) {
    par2_free(h->creator);
    h->creator = NULL;
  }
  return undefined(env);
}

/* copyFd: one copy's arguments and outcome, from the JS thread to the pool thread and back. */
typedef struct {
  copyfeed_job job;
  copyfeed_result result;
  handle *h;
  int feed_refused; /* a handle given, but closed already: the feed fails with ECANCELED */
  napi_ref handle_ref, cancel_ref, done_ref;
  napi_async_work work;
} fd_copy;

/* The copy's consumer: the creator, unless its handle was closed meanwhile. */
static int feed_handle(void *ctx, const uint8_t *data, size_t len) {
  handle *h = ctx;
  if (__atomic_load_n(&h->closed, __ATOMIC_RELAXED)) return ECANCELED;
  return par2_feed(h->creator, data, len);
}

static void fd_copy_execute(napi_env env, void *data) {
  (void)env;
  fd_copy *c = data;
  copyfeed_run(&c->job, &c->result);
}

static void fd_copy_free(napi_env env, fd_copy *c) {
  if (c->handle_ref) napi_delete_reference(env, c->handle_ref);
  if (c->cancel_ref) napi_delete_reference(env, c->cancel_ref);
  if (c->done_ref) napi_delete_reference(env, c->done_ref);
  if (c->work) napi_delete_async_work(env, c->work);
  free(c);
}

static void fd_copy_complete(napi_env env, napi_status status, void *data) {
  fd_copy *c = data;
  handle *h = c->h;
  if (h) {
    h->busy--;
    if (h->closed && h->busy == 0) {
      par2_free(h->creator);
      h->creator = NULL;
    }
  }
  napi_value cb, global, argv[6];
  napi_get_reference_value(env, c->done_ref, &cb);
  napi_get_global(env, &global);
  copyfeed_result *r = &c->result;
  /* A pool thread that never ran the work: a read error of its own kind. */
  napi_create_int32(env, status == napi_ok ? r->read_err : ECANCELED, &argv[0]);
  napi_create_int32(env, r->write_err, &argv[1]);
  napi_create_int32(env, c->feed_refused ? ECANCELED : r->feed_err, &argv[2]);
  napi_create_double(env, (double)r->bytes, &argv[3]);
  napi_create_double(env, (double)r->fed, &argv[4]);
  void *out;
  napi_create_buffer_copy(env, 32, r->sha256, &out, &argv[5]);
  fd_copy_free(env, c);
  napi_call_function(env, global, cb, 6, argv, NULL);
}

static napi_value copy_fd_js(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], name;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t in_fd, out_fd;
  napi_valuetype t;
  const char *usage = "copyFd(inFd, outFd, handle|null, cancel, faults|null, done) got arguments of the wrong kind";
  if (argc < 6 || napi_get_value_int32(env, argv[0], &in_fd) != napi_ok || napi_get_value_int32(env, argv[1], &out_fd) != napi_ok ||
      napi_typeof(env, argv[5], &t) != napi_ok || t != napi_function) {
    return throw_type(env, usage);
  }
  handle *h = NULL;
  int refused = 0;
  if (napi_typeof(env, argv[2], &t) == napi_ok && t != napi_null && t != napi_undefined) {
    h = get_handle(env, argv[2]);
    if (!h) return throw_type(env, usage);
    /* Closed already (the run stopping elsewhere): the copy is made all the same, its feed is not. */
    if (!h->creator || h->closed) {
      h = NULL;
      refused = 1;
    }
  }
  napi_typedarray_type type;
  size_t length;
  void *cancel = NULL, *faults = NULL;
  if (napi_get_typedarray_info(env, argv[3], &type, &length, &cancel, NULL, NULL) != napi_ok || type != napi_int32_array || length < 1) {
    return throw_type(env, usage);
  }
  if (napi_typeof(env, argv[4], &t) == napi_ok && t != napi_null && t != napi_undefined &&
      (napi_get_typedarray_info(env, argv[4], &type, &length, &faults, NULL, NULL) != napi_ok || type != napi_float64_array || length < 5)) {
    return throw_type(env, usage);
  }
  fd_copy *c = calloc(1, sizeof *c);
  if (!c) return throw_type(env, "out of memory");
  c->job.in_fd = in_fd;
  c->job.out_fd = out_fd;
  c->job.chunk = 1u << 20;
  /* As the copy in JavaScript: three buffers, and sixteen more that the creator may hold behind it. */
  c->job.buffers = h ? 19 : 4;
  c->job.cancel = cancel;
  c->feed_refused = refused;
  if (h) {
    c->job.feed = feed_handle;
    c->job.feed_ctx = h;
  }
  if (faults) {
    const double *f = faults;
    c->job.fail_read_nth = (uint64_t)f[0];
    c->job.fail_read_errno = (int)f[1];
    c->job.fail_write_nth = (uint64_t)f[2];
    c->job.fail_write_errno = (int)f[3];
    c->job.stop_after_writes = (uint64_t)f[4];
  }
  napi_create_string_utf8(env, "blaine.copyFd", NAPI_AUTO_LENGTH, &name);
  if ((h && napi_create_reference(env, argv[2], 1, &c->handle_ref) != napi_ok) || napi_create_reference(env, argv[3], 1, &c->cancel_ref) != napi_ok ||
      napi_create_reference(env, argv[5], 1, &c->done_ref) != napi_ok ||
      napi_create_async_work(env, NULL, name, fd_copy_execute, fd_copy_complete, c, &c->work) != napi_ok || napi_queue_async_work(env, c->work) != napi_ok) {
    fd_copy_free(env, c);
    napi_throw_error(env, NULL, "copyFd: cannot start the work");
    return NULL;
  }
  /* The creator is freed only once the copy is done with it (par2Close meanwhile defers that). */
  c->h = h;
  if (h) h->busy++;
  return undefined(env);
}

static napi_value test_faults(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint32_t alloc_nth, write_nth;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_uint32(env, argv[0], &alloc_nth) != napi_ok || napi_get_value_uint32(env, argv[1], &write_nth) != napi_ok) {
    return throw_type(env, "nativeTestFaults(allocNth, writeNth) needs two numbers");
  }
  testfault_arm(alloc_nth, write_nth);
  return undefined(env);
}

static void add(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);
  napi_set_named_property(env, exports, name, f);
}

NAPI_MODULE_INIT() {
  exports = blaine_scan_init(env, exports);
  gf16_init();
  crc32_init();
  add(env, exports, "par2Kernels", kernels);
  add(env, exports, "par2SelectKernel", select_kernel);
  add(env, exports, "gfMulAdd", gf_muladd);
  add(env, exports, "gfMulAdd4", gf_muladd4);
  add(env, exports, "gfMul", gf_mul);
  add(env, exports, "md5", md5);
  add(env, exports, "md5LaneKernels", md5_lane_kernels);
  add(env, exports, "md5Lanes", md5_lanes_js);
  add(env, exports, "crc32", crc32);
  add(env, exports, "par2Open", par2_open_js);
  add(env, exports, "par2Info", par2_info);
  add(env, exports, "par2Feed", par2_feed_js);
  add(env, exports, "par2Finish", par2_finish_js);
  add(env, exports, "par2FromFile", par2_from_file_js);
  add(env, exports, "par2Close", par2_close_js);
  add(env, exports, "copyFd", copy_fd_js);
  add(env, exports, "nativeTestFaults", test_faults);
  return exports;
}
