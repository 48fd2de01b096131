// Runs a CUDA kernel's source on the host, for tests on machines without a GPU: every CUDA
// thread of a block is a std::thread, __syncthreads() a std::barrier across them, __shared__
// arrays are static (one copy, shared by the block's threads; blocks run one after another).
// Only what the kernels in this folder use: 1-D grids and blocks, __shared__, __syncthreads.
// Include it before the kernel source; launch with emulate_launch(grid, block, [&] { kernel(...); }).
#pragma once
#include <barrier>
#include <math.h>
#include <thread>
#include <vector>

struct emulated_dim3 {
  unsigned x, y, z;
};
static thread_local emulated_dim3 threadIdx;
static emulated_dim3 blockIdx;
static std::barrier<>* emulated_block_barrier = nullptr;

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __syncthreads() emulated_block_barrier->arrive_and_wait()

template <class Body>
void emulate_launch(unsigned grid, unsigned block, Body body) {
  for (unsigned g = 0; g < grid; g++) {
    blockIdx = {g, 0, 0};
    std::barrier<> barrier(block);
    emulated_block_barrier = &barrier;
    std::vector<std::thread> threads;
    threads.reserve(block);
    for (unsigned t = 0; t < block; t++)
      threads.emplace_back([t, &body] {
        threadIdx = {t, 0, 0};
        body();
      });
    for (auto& th : threads) th.join();
  }
}
