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
  __shared__ float vec[2][3][N];  // two buffers of r, k, w (see the RWKV-7 kernel)
  __shared__ float su[N];
  const int bh = blockIdx.x, h = bh % H, j = threadIdx.x;
  const long long sbase = (long long)bh * N * N;
  float s[N];
  #pragma unroll
  for (int i = 0; i < N; i++) s[i] = s_in[sbase + i * N + j];
  su[j] = u[h * N + j];
  const long long b = bh / H;
  long long o = (b * T * H + h) * N;
  const long long stride = (long long)H * N;
  const float wFixed = wPerStep ? 0.f : w[h * N + j];
  vec[0][0][j] = r[o + j]; vec[0][1][j] = k[o + j]; vec[0][2][j] = wPerStep ? w[o + j] : wFixed;
  float vj = v[o + j];
  __syncthreads();
  for (int t = 0; t < T; t++) {
    const int c = t & 1;
    const bool more = t + 1 < T;
    float nr = 0.f, nk = 0.f, nw = wFixed, nv = 0.f;
    if (more) {
      const long long p = o + stride;
      nr = r[p + j]; nk = k[p + j]; nv = v[p + j];
      if (wPerStep) nw = w[p + j];
    }
    float acc = 0.f;
    #pragma unroll
    for (int i = 0; i < N; i++) {
      const float kv = vec[c][1][i] * vj;
      acc += vec[c][0][i] * (su[i] * kv + s[i]);
      s[i] = kv + vec[c][2][i] * s[i];
    }
    y[o + j] = acc;
    if (more) { vec[c ^ 1][0][j] = nr; vec[c ^ 1][1][j] = nk; vec[c ^ 1][2][j] = nw; vj = nv; o += stride; }
    __syncthreads();
  }
  #pragma unroll
  for (int i = 0; i < N; i++) s_out[sbase + i * N + j] = s[i];
}
`,
  };
}
