/**
 * How much of the memory bandwidth a few multiprocessors can pull (GPU machine only). A
 * decode step of a small model is a chain of dependent phases, and every grid-wide exchange
 * between them costs about a microsecond (cuda-floor); a thread-block cluster (up to 16 blocks
 * on an H100) exchanges through distributed shared memory and its own barrier instead. Run on
 * one cluster, the step would then be bound by what 16 SMs can stream: this measures that,
 * reading the 0.1B step's weight bytes (283.5 MB by default) with G blocks, one an SM, two ways:
 * plain 16-byte loads (8 in flight a thread, 1024 threads) and bulk asynchronous copies into
 * shared memory (`cp.async.bulk`, the TMA engine, 4 stages of 32 KB a block).
 *
 * The bulk copies are also launched as thread-block clusters of the same blocks (`--cluster`,
 * 16 at most on an H100): a cluster runs on one GPC, so this shows what one GPC can pull.
 *
 *   node bench/dist/cuda-few-sm-bandwidth.js [--mb 283.5] [--blocks 8,16,32,66,132] [--cluster 16]
 */
import { parseArgs } from 'node:util';
import { sharedRuntime } from '@rwkv-streams/cuda';
import { copyBandwidth, gpuMs } from './cuda/gpu-time.js';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '283.5' },
    blocks: { type: 'string', default: '8,16,32,66,132' },
    cluster: { type: 'string', default: '16' },
  },
});
const STAGE_BYTES = 32 << 10;
const STAGES = 4;
const bytes = Math.floor((Number(values.mb) * 1e6) / STAGE_BYTES) * STAGE_BYTES;
const grids = values.blocks.split(',').map(Number);
for (const g of grids)
  if (!Number.isInteger(g) || g < 1) throw new Error(`--blocks: whole numbers >= 1, got ${g}`);

const source = `
// Plain loads: each thread sums 16-byte words, 8 independent loads in flight.
extern "C" __global__ void __launch_bounds__(1024) read_loads(const uint4* __restrict__ src, long long words, unsigned* sink) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  unsigned acc = 0;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  for (; i + 7 * stride < words; i += 8 * stride) {
    uint4 q[8];
#pragma unroll
    for (int u = 0; u < 8; u++) q[u] = src[i + u * stride];
#pragma unroll
    for (int u = 0; u < 8; u++) acc ^= q[u].x ^ q[u].w;
  }
  for (; i < words; i += stride) acc ^= src[i].x;
  if (acc == 0x12345678u) sink[0] = acc; // keeps the loads
}

__device__ __forceinline__ unsigned smem(const void* p) { return (unsigned)__cvta_generic_to_shared(p); }

// Bulk copies: thread 0 of each block keeps ${STAGES} copies of ${STAGE_BYTES} bytes in flight
// into shared memory, each completing on its own mbarrier; the block then reads a word of each.
extern "C" __global__ void __launch_bounds__(128) read_bulk(const char* __restrict__ src, long long chunks, unsigned* sink) {
  extern __shared__ __align__(128) char buf[];
  __shared__ __align__(8) unsigned long long bars[${STAGES}];
  if (threadIdx.x == 0) {
    for (int s = 0; s < ${STAGES}; s++) asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(smem(&bars[s])));
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  // this block's chunks: b, b + G, b + 2G, ...
  const long long first = blockIdx.x, step = gridDim.x;
  const long long mine = first < chunks ? (chunks - first + step - 1) / step : 0;
  unsigned acc = 0;
  if (threadIdx.x == 0) {
    for (long long j = 0; j < mine && j < ${STAGES}; j++) {
      const int s = (int)j;
      asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" :: "r"(smem(&bars[s])), "r"(${STAGE_BYTES}) : "memory");
      asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
                   :: "r"(smem(buf + s * ${STAGE_BYTES})), "l"(src + (first + j * step) * ${STAGE_BYTES}), "r"(${STAGE_BYTES}), "r"(smem(&bars[s])) : "memory");
    }
    for (long long j = 0; j < mine; j++) {
      const int s = (int)(j % ${STAGES});
      const unsigned parity = (unsigned)((j / ${STAGES}) & 1);
      unsigned done = 0;
      while (!done)
        asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                     : "=r"(done) : "r"(smem(&bars[s])), "r"(parity) : "memory");
      acc ^= *reinterpret_cast<const unsigned*>(buf + s * ${STAGE_BYTES});
      const long long next = j + ${STAGES};
      if (next < mine) {
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" :: "r"(smem(&bars[s])), "r"(${STAGE_BYTES}) : "memory");
        asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
                     :: "r"(smem(buf + s * ${STAGE_BYTES})), "l"(src + (first + next * step) * ${STAGE_BYTES}), "r"(${STAGE_BYTES}), "r"(smem(&bars[s])) : "memory");
      }
    }
  }
  if (acc == 0x12345678u) sink[0] = acc;
}
`;

const rt = sharedRuntime();
const SMS = rt.ctx.attribute(16); // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
const loads = rt.kernel(source, 'read_loads');
const bulk = rt.kernel(source, 'read_bulk');
const shared = STAGES * STAGE_BYTES;
rt.ctx.setMaxDynamicSharedMemory(bulk, shared);
rt.ctx.allowNonPortableClusters(bulk);
const CLUSTER = Number(values.cluster);
const src = rt.ctx.malloc(bytes);
rt.ctx.memsetD32Async(src, 0x01020304, bytes / 4, rt.stream);
const sink = rt.ctx.malloc(256);
rt.stream.synchronize();
const copy = copyBandwidth(rt);
console.log(
  `device: ${rt.ctx.name}, ${SMS} SMs; copy bandwidth ${(copy / 1e9).toFixed(0)} GB/s; reading ${(bytes / 1e6).toFixed(1)} MB a pass (median of 5 x 10 passes)`,
);
console.log(
  `| blocks (one an SM) | plain loads, GB/s | us a pass | bulk copies, GB/s | us a pass | bulk, clusters of up to ${CLUSTER}, GB/s | us a pass |`,
);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const g of grids) {
  const a = gpuMs(
    rt,
    () =>
      rt.ctx.launch(loads, { grid: [g], block: [1024], stream: rt.stream }, [
        { ptr: src },
        { i64: BigInt(bytes / 16) },
        { ptr: sink },
      ]),
    10,
  );
  const b = gpuMs(
    rt,
    () =>
      rt.ctx.launch(bulk, { grid: [g], block: [128], sharedMemBytes: shared, stream: rt.stream }, [
        { ptr: src },
        { i64: BigInt(bytes / STAGE_BYTES) },
        { ptr: sink },
      ]),
    10,
  );
  // clusters of the largest size up to CLUSTER that divides the grid
  let size = Math.min(CLUSTER, g);
  while (g % size !== 0) size--;
  const c = gpuMs(
    rt,
    () =>
      rt.ctx.launch(
        bulk,
        { grid: [g], block: [128], sharedMemBytes: shared, stream: rt.stream, cluster: [size] },
        [{ ptr: src }, { i64: BigInt(bytes / STAGE_BYTES) }, { ptr: sink }],
      ),
    10,
  );
  const gbs = (ms: number) => (bytes / (ms * 1e-3) / 1e9).toFixed(0);
  console.log(
    `| ${g} | ${gbs(a)} | ${(a * 1000).toFixed(1)} | ${gbs(b)} | ${(b * 1000).toFixed(1)} | ${gbs(c)} (${size}) | ${(c * 1000).toFixed(1)} |`,
  );
}
rt.stream.synchronize();
rt.ctx.free(src);
rt.ctx.free(sink);
