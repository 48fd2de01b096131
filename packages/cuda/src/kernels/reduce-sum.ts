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
