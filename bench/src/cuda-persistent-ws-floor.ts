/**
 * The deciding measurement for a 0.1B RWKV-7 decode megakernel (GPU machine only): can the
 * step's dot products hide under its weight copies? cuda-persistent-ring-floor's skeleton (one
 * block an SM streaming its slices of every phase through a ring of bulk copies, three
 * phases a layer) took 178 us a token without its dot products and 236 us with them, where
 * half the weight-streaming bound allows about 188 us: there every thread both refilled the
 * ring (after a block-wide barrier a chunk) and multiplied, and a lane's share of a row was
 * padded to 12 words. The design its note named as the one left (packages/cuda/README.md,
 * "The fewest phases a megakernel can have"): warps specialised. Here warp 0 of each block
 * only issues the copies, refilling a slot as soon as every consumer warp has arrived on the
 * slot's "empty" mbarrier (no block-wide barrier a chunk), so the copies run ahead across
 * phases and grid barriers bounded only by the ring; the other warps only multiply (each
 * lane exactly ceil(k / 256) 16-byte words of a row, two rows at a time) and meet at a grid
 * barrier (a growing counter) among themselves between phases.
 *
 *   node bench/dist/cuda-persistent-ws-floor.js [--layers 12] [--embd 768] [--vocab 65536]
 *     [--consumers 4,8,12] [--rows 2|4] [--x-shared 0|1] [--stages 6] [--chunk-kb 32] [--layer-phases 3]
 */
import { parseArgs } from 'node:util';
import { sharedRuntime } from '@rwkv-streams/cuda';
import { copyBandwidth } from './cuda/gpu-time.js';
import { RELEASE_ACQUIRE_HELPERS } from './cuda/grid-sync.js';
import {
  probePhaseSets,
  RING_OPTIONS,
  ringFigureCells,
  ringSizes,
  ringSource,
  timeRingKernel,
  uploadPhaseSet,
} from './cuda/phase-stream.js';

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '12' },
    embd: { type: 'string', default: '768' },
    vocab: { type: 'string', default: '65536' },
    consumers: { type: 'string', default: '4,8,12' },
    // rows a consumer warp sums at a time (independent chains of loads and shuffles)
    rows: { type: 'string', default: '2' },
    // 1: a phase's input is read from L2 once a block into shared memory, and each consumer
    // warp takes its columns from there (0: every consumer warp reads it from L2)
    'x-shared': { type: 'string', default: '0' },
    ...RING_OPTIONS,
    'layer-phases': { type: 'string', default: '3' },
  },
});
const [L, C, V] = [values.layers, values.embd, values.vocab].map(Number) as [number, number, number];
const { stages: STAGES, chunkBytes: CHUNK_BYTES } = ringSizes(values);
const PER_LAYER = values['layer-phases'] === '6' ? 6 : 3;
const MAX_CHUNKS = 512;
const VECTOR = 65536;
const ROWS = Number(values.rows);
const X_SHARED = values['x-shared'] === '1';
if (ROWS !== 2 && ROWS !== 4) throw new Error(`--rows takes 2 or 4, not ${values.rows}`);
const MAX_K = 1536; // the widest phase row of the 3-phase layout (the channel mix's key and value)

/** The kernel with `consumers` multiplying warps besides the copying one. */
function source(consumers: number): string {
  return `
${ringSource({ stages: STAGES, chunkBytes: CHUNK_BYTES })}
${RELEASE_ACQUIRE_HELPERS}
#define CONSUMERS ${consumers}
#define ROWS ${ROWS}
#define X_SHARED ${X_SHARED ? 1 : 0}
__shared__ float xs[${MAX_K}];

__device__ __forceinline__ void arrive(unsigned long long* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" :: "r"(smem(bar)) : "memory");
}
// the consumer warps only (named barrier 1): the copying warp never waits for them here
__device__ __forceinline__ void consumers_sync() {
  asm volatile("bar.sync 1, %0;" :: "r"(CONSUMERS * 32) : "memory");
}
__device__ __forceinline__ void consumer_grid_barrier(unsigned* counter, unsigned base, unsigned i) {
  consumers_sync();
  if (threadIdx.x == 32) grid_arrive_and_wait(counter, base, i);
  consumers_sync();
}

// One phase's chunks for the consumer warps: each warp two rows at a time, each lane the NQ
// 16-byte words q = lane + 32 i of a row (NQ = ceil(k / 256): no padded words) against the
// input columns it holds; a warp arrives on the slot's empty barrier when done with it.
// skip 2: wait for the copies and release the slots without multiplying.
template <int NQ>
__device__ __forceinline__ void consume_phase(int p, int& j, int count, const Chunk* mine,
    unsigned long long* full, unsigned long long* empty, const char* ring, const float* x, float* y,
    float* out, bool last, int skip) {
  const int lane = threadIdx.x & 31, cw = (threadIdx.x >> 5) - 1;
  if (!(j < count && mine[j].phase == p)) return;
  const int per = mine[j].k / 8;
#if X_SHARED
  // the phase's input once a block from L2 into shared memory, then each warp's columns from there
  for (int i = threadIdx.x - 32; i < 8 * per; i += CONSUMERS * 32) xs[i] = x[i];
  consumers_sync();
  const float* xsrc = xs;
#else
  const float* xsrc = x;
#endif
  float xr[NQ * 8];
#pragma unroll
  for (int i = 0; i < NQ; i++) {
    const int q = lane + 32 * i;
#pragma unroll
    for (int e = 0; e < 8; e++) xr[8 * i + e] = q < per ? xsrc[8 * q + e] : 0.f;
  }
  for (; j < count && mine[j].phase == p; j++) {
    const Chunk c = mine[j];
    const int s = j % ${STAGES};
    wait_full(&full[s], (unsigned)((j / ${STAGES}) & 1));
    const uint4* w = reinterpret_cast<const uint4*>(ring + s * ${CHUNK_BYTES});
    const int rows = c.rows;
    for (int r = ROWS * cw; r < rows && !(skip & 2); r += ROWS * CONSUMERS) {
      float a[ROWS];
#pragma unroll
      for (int t = 0; t < ROWS; t++) a[t] = 0.f;
#pragma unroll
      for (int i = 0; i < NQ; i++) {
        const int q = lane + 32 * i;
        if (q < per) {
#pragma unroll
          for (int t = 0; t < ROWS; t++)
            if (r + t < rows) a[t] += dot8(w[(r + t) * per + q], xr + 8 * i);
        }
      }
#pragma unroll
      for (int o = 16; o > 0; o >>= 1)
#pragma unroll
        for (int t = 0; t < ROWS; t++) a[t] += __shfl_xor_sync(0xffffffffu, a[t], o);
      if (lane == 0) {
        const int row = (int)c.row0 + r;
#pragma unroll
        for (int t = 0; t < ROWS; t++)
          if (r + t < rows) {
            if (last) out[row + t] = a[t];
            else y[row + t] = a[t] * 1e-3f;
          }
      }
    }
    __syncwarp();
    if (lane == 0) arrive(&empty[s]);
  }
}

extern "C" __global__ void __launch_bounds__(32 * (CONSUMERS + 1)) ws_floor(
    const char* __restrict__ weights, const Chunk* __restrict__ chunks, const int* __restrict__ perBlock,
    int phases, float* act, float* __restrict__ out, unsigned* bar, int skip) {
  extern __shared__ __align__(128) char ring[];
  __shared__ Chunk mine[${MAX_CHUNKS}];
  __shared__ __align__(8) unsigned long long full[${STAGES}];
  __shared__ __align__(8) unsigned long long empty[${STAGES}];
  const unsigned base = bar[2];
  const int count = perBlock[2 * blockIdx.x + 1];
  for (int i = threadIdx.x; i < count; i += blockDim.x) mine[i] = chunks[perBlock[2 * blockIdx.x] + i];
  if (threadIdx.x == 0) {
    for (int s = 0; s < ${STAGES}; s++) {
      asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(smem(&full[s])));
      asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" :: "r"(smem(&empty[s])), "r"(CONSUMERS));
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  if (threadIdx.x < 32) {
    // the copying warp: slot s is refilled once every consumer warp has released it
    if (threadIdx.x == 0)
      for (int j = 0; j < count; j++) {
        const int s = j % ${STAGES};
        if (j >= ${STAGES}) wait_full(&empty[s], (unsigned)(((j / ${STAGES}) - 1) & 1));
        issue(&full[s], ring + s * ${CHUNK_BYTES}, weights + 16ull * mine[j].at, (unsigned)(mine[j].rows * mine[j].k * 2));
      }
    return;
  }
  int j = 0;
  for (int p = 0; p < phases; p++) {
    const float* x = act + (p & 1) * ${VECTOR};
    float* y = act + ((p + 1) & 1) * ${VECTOR};
    const int k = j < count && mine[j].phase == p ? mine[j].k : 8;
    const bool last = p == phases - 1;
    if (k <= 256) consume_phase<1>(p, j, count, mine, full, empty, ring, x, y, out, last, skip);
    else if (k <= 512) consume_phase<2>(p, j, count, mine, full, empty, ring, x, y, out, last, skip);
    else if (k <= 768) consume_phase<3>(p, j, count, mine, full, empty, ring, x, y, out, last, skip);
    else if (k <= 1024) consume_phase<4>(p, j, count, mine, full, empty, ring, x, y, out, last, skip);
    else if (k <= 1280) consume_phase<5>(p, j, count, mine, full, empty, ring, x, y, out, last, skip);
    else if (k <= 1536) consume_phase<6>(p, j, count, mine, full, empty, ring, x, y, out, last, skip);
    else consume_phase<12>(p, j, count, mine, full, empty, ring, x, y, out, last, skip);
    consumer_grid_barrier(bar, base, (unsigned)p);
  }
  if (blockIdx.x == 0 && threadIdx.x == 32) bar[2] = base + (unsigned)phases * gridDim.x;
}
`;
}

const rt = sharedRuntime();
const SMS = rt.ctx.attribute(16); // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
const SMEM = STAGES * CHUNK_BYTES;
const bandwidth = copyBandwidth(rt);
console.log(
  `device: ${rt.ctx.name}, ${SMS} SMs; copy bandwidth ${(bandwidth / 1e9).toFixed(0)} GB/s; RWKV-7 ${L} x ${C}, vocab ${V}; ${PER_LAYER} phases a layer; one block an SM: a copying warp and --consumers multiplying warps (${ROWS} rows at a time, the input ${X_SHARED ? 'through shared memory' : 'from L2 a warp'}), ${STAGES} x ${CHUNK_BYTES >> 10} KB in flight a block; median of 5 x 20 tokens`,
);
console.log(
  '| phases | consumer warps | done | MB a token | us a token | GB/s | of the copy bandwidth | us a phase beyond streaming |',
);
console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
const sets = probePhaseSets(L, C, V, PER_LAYER, SMS);
const act = rt.ctx.malloc(2 * VECTOR * 4);
const out = rt.ctx.malloc(VECTOR * 4);
const bar = rt.ctx.malloc(256);
rt.ctx.memsetD32Async(bar, 0, 64, rt.stream);
const kernels = values.consumers.split(',').map((n) => {
  const consumers = Number(n);
  const fn = rt.kernel(source(consumers), 'ws_floor');
  rt.ctx.setMaxDynamicSharedMemory(fn, SMEM);
  return { consumers, fn };
});
for (const [what, phases] of sets) {
  const set = uploadPhaseSet(rt, phases, SMS, CHUNK_BYTES, MAX_CHUNKS);
  const { bytes } = set;
  rt.ctx.memsetD32Async(act, 0x3f800000, 2 * VECTOR, rt.stream);
  for (const { consumers, fn } of kernels)
    for (const skip of [0, 2]) {
      const us = timeRingKernel(
        rt,
        fn,
        { blocks: SMS, threads: 32 * (consumers + 1), sharedMemBytes: SMEM },
        set,
        phases.length,
        { act, out, bar },
        skip,
      );
      console.log(
        `| ${what} | ${consumers} | ${skip === 2 ? 'no dot products' : 'all'} | ${ringFigureCells(bytes, us, bandwidth, phases.length)} |`,
      );
    }
  rt.stream.synchronize();
  set.free();
}
for (const p of [act, out, bar]) rt.ctx.free(p);
