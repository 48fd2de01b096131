/*
 * A probe, not a runtime: the whole RWKV-7 decode step (one stream) as one C function with
 * OpenMP threads, to measure what a CPU step costs when nothing stands between its kernels
 * (no per-node dispatch, no state copied in and out of a session, the small work fused).
 * bench/src/cpu-fused-step.ts writes the weights, compiles this file with the model's sizes
 * as -D flags, and compares its logits and speed with the onnxruntime model's; the figures
 * and what they mean are in bench/README.md ("A fused native step").
 *
 *   rwkv7-step WEIGHT_DIR REFERENCE_LOGITS fp32|int4 TOKENS WARMUP
 *
 * WEIGHT_DIR holds one raw little-endian float32 file per tensor, named by its official name
 * (blocks.3.att.key.weight), every matrix [out, in] (the LoRAs' official [in, out] already
 * transposed by the driver). REFERENCE_LOGITS: the onnxruntime model's logits after each of
 * the first CHECK_TOKENS tokens. Prints one JSON line.
 *
 * int4: every matrix in blocks of 32 along its input with a float scale and a zero point
 * (min/max, the same rule as packages/core quantize-nbits.ts); the input vector quantized to
 * int8 per block of 32 (as onnxruntime's MatMulNBits at accuracy level 4 does), products by
 * AVX-512 VNNI (vpdpbusd on 256-bit lanes). Needs AVX-512 VNNI; fp32 needs AVX-512F.
 */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if !defined(EMBD) || !defined(HEADS) || !defined(FFN) || !defined(VOCAB) || !defined(LAYERS) || \
    !defined(LORA_W) || !defined(LORA_A) || !defined(LORA_V) || !defined(LORA_G)
#error "compile with the model's sizes: -DEMBD= -DHEADS= -DFFN= -DVOCAB= -DLAYERS= -DLORA_W= -DLORA_A= -DLORA_V= -DLORA_G="
#endif
#define HEAD_SIZE (EMBD / HEADS)
#define CHECK_TOKENS 8
#define BLOCK 32
#define MAX_IN (FFN > EMBD ? FFN : EMBD)

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static const char* weight_dir;

static float* read_floats(const char* path, size_t n) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "rwkv7-step: cannot open %s\n", path);
    exit(2);
  }
  float* d = aligned_alloc(64, (n * 4 + 63) / 64 * 64);
  size_t got = fread(d, 4, n, f);
  fclose(f);
  if (got != n) {
    fprintf(stderr, "rwkv7-step: %s holds %zu floats, expected %zu\n", path, got, n);
    exit(2);
  }
  return d;
}

static float* tensor(const char* name, size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", weight_dir, name);
  return read_floats(path, n);
}

static float* layer_tensor(int l, const char* name, size_t n) {
  char full[256];
  snprintf(full, sizeof full, "blocks.%d.%s", l, name);
  return tensor(full, n);
}

/* ---- matrices: fp32 rows, or int4 blocks ---- */

typedef struct {
  uint8_t* codes; /* [rows][blocks][16]: byte j holds input j (low nibble) and j + 16 (high) */
  float* scale;   /* [rows][blocks] */
  float* zero;    /* zero point times scale, [rows][blocks] */
} Q4;

typedef struct {
  const float* w; /* [rows, cols] fp32, or NULL when quantized */
  Q4 q;
  int rows, cols;
} Matrix;

static int use_int4;

static Matrix matrix(float* w, int rows, int cols) {
  Matrix m = {.w = w, .rows = rows, .cols = cols};
  if (!use_int4) return m;
  const int nb = cols / BLOCK;
  m.q.codes = aligned_alloc(64, ((size_t)rows * nb * 16 + 63) / 64 * 64);
  m.q.scale = malloc(sizeof(float) * (size_t)rows * nb);
  m.q.zero = malloc(sizeof(float) * (size_t)rows * nb);
  for (int r = 0; r < rows; r++)
    for (int b = 0; b < nb; b++) {
      const float* x = w + (size_t)r * cols + b * BLOCK;
      float lo = 0, hi = 0;
      for (int i = 0; i < BLOCK; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
      }
      const float scale = hi > lo ? (hi - lo) / 15.f : 1.f;
      int zp = (int)roundf(-lo / scale);
      zp = zp < 0 ? 0 : zp > 15 ? 15 : zp;
      uint8_t* c = m.q.codes + ((size_t)r * nb + b) * 16;
      for (int j = 0; j < 16; j++) {
        int a = (int)roundf(x[j] / scale) + zp, h = (int)roundf(x[j + 16] / scale) + zp;
        a = a < 0 ? 0 : a > 15 ? 15 : a;
        h = h < 0 ? 0 : h > 15 ? 15 : h;
        c[j] = (uint8_t)(a | (h << 4));
      }
      m.q.scale[(size_t)r * nb + b] = scale;
      m.q.zero[(size_t)r * nb + b] = zp * scale;
    }
  free(w);
  m.w = NULL;
  return m;
}

/* An input vector as the products read it: fp32, and (int4) int8 blocks with their scales and sums. */
typedef struct {
  const float* x;
  int8_t q[MAX_IN];
  float scale[MAX_IN / BLOCK];
  int32_t sum[MAX_IN / BLOCK];
} Input;

static void prepare(Input* in, const float* x, int n) {
  in->x = x;
  if (!use_int4) return;
  for (int b = 0; b < n / BLOCK; b++) {
    float m = 0;
    for (int i = 0; i < BLOCK; i++) m = fmaxf(m, fabsf(x[b * BLOCK + i]));
    const float s = m / 127.f, inv = s > 0 ? 1.f / s : 0.f;
    int sum = 0;
    for (int i = 0; i < BLOCK; i++) {
      const int q = (int)roundf(x[b * BLOCK + i] * inv);
      in->q[b * BLOCK + i] = (int8_t)q;
      sum += q;
    }
    in->scale[b] = s;
    in->sum[b] = sum;
  }
}

static float hsum256(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_hadd_ps(h, h);
  h = _mm_hadd_ps(h, h);
  return _mm_cvtss_f32(h);
}

/* y = M x, rows shared among the threads of the enclosing parallel region (no barrier). */
static void product(const Matrix* m, const Input* in, float* y) {
  const int K = m->cols;
  if (m->w) {
#pragma omp for schedule(static) nowait
    for (int r = 0; r < m->rows; r += 4) {
      const float* w0 = m->w + (size_t)r * K;
      const float *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int k = 0; k < K; k += 16) {
        const __m512 xv = _mm512_loadu_ps(in->x + k);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k), xv, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + k), xv, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + k), xv, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + k), xv, a3);
      }
      y[r] = _mm512_reduce_add_ps(a0);
      y[r + 1] = _mm512_reduce_add_ps(a1);
      y[r + 2] = _mm512_reduce_add_ps(a2);
      y[r + 3] = _mm512_reduce_add_ps(a3);
    }
    return;
  }
  const int nb = K / BLOCK;
  const __m256i low = _mm256_set1_epi8(0x0f);
#pragma omp for schedule(static) nowait
  for (int r = 0; r < m->rows; r++) {
    const uint8_t* c = m->q.codes + (size_t)r * nb * 16;
    const float* sc = m->q.scale + (size_t)r * nb;
    const float* zs = m->q.zero + (size_t)r * nb;
    __m256 acc = _mm256_setzero_ps();
    float zero_terms = 0.f;
    int b = 0;
    for (; b + 1 < nb; b += 2) { /* two blocks: 32 bytes of codes */
      const __m256i raw = _mm256_loadu_si256((const __m256i*)(c + b * 16));
      const __m256i lo = _mm256_and_si256(raw, low), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
      const __m256i c0 = _mm256_permute2x128_si256(lo, hi, 0x20), c1 = _mm256_permute2x128_si256(lo, hi, 0x31);
      const __m256i s0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), c0, _mm256_loadu_si256((const __m256i*)(in->q + b * BLOCK)));
      const __m256i s1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), c1, _mm256_loadu_si256((const __m256i*)(in->q + b * BLOCK + BLOCK)));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s0), _mm256_set1_ps(sc[b] * in->scale[b]), acc);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s1), _mm256_set1_ps(sc[b + 1] * in->scale[b + 1]), acc);
      zero_terms += zs[b] * in->scale[b] * in->sum[b] + zs[b + 1] * in->scale[b + 1] * in->sum[b + 1];
    }
    if (b < nb) { /* an odd last block */
      const __m128i raw = _mm_loadu_si128((const __m128i*)(c + b * 16));
      const __m128i lo = _mm_and_si128(raw, _mm_set1_epi8(0x0f)), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f));
      const __m256i s0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set_m128i(hi, lo), _mm256_loadu_si256((const __m256i*)(in->q + b * BLOCK)));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s0), _mm256_set1_ps(sc[b] * in->scale[b]), acc);
      zero_terms += zs[b] * in->scale[b] * in->sum[b];
    }
    y[r] = hsum256(acc) - zero_terms;
  }
}

/* ---- the model ---- */

typedef struct {
  float *ln1w, *ln1b, *ln2w, *ln2b, *mix[6], *w0, *a0, *v0, *k_k, *k_a, *r_k, *lnxw, *lnxb, *ffn_mix;
  Matrix r, k, v, o, w1, w2, a1, a2, v1, v2, g1, g2, fk, fv;
} Layer;

static Layer layers[LAYERS];
static float *emb, *ln0w, *ln0b, *lnow, *lnob;
static Matrix head;

static float att_x[LAYERS][EMBD], ffn_x[LAYERS][EMBD], wkv[LAYERS][HEADS][HEAD_SIZE][HEAD_SIZE];
static float x[EMBD], xa[EMBD], mixed[6][EMBD], r[EMBD], w[EMBD], k[EMBD], v[EMBD], a[EMBD], g[EMBD];
static float v_first[EMBD], y[EMBD], out[EMBD], gate_v[EMBD], xf[EMBD], hidden[FFN], logits[VOCAB];
static float lw[LORA_W], la[LORA_A], lv[LORA_V], lg[LORA_G];
static Input in_mixed[6], in_lw, in_la, in_lv, in_lg, in_y, in_xf, in_hidden, in_head;

static void layer_norm(const float* in, float* o, const float* wt, const float* b, int n, float eps) {
  double mean = 0, var = 0;
  for (int i = 0; i < n; i++) mean += in[i];
  mean /= n;
  for (int i = 0; i < n; i++) var += (in[i] - mean) * (in[i] - mean);
  const float inv = 1.f / sqrtf((float)(var / n) + eps);
  for (int i = 0; i < n; i++) o[i] = (float)(in[i] - mean) * inv * wt[i] + b[i];
}

static float sigmoid(float z) { return 1.f / (1.f + expf(-z)); }

/* One head's WKV-7 step, ln_x, bonus and gate (official order: the removal reads the old state). */
static void head_step(int l, int h) {
  const Layer* P = &layers[l];
  const int o = h * HEAD_SIZE;
  float kk[HEAD_SIZE], dec[HEAD_SIZE], lr[HEAD_SIZE], kh[HEAD_SIZE], vh[HEAD_SIZE], yh[HEAD_SIZE];
  double ss = 0;
  for (int j = 0; j < HEAD_SIZE; j++) {
    kk[j] = k[o + j] * P->k_k[o + j];
    ss += kk[j] * kk[j];
  }
  const float norm = fmaxf(sqrtf((float)ss), 1e-12f);
  for (int j = 0; j < HEAD_SIZE; j++) {
    const int c = o + j;
    kk[j] /= norm;
    dec[j] = expf(-0.60653066f * sigmoid(P->w0[c] + w[c])); /* exp(-exp(-0.5) sigmoid(.)) */
    lr[j] = sigmoid(P->a0[c] + a[c]);
    kh[j] = k[c] * (1.f + (lr[j] - 1.f) * P->k_a[c]);
    float vv = v[c];
    if (l == 0) v_first[c] = vv;
    else vv += (v_first[c] - vv) * sigmoid(P->v0[c] + gate_v[c]);
    vh[j] = vv;
  }
  for (int i = 0; i < HEAD_SIZE; i++) {
    float* s = wkv[l][h][i];
    float sa = 0, acc = 0;
    for (int j = 0; j < HEAD_SIZE; j++) sa -= s[j] * kk[j];
    for (int j = 0; j < HEAD_SIZE; j++) {
      s[j] = s[j] * dec[j] + sa * kk[j] * lr[j] + vh[i] * kh[j];
      acc += s[j] * r[o + j];
    }
    yh[i] = acc;
  }
  double mean = 0, var = 0;
  for (int i = 0; i < HEAD_SIZE; i++) mean += yh[i];
  mean /= HEAD_SIZE;
  for (int i = 0; i < HEAD_SIZE; i++) var += (yh[i] - mean) * (yh[i] - mean);
  const float inv = 1.f / sqrtf((float)(var / HEAD_SIZE) + 64e-5f);
  float bonus = 0;
  for (int j = 0; j < HEAD_SIZE; j++) bonus += r[o + j] * kh[j] * P->r_k[o + j];
  for (int i = 0; i < HEAD_SIZE; i++) {
    const int c = o + i;
    y[c] = ((float)(yh[i] - mean) * inv * P->lnxw[c] + P->lnxb[c] + bonus * vh[i]) * g[c];
  }
}

/* One token through the model: one parallel region, a barrier where data must be whole. */
static void step(int token) {
#pragma omp parallel
  {
#pragma omp single
    layer_norm(emb + (size_t)token * EMBD, x, ln0w, ln0b, EMBD, 1e-5f);
    for (int l = 0; l < LAYERS; l++) {
      Layer* P = &layers[l];
#pragma omp single
      {
        layer_norm(x, xa, P->ln1w, P->ln1b, EMBD, 1e-5f);
        for (int i = 0; i < EMBD; i++) {
          const float dx = att_x[l][i] - xa[i];
          for (int m = 0; m < 6; m++) mixed[m][i] = xa[i] + dx * P->mix[m][i];
          att_x[l][i] = xa[i];
        }
      }
#pragma omp for schedule(static)
      for (int m = 0; m < 6; m++) prepare(&in_mixed[m], mixed[m], EMBD);
      /* mixes: 0 r, 1 w, 2 k, 3 v, 4 a, 5 g */
      product(&P->r, &in_mixed[0], r);
      product(&P->k, &in_mixed[2], k);
      product(&P->v, &in_mixed[3], v);
      product(&P->w1, &in_mixed[1], lw);
      product(&P->a1, &in_mixed[4], la);
      product(&P->g1, &in_mixed[5], lg);
      if (l > 0) product(&P->v1, &in_mixed[3], lv);
#pragma omp barrier
#pragma omp single
      {
        for (int i = 0; i < LORA_W; i++) lw[i] = tanhf(lw[i]);
        for (int i = 0; i < LORA_G; i++) lg[i] = sigmoid(lg[i]);
        prepare(&in_lw, lw, LORA_W);
        prepare(&in_la, la, LORA_A);
        prepare(&in_lg, lg, LORA_G);
        if (l > 0) prepare(&in_lv, lv, LORA_V);
      }
      product(&P->w2, &in_lw, w);
      product(&P->a2, &in_la, a);
      product(&P->g2, &in_lg, g);
      if (l > 0) product(&P->v2, &in_lv, gate_v);
#pragma omp barrier
#pragma omp for schedule(static)
      for (int h = 0; h < HEADS; h++) head_step(l, h);
#pragma omp single
      prepare(&in_y, y, EMBD);
      product(&P->o, &in_y, out);
#pragma omp barrier
#pragma omp single
      {
        for (int i = 0; i < EMBD; i++) x[i] += out[i];
        layer_norm(x, xf, P->ln2w, P->ln2b, EMBD, 1e-5f);
        for (int i = 0; i < EMBD; i++) {
          const float dx = ffn_x[l][i] - xf[i];
          ffn_x[l][i] = xf[i];
          xf[i] += dx * P->ffn_mix[i];
        }
        prepare(&in_xf, xf, EMBD);
      }
      product(&P->fk, &in_xf, hidden);
#pragma omp barrier
#pragma omp for schedule(static)
      for (int i = 0; i < FFN; i++) {
        const float q = hidden[i] > 0 ? hidden[i] : 0;
        hidden[i] = q * q;
      }
#pragma omp single
      prepare(&in_hidden, hidden, FFN);
      product(&P->fv, &in_hidden, out);
#pragma omp barrier
#pragma omp single
      for (int i = 0; i < EMBD; i++) x[i] += out[i];
    }
#pragma omp single
    {
      layer_norm(x, xa, lnow, lnob, EMBD, 1e-5f);
      prepare(&in_head, xa, EMBD);
    }
    product(&head, &in_head, logits);
  }
}

static void load_model(void) {
  const size_t C = EMBD;
  emb = tensor("emb.weight", (size_t)VOCAB * C);
  ln0w = tensor("blocks.0.ln0.weight", C);
  ln0b = tensor("blocks.0.ln0.bias", C);
  lnow = tensor("ln_out.weight", C);
  lnob = tensor("ln_out.bias", C);
  head = matrix(tensor("head.weight", (size_t)VOCAB * C), VOCAB, EMBD);
  static const char* mixes[6] = {"att.x_r", "att.x_w", "att.x_k", "att.x_v", "att.x_a", "att.x_g"};
  for (int l = 0; l < LAYERS; l++) {
    Layer* P = &layers[l];
    P->ln1w = layer_tensor(l, "ln1.weight", C);
    P->ln1b = layer_tensor(l, "ln1.bias", C);
    P->ln2w = layer_tensor(l, "ln2.weight", C);
    P->ln2b = layer_tensor(l, "ln2.bias", C);
    for (int m = 0; m < 6; m++) P->mix[m] = layer_tensor(l, mixes[m], C);
    P->w0 = layer_tensor(l, "att.w0", C);
    P->a0 = layer_tensor(l, "att.a0", C);
    P->k_k = layer_tensor(l, "att.k_k", C);
    P->k_a = layer_tensor(l, "att.k_a", C);
    P->r_k = layer_tensor(l, "att.r_k", C);
    P->lnxw = layer_tensor(l, "att.ln_x.weight", C);
    P->lnxb = layer_tensor(l, "att.ln_x.bias", C);
    P->ffn_mix = layer_tensor(l, "ffn.x_k", C);
    P->r = matrix(layer_tensor(l, "att.receptance.weight", C * C), EMBD, EMBD);
    P->k = matrix(layer_tensor(l, "att.key.weight", C * C), EMBD, EMBD);
    P->v = matrix(layer_tensor(l, "att.value.weight", C * C), EMBD, EMBD);
    P->o = matrix(layer_tensor(l, "att.output.weight", C * C), EMBD, EMBD);
    P->w1 = matrix(layer_tensor(l, "att.w1", LORA_W * C), LORA_W, EMBD);
    P->w2 = matrix(layer_tensor(l, "att.w2", C * LORA_W), EMBD, LORA_W);
    P->a1 = matrix(layer_tensor(l, "att.a1", LORA_A * C), LORA_A, EMBD);
    P->a2 = matrix(layer_tensor(l, "att.a2", C * LORA_A), EMBD, LORA_A);
    P->g1 = matrix(layer_tensor(l, "att.g1", LORA_G * C), LORA_G, EMBD);
    P->g2 = matrix(layer_tensor(l, "att.g2", C * LORA_G), EMBD, LORA_G);
    if (l > 0) {
      P->v0 = layer_tensor(l, "att.v0", C);
      P->v1 = matrix(layer_tensor(l, "att.v1", LORA_V * C), LORA_V, EMBD);
      P->v2 = matrix(layer_tensor(l, "att.v2", C * LORA_V), EMBD, LORA_V);
    }
    P->fk = matrix(layer_tensor(l, "ffn.key.weight", (size_t)FFN * C), FFN, EMBD);
    P->fv = matrix(layer_tensor(l, "ffn.value.weight", C * FFN), EMBD, FFN);
  }
}

static int token_at(int i) { return (int)(((long long)i * 7919) % VOCAB); }

static int by_value(const void* p, const void* q) {
  const double a = *(const double*)p, b = *(const double*)q;
  return (a > b) - (a < b);
}

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: rwkv7-step WEIGHT_DIR REFERENCE_LOGITS fp32|int4 TOKENS WARMUP\n");
    return 2;
  }
  weight_dir = argv[1];
  use_int4 = !strcmp(argv[3], "int4");
  if (!use_int4 && strcmp(argv[3], "fp32")) {
    fprintf(stderr, "rwkv7-step: precision must be fp32 or int4, got %s\n", argv[3]);
    return 2;
  }
  const int tokens = atoi(argv[4]), warmup = atoi(argv[5]);
  if (tokens < 1 || warmup < 0) {
    fprintf(stderr, "rwkv7-step: TOKENS must be >= 1 and WARMUP >= 0\n");
    return 2;
  }
  /* sizes the vectorized loops assume */
  if (EMBD % 64 || FFN % 64 || LORA_W % 32 || LORA_A % 32 || LORA_V % 32 || LORA_G % 32) {
    fprintf(stderr, "rwkv7-step: sizes must be multiples of 64 (EMBD, FFN) and 32 (LoRAs)\n");
    return 2;
  }
  load_model();
  const float* reference = read_floats(argv[2], (size_t)CHECK_TOKENS * VOCAB);
  double worst = 0;
  for (int i = 0; i < CHECK_TOKENS; i++) {
    step(token_at(i));
    for (int j = 0; j < VOCAB; j++) worst = fmax(worst, fabs(logits[j] - reference[(size_t)i * VOCAB + j]));
  }
  for (int i = 0; i < warmup; i++) step(token_at(CHECK_TOKENS + i));
  double* ms = malloc(sizeof(double) * tokens);
  double total = 0;
  for (int i = 0; i < tokens; i++) {
    const double t0 = now_ms();
    step(token_at(CHECK_TOKENS + warmup + i));
    ms[i] = now_ms() - t0;
    total += ms[i];
  }
  qsort(ms, tokens, sizeof(double), by_value);
  printf("{\"precision\":\"%s\",\"threads\":%d,\"maxLogitDiff\":%.4g,\"msMedian\":%.4f,\"msMin\":%.4f,\"tokPerSec\":%.2f}\n",
         argv[3], omp_get_max_threads(), worst, ms[tokens / 2], ms[0], 1000.0 * tokens / total);
  return 0;
}
