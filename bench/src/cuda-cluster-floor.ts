/**
 * The floor of a RWKV-7 decode step run by one thread-block cluster (GPU machine only). The
 * grid-wide designs (a graph of dependent kernels, one persistent kernel with grid barriers)
 * pay about a microsecond a phase to exchange vectors through L2 and 73 phases a token, which
 * keeps the 0.1B step above half the weight-streaming bound (cuda-persistent-floor). Inside a
 * cluster (up to 16 blocks on an H100, one GPC) blocks exchange through distributed shared
 * memory and the cluster's own barrier, and cuda-few-sm-bandwidth measured 16 SMs streaming
 * 1.79-1.88 TB/s with bulk copies. This is the skeleton of that design: the step's phases
 * (as in cuda-persistent-floor: per layer the input projections with the LoRA downs, the LoRA
 * ups, the WKV state, the output, the channel mix's key, its value; then the head) as GEMVs
 * over the real weight bytes, each block streaming its contiguous slice of every phase through
 * a ring of bulk copies (`cp.async.bulk` into shared memory, which keeps streaming while the
 * block waits at a barrier), pushing its outputs into every block's shared memory, and a
 * cluster barrier between phases. No RWKV arithmetic beyond the dot products.
 *
 *   node bench/dist/cuda-cluster-floor.js [--layers 12] [--embd 768] [--vocab 65536]
 *     [--clusters 16,8] [--threads 512] [--stages 6] [--chunk-kb 32] [--modes 0,2,3]
 */
import { parseArgs } from 'node:util';
import { sharedRuntime } from '@rwkv-streams/cuda';
import { copyBandwidth, gpuMs } from './cuda/gpu-time.js';
import {
  layoutChunks,
  type Phase,
  RING_OPTIONS,
  ringSizes,
  ringSource,
  rwkv7LayerPhases,
  rwkv7StepPhases,
  STEP_SHAPE_OPTIONS,
  stepShape,
} from './cuda/phase-stream.js';

const { values } = parseArgs({
  options: {
    ...STEP_SHAPE_OPTIONS,
    clusters: { type: 'string', default: '16,8' },
    ...RING_OPTIONS,
    // 2: no broadcast of the outputs; 3: nor a cluster barrier, only the block's (timing only;
    // 1, a broadcast without the cluster barrier, would store into blocks that have exited)
    modes: { type: 'string', default: '0' },
  },
});
const { L, C, V, threads: THREADS } = stepShape(values);
const { stages: STAGES, chunkBytes: CHUNK_BYTES } = ringSizes(values);
const MAX_VECTOR = 4 * C; // the longest vector pushed between blocks (the channel mix's key)
const MAX_CHUNKS = 640; // a block's chunks of the 0.1B step: about 550
const MAX_PHASES = 80;

const source = `
${ringSource({ stages: STAGES, chunkBytes: CHUNK_BYTES })}
__device__ __forceinline__ unsigned cluster_rank() { unsigned r; asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r)); return r; }
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\\nbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}
// Copies float4s [first, first + n) of 'local' into the same place in every block's shared
// memory, one 16-byte remote store a thread at a time.
__device__ __forceinline__ void broadcast(float* local, int first, int n, unsigned peers) {
  for (int i = threadIdx.x; i < n * (int)peers; i += blockDim.x) {
    const unsigned peer = (unsigned)(i / n);
    float* at = local + 4 * (first + i % n);
    const float4 v = *reinterpret_cast<const float4*>(at);
    unsigned remote;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(smem(at)), "r"(peer));
    asm volatile("st.shared::cluster.v4.f32 [%0], {%1, %2, %3, %4};" :: "r"(remote), "f"(v.x), "f"(v.y), "f"(v.z), "f"(v.w) : "memory");
  }
}
extern "C" __global__ void __launch_bounds__(${THREADS}) cluster_floor(
    const char* __restrict__ weights, const Chunk* __restrict__ chunks, const int* __restrict__ perBlock,
    const int* __restrict__ sliceOf, int phases, float* __restrict__ out, int mode) {
  extern __shared__ __align__(128) char ring[];
  __shared__ Chunk mine[${MAX_CHUNKS}];
  __shared__ int2 slice[${MAX_PHASES}];
  __shared__ __align__(8) unsigned long long full[${STAGES}];
  __shared__ __align__(16) float vec[2][${MAX_VECTOR}];
  const unsigned me = cluster_rank(), peers = gridDim.x;
  const int count = perBlock[2 * me + 1];
  for (int i = threadIdx.x; i < count; i += blockDim.x) mine[i] = chunks[perBlock[2 * me] + i];
  for (int i = threadIdx.x; i < phases; i += blockDim.x)
    slice[i] = make_int2(sliceOf[2 * (me * phases + i)], sliceOf[2 * (me * phases + i) + 1]);
  __syncthreads();
  for (int i = threadIdx.x; i < ${MAX_VECTOR}; i += blockDim.x) vec[0][i] = 1.f;
  if (threadIdx.x == 0) {
    for (int s = 0; s < ${STAGES}; s++) asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(smem(&full[s])));
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    for (int j = 0; j < count && j < ${STAGES}; j++)
      issue(&full[j], ring + j * ${CHUNK_BYTES}, weights + 16ull * mine[j].at, (unsigned)(mine[j].rows * mine[j].k * 2));
  }
  cluster_sync();
  int j = 0;
  for (int p = 0; p < phases; p++) {
    const float* x = vec[p & 1];
    float* y = vec[(p + 1) & 1];
    const int k = j < count && mine[j].phase == p ? mine[j].k : 8;
    const bool last = p == phases - 1;
    // the phase's input lives in registers, each lane holding the columns it multiplies
    if (k <= 256) run_phase<1>(p, j, count, mine, full, ring, weights, x, y, out, last, 0);
    else if (k <= 512) run_phase<2>(p, j, count, mine, full, ring, weights, x, y, out, last, 0);
    else if (k <= 768) run_phase<3>(p, j, count, mine, full, ring, weights, x, y, out, last, 0);
    else run_phase<12>(p, j, count, mine, full, ring, weights, x, y, out, last, 0);
    // this block's rows of the phase: [4 slice[p].x, 4 slice[p].y)
    __syncthreads();
    if (!(mode & 2) && p < phases - 1) broadcast(y, slice[p].x, slice[p].y - slice[p].x, peers);
    if (mode & 1) __syncthreads();
    else cluster_sync(); // the phase's outputs are in every block's shared memory
  }
}
`;

const rt = sharedRuntime();
const fn = rt.kernel(source, 'cluster_floor');
const SMEM = STAGES * CHUNK_BYTES;
rt.ctx.setMaxDynamicSharedMemory(fn, SMEM);
rt.ctx.allowNonPortableClusters(fn);

const bandwidth = copyBandwidth(rt);
console.log(
  `device: ${rt.ctx.name}; copy bandwidth ${(bandwidth / 1e9).toFixed(0)} GB/s; RWKV-7 ${L} x ${C}, vocab ${V}; ${THREADS} threads a block, ${STAGES} x ${CHUNK_BYTES >> 10} KB in flight a block; median of 5 x 20 tokens`,
);
console.log('| phases | exchange | MB a token | cluster | us a token | GB/s | of the copy bandwidth |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
const MODES: Record<number, string> = {
  0: 'broadcast + cluster barrier',
  2: 'cluster barrier only',
  3: 'block barrier only',
};
const layers: Phase[] = [];
for (let l = 0; l < L; l++) layers.push(...rwkv7LayerPhases(C));
const sets: [string, Phase[]][] = [
  ['the layers, then the head', rwkv7StepPhases(L, C, V)],
  ['the layers (the last phase writes out)', layers],
  ['barriers only (1 row of 8 a phase)', layers.map((p) => ({ ...p, rows: 16, k: 8 }))],
];
for (const [what, phases] of sets) {
  const bytes = phases.reduce((a, p) => a + p.rows * p.k * 2, 0);
  const weights = rt.ctx.malloc(bytes);
  rt.ctx.memsetD32Async(weights, 0x3f803f80, bytes / 4, rt.stream); // bfloat16 1.0 pairs
  const out = rt.ctx.malloc(Math.max(V, MAX_VECTOR) * 4);
  for (const g of values.clusters.split(',').map(Number)) {
    const { table, perBlock, slices, longest } = layoutChunks(phases, g, CHUNK_BYTES, 4); // whole float4s, for the broadcast
    if (longest > MAX_CHUNKS) throw new Error(`${longest} chunks a block, at most ${MAX_CHUNKS}`);
    const tablePtr = rt.ctx.malloc(table.byteLength);
    const blocksPtr = rt.ctx.malloc(perBlock.byteLength);
    rt.ctx.copyToDevice(tablePtr, table, rt.stream);
    rt.ctx.copyToDevice(blocksPtr, perBlock, rt.stream);
    const slicesPtr = rt.ctx.malloc(slices.byteLength);
    rt.ctx.copyToDevice(slicesPtr, slices, rt.stream);
    for (const mode of values.modes.split(',').map(Number)) {
      const ms = gpuMs(
        rt,
        () =>
          rt.ctx.launch(
            fn,
            { grid: [g], block: [THREADS], cluster: [g], sharedMemBytes: SMEM, stream: rt.stream },
            [
              { ptr: weights },
              { ptr: tablePtr },
              { ptr: blocksPtr },
              { ptr: slicesPtr },
              { i32: phases.length },
              { ptr: out },
              { i32: mode },
            ],
          ),
        20,
      );
      const us = ms * 1000;
      console.log(
        `| ${what} | ${MODES[mode] ?? mode} | ${(bytes / 1e6).toFixed(1)} | ${g} | ${us.toFixed(1)} | ${(bytes / us / 1e3).toFixed(0)} | ${((100 * bytes) / us / 1e-6 / bandwidth).toFixed(0)}% |`,
      );
    }
    rt.stream.synchronize();
    rt.ctx.free(tablePtr);
    rt.ctx.free(blocksPtr);
    rt.ctx.free(slicesPtr);
  }
  rt.ctx.free(weights);
  rt.ctx.free(out);
}
