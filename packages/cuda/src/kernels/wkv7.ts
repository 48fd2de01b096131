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
    sharedBytes: (N * (N + 1) + 2 * 5 * N) * 4,
    source: `
#define N ${N}
extern "C" __global__ void ${name}(const float* __restrict__ r, const float* __restrict__ w,
                                   const float* __restrict__ k, const float* __restrict__ v,
                                   const float* __restrict__ a, const float* __restrict__ bb,
                                   const float* s_in, float* __restrict__ y, float* s_out, int T, int H) {
  extern __shared__ float sh[];
  float* tile = sh;                  // [N][N + 1]: +1 against bank conflicts
  float* vec = sh + N * (N + 1);     // two buffers of r, w, k, a, b: [2][5][N]
  const int bh = blockIdx.x, h = bh % H, i = threadIdx.x;
  const long long sbase = (long long)bh * N * N;
  for (int e = i; e < N * N; e += N) tile[(e / N) * (N + 1) + (e % N)] = s_in[sbase + e];
  const long long b = bh / H;
  long long o = (b * T * H + h) * N;     // step 0
  const long long stride = (long long)H * N;  // one step further
  vec[i] = r[o + i]; vec[N + i] = w[o + i]; vec[2 * N + i] = k[o + i]; vec[3 * N + i] = a[o + i]; vec[4 * N + i] = bb[o + i];
  float vi = v[o + i];
  __syncthreads();
  float s[N];
  #pragma unroll
  for (int j = 0; j < N; j++) s[j] = tile[i * (N + 1) + j];
  // One barrier per step: step t reads buffer t % 2 while the values of step t + 1 are
  // loaded into registers early and stored into the other buffer (which every thread
  // finished reading before the previous barrier).
  for (int t = 0; t < T; t++) {
    const float* cur = vec + (t & 1) * 5 * N;
    float* nxt = vec + ((t + 1) & 1) * 5 * N;
    const bool more = t + 1 < T;
    float nr = 0.f, nw = 0.f, nk = 0.f, na = 0.f, nb = 0.f, nv = 0.f;
    if (more) {
      const long long p = o + stride;
      nr = r[p + i]; nw = w[p + i]; nk = k[p + i]; na = a[p + i]; nb = bb[p + i]; nv = v[p + i];
    }
    float sa = 0.f;
    #pragma unroll
    for (int j = 0; j < N; j++) sa += s[j] * cur[3 * N + j];
    float acc = 0.f;
    #pragma unroll
    for (int j = 0; j < N; j++) {
      s[j] = s[j] * cur[N + j] + sa * cur[4 * N + j] + vi * cur[2 * N + j];
      acc += s[j] * cur[j];
    }
    y[o + i] = acc;
    if (more) { nxt[i] = nr; nxt[N + i] = nw; nxt[2 * N + i] = nk; nxt[3 * N + i] = na; nxt[4 * N + i] = nb; vi = nv; o += stride; }
    __syncthreads();
  }
  #pragma unroll
  for (int j = 0; j < N; j++) tile[i * (N + 1) + j] = s[j];
  __syncthreads();
  for (int e = i; e < N * N; e += N) s_out[sbase + e] = tile[(e / N) * (N + 1) + (e % N)];
}
`,
  };
}
