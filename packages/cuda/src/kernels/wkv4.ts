/**
 * RWKV-4 WKV over T steps (the core's `Wkv4` op), in its numerically stable form: one
 * thread per (stream, channel) carries (aa, bb, pp) through time in registers. Per step,
 * with q = max(pp, u + k):
 *   y = (e^{pp-q} aa + e^{u+k-q} v) / (e^{pp-q} bb + e^{u+k-q})
 *   q' = max(pp + w, k); aa' = e^{pp+w-q'} aa + e^{k-q'} v; bb' = e^{pp+w-q'} bb + e^{k-q'}; pp' = q'.
 * k, v, y: [B, T, C]; w, u: [C]; states [B, C]. States out may alias states in.
 */
export const WKV4 = {
  name: 'rwkv_wkv4',
  source: `
extern "C" __global__ void rwkv_wkv4(const float* __restrict__ k, const float* __restrict__ v,
                                     const float* __restrict__ w, const float* __restrict__ u,
                                     const float* aa_in, const float* bb_in, const float* pp_in,
                                     float* __restrict__ y, float* aa_out, float* bb_out, float* pp_out,
                                     int B, int T, int C) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= B * C) return;
  const int b = idx / C, c = idx - b * C;
  float aa = aa_in[idx], bb = bb_in[idx], pp = pp_in[idx];
  const float ww = w[c], uu = u[c];
  for (int t = 0; t < T; t++) {
    const long long o = ((long long)b * T + t) * C + c;
    const float kk = k[o], vv = v[o];
    float q = fmaxf(pp, uu + kk);
    float e1 = expf(pp - q), e2 = expf(uu + kk - q);
    y[o] = (e1 * aa + e2 * vv) / (e1 * bb + e2);
    q = fmaxf(pp + ww, kk);
    e1 = expf(pp + ww - q);
    e2 = expf(kk - q);
    aa = e1 * aa + e2 * vv;
    bb = e1 * bb + e2;
    pp = q;
  }
  aa_out[idx] = aa; bb_out[idx] = bb; pp_out[idx] = pp;
}
`,
} as const;
