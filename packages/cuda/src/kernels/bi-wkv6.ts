/**
 * Vision-RWKV 6's bidirectional WKV (the core's `BiWkv6` op), linear in T. One block per
 * (image, head), one thread per value index j holding the state column s[:, j] in
 * registers; r, k, w of each position are shared. As the official kernel does, a walk
 * from the last position back writes, at each t, r_t applied to the state of the
 * positions after t (s' = k_t^T v_t + w_t s after the read), then a walk from the first
 * position adds r_t (u k_t^T v_t + state of the positions before t):
 *   y_t[j] = sum_i r_t[i] (u[i] k_t[i] v_t[j]
 *          + sum_{s != t} (prod_{m strictly between s and t} w_m[i]) k_s[i] v_s[j]).
 * Each thread re-reads only the y values it wrote itself, so no scratch is needed.
 * r, k, v, w, y: [B, T, H, N]; u: [H, N]. The head size is compiled in (registers).
 */
export function biWkv6Kernel(N: number): { source: string; name: string } {
  const name = `rwkv_bi_wkv6_n${N}`;
  return {
    name,
    source: `
#define N ${N}
extern "C" __global__ void ${name}(const float* __restrict__ r, const float* __restrict__ k,
                                   const float* __restrict__ v, const float* __restrict__ w,
                                   const float* __restrict__ u, float* __restrict__ y, int T, int H) {
  __shared__ float sr[N], sk[N], sw[N], su[N];
  const int bh = blockIdx.x, h = bh % H, j = threadIdx.x;
  const long long b = bh / H;
  const long long base = (b * T * H + h) * N;
  const long long stride = (long long)H * N;
  su[j] = u[h * N + j];
  float s[N];
  #pragma unroll
  for (int i = 0; i < N; i++) s[i] = 0.f;
  for (int t = T - 1; t >= 0; t--) {
    const long long o = base + t * stride;
    __syncthreads();
    sr[j] = r[o + j]; sk[j] = k[o + j]; sw[j] = w[o + j];
    __syncthreads();
    const float vj = v[o + j];
    float acc = 0.f;
    #pragma unroll
    for (int i = 0; i < N; i++) {
      acc += sr[i] * s[i];
      s[i] = sk[i] * vj + sw[i] * s[i];
    }
    y[o + j] = acc;
  }
  #pragma unroll
  for (int i = 0; i < N; i++) s[i] = 0.f;
  for (int t = 0; t < T; t++) {
    const long long o = base + t * stride;
    __syncthreads();
    sr[j] = r[o + j]; sk[j] = k[o + j]; sw[j] = w[o + j];
    __syncthreads();
    const float vj = v[o + j];
    float acc = 0.f;
    #pragma unroll
    for (int i = 0; i < N; i++) {
      const float kv = sk[i] * vj;
      acc += sr[i] * (su[i] * kv + s[i]);
      s[i] = kv + sw[i] * s[i];
    }
    y[o + j] += acc;
  }
}
`,
  };
}
