/**
 * CUDA C helpers for the persistent-kernel probes (cuda-floor, cuda-persistent-floor): a
 * release store, an acquire load and a release reduction at GPU scope, the pieces of a
 * software grid barrier that needs neither fences nor a value returned by an atomic, and that
 * barrier itself on a growing counter (grid_barrier_counter).
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
// One block's part in grid barrier i on a counter that only grows, by one thread: add 1
// (release) and poll (acquire) until the count reaches base + (i + 1) x the grid; base is
// the count at launch start, which block 0 of the launch before leaves behind it (no
// reset, no fences).
__device__ __forceinline__ void grid_arrive_and_wait(unsigned* counter, unsigned base, unsigned i) {
  red_release_add(counter, 1u);
  const unsigned target = base + (i + 1u) * gridDim.x;
  while (ld_acquire(counter) < target) {}
}
// Grid barrier i for every thread of every block (thread 0 arrives for its block).
__device__ __forceinline__ void grid_barrier_counter(unsigned* counter, unsigned base, unsigned i) {
  __syncthreads();
  if (threadIdx.x == 0) grid_arrive_and_wait(counter, base, i);
  __syncthreads();
}
`;
