import { geometryStruct, offsetCode } from './geometry.js';

/**
 * dst[dstOffset + sum c_d dst_d] = src[srcOffset + sum c_d src_d] over an iteration space
 * of up to MAX_RANK dims, for 4-byte elements (float32 and int32 alike). One kernel
 * serves Transpose (permuted source strides), Slice and SliceFrom (a source offset),
 * and each input of Concat (a destination offset).
 */
export const STRIDED_COPY = {
  name: 'rwkv_strided_copy',
  source: `${geometryStruct('CopyGeo', 2)}
extern "C" __global__ void rwkv_strided_copy(unsigned int* __restrict__ dst, const unsigned int* __restrict__ src,
                                             const CopyGeo g) {
  const long long step = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < g.n; i += step) {
    ${offsetCode(2)}
    dst[off0] = src[off1];
  }
}
`,
} as const;
