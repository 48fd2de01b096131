import { HALF_HELPERS } from './half.js';

/**
 * Element type conversions: float32 activations to float16/bfloat16 (the operand a
 * half-precision GEMM reads), and int32 <-> float32 for the IR's Cast op.
 */
export const CAST = {
  source: `${HALF_HELPERS}
#define RWKV_GRID_LOOP(n) for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)
extern "C" __global__ void rwkv_cast_f32_f16(const float* __restrict__ x, unsigned short* __restrict__ y, long long n) { RWKV_GRID_LOOP(n) y[i] = rwkv_f32_to_f16(x[i]); }
extern "C" __global__ void rwkv_cast_f32_bf16(const float* __restrict__ x, unsigned short* __restrict__ y, long long n) { RWKV_GRID_LOOP(n) y[i] = rwkv_f32_to_bf16(x[i]); }
extern "C" __global__ void rwkv_cast_i32_f32(const int* __restrict__ x, float* __restrict__ y, long long n) { RWKV_GRID_LOOP(n) y[i] = (float)x[i]; }
extern "C" __global__ void rwkv_cast_f32_i32(const float* __restrict__ x, int* __restrict__ y, long long n) { RWKV_GRID_LOOP(n) y[i] = (int)x[i]; }
`,
  names: {
    f32ToF16: 'rwkv_cast_f32_f16',
    f32ToBf16: 'rwkv_cast_f32_bf16',
    i32ToF32: 'rwkv_cast_i32_f32',
    f32ToI32: 'rwkv_cast_f32_i32',
  },
} as const;
