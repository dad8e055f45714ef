/*
 * Multi-buffer MD5 (see md5lanes.h), written from RFC 1321: each lane holds one message's a, b,
 * c, d, and the 64 steps run once for all lanes. The message words are gathered lane by lane
 * into a transposed block (word k of every lane side by side) before the block's steps.
 * AVX-512 has a rotate and a three-input logic instruction (one per round function); AVX2 builds
 * both from shifts and two-input logic.
 */
#include "md5lanes.h"

#include <pthread.h>
#include <string.h>

#include "cpu.h"
#include "md5.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LANES_X86 1
#endif

/* The RFC's constants floor(|sin(i + 1)| * 2^32), step by step. */
static const uint32_t T[64] = {
    0xd76aa478u, 0xe8c7b756u, 0x242070dbu, 0xc1bdceeeu, 0xf57c0fafu, 0x4787c62au, 0xa8304613u, 0xfd469501u,
    0x698098d8u, 0x8b44f7afu, 0xffff5bb1u, 0x895cd7beu, 0x6b901122u, 0xfd987193u, 0xa679438eu, 0x49b40821u,
    0xf61e2562u, 0xc040b340u, 0x265e5a51u, 0xe9b6c7aau, 0xd62f105du, 0x02441453u, 0xd8a1e681u, 0xe7d3fbc8u,
    0x21e1cde6u, 0xc33707d6u, 0xf4d50d87u, 0x455a14edu, 0xa9e3e905u, 0xfcefa3f8u, 0x676f02d9u, 0x8d2a4c8au,
    0xfffa3942u, 0x8771f681u, 0x6d9d6122u, 0xfde5380cu, 0xa4beea44u, 0x4bdecfa9u, 0xf6bb4b60u, 0xbebfbc70u,
    0x289b7ec6u, 0xeaa127fau, 0xd4ef3085u, 0x04881d05u, 0xd9d4d039u, 0xe6db99e5u, 0x1fa27cf8u, 0xc4ac5665u,
    0xf4292244u, 0x432aff97u, 0xab9423a7u, 0xfc93a039u, 0x655b59c3u, 0x8f0ccc92u, 0xffeff47du, 0x85845dd1u,
    0x6fa87e4fu, 0xfe2ce6e0u, 0xa3014314u, 0x4e0811a1u, 0xf7537e82u, 0xbd3af235u, 0x2ad7d2bbu, 0xeb86d391u,
};

/* Which message word step i reads: i, 1 + 5i, 5 + 3i, 7i (mod 16) in rounds 1 to 4. */
#define WORD(i) ((i) < 16 ? (i) : (i) < 32 ? (1 + 5 * (i)) & 15 : (i) < 48 ? (5 + 3 * (i)) & 15 : (7 * (i)) & 15)

static inline uint32_t load32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* w[k * W + j] = word k of block `blk` of lane j. */
static inline void transpose(uint32_t *w, unsigned width, const uint8_t *const p[], size_t blk) {
  for (unsigned j = 0; j < width; j++) {
    const uint8_t *b = p[j] + 64 * blk;
    for (unsigned k = 0; k < 16; k++) w[k * width + j] = load32le(b + 4 * k);
  }
}

#ifdef LANES_X86

/* One step for every lane: a = b + rotl(a + f(b, c, d) + x + t, s). */
#define STEP512(imm, a, b, c, d, i, s)                                                                    \
  do {                                                                                                   \
    __m512i f_ = _mm512_ternarylogic_epi32(b, c, d, imm);                                                 \
    a = _mm512_add_epi32(a, _mm512_add_epi32(f_, _mm512_add_epi32(_mm512_load_si512(w + 16 * WORD(i)), _mm512_set1_epi32((int)T[i])))); \
    a = _mm512_add_epi32(b, _mm512_rol_epi32(a, s));                                                      \
  } while (0)

/* ternarylogic truth tables (first operand b, then c, d): F = b ? c : d, G = d ? b : c, H = b ^ c ^ d, I = c ^ (b | ~d). */
#define R512(imm, i, s1, s2, s3, s4)      \
  STEP512(imm, a, b, c, d, i, s1);        \
  STEP512(imm, d, a, b, c, i + 1, s2);    \
  STEP512(imm, c, d, a, b, i + 2, s3);    \
  STEP512(imm, b, c, d, a, i + 3, s4)

__attribute__((target("avx512f"))) static void blocks_avx512(uint32_t st[4][16], const uint8_t *const p[16], size_t blocks) {
  __m512i a = _mm512_loadu_si512(st[0]), b = _mm512_loadu_si512(st[1]), c = _mm512_loadu_si512(st[2]), d = _mm512_loadu_si512(st[3]);
  uint32_t w[16 * 16] __attribute__((aligned(64)));
  for (size_t n = 0; n < blocks; n++) {
    transpose(w, 16, p, n);
    __m512i a0 = a, b0 = b, c0 = c, d0 = d;
    R512(0xca, 0, 7, 12, 17, 22);
    R512(0xca, 4, 7, 12, 17, 22);
    R512(0xca, 8, 7, 12, 17, 22);
    R512(0xca, 12, 7, 12, 17, 22);
    R512(0xe4, 16, 5, 9, 14, 20);
    R512(0xe4, 20, 5, 9, 14, 20);
    R512(0xe4, 24, 5, 9, 14, 20);
    R512(0xe4, 28, 5, 9, 14, 20);
    R512(0x96, 32, 4, 11, 16, 23);
    R512(0x96, 36, 4, 11, 16, 23);
    R512(0x96, 40, 4, 11, 16, 23);
    R512(0x96, 44, 4, 11, 16, 23);
    R512(0x39, 48, 6, 10, 15, 21);
    R512(0x39, 52, 6, 10, 15, 21);
    R512(0x39, 56, 6, 10, 15, 21);
    R512(0x39, 60, 6, 10, 15, 21);
    a = _mm512_add_epi32(a, a0);
    b = _mm512_add_epi32(b, b0);
    c = _mm512_add_epi32(c, c0);
    d = _mm512_add_epi32(d, d0);
  }
  _mm512_storeu_si512(st[0], a);
  _mm512_storeu_si512(st[1], b);
  _mm512_storeu_si512(st[2], c);
  _mm512_storeu_si512(st[3], d);
}

#define ROTL256(x, s) _mm256_or_si256(_mm256_slli_epi32(x, s), _mm256_srli_epi32(x, 32 - (s)))
#define F256(b, c, d) _mm256_xor_si256(d, _mm256_and_si256(b, _mm256_xor_si256(c, d)))
#define G256(b, c, d) _mm256_xor_si256(c, _mm256_and_si256(d, _mm256_xor_si256(b, c)))
#define H256(b, c, d) _mm256_xor_si256(_mm256_xor_si256(b, c), d)
#define I256(b, c, d) _mm256_xor_si256(c, _mm256_or_si256(b, _mm256_xor_si256(d, ones)))

#define STEP256(f, a, b, c, d, i, s)                                                                      \
  do {                                                                                                   \
    a = _mm256_add_epi32(a, _mm256_add_epi32(f(b, c, d), _mm256_add_epi32(_mm256_load_si256((const __m256i *)(w + 8 * WORD(i))), _mm256_set1_epi32((int)T[i])))); \
    a = _mm256_add_epi32(b, ROTL256(a, s));                                                               \
  } while (0)

#define R256(f, i, s1, s2, s3, s4)      \
  STEP256(f, a, b, c, d, i, s1);        \
  STEP256(f, d, a, b, c, i + 1, s2);    \
  STEP256(f, c, d, a, b, i + 2, s3);    \
  STEP256(f, b, c, d, a, i + 3, s4)

__attribute__((target("avx2"))) static void blocks_avx2(uint32_t st[4][16], const uint8_t *const p[8], size_t blocks) {
  __m256i a = _mm256_loadu_si256((const __m256i *)st[0]), b = _mm256_loadu_si256((const __m256i *)st[1]);
  __m256i c = _mm256_loadu_si256((const __m256i *)st[2]), d = _mm256_loadu_si256((const __m256i *)st[3]);
  const __m256i ones = _mm256_set1_epi32(-1);
  uint32_t w[16 * 8] __attribute__((aligned(32)));
  for (size_t n = 0; n < blocks; n++) {
    transpose(w, 8, p, n);
    __m256i a0 = a, b0 = b, c0 = c, d0 = d;
    R256(F256, 0, 7, 12, 17, 22);
    R256(F256, 4, 7, 12, 17, 22);
    R256(F256, 8, 7, 12, 17, 22);
    R256(F256, 12, 7, 12, 17, 22);
    R256(G256, 16, 5, 9, 14, 20);
    R256(G256, 20, 5, 9, 14, 20);
    R256(G256, 24, 5, 9, 14, 20);
    R256(G256, 28, 5, 9, 14, 20);
    R256(H256, 32, 4, 11, 16, 23);
    R256(H256, 36, 4, 11, 16, 23);
    R256(H256, 40, 4, 11, 16, 23);
    R256(H256, 44, 4, 11, 16, 23);
    R256(I256, 48, 6, 10, 15, 21);
    R256(I256, 52, 6, 10, 15, 21);
    R256(I256, 56, 6, 10, 15, 21);
    R256(I256, 60, 6, 10, 15, 21);
    a = _mm256_add_epi32(a, a0);
    b = _mm256_add_epi32(b, b0);
    c = _mm256_add_epi32(c, c0);
    d = _mm256_add_epi32(d, d0);
  }
  _mm256_storeu_si256((__m256i *)st[0], a);
  _mm256_storeu_si256((__m256i *)st[1], b);
  _mm256_storeu_si256((__m256i *)st[2], c);
  _mm256_storeu_si256((__m256i *)st[3], d);
}
#endif

typedef void (*lanes_fn)(uint32_t st[4][16], const uint8_t *const p[], size_t blocks);

/* The scalar "kernel": one lane, md5_blocks (kept so tests and callers can ask for it by name). */
static void blocks_scalar(uint32_t st[4][16], const uint8_t *const p[], size_t blocks) {
  uint32_t s[4] = {st[0][0], st[1][0], st[2][0], st[3][0]};
  md5_blocks(s, p[0], blocks);
  for (int i = 0; i < 4; i++) st[i][0] = s[i];
}

struct lanes_kernel {
  const char *name;
  unsigned width;
  lanes_fn run;
};

static struct lanes_kernel all_kernels[3];
static const char *kernel_names[3];
static unsigned kernel_count;
static pthread_once_t kernels_once = PTHREAD_ONCE_INIT;

/* The kernels this CPU runs, found once (every thread reads the same table). */
static void find_kernels(void) {
  unsigned n = 0;
  all_kernels[n++] = (struct lanes_kernel){"scalar", 1, blocks_scalar};
#ifdef LANES_X86
  const cpu_features *f = cpu();
  if (f->avx2) all_kernels[n++] = (struct lanes_kernel){"avx2", 8, (lanes_fn)blocks_avx2};
  if (f->avx512f) all_kernels[n++] = (struct lanes_kernel){"avx512", 16, (lanes_fn)blocks_avx512};
#endif
  for (unsigned i = 0; i < n; i++) kernel_names[i] = all_kernels[i].name;
  kernel_count = n;
}

/* The kernel named `name` (NULL: the widest), or NULL. */
static const struct lanes_kernel *pick(const char *name) {
  pthread_once(&kernels_once, find_kernels);
  if (!name) return &all_kernels[kernel_count - 1];
  for (unsigned i = 0; i < kernel_count; i++)
    if (strcmp(all_kernels[i].name, name) == 0) return &all_kernels[i];
  return NULL;
}

const char *const *md5_lanes_kernels(unsigned *count) {
  pthread_once(&kernels_once, find_kernels);
  *count = kernel_count;
  return kernel_names;
}

int md5_lanes(const uint8_t *const data[], const size_t len[], unsigned n, uint8_t (*out)[16], const char *kernel) {
  const struct lanes_kernel *k = pick(kernel);
  if (!k) return -1;
  /* Unasked, a few messages take a narrower kernel: idle lanes cost as much as busy ones. */
  if (!kernel && n < k->width) {
    const struct lanes_kernel *narrow = n <= 2 ? pick("scalar") : n <= 8 ? pick("avx2") : NULL;
    if (narrow) k = narrow;
  }
  for (unsigned first = 0; first < n; first += k->width) {
    unsigned group = n - first < k->width ? n - first : k->width;
    /* Whole blocks every lane of the group has; idle lanes repeat lane 0 and are ignored. */
    size_t common = (size_t)-1;
    for (unsigned j = 0; j < group; j++) {
      size_t b = len[first + j] / 64;
      if (b < common) common = b;
    }
    const uint8_t *p[16];
    uint32_t st[4][16];
    static const uint32_t init[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
    for (unsigned j = 0; j < k->width; j++) {
      p[j] = data[first + (j < group ? j : 0)];
      for (int i = 0; i < 4; i++) st[i][j] = init[i];
    }
    if (common) k->run(st, p, common);
    for (unsigned j = 0; j < group; j++) {
      md5_ctx m;
      md5_init(&m);
      for (int i = 0; i < 4; i++) m.st[i] = st[i][j];
      m.bytes = 64 * (uint64_t)common;
      md5_update(&m, p[j] + 64 * common, len[first + j] - 64 * common);
      md5_final(&m, out[first + j]);
    }
  }
  return 0;
}

/*
 * Chains of several threads, two at a time (md5_update_shared). A thread with blocks to hash
 * either takes the one waiting run and hashes both side by side, or, when another thread is
 * hashing alone (and so looks for partners), leaves its run waiting and sleeps until it is
 * handed back (done, or with the rest the partner had no blocks of its own for), or hashes alone.
 */
struct chain_run {
  uint32_t *st;
  const uint8_t *p;
  size_t blocks;
  int handed_back;
};

static pthread_mutex_t chain_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t chain_back = PTHREAD_COND_INITIALIZER;
static struct chain_run *chain_waiting;
static unsigned chain_alone; /* threads hashing a run without a partner (they poll chain_waiting) */

#define POLL_BLOCKS 256
#define SHARED_FROM 16384

/* Gives the waiting run back to its thread; under chain_lock. */
static void hand_back(struct chain_run *r) {
  r->handed_back = 1;
  pthread_cond_broadcast(&chain_back);
}

static void chain_blocks(uint32_t st[4], const uint8_t *p, size_t blocks) {
  pthread_mutex_lock(&chain_lock);
  while (blocks) {
    struct chain_run *other = chain_waiting;
    if (other) {
      __atomic_store_n(&chain_waiting, NULL, __ATOMIC_RELAXED);
      pthread_mutex_unlock(&chain_lock);
      size_t both = blocks < other->blocks ? blocks : other->blocks;
      md5_blocks2(st, p, other->st, other->p, both);
      p += 64 * both;
      blocks -= both;
      pthread_mutex_lock(&chain_lock);
      other->p += 64 * both;
      other->blocks -= both;
      hand_back(other);
      continue;
    }
    if (chain_alone > 0) {
      struct chain_run mine = {st, p, blocks, 0};
      __atomic_store_n(&chain_waiting, &mine, __ATOMIC_RELAXED);
      while (!mine.handed_back) pthread_cond_wait(&chain_back, &chain_lock);
      p = mine.p;
      blocks = mine.blocks;
      continue;
    }
    chain_alone++;
    pthread_mutex_unlock(&chain_lock);
    do {
      size_t n = blocks < POLL_BLOCKS ? blocks : POLL_BLOCKS;
      md5_blocks(st, p, n);
      p += 64 * n;
      blocks -= n;
    } while (blocks && !__atomic_load_n(&chain_waiting, __ATOMIC_RELAXED));
    pthread_mutex_lock(&chain_lock);
    chain_alone--;
    /* Done, with a run still waiting for a partner that no longer hashes: it goes on by itself. */
    if (!blocks && chain_waiting && chain_alone == 0) {
      hand_back(chain_waiting);
      __atomic_store_n(&chain_waiting, NULL, __ATOMIC_RELAXED);
    }
  }
  pthread_mutex_unlock(&chain_lock);
}

void md5_update_shared(md5_ctx *m, const void *data, size_t len) {
  const uint8_t *p = data;
  if (len < SHARED_FROM) {
    md5_update(m, p, len);
    return;
  }
  size_t head = (size_t)((64 - (m->bytes & 63)) & 63);
  md5_update(m, p, head);
  p += head;
  len -= head;
  size_t blocks = len / 64;
  chain_blocks(m->st, p, blocks);
  m->bytes += 64 * (uint64_t)blocks;
  md5_update(m, p + 64 * blocks, len - 64 * blocks);
}
