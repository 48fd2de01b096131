/**
 * RWKV-5.2/6 WKV over T steps (the core's `Wkv5` op). One block per (stream, head), one
 * thread per value index j holding the state column s[:, j] in registers; r, k, w of
 * each step are shared. Per step:
 *   y[j] = sum_i r[i] (u[i] k[i] v[j] + s[i][j]);  s'[i][j] = k[i] v[j] + w[i] s[i][j].
 * r, k, v, y: [B, T, H, N]; w: [B, T, H, N] (RWKV-6) or [H, N] (RWKV-5.2, wPerStep = 0);
 * u: [H, N]; s: [B, H, N (key i), N (value j)]. The head size is compiled in (registers).
 */
export function wkv5Kernel(N: number): { source: string; name: string } {
  const name = `rwkv_wkv5_n${N}`;
  return {
    name,
    source: `
#define N ${N}
extern "C" __global__ void ${name}(const float* __restrict__ r, const float* __restrict__ k,
                                   const float* __restrict__ v, const float* __restrict__ w,
                                   const float* __restrict__ u, const float* s_in,
                                   float* __restrict__ y, float* s_out, int T, int H, int wPerStep) {
  __shared__ float sr[N], sk[N], sw[N], su[N];
  const int bh = blockIdx.x, h = bh % H, j = threadIdx.x;
  const long long sbase = (long long)bh * N * N;
  float s[N];
  #pragma unroll
  for (int i = 0; i < N; i++) s[i] = s_in[sbase + i * N + j];
  su[j] = u[h * N + j];
  if (!wPerStep) sw[j] = w[h * N + j];
  const long long b = bh / H;
  for (int t = 0; t < T; t++) {
    const long long o = ((b * T + t) * H + h) * N;
    __syncthreads();
    sr[j] = r[o + j];
    sk[j] = k[o + j];
    if (wPerStep) sw[j] = w[o + j];
    __syncthreads();
    const float vj = v[o + j];
    float acc = 0.f;
    #pragma unroll
    for (int i = 0; i < N; i++) {
      const float kv = sk[i] * vj;
      acc += sr[i] * (su[i] * kv + s[i]);
      s[i] = kv + sw[i] * s[i];
    }
    y[o + j] = acc;
  }
  #pragma unroll
  for (int i = 0; i < N; i++) s_out[sbase + i * N + j] = s[i];
}
`,
  };
}
