/**
 * CUDA C helpers for the persistent-kernel probes (cuda-floor, cuda-persistent-floor): a
 * release store, an acquire load and a release reduction at GPU scope, the pieces of a
 * software grid barrier that needs neither fences nor a value returned by an atomic.
 */
export const RELEASE_ACQUIRE_HELPERS = `
__device__ __forceinline__ void st_release(unsigned* p, unsigned v) {
  asm volatile("st.release.gpu.global.u32 [%0], %1;" :: "l"(p), "r"(v) : "memory");
}
__device__ __forceinline__ unsigned ld_acquire(const unsigned* p) {
  unsigned v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}
__device__ __forceinline__ void red_release_add(unsigned* p, unsigned v) {
  asm volatile("red.release.gpu.global.add.u32 [%0], %1;" :: "l"(p), "r"(v) : "memory");
}
`;
