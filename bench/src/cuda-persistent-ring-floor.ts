/**
 * The floor of a persistent RWKV-7 decode step whose blocks stream their weights ahead
 * (GPU machine only). cuda-persistent-floor's kernel read each phase's weights when the phase
 * began, so every phase paid a memory latency or two after its barrier (303-418 us for the
 * 0.1B step); one cluster cannot stream fast enough (one GPC: about 1.07 TB/s,
 * cuda-few-sm-bandwidth). Here every SM runs one block that keeps a ring of bulk copies
 * (`cp.async.bulk` into shared memory) running ahead through its slices of all phases, across
 * the grid barriers, so a phase should cost its barrier, one L2 read of its input vector and
 * the dot products from shared memory: the prediction of 2026-12-06 was about 2 us a phase,
 * 72 x 2 + 35 for the head = about 180 us (half the bound allows 187 us, host included).
 * Phases as cuda-persistent-floor's; inputs and outputs through global memory (L2); the barrier
 * a growing counter (release adds, acquire polls: 0.99 us alone, cuda-floor).
 *
 *   node bench/dist/cuda-persistent-ring-floor.js [--layers 12] [--embd 768] [--vocab 65536]
 *     [--threads 512] [--stages 6] [--chunk-kb 32] [--skips 0,1,2] [--layer-phases 6|3]
 *     [--persist-mb 0]
 */
import { parseArgs } from 'node:util';
import { CU_DEVICE_ATTRIBUTE, sharedRuntime } from '@rwkv-streams/cuda';
import { copyBandwidth } from './cuda/gpu-time.js';
import { RELEASE_ACQUIRE_HELPERS } from './cuda/grid-sync.js';
import {
  probePhaseSets,
  RING_OPTIONS,
  ringFigureCells,
  ringSizes,
  ringSource,
  STEP_SHAPE_OPTIONS,
  stepShape,
  timeRingKernel,
  uploadPhaseSet,
} from './cuda/phase-stream.js';

const { values } = parseArgs({
  options: {
    ...STEP_SHAPE_OPTIONS,
    ...RING_OPTIONS,
    // run_phase's skip (timing only): 1 multiplies whatever the ring holds, without waiting
    // for copies or refilling; 2 waits for and refills the copies without multiplying
    skips: { type: 'string', default: '0' },
    // 6: the phases the step graph keeps apart; 3: the fewest a megakernel needs (same bytes)
    'layer-phases': { type: 'string', default: '6' },
    // MB of the weights (the first phases') kept in L2 from token to token (0: none); the
    // set-aside is capped at the device's maximum, the window's hit ratio scaled to fit it
    'persist-mb': { type: 'string', default: '0' },
  },
});
const { L, C, V, threads: THREADS } = stepShape(values);
const { stages: STAGES, chunkBytes: CHUNK_BYTES } = ringSizes(values);
const PER_LAYER = values['layer-phases'] === '3' ? 3 : 6;
const MAX_CHUNKS = 512; // a block's chunks of the 0.1B step on 132 SMs: about 120 of 32 KB
const VECTOR = 65536; // floats of each activation buffer (the head's output fits)

const source = `
${ringSource({ stages: STAGES, chunkBytes: CHUNK_BYTES })}
${RELEASE_ACQUIRE_HELPERS}

extern "C" __global__ void __launch_bounds__(${THREADS}) ring_floor(
    const char* __restrict__ weights, const Chunk* __restrict__ chunks, const int* __restrict__ perBlock,
    int phases, float* act, float* __restrict__ out, unsigned* bar, int skip) {
  extern __shared__ __align__(128) char ring[];
  __shared__ Chunk mine[${MAX_CHUNKS}];
  __shared__ __align__(8) unsigned long long full[${STAGES}];
  const unsigned base = bar[2];
  const int count = perBlock[2 * blockIdx.x + 1];
  for (int i = threadIdx.x; i < count; i += blockDim.x) mine[i] = chunks[perBlock[2 * blockIdx.x] + i];
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int s = 0; s < ${STAGES}; s++) asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(smem(&full[s])));
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    for (int j = 0; j < count && j < ${STAGES}; j++)
      issue(&full[j], ring + j * ${CHUNK_BYTES}, weights + 16ull * mine[j].at, (unsigned)(mine[j].rows * mine[j].k * 2));
  }
  __syncthreads();
  int j = 0;
  for (int p = 0; p < phases; p++) {
    // the phase's input, written by every block in the phase before (act[0] as it is at first)
    const float* x = act + (p & 1) * ${VECTOR};
    float* y = act + ((p + 1) & 1) * ${VECTOR};
    const int k = j < count && mine[j].phase == p ? mine[j].k : 8;
    const bool last = p == phases - 1;
    if (k <= 256) run_phase<1>(p, j, count, mine, full, ring, weights, x, y, out, last, skip);
    else if (k <= 512) run_phase<2>(p, j, count, mine, full, ring, weights, x, y, out, last, skip);
    else if (k <= 768) run_phase<3>(p, j, count, mine, full, ring, weights, x, y, out, last, skip);
    else run_phase<12>(p, j, count, mine, full, ring, weights, x, y, out, last, skip);
    grid_barrier_counter(bar, base, (unsigned)p);
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) bar[2] = base + (unsigned)phases * gridDim.x;
}
`;

const rt = sharedRuntime();
const SMS = rt.ctx.attribute(16); // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
const fn = rt.kernel(source, 'ring_floor');
const SMEM = STAGES * CHUNK_BYTES;
rt.ctx.setMaxDynamicSharedMemory(fn, SMEM);
const bandwidth = copyBandwidth(rt);
const maxPersist = rt.ctx.attribute(CU_DEVICE_ATTRIBUTE.MAX_PERSISTING_L2_CACHE_SIZE);
const persistWanted = Number(values['persist-mb']) * 1e6;
const setAside = Math.min(persistWanted, maxPersist);
if (persistWanted > 0) {
  rt.ctx.setPersistingL2(setAside);
  console.log(
    `L2 ${(rt.ctx.attribute(CU_DEVICE_ATTRIBUTE.L2_CACHE_SIZE) / 2 ** 20).toFixed(0)} MiB, at most ${(maxPersist / 2 ** 20).toFixed(1)} MiB persisting; set aside ${(setAside / 1e6).toFixed(1)} MB for the first ${(persistWanted / 1e6).toFixed(1)} MB of each weight set`,
  );
}
console.log(
  `device: ${rt.ctx.name}, ${SMS} SMs; copy bandwidth ${(bandwidth / 1e9).toFixed(0)} GB/s; RWKV-7 ${L} x ${C}, vocab ${V}; ${PER_LAYER} phases a layer; one block an SM, ${THREADS} threads, ${STAGES} x ${CHUNK_BYTES >> 10} KB in flight a block; median of 5 x 20 tokens`,
);
const SKIPS: Record<number, string> = { 0: 'all', 1: 'no copies waited for', 2: 'no dot products' };
console.log(
  '| phases | done | MB a token | us a token | GB/s | of the copy bandwidth | us a phase beyond streaming |',
);
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
const sets = probePhaseSets(L, C, V, PER_LAYER, SMS);
const act = rt.ctx.malloc(2 * VECTOR * 4);
const out = rt.ctx.malloc(VECTOR * 4);
const bar = rt.ctx.malloc(256);
rt.ctx.memsetD32Async(bar, 0, 64, rt.stream);
for (const [what, phases] of sets) {
  const set = uploadPhaseSet(rt, phases, SMS, CHUNK_BYTES, MAX_CHUNKS);
  const { bytes, weights } = set;
  if (persistWanted > 0) {
    const window = Math.min(persistWanted, bytes);
    rt.stream.setAccessPolicyWindow(weights, window, Math.min(1, setAside / window));
  }
  rt.ctx.memsetD32Async(act, 0x3f800000, 2 * VECTOR, rt.stream);
  for (const skip of values.skips.split(',').map(Number)) {
    const us = timeRingKernel(
      rt,
      fn,
      { blocks: SMS, threads: THREADS, sharedMemBytes: SMEM },
      set,
      phases.length,
      { act, out, bar },
      skip,
    );
    console.log(
      `| ${what} | ${SKIPS[skip] ?? skip} | ${ringFigureCells(bytes, us, bandwidth, phases.length)} |`,
    );
  }
  rt.stream.synchronize();
  if (persistWanted > 0) {
    rt.stream.setAccessPolicyWindow(0n, 0);
    rt.ctx.setPersistingL2(setAside); // empties what the last set kept
  }
  set.free();
}
for (const p of [act, out, bar]) rt.ctx.free(p);
