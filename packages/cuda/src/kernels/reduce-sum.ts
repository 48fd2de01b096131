import { geometryStruct } from './geometry.js';

/**
 * Sum over any set of axes: one warp per output element. The kept axes (operand 0 of
 * `keep`) locate the output and the input base; the reduced axes (`red`) are walked by
 * the warp's lanes and combined with shuffles, in float32.
 */
export const REDUCE_SUM = {
  name: 'rwkv_reduce_sum',
  source: `${geometryStruct('KeepGeo', 2)}
${geometryStruct('RedGeo', 1)}
extern "C" __global__ void rwkv_reduce_sum(float* __restrict__ out, const float* __restrict__ x,
                                           const KeepGeo keep, const RedGeo red) {
  const long long warpsTotal = (long long)gridDim.x * (blockDim.x >> 5);
  const int lane = threadIdx.x & 31;
  for (long long o = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); o < keep.n; o += warpsTotal) {
    long long outOff = 0, base = 0;
    { long long rem = o; for (int d = keep.rank - 1; d >= 0; --d) { long long c = rem % keep.dims[d]; rem /= keep.dims[d];
        outOff += c * keep.strides[0][d]; base += c * keep.strides[1][d]; } }
    float s = 0.f;
    for (long long r = lane; r < red.n; r += 32) {
      long long off = base;
      { long long rem = r; for (int d = red.rank - 1; d >= 0; --d) { long long c = rem % red.dims[d]; rem /= red.dims[d];
          off += c * red.strides[0][d]; } }
      s += x[off];
    }
    for (int k = 16; k > 0; k >>= 1) s += __shfl_xor_sync(0xffffffffu, s, k);
    if (lane == 0) out[outOff] = s;
  }
}
`,
} as const;

/**
 * The common case, a sum over the trailing axes of a contiguous tensor (RWKV-7's per-head
 * sums over rows of 64): rows of `len` floats, one warp per row, no index arithmetic
 * beyond the row's start (the general kernel above divides per element); 16-byte loads
 * when rows are a multiple of 4 floats.
 */
export const REDUCE_SUM_ROWS = {
  name: 'rwkv_reduce_sum_rows',
  source: `
extern "C" __global__ void rwkv_reduce_sum_rows(float* __restrict__ out, const float* __restrict__ x,
                                                long long rows, int len) {
  const long long warpsTotal = (long long)gridDim.x * (blockDim.x >> 5);
  const int lane = threadIdx.x & 31;
  for (long long r = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); r < rows; r += warpsTotal) {
    const float* row = x + r * len;
    float s = 0.f;
    if ((len & 3) == 0) {
      const float4* row4 = reinterpret_cast<const float4*>(row);
      for (int j = lane; j < (len >> 2); j += 32) {
        const float4 q = row4[j];
        s += (q.x + q.y) + (q.z + q.w);
      }
    } else {
      for (int j = lane; j < len; j += 32) s += row[j];
    }
    for (int k = 16; k > 0; k >>= 1) s += __shfl_xor_sync(0xffffffffu, s, k);
    if (lane == 0) out[r] = s;
  }
}
`,
} as const;
