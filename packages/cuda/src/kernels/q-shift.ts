/**
 * Vision-RWKV's Q-Shift in one pass (the core's `QShift`, defined in its
 * `graph/q-shift.ts`): every output element of x [B, rows * cols, C] is read from its
 * token's neighbour `shift` patches away in the direction of its channel's rank
 * (quarters-first order over `heads`), or zero off the grid. Consecutive threads take
 * consecutive channels, so reads and writes coalesce within each channel run.
 */
export const Q_SHIFT = {
  name: 'rwkv_q_shift',
  source: `
extern "C" __global__ void rwkv_q_shift(float* __restrict__ out, const float* __restrict__ x, long long total,
                                        int rows, int cols, int C, int group, int shift, int heads) {
  const int T = rows * cols;
  const int N = C / heads;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    const int c = (int)(i % C);
    const long long bt = i / C;
    const int t = (int)(bt % T);
    const long long base = (bt - t) * C; // start of this image
    const int s = (c % N) * heads + c / N;
    const int dir = group > 0 ? min(4, s / group) : 4;
    int r = t / cols, q = t % cols;
    if (dir == 0) q -= shift;
    else if (dir == 1) q += shift;
    else if (dir == 2) r -= shift;
    else if (dir == 3) r += shift;
    out[i] = (r >= 0 && r < rows && q >= 0 && q < cols) ? x[base + (long long)(r * cols + q) * C + c] : 0.f;
  }
}
`,
} as const;
