/**
 * Draws each stream's next token from its row of logits on the GPU, by the core's rule
 * (`@rwkv-streams/core` lm/token-draw.ts: the argmax at temperature 0, else Gumbel-max with
 * the counter-based lowbias32 noise), and feeds it: writes it into the next call's token
 * input and into column `col` of a [batch, steps] history.
 *
 * Grid (blocks a row, batch), 256 threads. Each block takes the best (score, index) of its
 * slice of a row as one 64-bit key, the score's bits made order-preserving in the high
 * word and the complement of the index in the low word (so the larger key is the higher
 * score, then the lower index), and folds it into the row's cell with `atomicMax`. The
 * row's last block to finish (a ticket counter, after a fence) takes the cell, resetting
 * it and the counter for the next launch, and writes the token. A row whose logits are all
 * NaN has no key: its history entry is -1 (the host reports it) and 0 is fed.
 *
 * Scores are float32 (logit / temperature + g) where the host computes float64: the two
 * choose differently only between scores within float32 rounding of each other.
 */
export const DRAW_TOKEN = {
  name: 'rwkv_draw_token',
  source: `
__device__ __forceinline__ unsigned int rwkv_mix32(unsigned int x) {
  x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
  return x;
}

extern "C" __global__ void rwkv_draw_token(const float* __restrict__ logits, int vocab,
    float temperature, unsigned int seed, unsigned int step,
    unsigned long long* __restrict__ cells, unsigned int* __restrict__ tickets,
    int* __restrict__ feed, int* __restrict__ history, int steps, int col) {
  const int row = blockIdx.y;
  const float* x = logits + (long long)row * vocab;
  const int per = (vocab + gridDim.x - 1) / gridDim.x;
  const int begin = blockIdx.x * per;
  const int end = min(vocab, begin + per);
  const unsigned int key = rwkv_mix32(rwkv_mix32(rwkv_mix32(seed) ^ (unsigned int)row) ^ step);
  unsigned long long best = 0ull;
  for (int i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const float logit = x[i];
    if (isnan(logit)) continue;
    float score = logit;
    if (temperature != 0.0f) {
      const float u = ((float)(rwkv_mix32(key ^ rwkv_mix32((unsigned int)i)) >> 9) + 0.5f) * 1.1920928955078125e-7f;
      score = logit / temperature - logf(-logf(u));
    }
    score += 0.0f; // -0 becomes +0: the two compare equal, as on the host
    const unsigned int bits = __float_as_uint(score);
    const unsigned int ordered = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
    const unsigned long long packed = ((unsigned long long)ordered << 32) | (unsigned long long)(0xffffffffu - (unsigned int)i);
    best = packed > best ? packed : best;
  }
  for (int off = 16; off > 0; off >>= 1) {
    const unsigned long long other = __shfl_xor_sync(0xffffffffu, best, off);
    best = other > best ? other : best;
  }
  __shared__ unsigned long long warps[32];
  __shared__ bool last;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warps[warp] = best;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < (blockDim.x + 31) / 32; w++) best = warps[w] > best ? warps[w] : best;
    if (best != 0ull) atomicMax(cells + row, best);
    __threadfence();
    last = atomicAdd(tickets + row, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!last || threadIdx.x != 0) return;
  const unsigned long long won = atomicExch(cells + row, 0ull);
  tickets[row] = 0u;
  const int token = won == 0ull ? -1 : (int)(0xffffffffu - (unsigned int)(won & 0xffffffffull));
  feed[row] = token < 0 ? 0 : token;
  history[(long long)row * steps + col] = token;
}
`,
} as const;

/** Threads a block of the draw. */
export const DRAW_TOKEN_THREADS = 256;

/** Blocks a row for a vocabulary of `vocab`: about 16 logits a thread, at most 64 blocks. */
export function drawTokenBlocks(vocab: number): number {
  return Math.max(1, Math.min(64, Math.ceil(vocab / (DRAW_TOKEN_THREADS * 16))));
}

/** Bytes of the per-row scratch the draw needs (a 64-bit cell and a ticket a row), zeroed once. */
export function drawScratchBytes(batch: number): number {
  return batch * 12;
}
