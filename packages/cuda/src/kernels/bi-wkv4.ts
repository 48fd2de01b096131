/**
 * Vision-RWKV's bidirectional WKV (the core's `BiWkv4` op), linear in T: one thread per
 * (image, channel) walks the patches backwards, storing at each t the scaled sum over
 * i > t (a, b and their max exponent p) in scratch, then forwards, carrying the sum over
 * i < t and combining both with the t-th term e^{u' + k_t}. With w' = w / T, u' = u / T,
 * a step of either walk is p' = max(p - w', k_t), a' = e^{p - w' - p'} a + e^{k_t - p'} v_t.
 * k, v, y: [B, T, C]; w, u: [C]; scratch: 3 x B x T x C floats.
 */
export const BI_WKV4 = {
  name: 'rwkv_bi_wkv4',
  source: `
extern "C" __global__ void rwkv_bi_wkv4(const float* __restrict__ k, const float* __restrict__ v,
                                        const float* __restrict__ w, const float* __restrict__ u,
                                        float* __restrict__ y, float* __restrict__ scratch, int B, int T, int C) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= B * C) return;
  const int b = idx / C, c = idx - b * C;
  const float wT = w[c] / T, uT = u[c] / T;
  const long long n = (long long)B * T * C;
  float* sa = scratch;
  float* sb = scratch + n;
  float* sp = scratch + 2 * n;
  float a = 0.f, bs = 0.f, p = -1e38f;
  for (int t = T - 1; t >= 0; t--) {
    const long long o = ((long long)b * T + t) * C + c;
    sa[o] = a; sb[o] = bs; sp[o] = p;
    const float kt = k[o], d = p - wT, p1 = fmaxf(d, kt);
    const float f1 = expf(d - p1), f2 = expf(kt - p1);
    a = f1 * a + f2 * v[o];
    bs = f1 * bs + f2;
    p = p1;
  }
  a = 0.f; bs = 0.f; p = -1e38f;
  for (int t = 0; t < T; t++) {
    const long long o = ((long long)b * T + t) * C + c;
    const float kt = k[o], vt = v[o], self = uT + kt;
    const float pb = sp[o];
    const float q = fmaxf(fmaxf(p, pb), self);
    const float ef = expf(p - q), eb = expf(pb - q), es = expf(self - q);
    y[o] = (a * ef + sa[o] * eb + es * vt) / (bs * ef + sb[o] * eb + es + 1e-6f);
    const float d = p - wT, p1 = fmaxf(d, kt);
    const float f1 = expf(d - p1), f2 = expf(kt - p1);
    a = f1 * a + f2 * vt;
    bs = f1 * bs + f2;
    p = p1;
  }
}
`,
} as const;
