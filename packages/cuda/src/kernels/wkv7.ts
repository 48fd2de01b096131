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
  extern __shared__ float4 sh4[];    // float4: the step vectors are read 16 bytes at a time
  float* sh = reinterpret_cast<float*>(sh4);
  float* vec = sh;                   // two buffers of r, w, k, a, b: [2][5][N]
  float* tile = sh + 2 * 5 * N;      // [N][N + 1]: +1 against bank conflicts
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
    // Four partial sums per reduction: dependent FMA chains a quarter as long.
    const float4* c4 = reinterpret_cast<const float4*>(cur);
    float sa0 = 0.f, sa1 = 0.f, sa2 = 0.f, sa3 = 0.f;
    #pragma unroll
    for (int j = 0; j < N; j += 4) {
      const float4 av = c4[(3 * N + j) / 4];
      sa0 += s[j] * av.x; sa1 += s[j + 1] * av.y; sa2 += s[j + 2] * av.z; sa3 += s[j + 3] * av.w;
    }
    const float sa = (sa0 + sa1) + (sa2 + sa3);
    float y0 = 0.f, y1 = 0.f, y2 = 0.f, y3 = 0.f;
    #pragma unroll
    for (int j = 0; j < N; j += 4) {
      const float4 wv = c4[(N + j) / 4], bv = c4[(4 * N + j) / 4], kv = c4[(2 * N + j) / 4], rv = c4[j / 4];
      s[j] = s[j] * wv.x + sa * bv.x + vi * kv.x; y0 += s[j] * rv.x;
      s[j + 1] = s[j + 1] * wv.y + sa * bv.y + vi * kv.y; y1 += s[j + 1] * rv.y;
      s[j + 2] = s[j + 2] * wv.z + sa * bv.z + vi * kv.z; y2 += s[j + 2] * rv.z;
      s[j + 3] = s[j + 3] * wv.w + sa * bv.w + vi * kv.w; y3 += s[j + 3] * rv.w;
    }
    y[o + i] = (y0 + y1) + (y2 + y3);
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
