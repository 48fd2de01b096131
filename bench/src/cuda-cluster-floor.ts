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
 *     [--clusters 16,8] [--threads 512] [--stages 6] [--modes 0,2,3]
 */
import { parseArgs } from 'node:util';
import { sharedRuntime } from '@rwkv-streams/cuda';
import { copyBandwidth, gpuMs } from './cuda/gpu-time.js';

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '12' },
    embd: { type: 'string', default: '768' },
    vocab: { type: 'string', default: '65536' },
    clusters: { type: 'string', default: '16,8' },
    threads: { type: 'string', default: '512' },
    stages: { type: 'string', default: '6' },
    // 2: no broadcast of the outputs; 3: nor a cluster barrier, only the block's (timing only;
    // 1, a broadcast without the cluster barrier, would store into blocks that have exited)
    modes: { type: 'string', default: '0' },
  },
});
const [L, C, V, THREADS, STAGES] = [
  values.layers,
  values.embd,
  values.vocab,
  values.threads,
  values.stages,
].map(Number) as [number, number, number, number, number];
const CHUNK_BYTES = 32 << 10;
const MAX_VECTOR = 4 * C; // the longest vector pushed between blocks (the channel mix's key)
const MAX_CHUNKS = 640; // a block's chunks of the 0.1B step: about 550
const MAX_PHASES = 80;

/** One phase: y[rows] = W[rows, k] x[k], W as 16-bit values, row-major. */
interface Phase {
  readonly what: string;
  readonly rows: number;
  readonly k: number;
}
const layerPhases = (): Phase[] => [
  { what: 'r, k, v + LoRA downs', rows: 3 * C + 64 + 64 + 32 + 128, k: C },
  { what: 'LoRA ups', rows: C, k: 288 },
  { what: 'WKV state', rows: C, k: 128 },
  { what: 'output', rows: C, k: C },
  { what: 'channel-mix key', rows: 4 * C, k: C },
  { what: 'channel-mix value', rows: C, k: 4 * C },
];

const source = `
__device__ __forceinline__ unsigned smem(const void* p) { return (unsigned)__cvta_generic_to_shared(p); }
__device__ __forceinline__ float bf(unsigned short h) { return __uint_as_float(((unsigned)h) << 16); }
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
__device__ __forceinline__ void wait_full(unsigned long long* bar, unsigned parity) {
  unsigned done = 0;
  while (!done)
    asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                 : "=r"(done) : "r"(smem(bar)), "r"(parity) : "memory");
}
__device__ __forceinline__ void issue(unsigned long long* bar, char* dst, const char* src, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" :: "r"(smem(bar)), "r"(bytes) : "memory");
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
               :: "r"(smem(dst)), "l"(src), "r"(bytes), "r"(smem(bar)) : "memory");
}

// A chunk of one block's stream: rows [row0, row0 + rows) of phase 'phase', its bytes at
// weights + 16 * at. Copied into shared memory first: read from global memory inside the
// loop, each descriptor was a dependent L2 round trip on the path of every chunk.
struct Chunk { unsigned at; unsigned row0; unsigned short phase, rows, k, pad; };

__device__ __forceinline__ float dot8(uint4 u, const float* x) {
  return __uint_as_float(u.x << 16) * x[0] + __uint_as_float(u.x & 0xffff0000u) * x[1] +
         __uint_as_float(u.y << 16) * x[2] + __uint_as_float(u.y & 0xffff0000u) * x[3] +
         __uint_as_float(u.z << 16) * x[4] + __uint_as_float(u.z & 0xffff0000u) * x[5] +
         __uint_as_float(u.w << 16) * x[6] + __uint_as_float(u.w & 0xffff0000u) * x[7];
}

// One phase's chunks: each warp takes two rows at a time (two independent sums), each lane
// the NQ 16-byte words q = lane + 32 i of a row, against the input columns it holds.
template <int NQ>
__device__ __forceinline__ void run_phase(int p, int& j, int count, const Chunk* mine, unsigned long long* full,
    char* ring, const char* weights, const float* x, float* y, float* out, bool last) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  if (!(j < count && mine[j].phase == p)) return;
  const int per = mine[j].k / 8;
  float xr[NQ * 8];
#pragma unroll
  for (int i = 0; i < NQ; i++) {
    const int q = lane + 32 * i;
#pragma unroll
    for (int e = 0; e < 8; e++) xr[8 * i + e] = q < per ? x[8 * q + e] : 0.f;
  }
  for (; j < count && mine[j].phase == p; j++) {
    const Chunk c = mine[j];
    const int s = j % ${STAGES};
    wait_full(&full[s], (unsigned)((j / ${STAGES}) & 1));
    const uint4* w = reinterpret_cast<const uint4*>(ring + s * ${CHUNK_BYTES});
    const int rows = c.rows;
    for (int r = 2 * warp; r < rows; r += 2 * warps) {
      const bool two = r + 1 < rows;
      float a0 = 0.f, a1 = 0.f;
#pragma unroll
      for (int i = 0; i < NQ; i++) {
        const int q = lane + 32 * i;
        if (q < per) {
          a0 += dot8(w[r * per + q], xr + 8 * i);
          if (two) a1 += dot8(w[(r + 1) * per + q], xr + 8 * i);
        }
      }
      for (int o = 16; o > 0; o >>= 1) {
        a0 += __shfl_xor_sync(0xffffffffu, a0, o);
        a1 += __shfl_xor_sync(0xffffffffu, a1, o);
      }
      if (lane == 0) {
        const int row = (int)c.row0 + r;
        if (last) { out[row] = a0; if (two) out[row + 1] = a1; }
        else { y[row] = a0 * 1e-3f; if (two) y[row + 1] = a1 * 1e-3f; }
      }
    }
    __syncthreads(); // the slot is read: refill it
    if (threadIdx.x == 0 && j + ${STAGES} < count) {
      const Chunk n = mine[j + ${STAGES}];
      issue(&full[s], ring + s * ${CHUNK_BYTES}, weights + 16ull * n.at, (unsigned)(n.rows * n.k * 2));
    }
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
    if (k <= 256) run_phase<1>(p, j, count, mine, full, ring, weights, x, y, out, last);
    else if (k <= 512) run_phase<2>(p, j, count, mine, full, ring, weights, x, y, out, last);
    else if (k <= 768) run_phase<3>(p, j, count, mine, full, ring, weights, x, y, out, last);
    else run_phase<12>(p, j, count, mine, full, ring, weights, x, y, out, last);
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

/** Each block's chunk list over `phases` (stored back to back) for a cluster of `g` blocks. */
function layout(phases: readonly Phase[], g: number) {
  const chunks: { at: number; phase: number; row0: number; rows: number; k: number }[][] = [];
  for (let b = 0; b < g; b++) chunks.push([]);
  let at = 0;
  phases.forEach((ph, p) => {
    const rowBytes = ph.k * 2;
    const per = 4 * Math.ceil(ph.rows / g / 4); // whole float4s, for the broadcast
    const rowsPerChunk = Math.floor(CHUNK_BYTES / rowBytes);
    for (let b = 0; b < g; b++) {
      const r0 = Math.min(ph.rows, b * per);
      const r1 = Math.min(ph.rows, r0 + per);
      for (let r = r0; r < r1; r += rowsPerChunk) {
        const rows = Math.min(rowsPerChunk, r1 - r);
        chunks[b]!.push({ at: (at + r * rowBytes) / 16, phase: p, row0: r, rows, k: ph.k });
      }
    }
    at += ph.rows * rowBytes;
  });
  const flat = chunks.flat();
  const longest = Math.max(...chunks.map((c) => c.length));
  if (longest > MAX_CHUNKS) throw new Error(`${longest} chunks a block, at most ${MAX_CHUNKS}`);
  const table = new ArrayBuffer(flat.length * 16);
  const view = new DataView(table);
  flat.forEach((c, i) => {
    view.setUint32(16 * i, c.at, true);
    view.setUint32(16 * i + 4, c.row0, true);
    view.setUint16(16 * i + 8, c.phase, true);
    view.setUint16(16 * i + 10, c.rows, true);
    view.setUint16(16 * i + 12, c.k, true);
  });
  // each block's row range per phase in float4s (the same for every block's copy of the table)
  const slices = new Int32Array(2 * g * phases.length);
  phases.forEach((ph, p) => {
    const per = 4 * Math.ceil(ph.rows / g / 4);
    for (let b = 0; b < g; b++) {
      const r0 = Math.min(ph.rows, b * per);
      slices[2 * (b * phases.length + p)] = r0 / 4;
      slices[2 * (b * phases.length + p) + 1] = Math.min(ph.rows, r0 + per) / 4;
    }
  });
  const perBlock = new Int32Array(2 * g);
  let first = 0;
  chunks.forEach((list, b) => {
    perBlock[2 * b] = first;
    perBlock[2 * b + 1] = list.length;
    first += list.length;
  });
  return { table: new Uint8Array(table), perBlock, slices };
}

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
for (let l = 0; l < L; l++) layers.push(...layerPhases());
const sets: [string, Phase[]][] = [
  ['the layers, then the head', [...layers, { what: 'head', rows: V, k: C }]],
  ['the layers (the last phase writes out)', layers],
  ['barriers only (1 row of 8 a phase)', layers.map((p) => ({ ...p, rows: 16, k: 8 }))],
];
for (const [what, phases] of sets) {
  const bytes = phases.reduce((a, p) => a + p.rows * p.k * 2, 0);
  const weights = rt.ctx.malloc(bytes);
  rt.ctx.memsetD32Async(weights, 0x3f803f80, bytes / 4, rt.stream); // bfloat16 1.0 pairs
  const out = rt.ctx.malloc(Math.max(V, MAX_VECTOR) * 4);
  for (const g of values.clusters.split(',').map(Number)) {
    const { table, perBlock, slices } = layout(phases, g);
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
