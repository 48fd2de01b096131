/**
 * Vision-RWKV's bidirectional WKV (the core's `BiWkv4` op), linear in T, the tokens of an
 * image split into S segments so that a 4,096-token image keeps the GPU busy (one thread
 * per (image, channel) walking every token left 768 threads for a 1024-pixel batch of 2).
 *
 * The walks: forward F_t = e^{-w'} F_{t-1} + e^{k_t} (v_t, 1) gives the sum over i <= t,
 * backward R_{t-1} = e^{-w'} R_t + e^{k_t} (v_t, 1) the sum over i >= t, with w' = w / T,
 * each kept scaled as (a, b, p) = e^{-p} x (sum of v terms, sum of 1 terms) so nothing
 * overflows: a step is p' = max(p - w', k_t), a' = e^{p - w' - p'} a + e^{k_t - p'} v_t.
 * y_t = (F_{t-1} + R_{t+1} + e^{u' + k_t} v_t) / (same over the 1 terms + 1e-6), u' = u / T.
 *
 * A segment's walks from empty give its summaries G (forward, at its end) and H (backward,
 * at its start); a state decays over a segment of L tokens by e^{-L w'}, so the state
 * entering segment s is F_in(s) = e^{-L_{s-1} w'} F_in(s-1) + G_{s-1} (and mirrored for R):
 *   1. `rwkv_bi_wkv4_sum`: every segment's G and H, in parallel;
 *   2. `rwkv_bi_wkv4_carry`: per (image, channel), the S-step scan to the entering states;
 *   3. `rwkv_bi_wkv4_out`: every segment walks back storing R at each token in scratch, then
 *      forward writing y, starting from its entering states.
 * With S = 1 the first two are skipped (the carries are empty). k, v, y: [B, T, C]; w, u:
 * [C]. Scratch: 3 x B x T x C floats (per-token backward states) + 6 x B x S x C (carries).
 */
const COMMON = `
#define EMPTY (-1e38f)
// (a, b, p) <- (a, b, p) one step on with token (kt, vt) after a decay of dw.
__device__ __forceinline__ void stepIn(float& a, float& b, float& p, float dw, float kt, float vt) {
  const float d = p - dw, p1 = fmaxf(d, kt);
  const float f1 = expf(d - p1), f2 = expf(kt - p1);
  a = f1 * a + f2 * vt;
  b = f1 * b + f2;
  p = p1;
}
// (a, b, p) <- (a, b, p) decayed by dw, plus (ga, gb, gp).
__device__ __forceinline__ void combine(float& a, float& b, float& p, float dw, float ga, float gb, float gp) {
  const float d = p - dw, p1 = fmaxf(d, gp);
  const float f1 = expf(d - p1), f2 = expf(gp - p1);
  a = f1 * a + f2 * ga;
  b = f1 * b + f2 * gb;
  p = p1;
}
`;

/** The three kernels; launch sizes in `biWkv4Segments`. */
export const BI_WKV4 = {
  sum: 'rwkv_bi_wkv4_sum',
  carry: 'rwkv_bi_wkv4_carry',
  out: 'rwkv_bi_wkv4_out',
  source: `${COMMON}
// Thread (b, s, c): the summaries of segment s. carry planes 0-2: G, 3-5: H.
extern "C" __global__ void rwkv_bi_wkv4_sum(const float* __restrict__ k, const float* __restrict__ v,
                                            const float* __restrict__ w, float* __restrict__ carry,
                                            int B, int T, int C, int S, int L) {
  const long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long n = (long long)B * S * C;
  if (idx >= n) return;
  const int c = idx % C, s = (idx / C) % S, b = idx / ((long long)S * C);
  const int t0 = s * L, t1 = min(T, t0 + L);
  const float wT = w[c] / T;
  float a = 0.f, bs = 0.f, p = EMPTY;
  for (int t = t0; t < t1; t++) {
    const long long o = ((long long)b * T + t) * C + c;
    stepIn(a, bs, p, wT, k[o], v[o]);
  }
  carry[idx] = a; carry[n + idx] = bs; carry[2 * n + idx] = p;
  a = 0.f; bs = 0.f; p = EMPTY;
  for (int t = t1 - 1; t >= t0; t--) {
    const long long o = ((long long)b * T + t) * C + c;
    stepIn(a, bs, p, wT, k[o], v[o]);
  }
  carry[3 * n + idx] = a; carry[4 * n + idx] = bs; carry[5 * n + idx] = p;
}

// Thread (b, c): summaries -> entering states, in place (planes 0-2: F_in, 3-5: R_in).
extern "C" __global__ void rwkv_bi_wkv4_carry(const float* __restrict__ w, float* __restrict__ carry,
                                              int B, int T, int C, int S, int L) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= B * C) return;
  const int b = idx / C, c = idx - b * C;
  const long long n = (long long)B * S * C;
  const float wT = w[c] / T;
  float a = 0.f, bs = 0.f, p = EMPTY;
  for (int s = 0; s < S; s++) {
    const long long o = ((long long)b * S + s) * C + c;
    const float ga = carry[o], gb = carry[n + o], gp = carry[2 * n + o];
    carry[o] = a; carry[n + o] = bs; carry[2 * n + o] = p;
    const int len = min(T, (s + 1) * L) - s * L;
    combine(a, bs, p, len * wT, ga, gb, gp);
  }
  a = 0.f; bs = 0.f; p = EMPTY;
  for (int s = S - 1; s >= 0; s--) {
    const long long o = ((long long)b * S + s) * C + c;
    const float ha = carry[3 * n + o], hb = carry[4 * n + o], hp = carry[5 * n + o];
    carry[3 * n + o] = a; carry[4 * n + o] = bs; carry[5 * n + o] = p;
    const int len = min(T, (s + 1) * L) - s * L;
    combine(a, bs, p, len * wT, ha, hb, hp);
  }
}

// Thread (b, s, c): the outputs of segment s (S = 1: no carry planes are read).
extern "C" __global__ void rwkv_bi_wkv4_out(const float* __restrict__ k, const float* __restrict__ v,
                                            const float* __restrict__ w, const float* __restrict__ u,
                                            float* __restrict__ y, float* __restrict__ scratch,
                                            const float* __restrict__ carry, int B, int T, int C, int S, int L) {
  const long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long n = (long long)B * S * C;
  if (idx >= n) return;
  const int c = idx % C, s = (idx / C) % S, b = idx / ((long long)S * C);
  const int t0 = s * L, t1 = min(T, t0 + L);
  const float wT = w[c] / T, uT = u[c] / T;
  const long long nt = (long long)B * T * C;
  float* sa = scratch;
  float* sb = scratch + nt;
  float* sp = scratch + 2 * nt;
  float a = 0.f, bs = 0.f, p = EMPTY;
  if (S > 1) { a = carry[3 * n + idx]; bs = carry[4 * n + idx]; p = carry[5 * n + idx]; }
  for (int t = t1 - 1; t >= t0; t--) {
    const long long o = ((long long)b * T + t) * C + c;
    sa[o] = a; sb[o] = bs; sp[o] = p;
    stepIn(a, bs, p, wT, k[o], v[o]);
  }
  a = 0.f; bs = 0.f; p = EMPTY;
  if (S > 1) { a = carry[idx]; bs = carry[n + idx]; p = carry[2 * n + idx]; }
  for (int t = t0; t < t1; t++) {
    const long long o = ((long long)b * T + t) * C + c;
    const float kt = k[o], vt = v[o], self = uT + kt;
    const float pb = sp[o];
    const float q = fmaxf(fmaxf(p, pb), self);
    const float ef = expf(p - q), eb = expf(pb - q), es = expf(self - q);
    y[o] = (a * ef + sa[o] * eb + es * vt) / (bs * ef + sb[o] * eb + es + 1e-6f);
    stepIn(a, bs, p, wT, kt, vt);
  }
}
`,
} as const;

/** Threads a launch aims for (a few per core of an H100's 132 SMs). */
const TARGET_THREADS = 32768;

/**
 * How many segments the tokens of an image are split into, and their length: enough that
 * B x C x S threads fill the GPU, segments of at least 16 tokens (shorter ones spend more
 * on carries than they save).
 */
export function biWkv4Segments(B: number, T: number, C: number): { S: number; L: number } {
  const want = Math.ceil(TARGET_THREADS / Math.max(1, B * C));
  const S0 = Math.max(1, Math.min(want, Math.floor(T / 16)));
  const L = Math.ceil(T / S0);
  return { S: Math.ceil(T / L), L };
}
