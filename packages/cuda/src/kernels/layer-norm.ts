/** A block-wide sum (every thread gets it), over 32 floats of shared memory. */
export const LAYER_NORM_BLOCK_SUM = `
__device__ __forceinline__ float rwkv_block_sum(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : 0.f;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
`;

/**
 * LayerNorm over rows of C: one block per row, the row's mean first and then the
 * variance of (x - mean) (two passes: exact in float32 for the widths RWKV uses, where
 * E[x^2] - mean^2 would cancel). weight and bias may be null (no affine transform).
 */
export const LAYER_NORM = {
  name: 'rwkv_layer_norm',
  source: `${LAYER_NORM_BLOCK_SUM}
extern "C" __global__ void rwkv_layer_norm(const float* __restrict__ x, const float* __restrict__ weight,
                                           const float* __restrict__ bias, float* __restrict__ y,
                                           int C, float eps) {
  __shared__ float shared[32];
  const float* row = x + (long long)blockIdx.x * C;
  float* out = y + (long long)blockIdx.x * C;
  float s = 0.f;
  for (int i = threadIdx.x; i < C; i += blockDim.x) s += row[i];
  const float mean = rwkv_block_sum(s, shared) / C;
  float q = 0.f;
  for (int i = threadIdx.x; i < C; i += blockDim.x) { const float d = row[i] - mean; q += d * d; }
  const float rstd = rsqrtf(rwkv_block_sum(q, shared) / C + eps);
  for (int i = threadIdx.x; i < C; i += blockDim.x) {
    float v = (row[i] - mean) * rstd;
    if (weight) v *= weight[i];
    if (bias) v += bias[i];
    out[i] = v;
  }
}
`,
} as const;

/** Threads per row of width C: whole warps, about 4 elements a thread, at most 1024. */
export function layerNormThreads(C: number): number {
  return Math.min(1024, Math.max(32, Math.ceil(C / 4 / 32) * 32));
}
