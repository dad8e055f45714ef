/*
 * PAR2 2.0 creation for one file (see par2create.h).
 *
 * Per input byte the work is: the file's MD5 and the slice's MD5 (one interleaved pass, see
 * md5.c), the slice's CRC-32, and one multiply-accumulate into each recovery slice. The bytes
 * are gathered into a stage of up to GROUP slices (only the columns of this pass), and the stage
 * is multiplied in column blocks small enough that a block of one recovery slice stays in the
 * L1 cache while every staged slice is added to it: the recovery buffers, far larger than the
 * caches, then cross the memory bus once per GROUP input slices instead of once per slice.
 *
 * For a file of several MiB a helper thread multiplies one stage while this thread hashes and
 * fills the other (two stages, swapped): hashing (serial MD5) and multiplying then take a core
 * each, which is what a single large file needs to go faster than either alone.
 *
 * When recovery × slice bytes exceed the budget, each pass covers a band of columns (byte
 * offsets within every slice) and the file is read once per band; the recovery data of a band
 * goes straight to its place in the recovery file, and each recovery packet's MD5 is carried
 * from band to band, since bands come in column order.
 */
#define _GNU_SOURCE
#include "par2create.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"
#include "gf16.h"
#include "md5.h"
#include "md5lanes.h"
#include "testfault.h"

#define HEADER 64
#define HEAD_BYTES 16384
#define GROUP_MAX 16
/* Column block per multiply call: one recovery block plus a few staged blocks fit L1/L2. */
#define BLOCK 8192
#define READ_BYTES (4u << 20)
#define MAX_SLICES 32768
/* From this size a file gets the helper thread; below it a thread's start costs more than it saves. */
#define HELPER_FROM (4u << 20)

static const char CREATOR[] = "Blaine (own PAR2 2.0 creator)";
static const uint8_t MAGIC[8] = {'P', 'A', 'R', '2', 0, 'P', 'K', 'T'};
static const uint8_t TYPE_MAIN[16] = {'P', 'A', 'R', ' ', '2', '.', '0', 0, 'M', 'a', 'i', 'n', 0, 0, 0, 0};
static const uint8_t TYPE_DESC[16] = {'P', 'A', 'R', ' ', '2', '.', '0', 0, 'F', 'i', 'l', 'e', 'D', 'e', 's', 'c'};
static const uint8_t TYPE_IFSC[16] = {'P', 'A', 'R', ' ', '2', '.', '0', 0, 'I', 'F', 'S', 'C', 0, 0, 0, 0};
static const uint8_t TYPE_RECV[16] = {'P', 'A', 'R', ' ', '2', '.', '0', 0, 'R', 'e', 'c', 'v', 'S', 'l', 'i', 'c'};
static const uint8_t TYPE_CREATOR[16] = {'P', 'A', 'R', ' ', '2', '.', '0', 0, 'C', 'r', 'e', 'a', 't', 'o', 'r', 0};

struct par2_creator {
  uint64_t slice, size;
  uint32_t recovery, slices;
  char *name;
  size_t name_len;

  /* Column band of the current pass and its width; passes = ceil(slice / width). */
  uint64_t col0, width;
  unsigned passes, pass;
  uint32_t group;

  /*
   * Hashing (first pass only). The file's MD5 and each slice's run here as two chains of one
   * loop (md5_update2) — unless other creators are hashing too: then the file's chain pairs with
   * theirs (md5_update_shared, two files' chains for about the price of one), and the slice's MD5
   * is taken from the full stage, side by side with the stage's others in SIMD lanes, by whoever
   * multiplies it. Decided per slice (by_lanes), and only when the stage holds whole slices
   * (lane_sums: one pass). `counted`: this creator is in creators_hashing.
   */
  int lane_sums, counted;
  uint8_t *by_lanes;
  md5_ctx file_md5, slice_md5, head_md5;
  uint32_t slice_crc;
  uint64_t fed;
  uint8_t *slice_sums; /* slices × (MD5 16 + CRC 4), as in the IFSC packet */
  uint8_t file_hash[16], head_hash[16], file_id[16], set_id[16];

  /* Recovery. */
  uint8_t *recov; /* recovery × width; zeroed by the first multiply, on a worker thread, not in par2_open */
  int recov_zeroed;
  uint8_t *stage; /* group × width: the stage being filled */
  uint8_t *other; /* the second stage, being multiplied by the helper; NULL without one */
  uint32_t staged_first, staged;
  const gf16_kernel *kernel;
  uint8_t *coef; /* group × recovery prepared constants (kernel->size each), for the slices in the stage */
  md5_ctx *recov_md5;

  /* Layout of the recovery file: where each recovery packet and each copy of the index packets starts. */
  uint64_t *recov_off;
  uint32_t copies;
  uint64_t *copy_off;
  uint64_t recov_file_size, index_file_size;
  uint64_t main_len, desc_len, ifsc_len, creator_len, recv_len;
  int recov_fd;
  int cancel; /* set from another thread: par2_from_file stops at its next read */

  /* The helper thread and its one job: multiply `job_n` slices from `job_stage`, the first being job_first. */
  int helper;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake, idle;
  int busy, quit;
  uint8_t *job_stage;
  uint32_t job_first, job_n;
};

static uint32_t *slice_logs;
/* Creators between their first byte and the end of their first pass. */
static unsigned creators_hashing;

static void stop_counting(par2_creator *c) {
  if (c->counted) __atomic_sub_fetch(&creators_hashing, 1, __ATOMIC_RELAXED);
  c->counted = 0;
}

/* n_i: the positive integers not divisible by 3, 5, 17 or 257, so that every 2^n_i has order 65535. */
static void init_slice_logs(void) {
  if (__atomic_load_n(&slice_logs, __ATOMIC_ACQUIRE)) return;
  uint32_t *t = malloc(MAX_SLICES * sizeof *t);
  if (!t) return;
  uint32_t n = 0;
  for (uint32_t i = 0; i < MAX_SLICES; i++) {
    do n++;
    while (n % 3 == 0 || n % 5 == 0 || n % 17 == 0 || n % 257 == 0);
    t[i] = n;
  }
  uint32_t *expected = NULL;
  if (!__atomic_compare_exchange_n(&slice_logs, &expected, t, 0, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE)) free(t);
}

uint32_t par2_slice_log(uint32_t i) {
  init_slice_logs();
  return slice_logs ? slice_logs[i] : 0;
}

static uint64_t pad4(uint64_t n) { return (n + 3) & ~(uint64_t)3; }

static void *alloc_aligned(uint64_t bytes) {
  void *p = NULL;
  if (bytes == 0) bytes = 64;
  if ((size_t)bytes != bytes || posix_memalign(&p, 64, (size_t)bytes) != 0) return NULL;
  return p;
}

static void stop_helper(par2_creator *c);
static int start_helper(par2_creator *c);

void par2_free(par2_creator *c) {
  if (!c) return;
  stop_helper(c);
  stop_counting(c);
  free(c->by_lanes);
  free(c->other);
  if (c->recov_fd >= 0) close(c->recov_fd);
  free(c->name);
  free(c->slice_sums);
  free(c->recov);
  free(c->stage);
  free(c->coef);
  free(c->recov_md5);
  free(c->recov_off);
  free(c->copy_off);
  free(c);
}

/* Widest band (a multiple of 64 bytes, or the whole slice) and group that fit the budget. */
static void plan_memory(par2_creator *c, uint64_t budget, uint32_t stages) {
  uint64_t r = c->recovery;
  uint32_t group = c->slices < GROUP_MAX ? c->slices : GROUP_MAX;
  while (group > 1 && (r + stages * group) * c->slice > budget) group /= 2;
  uint64_t width = c->slice;
  if ((r + stages * group) * width > budget) {
    width = budget / (r + stages * group) / 64 * 64;
    if (width < 4096) width = 4096;
    if (width > c->slice) width = c->slice;
  }
  c->group = group;
  c->width = width;
  c->passes = (unsigned)((c->slice + width - 1) / width);
}

static void layout(par2_creator *c) {
  c->main_len = HEADER + 12 + 16;
  c->desc_len = HEADER + 56 + pad4(c->name_len);
  c->ifsc_len = HEADER + 16 + 20 * (uint64_t)c->slices;
  c->creator_len = HEADER + pad4(sizeof CREATOR - 1);
  c->recv_len = HEADER + 4 + c->slice;
  uint64_t critical = c->main_len + c->desc_len + c->ifsc_len;
  c->index_file_size = critical + c->creator_len;
  /* More copies of the description with more recovery data: 1 + floor(log2(recovery)), 5 at 16..31. */
  uint32_t copies = 1;
  while (copies < 16 && (1u << copies) <= c->recovery) copies++;
  c->copies = copies;
  uint64_t pos = 0;
  uint32_t r = 0;
  for (uint32_t j = 0; j < copies; j++) {
    uint32_t end = (uint32_t)((uint64_t)(j + 1) * c->recovery / copies);
    for (; r < end; r++) {
      c->recov_off[r] = pos;
      pos += c->recv_len;
    }
    c->copy_off[j] = pos;
    pos += critical;
  }
  c->recov_file_size = pos + c->creator_len;
}

par2_creator *par2_open(uint64_t slice, uint32_t recovery, uint64_t size, const char *name, size_t name_len, uint64_t budget, int *err) {
  gf16_init();
  crc32_init();
  init_slice_logs();
  *err = EINVAL;
  if (slice == 0 || slice % 4 != 0 || size == 0 || recovery == 0 || recovery > MAX_SLICES || name_len == 0 || !slice_logs) {
    if (!slice_logs) *err = ENOMEM;
    return NULL;
  }
  uint64_t slices = (size + slice - 1) / slice;
  if (slices > MAX_SLICES) return NULL;
  *err = ENOMEM;
  par2_creator *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->recov_fd = -1;
  c->slice = slice;
  c->size = size;
  c->recovery = recovery;
  c->slices = (uint32_t)slices;
  c->name = malloc(name_len);
  c->name_len = name_len;
  c->slice_sums = malloc(20 * (size_t)slices);
  c->recov_md5 = calloc(recovery, sizeof *c->recov_md5);
  c->recov_off = calloc(recovery, sizeof *c->recov_off);
  c->copy_off = calloc(32, sizeof *c->copy_off);
  if (!c->name || !c->slice_sums || !c->recov_md5 || !c->recov_off || !c->copy_off) goto fail;
  memcpy(c->name, name, name_len);
  /* Two stages (and the helper thread) from HELPER_FROM; c->helper says only that the thread runs,
   * so a failure before it starts frees nothing it does not have. */
  int two_stages = size >= HELPER_FROM && slices > 1;
  plan_memory(c, budget, two_stages ? 2 : 1);
  c->recov = alloc_aligned(recovery * c->width);
  c->stage = alloc_aligned(c->group * c->width);
  if (two_stages) {
    c->other = alloc_aligned(c->group * c->width);
    if (!c->other) goto fail;
  }
  c->kernel = gf16_current();
  c->coef = alloc_aligned(c->kernel->size * c->group * recovery);
  if (!c->recov || !c->stage || !c->coef) goto fail;
  layout(c);
  /* The stage holds whole slices only when there is one pass. */
  c->lane_sums = c->passes == 1;
  c->by_lanes = calloc(c->slices, 1);
  if (!c->by_lanes) goto fail;
  if (two_stages && start_helper(c) == 0) {
    c->helper = 1;
  } else {
    free(c->other);
    c->other = NULL;
  }
  md5_init(&c->file_md5);
  md5_init(&c->slice_md5);
  md5_init(&c->head_md5);
  *err = 0;
  return c;
fail:
  par2_free(c);
  return NULL;
}

unsigned par2_passes(const par2_creator *c) { return c->passes; }

void par2_cancel(par2_creator *c) { __atomic_store_n(&c->cancel, 1, __ATOMIC_RELAXED); }

uint64_t par2_memory(const par2_creator *c) {
  return (c->recovery + (c->helper ? 2 : 1) * c->group) * c->width + c->kernel->size * c->group * c->recovery + 20 * (uint64_t)c->slices + (c->passes > 1 ? READ_BYTES : 0);
}

/* The MD5s of n whole staged slices (the last one zero-padded), into their IFSC entries. */
static void slice_sums_of_stage(par2_creator *c, const uint8_t *stage, uint32_t first, uint32_t n) {
  const uint8_t *rows[GROUP_MAX];
  size_t lens[GROUP_MAX];
  uint32_t which[GROUP_MAX];
  uint8_t sums[GROUP_MAX][16];
  unsigned m = 0;
  for (uint32_t g = 0; g < n; g++) {
    if (!c->by_lanes[first + g]) continue;
    rows[m] = stage + (uint64_t)g * c->width;
    lens[m] = (size_t)c->slice;
    which[m++] = first + g;
  }
  if (m == 0) return;
  md5_lanes(rows, lens, m, sums, NULL);
  for (unsigned j = 0; j < m; j++) memcpy(c->slice_sums + 20 * (size_t)which[j], sums[j], 16);
}

/* Adds n staged slices (the first is input slice `first`) into the recovery band, one column block at a time. */
static void multiply(par2_creator *c, const uint8_t *stage, uint32_t first, uint32_t n) {
  if (n == 0) return;
  if (c->lane_sums) slice_sums_of_stage(c, stage, first, n);
  if (!c->recov_zeroed) {
    memset(c->recov, 0, c->recovery * c->width);
    c->recov_zeroed = 1;
  }
  const gf16_kernel *k = c->kernel;
#define COEF(g, r) ((gf16_prepared *)(c->coef + ((size_t)(r) * c->group + (g)) * k->size))
  for (uint32_t g = 0; g < n; g++) {
    uint64_t lg = par2_slice_log(first + g);
    for (uint32_t r = 0; r < c->recovery; r++) {
      gf16_prepared *p = COEF(g, r);
      p->c = gf16_exp((uint32_t)(lg * r % 65535));
      k->prepare(p, p->c);
    }
  }
  for (uint64_t off = 0; off < c->width; off += BLOCK) {
    size_t len = (size_t)(c->width - off < BLOCK ? c->width - off : BLOCK);
    for (uint32_t r = 0; r < c->recovery; r++) {
      uint8_t *dst = c->recov + r * c->width + off;
      uint32_t g = 0;
      for (; g + 4 <= n; g += 4) {
        const uint8_t *src[4];
        const gf16_prepared *p[4];
        for (int i = 0; i < 4; i++) {
          src[i] = stage + (g + i) * c->width + off;
          p[i] = COEF(g + i, r);
        }
        gf16_apply4(k, dst, src, len, p);
      }
      for (; g < n; g++) k->apply(dst, stage + g * c->width + off, len, COEF(g, r));
    }
  }
#undef COEF
}

static void *helper_main(void *arg) {
  par2_creator *c = arg;
  pthread_setname_np(pthread_self(), "blaine-par2-gf");
  pthread_mutex_lock(&c->lock);
  for (;;) {
    while (!c->busy && !c->quit) pthread_cond_wait(&c->wake, &c->lock);
    if (c->quit) break;
    pthread_mutex_unlock(&c->lock);
    multiply(c, c->job_stage, c->job_first, c->job_n);
    pthread_mutex_lock(&c->lock);
    c->busy = 0;
    pthread_cond_signal(&c->idle);
  }
  pthread_mutex_unlock(&c->lock);
  return NULL;
}

static int start_helper(par2_creator *c) {
  if (pthread_mutex_init(&c->lock, NULL) != 0) return -1;
  if (pthread_cond_init(&c->wake, NULL) != 0 || pthread_cond_init(&c->idle, NULL) != 0 || pthread_create(&c->thread, NULL, helper_main, c) != 0) {
    pthread_mutex_destroy(&c->lock);
    return -1;
  }
  return 0;
}

/* Waits until the helper has no job (so the recovery band is complete up to what was staged). */
static void wait_helper(par2_creator *c) {
  if (!c->helper) return;
  pthread_mutex_lock(&c->lock);
  while (c->busy) pthread_cond_wait(&c->idle, &c->lock);
  pthread_mutex_unlock(&c->lock);
}

static void stop_helper(par2_creator *c) {
  if (!c->helper) return;
  pthread_mutex_lock(&c->lock);
  while (c->busy) pthread_cond_wait(&c->idle, &c->lock);
  c->quit = 1;
  pthread_cond_signal(&c->wake);
  pthread_mutex_unlock(&c->lock);
  pthread_join(c->thread, NULL);
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->wake);
  pthread_cond_destroy(&c->idle);
  c->helper = 0;
}

/* The full stage goes to be multiplied (by the helper, while the other stage fills) and a new one begins. */
static void multiply_stage(par2_creator *c) {
  if (!c->helper) {
    multiply(c, c->stage, c->staged_first, c->staged);
  } else {
    pthread_mutex_lock(&c->lock);
    while (c->busy) pthread_cond_wait(&c->idle, &c->lock);
    uint8_t *full = c->stage;
    c->stage = c->other;
    c->other = full;
    c->job_stage = full;
    c->job_first = c->staged_first;
    c->job_n = c->staged;
    c->busy = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
  }
  c->staged_first += c->staged;
  c->staged = 0;
}

static void end_slice_hash(par2_creator *c, uint32_t k, uint64_t have) {
  uint8_t *sum = c->slice_sums + 20 * (size_t)k;
  if (c->by_lanes[k]) {
    /* Only the CRC here: the MD5 comes from the stage (slice_sums_of_stage). */
    if (have < c->slice) c->slice_crc = crc32_zeros(c->slice_crc, (size_t)(c->slice - have));
    for (int i = 0; i < 4; i++) sum[16 + i] = (uint8_t)(c->slice_crc >> (8 * i));
    c->slice_crc = 0;
    return;
  }
  if (have < c->slice) {
    /* The last slice is checksummed as if padded with zeros to the full slice size. */
    static const uint8_t zeros[4096];
    uint64_t left = c->slice - have;
    while (left) {
      size_t n = (size_t)(left < sizeof zeros ? left : sizeof zeros);
      md5_update(&c->slice_md5, zeros, n);
      left -= n;
    }
    c->slice_crc = crc32_zeros(c->slice_crc, (size_t)(c->slice - have));
  }
  md5_final(&c->slice_md5, sum);
  for (int i = 0; i < 4; i++) sum[16 + i] = (uint8_t)(c->slice_crc >> (8 * i));
  md5_init(&c->slice_md5);
  c->slice_crc = 0;
}

/* The next bytes of the file for this pass: hashes (first pass), then this band's columns into the stage. */
static void feed(par2_creator *c, const uint8_t *data, size_t len) {
  int hashing = c->pass == 0;
  /* The file's chain over a run of lane slices goes in one call, after the slices' own work: long
   * runs are what lets it meet another creator's chain (md5_update_shared). */
  const uint8_t *run = NULL;
  size_t run_len = 0;
  while (len) {
    uint64_t pos = c->fed;
    uint32_t k = (uint32_t)(pos / c->slice);
    uint64_t at = pos - (uint64_t)k * c->slice;
    size_t take = (size_t)(c->slice - at < len ? c->slice - at : len);
    if (hashing) {
      if (pos < HEAD_BYTES) md5_update(&c->head_md5, data, (size_t)(HEAD_BYTES - pos < take ? HEAD_BYTES - pos : take));
      if (at == 0) {
        if (!c->counted) {
          c->counted = 1;
          __atomic_add_fetch(&creators_hashing, 1, __ATOMIC_RELAXED);
        }
        c->by_lanes[k] = c->lane_sums && __atomic_load_n(&creators_hashing, __ATOMIC_RELAXED) > 1;
      }
      if (c->by_lanes[k]) {
        if (!run) run = data;
        run_len += take;
      } else {
        if (run_len) md5_update_shared(&c->file_md5, run, run_len);
        run = NULL;
        run_len = 0;
        md5_update2(&c->file_md5, &c->slice_md5, data, take);
      }
      c->slice_crc = crc32_update(c->slice_crc, data, take);
    }
    uint64_t lo = at > c->col0 ? at : c->col0;
    uint64_t hi = at + take < c->col0 + c->width ? at + take : c->col0 + c->width;
    if (lo < hi) memcpy(c->stage + (uint64_t)c->staged * c->width + (lo - c->col0), data + (lo - at), (size_t)(hi - lo));
    c->fed += take;
    data += take;
    len -= take;
    int slice_done = at + take == c->slice || c->fed == c->size;
    if (!slice_done) continue;
    if (hashing) end_slice_hash(c, k, at + take);
    if (c->fed == c->size && at + take < c->col0 + c->width) {
      /* The last slice is zero-padded: clear what an earlier group left in its stage row. */
      uint64_t from = at + take > c->col0 ? at + take - c->col0 : 0;
      memset(c->stage + (uint64_t)c->staged * c->width + from, 0, (size_t)(c->width - from));
    }
    c->staged++;
    if (c->staged == c->group || c->fed == c->size) multiply_stage(c);
  }
  if (run_len) md5_update_shared(&c->file_md5, run, run_len);
}

int par2_feed(par2_creator *c, const uint8_t *data, size_t len) {
  if (c->passes != 1 || c->fed + len > c->size) return EINVAL;
  feed(c, data, len);
  return 0;
}

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Fills a packet's header around a body already at p + HEADER; total is the packet's length. */
static void seal(uint8_t *p, uint64_t total, const uint8_t set_id[16], const uint8_t type[16]) {
  memcpy(p, MAGIC, 8);
  put64(p + 8, total);
  memcpy(p + 32, set_id, 16);
  memcpy(p + 48, type, 16);
  md5_digest(p + 32, (size_t)(total - 32), p + 16);
}

/* Index packets (main, description, slice checksums) followed by the creator packet, in one buffer. */
static uint8_t *index_packets(par2_creator *c) {
  uint8_t *buf = calloc(1, (size_t)c->index_file_size);
  if (!buf) return NULL;
  uint8_t *mainp = buf, *desc = mainp + c->main_len, *ifsc = desc + c->desc_len, *creator = ifsc + c->ifsc_len;
  put64(mainp + HEADER, c->slice);
  put32(mainp + HEADER + 8, 1);
  memcpy(mainp + HEADER + 12, c->file_id, 16);
  md5_digest(mainp + HEADER, (size_t)(c->main_len - HEADER), c->set_id);
  seal(mainp, c->main_len, c->set_id, TYPE_MAIN);

  memcpy(desc + HEADER, c->file_id, 16);
  memcpy(desc + HEADER + 16, c->file_hash, 16);
  memcpy(desc + HEADER + 32, c->head_hash, 16);
  put64(desc + HEADER + 48, c->size);
  memcpy(desc + HEADER + 56, c->name, c->name_len);
  seal(desc, c->desc_len, c->set_id, TYPE_DESC);

  memcpy(ifsc + HEADER, c->file_id, 16);
  memcpy(ifsc + HEADER + 16, c->slice_sums, 20 * (size_t)c->slices);
  seal(ifsc, c->ifsc_len, c->set_id, TYPE_IFSC);

  memcpy(creator + HEADER, CREATOR, sizeof CREATOR - 1);
  seal(creator, c->creator_len, c->set_id, TYPE_CREATOR);
  return buf;
}

static int write_all(int fd, const uint8_t *p, uint64_t len, uint64_t off) {
  while (len) {
    ssize_t n = pwrite(fd, p, (size_t)(len < (1u << 30) ? len : (1u << 30)), (off_t)off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    len -= (uint64_t)n;
    off += (uint64_t)n;
  }
  return 0;
}

/* After the first pass: the file's digests, its id and the set id. */
static void end_hashing(par2_creator *c) {
  stop_counting(c);
  md5_final(&c->file_md5, c->file_hash);
  md5_final(&c->head_md5, c->head_hash);
  md5_ctx id;
  md5_init(&id);
  md5_update(&id, c->head_hash, 16);
  uint8_t len[8];
  put64(len, c->size);
  md5_update(&id, len, 8);
  md5_update(&id, c->name, c->name_len);
  md5_final(&id, c->file_id);
  uint8_t mainbody[12 + 16];
  put64(mainbody, c->slice);
  put32(mainbody + 8, 1);
  memcpy(mainbody + 12, c->file_id, 16);
  md5_digest(mainbody, sizeof mainbody, c->set_id);
  for (uint32_t r = 0; r < c->recovery; r++) {
    uint8_t head[36];
    memcpy(head, c->set_id, 16);
    memcpy(head + 16, TYPE_RECV, 16);
    put32(head + 32, r);
    md5_init(&c->recov_md5[r]);
    md5_update(&c->recov_md5[r], head, sizeof head);
  }
}

/* Writes this pass's band of every recovery slice into the recovery file, then clears it for the next. */
static int flush_band(par2_creator *c) {
  uint64_t len = c->slice - c->col0 < c->width ? c->slice - c->col0 : c->width;
  uint32_t r = 0;
  /* Recovery packets are hashed two at a time: their headers are alike, so their blocks line up. */
  for (; r + 2 <= c->recovery; r += 2) {
    md5_update_pair(&c->recov_md5[r], c->recov + r * c->width, &c->recov_md5[r + 1], c->recov + (r + 1) * c->width, (size_t)len);
  }
  if (r < c->recovery) md5_update(&c->recov_md5[r], c->recov + r * c->width, (size_t)len);
  /* One pass: the recovery file is written front to back in write_rest, its data with it. */
  if (c->passes == 1) return 0;
  for (r = 0; r < c->recovery; r++) {
    int e = write_all(c->recov_fd, c->recov + r * c->width, len, c->recov_off[r] + HEADER + 4 + c->col0);
    if (e) return e;
  }
  c->recov_zeroed = 0; /* the next band starts from zero */
  return 0;
}

static int create_file(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  return fd < 0 ? -errno : fd;
}

static int end_pass(par2_creator *c) {
  wait_helper(c);
  if (c->fed != c->size) return EIO;
  if (c->pass == 0) end_hashing(c);
  int e = flush_band(c);
  if (e) return e;
  c->pass++;
  c->col0 += c->width;
  c->fed = 0;
  c->staged_first = 0;
  c->staged = 0;
  return 0;
}

/*
 * The recovery file front to back in writes of SEQ_BYTES (one pass): on gocryptfs every write is a
 * FUSE round trip, and one that does not cover whole 4 KiB blocks makes it read, decrypt and
 * encrypt the rest of them; the packet-by-packet writes (a 68-byte header, then the slice at an
 * odd offset) cost an encrypted disk more time than the parity's arithmetic.
 */
#define SEQ_BYTES (1u << 20)

struct seq_writer {
  int fd, err;
  uint8_t *buf;
  size_t fill;
  uint64_t off;
};

static void seq_flush(struct seq_writer *w) {
  if (!w->err && w->fill) w->err = write_all(w->fd, w->buf, w->fill, w->off);
  w->off += w->fill;
  w->fill = 0;
}

static void seq_put(struct seq_writer *w, const uint8_t *p, uint64_t len) {
  while (len && !w->err) {
    size_t n = (size_t)(SEQ_BYTES - w->fill < len ? SEQ_BYTES - w->fill : len);
    memcpy(w->buf + w->fill, p, n);
    w->fill += n;
    p += n;
    len -= n;
    if (w->fill == SEQ_BYTES) seq_flush(w);
  }
}

static void recovery_header(par2_creator *c, uint32_t r, uint8_t head[HEADER + 4]) {
  memcpy(head, MAGIC, 8);
  put64(head + 8, c->recv_len);
  md5_final(&c->recov_md5[r], head + 16);
  memcpy(head + 32, c->set_id, 16);
  memcpy(head + 48, TYPE_RECV, 16);
  put32(head + HEADER, r);
}

/* The whole recovery file in layout()'s order, from the recovery slices in memory. */
static int write_recovery_in_order(par2_creator *c, const uint8_t *packets, uint64_t critical) {
  struct seq_writer w = {c->recov_fd, 0, malloc(SEQ_BYTES), 0, 0};
  if (!w.buf) return ENOMEM;
  uint32_t r = 0;
  for (uint32_t j = 0; j < c->copies; j++) {
    uint32_t end = (uint32_t)((uint64_t)(j + 1) * c->recovery / c->copies);
    for (; r < end; r++) {
      uint8_t head[HEADER + 4];
      recovery_header(c, r, head);
      seq_put(&w, head, sizeof head);
      seq_put(&w, c->recov + r * c->width, c->slice);
    }
    seq_put(&w, packets, critical);
  }
  seq_put(&w, packets + critical, c->creator_len);
  seq_flush(&w);
  free(w.buf);
  return w.err ? w.err : w.off == c->recov_file_size ? 0 : EIO;
}

static void start_writeback(int fd) {
#ifdef SYNC_FILE_RANGE_WRITE
  sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
  (void)fd;
#endif
}

/* Headers of the recovery packets and the copies of the index packets; then the index file. */
static int write_rest(par2_creator *c, const char *index_path, uint64_t *bytes) {
  uint8_t *packets = index_packets(c);
  if (!packets) return ENOMEM;
  int e = 0;
  uint64_t critical = c->main_len + c->desc_len + c->ifsc_len;
  if (c->passes == 1) {
    e = write_recovery_in_order(c, packets, critical);
  } else {
    for (uint32_t r = 0; r < c->recovery && !e; r++) {
      uint8_t head[HEADER + 4];
      recovery_header(c, r, head);
      e = write_all(c->recov_fd, head, sizeof head, c->recov_off[r]);
    }
    for (uint32_t j = 0; j < c->copies && !e; j++) e = write_all(c->recov_fd, packets, critical, c->copy_off[j]);
    if (!e) e = write_all(c->recov_fd, packets + critical, c->creator_len, c->recov_file_size - c->creator_len);
  }
  /* Write-back started now (no wait), as for the copies (copyfeed.c): the syncfs before the
   * catalog commit then finds it under way instead of starting it with the cores idle. */
  if (!e) start_writeback(c->recov_fd);
  /* Closed whatever happened: after a failed write (ENOSPC) its blocks stay allocated until then. */
  if (close(c->recov_fd) != 0 && !e) e = errno;
  c->recov_fd = -1;
  if (!e) {
    int fd = create_file(index_path);
    if (fd < 0) e = -fd;
    else {
      e = write_all(fd, packets, c->index_file_size, 0);
      if (!e) start_writeback(fd);
      if (close(fd) != 0 && !e) e = errno;
    }
  }
  free(packets);
  if (!e) *bytes = c->index_file_size + c->recov_file_size;
  return e;
}

int par2_finish(par2_creator *c, const char *index_path, const char *recovery_path, uint64_t *bytes) {
  if (c->passes != 1 || c->pass != 0) return EINVAL;
  int fd = create_file(recovery_path);
  if (fd < 0) return -fd;
  c->recov_fd = fd;
  int e = end_pass(c);
  return e ? e : write_rest(c, index_path, bytes);
}

int par2_from_file(par2_creator *c, const char *data_path, const char *index_path, const char *recovery_path, uint64_t *bytes) {
  if (c->pass != 0 || c->fed != 0) return EINVAL;
  int in = open(data_path, O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno;
  uint8_t *buf = NULL;
  int e = 0;
  int fd = create_file(recovery_path);
  if (fd < 0) {
    e = -fd;
    goto out;
  }
  c->recov_fd = fd;
  buf = alloc_aligned(READ_BYTES);
  if (!buf) {
    e = ENOMEM;
    goto out;
  }
  posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);
  while (c->pass < c->passes) {
    uint64_t pos = 0;
    for (;;) {
      ssize_t n = pread(in, buf, READ_BYTES, (off_t)pos);
      if (n < 0) {
        if (errno == EINTR) continue;
        e = errno;
        goto out;
      }
      if (n == 0) break;
      if (__atomic_load_n(&c->cancel, __ATOMIC_RELAXED)) {
        e = ECANCELED;
        goto out;
      }
      if (pos + (uint64_t)n > c->size) {
        e = EIO;
        goto out;
      }
      feed(c, buf, (size_t)n);
      pos += (uint64_t)n;
    }
    e = end_pass(c);
    if (e) goto out;
  }
  e = write_rest(c, index_path, bytes);
out:
  free(buf);
  close(in);
  return e;
}
