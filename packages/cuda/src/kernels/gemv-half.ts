import { HALF_HELPERS } from './half.js';

/**
 * y[m, n] = sum_k x[m, k] W[n, k] for a few rows m (decoding: one token per stream) with
 * W stored as float16 or bfloat16 [N, K] and x, y float32. Streaming W is the whole cost,
 * so each warp owns one output row n and reads it in 16-byte loads (8 halves per lane per
 * step), for all M rows of x at once; float32 accumulation, a warp shuffle to finish. No
 * half copy of x is made (cuBLAS would need one). Needs K % 8 == 0 (16-byte rows).
 */
export const GEMV_MAX_ROWS = 4;

export function gemvHalfKernel(type: 'f16' | 'bf16', M: number): { source: string; name: string } {
  const name = `rwkv_gemv_${type}_m${M}`;
  const cvt = type === 'f16' ? 'rwkv_f16_to_f32' : 'rwkv_bf16_to_f32';
  return {
    name,
    source: `${HALF_HELPERS}
#define M ${M}
extern "C" __global__ void ${name}(const unsigned short* __restrict__ W, const float* __restrict__ x,
                                   float* __restrict__ y, int N, int K) {
  const int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (warp >= N) return;
  const uint4* row = reinterpret_cast<const uint4*>(W + (long long)warp * K);
  float acc[M];
  #pragma unroll
  for (int m = 0; m < M; m++) acc[m] = 0.f;
  const int chunks = K >> 3;
  for (int c = lane; c < chunks; c += 32) {
    const uint4 q = __ldg(row + c);
    const unsigned short h[8] = {
      (unsigned short)(q.x & 0xffff), (unsigned short)(q.x >> 16), (unsigned short)(q.y & 0xffff), (unsigned short)(q.y >> 16),
      (unsigned short)(q.z & 0xffff), (unsigned short)(q.z >> 16), (unsigned short)(q.w & 0xffff), (unsigned short)(q.w >> 16)};
    float w[8];
    #pragma unroll
    for (int j = 0; j < 8; j++) w[j] = ${cvt}(h[j]);
    #pragma unroll
    for (int m = 0; m < M; m++) {
      const float4* xv = reinterpret_cast<const float4*>(x + (long long)m * K) + 2 * c;
      const float4 a = xv[0], b = xv[1];
      acc[m] += w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
    }
  }
  #pragma unroll
  for (int m = 0; m < M; m++) {
    float v = acc[m];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) y[(long long)m * N + warp] = v;
  }
}
`,
  };
}
