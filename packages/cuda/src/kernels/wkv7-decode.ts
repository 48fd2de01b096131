/**
 * RWKV-7 WKV for one step (T = 1: decoding), a warp per value row. The generalized delta
 * rule updates each value row i of a head's state on its own:
 *   sa = sum_j s[i][j] a[j];  s'[i][j] = s[i][j] w[j] + sa b[j] + v[i] k[j];  y[i] = sum_j s'[i][j] r[j],
 * so the B x H x N rows spread over the whole GPU: lane l holds columns l, l + 32, ... of
 * its row (coalesced 128-byte loads straight from global memory), and the two sums are warp
 * shuffles. The step kernel (kernels/wkv7.ts) runs a block per head with a thread per row
 * and moves the whole 64 x 64 tile through shared memory: at one step that is latency
 * (about 10 us a call on an H100 with 32 heads, on 32 of the 132 SMs) for 1 MB of traffic.
 * Each element of the state is read and written by the same lane, so the state may be
 * updated in place. r, w, k, v, a, b, y: [B, 1, H, N]; s: [B, H, N, N]; N a multiple of 32.
 */

/** Value rows (warps) per block. */
export const WKV7_DECODE_ROWS = 8;

/**
 * Whether the one-step kernel serves a call: one step, a head size that lanes divide, and
 * the kernel switched on (`enabled`; default on unless RWKV_STREAMS_CUDA_WKV7_DECODE=0).
 * Checked on an H100 against the float64 definition (`kernels/wkv7-chunked.test.ts`) and
 * measured there (2026-12-05): a 0.1B decode step 1.25x, a 1.5B one 1.11x.
 */
export function useWkv7Decode(
  T: number,
  N: number,
  enabled: boolean = process.env['RWKV_STREAMS_CUDA_WKV7_DECODE'] !== '0',
): boolean {
  return enabled && T === 1 && N % 32 === 0 && N <= 256;
}

/** a, b or k at column `lane + 32 * c` of this head, read from `ptr` (`j` is that index in the second loop). */
export function readStepVector(which: 'a' | 'b' | 'k', ptr: string): string {
  return which === 'a' ? `${ptr}[vec + lane + 32 * c]` : `${ptr}[j]`;
}

/**
 * The step of one value row (after `lane`, `row`, `vec` and `st` are set): the state row in,
 * sa, the new row out and y. `at(which, ptr)` gives the expression of a, b or k at column
 * `lane + 32 * c` (default: read from `ptr`; kernels/wkv7-decode-rows.ts computes them).
 */
export function wkv7StepLines(
  N: number,
  at: (which: 'a' | 'b' | 'k', ptr: string) => string = readStepVector,
): string {
  const C = N / 32; // columns a lane
  return `float s[${C}];
  float sa = 0.f;
  #pragma unroll
  for (int c = 0; c < ${C}; c++) {
    s[c] = s_in[st + lane + 32 * c];
    sa += s[c] * ${at('a', 'a')};
  }
  #pragma unroll
  for (int o = 16; o > 0; o >>= 1) sa += __shfl_xor_sync(0xffffffffu, sa, o);
  const float vi = v[row];
  float acc = 0.f;
  #pragma unroll
  for (int c = 0; c < ${C}; c++) {
    const long long j = vec + lane + 32 * c;
    const float n = s[c] * w[j] + sa * ${at('b', 'bb')} + vi * ${at('k', 'k')};
    s_out[st + lane + 32 * c] = n;
    acc += n * r[j];
  }
  #pragma unroll
  for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
  if (lane == 0) y[row] = acc;`;
}

/** The kernel for head size N; launch ceil(B * H * N / WKV7_DECODE_ROWS) blocks of 32 * WKV7_DECODE_ROWS. */
export function wkv7DecodeKernel(N: number): { source: string; name: string; threads: number } {
  const name = `rwkv_wkv7_decode_n${N}`;
  return {
    name,
    threads: 32 * WKV7_DECODE_ROWS,
    source: `
extern "C" __global__ void ${name}(const float* __restrict__ r, const float* __restrict__ w,
                                   const float* __restrict__ k, const float* __restrict__ v,
                                   const float* __restrict__ a, const float* __restrict__ bb,
                                   const float* s_in, float* __restrict__ y, float* s_out, int rows) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * ${WKV7_DECODE_ROWS} + (threadIdx.x >> 5);  // (b * H + h) * N + i
  if (row >= rows) return;
  const long long vec = (long long)(row / ${N}) * ${N};  // this head's step vectors
  const long long st = (long long)row * ${N};             // s[b, h, i, :]
  ${wkv7StepLines(N)}
}
`,
  };
}
