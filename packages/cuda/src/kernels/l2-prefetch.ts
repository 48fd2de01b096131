/**
 * Brings a range of weights into the GPU's L2 cache ahead of the kernel that reads them:
 * one `prefetch.global.L2` per 128-byte line, grid-stride. A prefetch returns at once (no
 * register waits for the data), so the kernel is short and light; the lines arrive while
 * whatever runs beside it (a decode step's chain of small kernels) keeps the SMs busy and
 * HBM idle. Used by exec/weight-prefetch.ts, off by default.
 */
export const L2_PREFETCH = {
  name: 'rwkv_l2_prefetch',
  source: `
extern "C" __global__ void rwkv_l2_prefetch(const char* __restrict__ p, unsigned long long bytes) {
  const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x * 128ull;
  for (unsigned long long off = ((unsigned long long)blockIdx.x * blockDim.x + threadIdx.x) * 128ull; off < bytes;
       off += stride)
    asm volatile("prefetch.global.L2 [%0];" ::"l"(p + off));
}
`,
} as const;

/** Threads per block of a prefetch launch. */
export const L2_PREFETCH_THREADS = 256;

/** Blocks for `bytes`: a line per thread, at most 256 blocks (the loop takes the rest). */
export function l2PrefetchBlocks(bytes: number): number {
  return Math.max(1, Math.min(256, Math.ceil(bytes / 128 / L2_PREFETCH_THREADS)));
}
