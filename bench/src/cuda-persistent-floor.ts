/**
 * The floor of a persistent decode step (GPU machine only): one kernel, one block per SM,
 * walks the phases a RWKV-7 decode step at batch 1 has to keep apart (a layer: the six input
 * projections with the LoRA downs; the LoRA ups; the WKV state; the output projection; the
 * channel mix's key; its value; then the head), each phase a GEMV over that phase's real
 * weight bytes, with a software grid barrier between phases. No RWKV arithmetic beyond the
 * dot products: what it times is the least such a kernel could take, streaming the weights
 * and waiting at the barriers. The question it answers: could one persistent kernel a token
 * bring the 0.1B decode to half the weight-streaming bound, which a graph of 112 dependent
 * kernels (347 us of GPU time a token) misses by 2x? Variants: the barrier (a growing
 * counter; a flag a block) and whether each block prefetches its slice of the next phase's
 * weights into L2 (`prefetch.global.L2`) before it computes the current one.
 *
 *   node bench/dist/cuda-persistent-floor.js [--layers 12] [--embd 768] [--vocab 65536]
 */
import { parseArgs } from 'node:util';
import { sharedRuntime } from '@rwkv-streams/cuda';
import { copyBandwidth, gpuMs } from './cuda/gpu-time.js';
import { RELEASE_ACQUIRE_HELPERS } from './cuda/grid-sync.js';
import { rwkv7StepPhases, STEP_SHAPE_OPTIONS, stepShape } from './cuda/phase-stream.js';

const { values } = parseArgs({ options: STEP_SHAPE_OPTIONS });
const { L, C, V, threads: THREADS } = stepShape(values);

const phases = rwkv7StepPhases(L, C, V);
for (const p of phases)
  if (p.k % 8 !== 0) throw new Error(`phase '${p.what}': k = ${p.k} must be a multiple of 8`);

const source = `
struct Phase { const uint4* w; int rows; int k; };

${RELEASE_ACQUIRE_HELPERS}
__device__ __forceinline__ float h2f(unsigned short h) {
  float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f;
}

// bar: [0] growing counter, [2] its value at launch start, [3] flag epoch base,
// [32] release word, [64 + 32 b] block b's flag.
__device__ void barrier(unsigned* bar, unsigned base, unsigned i, int kind) {
  if (kind == 0) {
    grid_barrier_counter(bar, base, i);
    return;
  }
  __syncthreads();
  const unsigned epoch = base + i + 1u;
  if (threadIdx.x == 0) st_release(bar + 64 + 32 * blockIdx.x, epoch);
  if (blockIdx.x == 0) {
    for (int b = threadIdx.x; b < gridDim.x; b += blockDim.x)
      while (ld_acquire(bar + 64 + 32 * b) < epoch) {}
    __syncthreads();
    if (threadIdx.x == 0) st_release(bar + 32, epoch);
  } else if (threadIdx.x == 0) {
    while (ld_acquire(bar + 32) < epoch) {}
  }
  __syncthreads();
}

// This block's rows of a phase: an even split of the rows over the grid.
__device__ __forceinline__ void slice(int rows, int* r0, int* r1) {
  const int per = (rows + gridDim.x - 1) / gridDim.x;
  *r0 = min(rows, blockIdx.x * per);
  *r1 = min(rows, *r0 + per);
}

extern "C" __global__ void __launch_bounds__(1024) persistent_floor(
    const Phase* __restrict__ phases, int count, float* __restrict__ act, unsigned* bar,
    int kind, int prefetch) {
  const unsigned base = kind == 0 ? bar[2] : bar[3];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int p = 0; p < count; p++) {
    const Phase ph = phases[p];
    if (prefetch && p + 1 < count) {
      const Phase nx = phases[p + 1];
      int r0, r1;
      slice(nx.rows, &r0, &r1);
      const char* from = (const char*)nx.w + (size_t)r0 * nx.k * 2;
      const size_t lines = ((size_t)(r1 - r0) * nx.k * 2 + 127) / 128;
      for (size_t j = threadIdx.x; j < lines; j += blockDim.x)
        asm volatile("prefetch.global.L2 [%0];" :: "l"(from + j * 128));
    }
    // input: the previous phase's output (the first reads act as it is); output after it
    const float* x = act + (p & 1) * 65536;
    float* y = act + ((p + 1) & 1) * 65536;
    int r0, r1;
    slice(ph.rows, &r0, &r1);
    const int chunks = ph.k / 8; // 16-byte chunks a row
    for (int r = r0 + warp; r < r1; r += warps) {
      const uint4* w = ph.w + (size_t)r * chunks;
      float acc = 0.f;
#pragma unroll 4
      for (int c = lane; c < chunks; c += 32) {
        const uint4 q = w[c];
        const float4 a = *reinterpret_cast<const float4*>(x + 8 * c);
        const float4 b = *reinterpret_cast<const float4*>(x + 8 * c + 4);
        acc += h2f(q.x & 0xffff) * a.x + h2f(q.x >> 16) * a.y + h2f(q.y & 0xffff) * a.z +
               h2f(q.y >> 16) * a.w + h2f(q.z & 0xffff) * b.x + h2f(q.z >> 16) * b.y +
               h2f(q.w & 0xffff) * b.z + h2f(q.w >> 16) * b.w;
      }
      for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
      if (lane == 0) y[r] = acc * 1e-3f;
    }
    barrier(bar, base, (unsigned)p, kind);
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    if (kind == 0) bar[2] = base + (unsigned)count * gridDim.x;
    else bar[3] = base + (unsigned)count;
  }
}
`;

const rt = sharedRuntime();
const SMS = rt.ctx.attribute(16); // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
const fn = rt.kernel(source, 'persistent_floor');
const weightBytes = phases.reduce((a, p) => a + p.rows * p.k * 2, 0);
const weights = rt.ctx.malloc(weightBytes);
rt.ctx.memsetD32Async(weights, 0x3c003c00, weightBytes / 4, rt.stream); // float16 1.0 pairs
const table = new BigUint64Array(phases.length * 2); // { const uint4* w; int rows; int k; }
const tableView = new DataView(table.buffer);
let at = 0n;
phases.forEach((p, i) => {
  table[2 * i] = weights + at;
  tableView.setInt32(16 * i + 8, p.rows, true);
  tableView.setInt32(16 * i + 12, p.k, true);
  at += BigInt(p.rows * p.k * 2);
});
const tablePtr = rt.ctx.malloc(table.byteLength);
rt.ctx.copyToDevice(tablePtr, table, rt.stream);
const act = rt.ctx.malloc(2 * 65536 * 4);
rt.ctx.memsetD32Async(act, 0x3f800000, 2 * 65536, rt.stream);
const BAR_BYTES = (64 + 32 * 1024) * 4;
const bar = rt.ctx.malloc(BAR_BYTES);
rt.ctx.memsetD32Async(bar, 0, BAR_BYTES / 4, rt.stream);
rt.stream.synchronize();

const bandwidth = copyBandwidth(rt);
const boundUs = (weightBytes / bandwidth) * 1e6;
console.log(
  `device: ${rt.ctx.name}, ${SMS} SMs; copy bandwidth ${(bandwidth / 1e9).toFixed(0)} GB/s; RWKV-7 ${L} x ${C}, vocab ${V}: ${phases.length} phases, ${(weightBytes / 1e6).toFixed(1)} MB of weights a token (bound ${boundUs.toFixed(1)} us; half the bound allows ${(2 * boundUs).toFixed(1)} us a token, host included)`,
);
console.log(`one kernel a token: ${SMS} blocks x ${THREADS} threads, median of 5 x 20 tokens`);
console.log('| barrier | L2 prefetch of the next phase | us a token | of the copy bandwidth |');
console.log('| --- | --- | ---: | ---: |');
for (const kind of [0, 1])
  for (const prefetch of [0, 1]) {
    const ms = gpuMs(
      rt,
      () =>
        rt.ctx.launch(fn, { grid: [SMS], block: [THREADS], stream: rt.stream }, [
          { ptr: tablePtr },
          { i32: phases.length },
          { ptr: act },
          { ptr: bar },
          { i32: kind },
          { i32: prefetch },
        ]),
      20,
    );
    console.log(
      `| ${kind === 0 ? 'growing counter' : 'a flag a block'} | ${prefetch ? 'yes' : 'no'} | ${(ms * 1000).toFixed(1)} | ${((100 * boundUs) / (ms * 1000)).toFixed(0)}% |`,
    );
  }
rt.stream.synchronize();
for (const p of [weights, tablePtr, act, bar]) rt.ctx.free(p);
