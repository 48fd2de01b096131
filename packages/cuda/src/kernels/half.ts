/**
 * Half-precision conversions as inline PTX on raw 16-bit words, so kernels need no CUDA
 * headers (NVRTC then compiles them without an include path). bfloat16 rounding
 * (cvt.rn.bf16.f32) needs sm_80 or newer.
 */
export const HALF_HELPERS = `
__device__ __forceinline__ float rwkv_f16_to_f32(unsigned short h) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f; }
__device__ __forceinline__ unsigned short rwkv_f32_to_f16(float f) { unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }
__device__ __forceinline__ float rwkv_bf16_to_f32(unsigned short b) { return __uint_as_float(((unsigned int)b) << 16); }
__device__ __forceinline__ unsigned short rwkv_f32_to_bf16(float f) { unsigned short h; asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }
`;
