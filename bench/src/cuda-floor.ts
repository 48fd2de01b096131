/**
 * The GPU's floor for a decode step built of dependent phases: what one more kernel costs
 * inside a replayed CUDA graph (a chain of N empty dependent kernels), and what one more
 * grid-wide barrier costs inside one persistent kernel (one block per SM, a software
 * barrier on a global counter, all blocks resident). A RWKV-7 decode step at batch 1 is
 * ~22 dependent phases a layer today; half the weight-streaming bound at 0.1B leaves
 * 132 us a token for 12 layers, so these two numbers say how many phases a layer can
 * afford (packages/cuda/README.md). GPU machine only.
 *
 *   node bench/dist/cuda-floor.js [--kernels 100,400] [--barriers 0,100,1000]
 */
import { parseArgs } from 'node:util';
import { sharedRuntime } from '@rwkv-streams/cuda';
import { gpuMs } from './cuda/gpu-time.js';

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
`;
const empty = rt.kernel(source, 'floor_empty');
const barriers = rt.kernel(source, 'floor_barriers');
const state = rt.ctx.malloc(256);
rt.ctx.memsetD32Async(state, 0, 64, rt.stream);

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
const sync: [number, number][] = [];
for (const n of barrierCounts) {
  const ms = timeMs(
    () =>
      rt.ctx.launch(barriers, { grid: [SMS], block: [128], stream: rt.stream }, [{ ptr: state }, { i32: n }]),
    10,
  );
  sync.push([n, ms]);
  console.log(`one kernel, ${SMS} blocks, ${n} grid barriers: ${(ms * 1000).toFixed(1)} us`);
}
if (sync.length >= 2) {
  const [[n0, t0], [n1, t1]] = [sync[0]!, sync[sync.length - 1]!];
  console.log(`-> ${(((t1 - t0) / (n1 - n0)) * 1000).toFixed(2)} us per grid barrier`);
}
rt.stream.synchronize();
rt.ctx.free(state);
