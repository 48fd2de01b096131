/**
 * RWKV-7 WKV over T steps (the core's `Wkv7` op, the generalized delta rule). One block
 * per (stream, head), one thread per value row i holding s[i][:] in registers; w, k, a,
 * b, r of each step are shared. Per step:
 *   sa = sum_j s[i][j] a[j];  s'[i][j] = s[i][j] w[j] + sa b[j] + v[i] k[j];  y[i] = sum_j s'[i][j] r[j].
 * r, w, k, v, a, b, y: [B, T, H, N]; s: [B, H, N (value i), N (key j)]. The state tile is
 * moved in and out through shared memory so global accesses stay coalesced; the head
 * size is compiled in (registers).
 */
export function wkv7Kernel(N: number): { source: string; name: string; sharedBytes: number } {
  const name = `rwkv_wkv7_n${N}`;
  return {
    name,
    sharedBytes: (N * (N + 1) + 5 * N) * 4,
    source: `
#define N ${N}
extern "C" __global__ void ${name}(const float* __restrict__ r, const float* __restrict__ w,
                                   const float* __restrict__ k, const float* __restrict__ v,
                                   const float* __restrict__ a, const float* __restrict__ bb,
                                   const float* s_in, float* __restrict__ y, float* s_out, int T, int H) {
  extern __shared__ float sh[];
  float* tile = sh;                 // [N][N + 1]: +1 against bank conflicts
  float* sr = sh + N * (N + 1);
  float* sw = sr + N; float* sk = sw + N; float* sa_ = sk + N; float* sb = sa_ + N;
  const int bh = blockIdx.x, h = bh % H, i = threadIdx.x;
  const long long sbase = (long long)bh * N * N;
  for (int e = i; e < N * N; e += N) tile[(e / N) * (N + 1) + (e % N)] = s_in[sbase + e];
  __syncthreads();
  float s[N];
  #pragma unroll
  for (int j = 0; j < N; j++) s[j] = tile[i * (N + 1) + j];
  const long long b = bh / H;
  for (int t = 0; t < T; t++) {
    const long long o = ((b * T + t) * H + h) * N;
    __syncthreads();
    sr[i] = r[o + i]; sw[i] = w[o + i]; sk[i] = k[o + i]; sa_[i] = a[o + i]; sb[i] = bb[o + i];
    __syncthreads();
    float sa = 0.f;
    #pragma unroll
    for (int j = 0; j < N; j++) sa += s[j] * sa_[j];
    const float vi = v[o + i];
    float acc = 0.f;
    #pragma unroll
    for (int j = 0; j < N; j++) {
      s[j] = s[j] * sw[j] + sa * sb[j] + vi * sk[j];
      acc += s[j] * sr[j];
    }
    y[o + i] = acc;
  }
  __syncthreads();
  #pragma unroll
  for (int j = 0; j < N; j++) tile[i * (N + 1) + j] = s[j];
  __syncthreads();
  for (int e = i; e < N * N; e += N) s_out[sbase + e] = tile[(e / N) * (N + 1) + (e % N)];
}
`,
  };
}
