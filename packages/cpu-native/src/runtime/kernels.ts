/**
 * The C every compiled graph includes: weight storage (float32 copies, or int4 blocks
 * quantized here), the matrix-vector products and the small helpers the op emitters call.
 * Plain C with OpenMP; the AVX-512 paths compile where the host CPU has them (the library is
 * built with -march=native) and portable loops elsewhere.
 */
export const KERNELS_C = `
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#define RS_EXPORT __attribute__((visibility("default")))

static char rs_message[512];

/* A Linear weight [rows, cols] as the products read it: float32 rows, or int4 blocks of 32
 * along cols (byte j of a block holds input j in its low nibble and j + 16 in its high one),
 * a scale and the zero point times the scale a block (min/max, as quantize-nbits.ts). */
typedef struct {
  float* w;
  uint8_t* codes;
  float* scale;
  float* zero;
  int64_t rows, cols;
} rs_matrix;

static void* rs_alloc(size_t bytes) {
  void* p = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) abort();
  return p;
}

static void rs_quantize(rs_matrix* m, const float* w) {
  const int64_t nb = m->cols / 32;
  m->codes = rs_alloc((size_t)(m->rows * nb * 16));
  m->scale = rs_alloc(sizeof(float) * (size_t)(m->rows * nb));
  m->zero = rs_alloc(sizeof(float) * (size_t)(m->rows * nb));
  for (int64_t r = 0; r < m->rows; r++)
    for (int64_t b = 0; b < nb; b++) {
      const float* x = w + r * m->cols + b * 32;
      float lo = 0, hi = 0;
      for (int i = 0; i < 32; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
      }
      const float scale = hi > lo ? (hi - lo) / 15.f : 1.f;
      int zp = (int)floorf(-lo / scale + 0.5f);
      zp = zp < 0 ? 0 : zp > 15 ? 15 : zp;
      uint8_t* c = m->codes + (r * nb + b) * 16;
      for (int j = 0; j < 16; j++) {
        int a = (int)floorf(x[j] / scale + 0.5f) + zp, h = (int)floorf(x[j + 16] / scale + 0.5f) + zp;
        a = a < 0 ? 0 : a > 15 ? 15 : a;
        h = h < 0 ? 0 : h > 15 ? 15 : h;
        c[j] = (uint8_t)(a | (h << 4));
      }
      m->scale[r * nb + b] = scale;
      m->zero[r * nb + b] = zp * scale;
    }
}

/* Input rows quantized for the int4 products: int8 in blocks of 32 with a scale and the sum
 * of the codes a block (the zero points' share of a product). */
typedef struct {
  int8_t* q;
  float* scale;
  int32_t* sum;
  float* zq; /* scale * sum: what a block's zero point multiplies */
  int64_t capacity;
} rs_qinput;

static void rs_reserve_rows(rs_qinput* in, int64_t m, int64_t k) {
  if (in->capacity >= m * k) return;
  free(in->q);
  free(in->scale);
  free(in->sum);
  free(in->zq);
  in->q = rs_alloc((size_t)(m * k));
  in->scale = rs_alloc(sizeof(float) * (size_t)(m * (k / 32)));
  in->sum = rs_alloc(sizeof(int32_t) * (size_t)(m * (k / 32)));
  in->zq = rs_alloc(sizeof(float) * (size_t)(m * (k / 32)));
  in->capacity = m * k;
}

static void rs_quantize_row(rs_qinput* in, const float* x, int64_t i, int64_t k) {
  for (int64_t b = i * (k / 32); b < (i + 1) * (k / 32); b++) {
    const float* v = x + b * 32;
    float amax = 0;
    /* plain compares and lrintf (inlined: -fno-math-errno) so the loops vectorize */
#pragma omp simd reduction(max : amax)
    for (int j = 0; j < 32; j++) {
      const float a = fabsf(v[j]);
      amax = a > amax ? a : amax;
    }
    const float s = amax / 127.f, inv = s > 0 ? 1.f / s : 0.f;
    int32_t sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < 32; j++) {
      const int q = (int)lrintf(v[j] * inv);
      in->q[b * 32 + j] = (int8_t)q;
      sum += q;
    }
    in->scale[b] = s;
    in->sum[b] = sum;
    in->zq[b] = s * (float)sum;
  }
}

static void rs_quantize_rows(rs_qinput* in, const float* x, int64_t m, int64_t k) {
  rs_reserve_rows(in, m, k);
  for (int64_t i = 0; i < m; i++) rs_quantize_row(in, x, i, k);
}

static float rs_dot(const float* a, const float* b, int64_t n) {
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; i++) acc += a[i] * b[i];
  return acc;
}

/* y[m, r] = sum_k x[m, k] w[r, k] for rows r of the calling thread's share (float32). */
static void rs_linear_f32(const rs_matrix* w, const float* x, float* y, int64_t m) {
  const int64_t K = w->cols, R = w->rows;
#if defined(__AVX512F__)
  if (m == 1 && K % 64 == 0) {
    /* one input row: each weight row read as one run with four sums along it */
#pragma omp for schedule(static) nowait
    for (int64_t r = 0; r < R; r++) {
      const float* wr = w->w + r * K;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t k = 0; k < K; k += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + k), _mm512_loadu_ps(x + k), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + k + 16), _mm512_loadu_ps(x + k + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + k + 32), _mm512_loadu_ps(x + k + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + k + 48), _mm512_loadu_ps(x + k + 48), a3);
      }
      y[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    }
    return;
  }
#endif
#pragma omp for schedule(static) nowait
  for (int64_t r0 = 0; r0 < R; r0 += 4) {
    const int64_t n = R - r0 < 4 ? R - r0 : 4;
    int64_t i = 0;
#if defined(__AVX512F__)
    /* four input rows by four weight rows: each load feeds four products, not one */
    if (n == 4 && K % 16 == 0)
      for (; i + 4 <= m; i += 4) {
        const float* w0 = w->w + r0 * K;
        const float* x0 = x + i * K;
        __m512 a[4][4];
        for (int u = 0; u < 4; u++)
          for (int v = 0; v < 4; v++) a[u][v] = _mm512_setzero_ps();
        for (int64_t k = 0; k < K; k += 16) {
          __m512 wv[4], xv[4];
          for (int u = 0; u < 4; u++) wv[u] = _mm512_loadu_ps(w0 + u * K + k);
          for (int v = 0; v < 4; v++) xv[v] = _mm512_loadu_ps(x0 + v * K + k);
          for (int u = 0; u < 4; u++)
            for (int v = 0; v < 4; v++) a[u][v] = _mm512_fmadd_ps(wv[u], xv[v], a[u][v]);
        }
        for (int v = 0; v < 4; v++)
          for (int u = 0; u < 4; u++) y[(i + v) * R + r0 + u] = _mm512_reduce_add_ps(a[u][v]);
      }
#endif
    for (; i < m; i++) {
      const float* xi = x + i * K;
#if defined(__AVX512F__)
      if (n == 4 && K % 16 == 0) {
        const float* w0 = w->w + r0 * K;
        const float *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t k = 0; k < K; k += 16) {
          const __m512 xv = _mm512_loadu_ps(xi + k);
          a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k), xv, a0);
          a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + k), xv, a1);
          a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + k), xv, a2);
          a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + k), xv, a3);
        }
        float* yi = y + i * R + r0;
        yi[0] = _mm512_reduce_add_ps(a0);
        yi[1] = _mm512_reduce_add_ps(a1);
        yi[2] = _mm512_reduce_add_ps(a2);
        yi[3] = _mm512_reduce_add_ps(a3);
        continue;
      }
#endif
      for (int64_t j = 0; j < n; j++) y[i * R + r0 + j] = rs_dot(w->w + (r0 + j) * K, xi, K);
    }
  }
}

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
/* A block's 32 codes (16 bytes: inputs 0..15 in the low nibbles, 16..31 in the high ones)
 * times 32 int8 inputs: 8 partial sums. */
static inline __m256i rs_block_dot(const uint8_t* c, const int8_t* q) {
  const __m128i low = _mm_set1_epi8(0x0f);
  const __m128i raw = _mm_loadu_si128((const __m128i*)c);
  const __m256i codes = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), low), _mm_and_si128(raw, low));
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), codes, _mm256_loadu_si256((const __m256i*)q));
}

/* Eight vectors of partial sums -> one vector of their eight totals. */
static inline __m256i rs_sum8(__m256i s0, __m256i s1, __m256i s2, __m256i s3, __m256i s4, __m256i s5, __m256i s6,
                              __m256i s7) {
  const __m256i u0 = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
  const __m256i u1 = _mm256_hadd_epi32(_mm256_hadd_epi32(s4, s5), _mm256_hadd_epi32(s6, s7));
  return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u0, u1, 0x31));
}

/* acc plus eight blocks' integer sums times both scales, less the zero points' share. */
static inline __m256 rs_scale8(__m256 acc, __m256i sums, const float* sc, const float* qs, const float* zs,
                               const float* zq) {
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(_mm256_loadu_ps(sc), _mm256_loadu_ps(qs)), acc);
  return _mm256_fnmadd_ps(_mm256_loadu_ps(zs), _mm256_loadu_ps(zq), acc);
}

/* The sum of a vector's eight floats. */
static inline float rs_hsum8(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_hadd_ps(h, h);
  h = _mm_hadd_ps(h, h);
  return _mm_cvtss_f32(h);
}
#endif

/* Each thread's unpacked weight rows (rs_linear_q4), grown to the widest matrix it has met. */
static uint8_t* rs_unpacked[256];
static int64_t rs_unpacked_bytes[256];

/* The int4 product of weight row r with quantized input row i: per block the integer dot
 * product times both scales, less the zero point times the input's scaled code sum. */
static float rs_row_q4(const rs_matrix* w, int64_t r, const rs_qinput* in, int64_t i) {
  const int64_t nb = w->cols / 32;
  const uint8_t* c = w->codes + r * nb * 16;
  const float* sc = w->scale + r * nb;
  const float* zs = w->zero + r * nb;
  const int8_t* q = in->q + i * w->cols;
  const float* qs = in->scale + i * nb;
  const float* zq = in->zq + i * nb;
  float acc = 0.f;
  int64_t b = 0;
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  __m256 vacc = _mm256_setzero_ps();
  for (; b + 8 <= nb; b += 8) {
    const uint8_t* cb = c + b * 16;
    const int8_t* qb = q + b * 32;
    const __m256i sums = rs_sum8(rs_block_dot(cb, qb), rs_block_dot(cb + 16, qb + 32), rs_block_dot(cb + 32, qb + 64),
                                 rs_block_dot(cb + 48, qb + 96), rs_block_dot(cb + 64, qb + 128),
                                 rs_block_dot(cb + 80, qb + 160), rs_block_dot(cb + 96, qb + 192),
                                 rs_block_dot(cb + 112, qb + 224));
    vacc = rs_scale8(vacc, sums, sc + b, qs + b, zs + b, zq + b);
  }
  acc = rs_hsum8(vacc);
#endif
  for (; b < nb; b++) {
    int32_t s = 0;
    for (int j = 0; j < 16; j++) s += (c[b * 16 + j] & 15) * q[b * 32 + j] + (c[b * 16 + j] >> 4) * q[b * 32 + j + 16];
    acc += (float)s * sc[b] * qs[b] - zs[b] * zq[b];
  }
  return acc;
}

/* Weight rows r0 .. r0 + n - 1 unpacked to one code a byte (u[j * cols + k]: input k of row r0 + j). */
static void rs_unpack_q4(const rs_matrix* w, int64_t r0, int64_t n, uint8_t* u) {
  const int64_t nb = w->cols / 32;
  for (int64_t j = 0; j < n; j++) {
    const uint8_t* c = w->codes + (r0 + j) * nb * 16;
    uint8_t* o = u + j * w->cols;
    int64_t b = 0;
#if defined(__AVX2__)
    const __m128i low = _mm_set1_epi8(0x0f);
    for (; b < nb; b++) {
      const __m128i raw = _mm_loadu_si128((const __m128i*)(c + b * 16));
      _mm_storeu_si128((__m128i*)(o + b * 32), _mm_and_si128(raw, low));
      _mm_storeu_si128((__m128i*)(o + b * 32 + 16), _mm_and_si128(_mm_srli_epi16(raw, 4), low));
    }
#endif
    for (; b < nb; b++)
      for (int k = 0; k < 16; k++) {
        o[b * 32 + k] = c[b * 16 + k] & 15;
        o[b * 32 + 16 + k] = c[b * 16 + k] >> 4;
      }
  }
}

/* The int4 product of an unpacked weight row (codes u, one a byte) with quantized input row i:
 * what rs_row_q4 computes, without unpacking the codes again for every input row. */
static float rs_row_u8(const uint8_t* u, const float* sc, const float* zs, const rs_qinput* in, int64_t i, int64_t cols) {
  const int64_t nb = cols / 32;
  const int8_t* q = in->q + i * cols;
  const float* qs = in->scale + i * nb;
  const float* zq = in->zq + i * nb;
  float acc = 0.f;
  int64_t b = 0;
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  __m256 vacc = _mm256_setzero_ps();
  const __m256i z = _mm256_setzero_si256();
#define RS_DOT(k) _mm256_dpbusd_epi32(z, _mm256_loadu_si256((const __m256i*)(u + (b + k) * 32)), _mm256_loadu_si256((const __m256i*)(q + (b + k) * 32)))
  for (; b + 8 <= nb; b += 8) {
    const __m256i sums = rs_sum8(RS_DOT(0), RS_DOT(1), RS_DOT(2), RS_DOT(3), RS_DOT(4), RS_DOT(5), RS_DOT(6), RS_DOT(7));
    vacc = rs_scale8(vacc, sums, sc + b, qs + b, zs + b, zq + b);
  }
#undef RS_DOT
  acc = rs_hsum8(vacc);
#endif
  for (; b < nb; b++) {
    int32_t s = 0;
    for (int j = 0; j < 32; j++) s += u[b * 32 + j] * q[b * 32 + j];
    acc += (float)s * sc[b] * qs[b] - zs[b] * zq[b];
  }
  return acc;
}

/* Weight rows a thread unpacks at a time when several input rows share them. */
#define RS_UNPACK_ROWS 8

static void rs_linear_q4(const rs_matrix* w, const rs_qinput* in, float* y, int64_t m) {
  const int64_t R = w->rows, K = w->cols, nb = K / 32;
  if (m == 1) {
#pragma omp for schedule(static) nowait
    for (int64_t r = 0; r < R; r++) y[r] = rs_row_q4(w, r, in, 0);
    return;
  }
  /* Several input rows (streams, or a sequence's steps): each weight row is unpacked once
   * and every input row multiplied by it while it is in the first-level cache. */
  const int t = omp_get_thread_num() & 255;
  if (rs_unpacked_bytes[t] < RS_UNPACK_ROWS * K) {
    free(rs_unpacked[t]);
    rs_unpacked[t] = rs_alloc((size_t)(RS_UNPACK_ROWS * K));
    rs_unpacked_bytes[t] = RS_UNPACK_ROWS * K;
  }
  uint8_t* u = rs_unpacked[t];
#pragma omp for schedule(static) nowait
  for (int64_t r0 = 0; r0 < R; r0 += RS_UNPACK_ROWS) {
    const int64_t n = R - r0 < RS_UNPACK_ROWS ? R - r0 : RS_UNPACK_ROWS;
    rs_unpack_q4(w, r0, n, u);
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++)
        y[i * R + r0 + j] = rs_row_u8(u + j * K, w->scale + (r0 + j) * nb, w->zero + (r0 + j) * nb, in, i, K);
  }
}

/* Inputs of at most this many values are quantized by every thread for itself (no barrier);
 * larger ones once, the rows shared among the threads. */
#define RS_PRIVATE_QUANT 4096
static rs_qinput rs_thread_q[256];
static rs_qinput rs_shared_q;

static void rs_release_input(rs_qinput* in) {
  free(in->q);
  free(in->scale);
  free(in->sum);
  free(in->zq);
  memset(in, 0, sizeof *in);
}

static void rs_release_inputs(void) {
  for (int i = 0; i < 256; i++) {
    rs_release_input(&rs_thread_q[i]);
    free(rs_unpacked[i]);
    rs_unpacked[i] = NULL;
    rs_unpacked_bytes[i] = 0;
  }
  rs_release_input(&rs_shared_q);
}

/* y = x w^T inside the parallel region, without a barrier at the end: the caller's plan
 * puts one where a later node reads y. */
static void rs_linear(const rs_matrix* w, const float* x, float* y, int64_t m) {
  if (w->w) {
    rs_linear_f32(w, x, y, m);
    return;
  }
  const int64_t k = w->cols;
  if (m * k <= RS_PRIVATE_QUANT) {
    rs_qinput* q = &rs_thread_q[omp_get_thread_num() & 255];
    rs_quantize_rows(q, x, m, k);
    rs_linear_q4(w, q, y, m);
    return;
  }
  /* every thread done with the previous shared input before it is overwritten */
#pragma omp barrier
#pragma omp single
  rs_reserve_rows(&rs_shared_q, m, k);
#pragma omp for schedule(static)
  for (int64_t i = 0; i < m; i++) rs_quantize_row(&rs_shared_q, x, i, k);
  rs_linear_q4(w, &rs_shared_q, y, m);
}

static float rs_sigmoid(float x) { return 1.f / (1.f + expf(-x)); }
static float rs_softplus(float x) { return x > 20.f ? x : log1pf(expf(x)); }

static void rs_layer_norm(const float* x, float* y, const float* w, const float* b, int64_t rows, int64_t n, float eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; i++) mean += xr[i];
    mean /= n;
    for (int64_t i = 0; i < n; i++) var += (xr[i] - mean) * (xr[i] - mean);
    const float inv = 1.f / sqrtf((float)(var / n) + eps);
    for (int64_t i = 0; i < n; i++) {
      const float v = (float)(xr[i] - mean) * inv;
      yr[i] = w ? v * w[i] + (b ? b[i] : 0.f) : v;
    }
  }
}
`;
