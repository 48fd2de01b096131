/**
 * The GPU's floor for a decode step built of dependent phases: what one more kernel costs
 * inside a replayed CUDA graph (a chain of N empty dependent kernels), and what one more
 * grid-wide barrier costs inside one persistent kernel (one block per SM, all blocks
 * resident), for several software barriers: the first probe's (an atomic counter reset at
 * each barrier, with fences), a counter that only grows (release adds, acquire polls), and
 * a flag a block gathered by block 0. A RWKV-7 decode step at batch 1 is
 * ~22 dependent phases a layer today; half the weight-streaming bound at 0.1B leaves
 * 132 us a token for 12 layers, so these two numbers say how many phases a layer can
 * afford (packages/cuda/README.md). GPU machine only.
 *
 *   node bench/dist/cuda-floor.js [--kernels 100,400] [--barriers 0,100,1000]
 */
import { parseArgs } from 'node:util';
import { sharedRuntime } from '@rwkv-streams/cuda';
import { gpuMs } from './cuda/gpu-time.js';
import { RELEASE_ACQUIRE_HELPERS } from './cuda/grid-sync.js';

const { values } = parseArgs({
  options: {
    kernels: { type: 'string', default: '100,400' },
    barriers: { type: 'string', default: '0,100,1000' },
  },
});
const kernelCounts = values.kernels.split(',').map(Number);
const barrierCounts = values.barriers.split(',').map(Number);
for (const n of [...kernelCounts, ...barrierCounts])
  if (!Number.isInteger(n) || n < 0) throw new Error(`counts must be whole numbers >= 0, got ${n}`);

const rt = sharedRuntime();
const SMS = rt.ctx.attribute(16); // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
const source = `
extern "C" __global__ void floor_empty(unsigned* p) { if (threadIdx.x == 0 && blockIdx.x == 0 && p[0] == 0xffffffffu) p[1] = 1; }

// Sense-reversing barrier over every block of the grid (all resident: one block per SM).
__device__ void grid_barrier(unsigned* count, volatile unsigned* gen, unsigned blocks) {
  __syncthreads();
  if (threadIdx.x == 0) {
    const unsigned g = *gen;
    __threadfence();
    if (atomicAdd(count, 1u) == blocks - 1u) {
      *count = 0u;
      __threadfence();
      atomicAdd((unsigned*)gen, 1u);
    } else {
      while (*gen == g) {}
    }
    __threadfence();
  }
  __syncthreads();
}

extern "C" __global__ void floor_barriers(unsigned* state, int n) {
  for (int i = 0; i < n; i++) grid_barrier(state, state + 1, gridDim.x);
}

${RELEASE_ACQUIRE_HELPERS}

// A counter that only grows: each block adds 1 (a release reduction, no value returned) and
// polls until it reaches this barrier's multiple of the grid; no reset, no fences. The count
// at launch start (state[2]) is written by block 0 of the launch before, after its last barrier.
extern "C" __global__ void floor_barriers_counter(unsigned* state, int n) {
  const unsigned base = state[2];
  for (int i = 0; i < n; i++) grid_barrier_counter(state, base, (unsigned)i);
  if (blockIdx.x == 0 && threadIdx.x == 0) state[2] = base + (unsigned)n * gridDim.x;
}

// A flag a block (flags[b * stride]), no atomics: block 0 polls every flag (one thread a
// flag) and then releases all through one word. Epochs only grow (state[3]: the launch's base).
extern "C" __global__ void floor_barriers_flags(unsigned* state, int n, int stride) {
  unsigned* release = state + 32;
  unsigned* flags = state + 64;
  const unsigned base = state[3];
  for (int i = 0; i < n; i++) {
    const unsigned epoch = base + (unsigned)i + 1u;
    __syncthreads();
    if (threadIdx.x == 0) st_release(flags + blockIdx.x * stride, epoch);
    if (blockIdx.x == 0) {
      for (int b = threadIdx.x; b < gridDim.x; b += blockDim.x)
        while (ld_acquire(flags + b * stride) < epoch) {}
      __syncthreads();
      if (threadIdx.x == 0) st_release(release, epoch);
    } else if (threadIdx.x == 0) {
      while (ld_acquire(release) < epoch) {}
    }
    __syncthreads();
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) state[3] = base + (unsigned)n;
}
`;
const empty = rt.kernel(source, 'floor_empty');
const barrierKinds = {
  'atomic counter reset each barrier, fences (the first probe)': {
    fn: rt.kernel(source, 'floor_barriers'),
    extra: [] as { i32: number }[],
  },
  'growing counter, release add + acquire polls': {
    fn: rt.kernel(source, 'floor_barriers_counter'),
    extra: [],
  },
  'a flag a block (one 128-byte line each), block 0 gathers': {
    fn: rt.kernel(source, 'floor_barriers_flags'),
    extra: [{ i32: 32 }],
  },
  'a flag a block (packed words), block 0 gathers': {
    fn: rt.kernel(source, 'floor_barriers_flags'),
    extra: [{ i32: 1 }],
  },
};
const STATE_BYTES = (64 + 1024 * 32) * 4;
const state = rt.ctx.malloc(STATE_BYTES);
rt.ctx.memsetD32Async(state, 0, STATE_BYTES / 4, rt.stream);

const timeMs = (enqueue: () => void, reps: number) => gpuMs(rt, enqueue, reps);

console.log(`device: ${SMS} SMs`);
const chain: [number, number][] = [];
for (const n of kernelCounts) {
  rt.stream.beginCapture();
  for (let i = 0; i < n; i++)
    rt.ctx.launch(empty, { grid: [SMS], block: [128], stream: rt.stream }, [{ ptr: state }]);
  const graph = rt.stream.endCapture();
  const ms = timeMs(() => graph.launch(rt.stream), 20);
  graph.dispose();
  chain.push([n, ms]);
  console.log(
    `graph of ${n} dependent empty kernels (${SMS} blocks each): ${(ms * 1000).toFixed(1)} us a replay`,
  );
}
if (chain.length >= 2) {
  const [[n0, t0], [n1, t1]] = [chain[0]!, chain[chain.length - 1]!];
  console.log(`-> ${(((t1 - t0) / (n1 - n0)) * 1000).toFixed(2)} us per dependent kernel inside a graph`);
}
for (const [kind, { fn, extra }] of Object.entries(barrierKinds)) {
  console.log(`grid barrier: ${kind}`);
  const sync: [number, number][] = [];
  for (const n of barrierCounts) {
    const ms = timeMs(
      () =>
        rt.ctx.launch(fn, { grid: [SMS], block: [128], stream: rt.stream }, [
          { ptr: state },
          { i32: n },
          ...extra,
        ]),
      10,
    );
    sync.push([n, ms]);
    console.log(`  one kernel, ${SMS} blocks, ${n} grid barriers: ${(ms * 1000).toFixed(1)} us`);
  }
  if (sync.length >= 2) {
    const [[n0, t0], [n1, t1]] = [sync[0]!, sync[sync.length - 1]!];
    console.log(`  -> ${(((t1 - t0) / (n1 - n0)) * 1000).toFixed(2)} us per grid barrier`);
  }
}
rt.stream.synchronize();
rt.ctx.free(state);
