import { HALF_HELPERS } from './half.js';

/**
 * Rows of an embedding table [V, C] at int32 indices -> float32 [n, C]. The table may be
 * stored as float32, float16 or bfloat16 (one entry point each). An index outside
 * [0, V) yields a row of NaN instead of reading outside the table.
 */
export const GATHER = {
  source: `${HALF_HELPERS}
#define RWKV_GATHER(NAME, T, CONVERT) \\
extern "C" __global__ void NAME(const T* __restrict__ table, const int* __restrict__ idx, float* __restrict__ out, \\
                                long long n, int C, int V) { \\
  const long long total = n * C; \\
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) { \\
    const long long r = i / C; \\
    const int c = (int)(i - r * C); \\
    const int row = idx[r]; \\
    out[i] = (row >= 0 && row < V) ? CONVERT(table[(long long)row * C + c]) : __int_as_float(0x7fc00000); \\
  } \\
}
#define RWKV_SAME(x) (x)
RWKV_GATHER(rwkv_gather_f32, float, RWKV_SAME)
RWKV_GATHER(rwkv_gather_f16, unsigned short, rwkv_f16_to_f32)
RWKV_GATHER(rwkv_gather_bf16, unsigned short, rwkv_bf16_to_f32)
`,
  names: { f32: 'rwkv_gather_f32', f16: 'rwkv_gather_f16', bf16: 'rwkv_gather_bf16' },
} as const;
