/**
 * Many device-to-device copies in one launch: a table of (source, destination, bytes)
 * segments in device memory, one grid row (blockIdx.y) a segment. A session's carried
 * state is one buffer per layer and variable (72 at 1.5B); copying them into a plan's
 * inputs and back out with one cuMemcpyDtoDAsync each cost about a millisecond of host
 * calls a token, more than half the GPU's work on a 1.5B decode step.
 *
 * Table layout: 3 unsigned 64-bit words a segment (source, destination, byte count, a
 * multiple of 4). The kernel adds `srcBase` to every source and `dstBase` to every
 * destination: a table whose one side holds offsets into a session's block (the other side
 * absolute addresses, base 0) serves every session of that layout, wherever its block lies.
 * 16-byte aligned segments copy as uint4, others as words.
 */
export const COPY_SEGMENTS = {
  name: 'rwkv_copy_segments',
  source: `
extern "C" __global__ void rwkv_copy_segments(const unsigned long long* __restrict__ table,
                                               unsigned long long srcBase, unsigned long long dstBase) {
  const unsigned long long src = srcBase + table[3 * blockIdx.y], dst = dstBase + table[3 * blockIdx.y + 1];
  const unsigned long long bytes = table[3 * blockIdx.y + 2];
  const long long stride = (long long)gridDim.x * blockDim.x;
  const long long first = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (((src | dst | bytes) & 15ull) == 0ull) {
    const uint4* s = reinterpret_cast<const uint4*>(src);
    uint4* d = reinterpret_cast<uint4*>(dst);
    for (long long i = first; i < (long long)(bytes >> 4); i += stride) d[i] = s[i];
  } else {
    const unsigned int* s = reinterpret_cast<const unsigned int*>(src);
    unsigned int* d = reinterpret_cast<unsigned int*>(dst);
    for (long long i = first; i < (long long)(bytes >> 2); i += stride) d[i] = s[i];
  }
}
`,
} as const;

/** Threads a block of the segment copy. */
export const COPY_SEGMENTS_THREADS = 256;

/** Blocks along x for segments of at most `maxBytes` (each thread moves 16 bytes a pass). */
export function copySegmentsBlocksX(maxBytes: number): number {
  return Math.max(1, Math.min(128, Math.ceil(maxBytes / 16 / COPY_SEGMENTS_THREADS)));
}
