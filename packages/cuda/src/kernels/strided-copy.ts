import { type WalkIndexing, walkLoop, walkOffsets, walkStruct, walkSuffix } from './walk-index.js';

/**
 * dst[dstOffset + sum c_d dst_d] = src[srcOffset + sum c_d src_d] over an iteration space
 * of up to MAX_RANK dims, for 4-byte elements (float32 and int32 alike). One kernel per
 * walk rank and index width (`walk-index.ts`) serves Transpose (permuted source strides),
 * Slice and SliceFrom (a source offset), and each input of Concat (a destination offset).
 */
export function stridedCopyKernel(ix: WalkIndexing): { source: string; name: string } {
  const name = `rwkv_strided_copy${walkSuffix(ix)}`;
  const source = `${walkStruct('CopyWalk', 2, ix)}
extern "C" __global__ void ${name}(unsigned int* __restrict__ dst, const unsigned int* __restrict__ src,
                                   const CopyWalk g) {
  ${walkLoop(
    ix,
    `${walkOffsets(2, ix)}
    dst[off0] = src[off1];`,
  )}
}
`;
  return { source, name };
}
