/**
 * What the persistent-decode probes share (cuda-cluster-floor, cuda-persistent-ring-floor): the
 * RWKV-7 decode step's phases at batch 1, each block's contiguous slice of every phase cut into
 * chunks for bulk copies, and the CUDA C that streams a block's chunks through a ring in shared
 * memory (`cp.async.bulk`, one mbarrier a slot, refilled as soon as a chunk is read, so the
 * copies run ahead across phases and barriers) and multiplies each against the phase's input.
 */

import type { CudaFunction, CudaRuntime, DevicePtr } from '@rwkv-streams/cuda';
import { gpuMs } from './gpu-time.js';

/** One phase: y[rows] = W[rows, k] x[k], W as 16-bit values, row-major. */
export interface Phase {
  readonly what: string;
  readonly rows: number;
  readonly k: number;
}

/**
 * The phases a RWKV-7 decode step at batch 1 has to keep apart, per layer (LoRA ranks as the
 * 0.1B model's: decay 64, a 64, value 32, gate 128; their up-projections read as one C x 288
 * matrix, the WKV state of C / 64 heads as C rows of 64 floats, i.e. 128 16-bit values).
 */
export function rwkv7LayerPhases(C: number): Phase[] {
  return [
    { what: 'r, k, v + LoRA downs', rows: 3 * C + 64 + 64 + 32 + 128, k: C },
    { what: 'LoRA ups', rows: C, k: 288 },
    { what: 'WKV state', rows: C, k: 128 },
    { what: 'output', rows: C, k: C },
    { what: 'channel-mix key', rows: 4 * C, k: C },
    { what: 'channel-mix value', rows: C, k: 4 * C },
  ];
}

/**
 * The same bytes a layer in three phases, the fewest a megakernel at batch 1 needs: (1) r, k,
 * v and the LoRA downs (every block normalizes and mixes x itself); (2) per head, the LoRA ups
 * of its 64 channels, the WKV state, ln_x, the gate and the head's 64 columns of the output
 * matrix added into x by atomics (split over the output's K: no exchange between the WKV and
 * the output product); (3) the channel mix's key rows and, from the same block, the value
 * matrix's matching columns (stored transposed, so one row of 2C values a key row) added into
 * x by atomics. The exchanges left are those LayerNorm and the LoRA downs force.
 */
export function rwkv7MergedLayerPhases(C: number): Phase[] {
  return [
    { what: 'r, k, v + LoRA downs', rows: 3 * C + 64 + 64 + 32 + 128, k: C },
    { what: 'LoRA ups, WKV state, output columns', rows: C, k: 288 + 128 + C },
    { what: 'channel-mix key rows and value columns', rows: 4 * C, k: 2 * C },
  ];
}

/** A layer's phases: six as the graph keeps them apart, or three (`rwkv7MergedLayerPhases`). */
export function rwkv7PhasesOfLayer(C: number, perLayer: 3 | 6): Phase[] {
  return perLayer === 3 ? rwkv7MergedLayerPhases(C) : rwkv7LayerPhases(C);
}

/** The layers' phases, then the head (V rows of C): one decode step of RWKV-7 L x C. */
export function rwkv7StepPhases(L: number, C: number, V: number, perLayer: 3 | 6 = 6): Phase[] {
  const phases: Phase[] = [];
  for (let l = 0; l < L; l++) phases.push(...rwkv7PhasesOfLayer(C, perLayer));
  phases.push({ what: 'head', rows: V, k: C });
  return phases;
}

/**
 * What the ring probes time, each a set of phases: the whole step, the layers alone, and the
 * layers' barriers alone (a row of 8 a block a phase, for `blocks` blocks).
 */
export function probePhaseSets(
  L: number,
  C: number,
  V: number,
  perLayer: 3 | 6,
  blocks: number,
): [string, Phase[]][] {
  const layers: Phase[] = [];
  for (let l = 0; l < L; l++) layers.push(...rwkv7PhasesOfLayer(C, perLayer));
  return [
    ['the layers, then the head', rwkv7StepPhases(L, C, V, perLayer)],
    ['the layers (the last phase writes out)', layers],
    ['barriers only (a row of 8 a block a phase)', layers.map((p) => ({ ...p, rows: blocks, k: 8 }))],
  ];
}

/** The model shape every persistent-decode probe takes (`parseArgs` options). */
export const STEP_SHAPE_OPTIONS = {
  layers: { type: 'string', default: '12' },
  embd: { type: 'string', default: '768' },
  vocab: { type: 'string', default: '65536' },
  threads: { type: 'string', default: '512' },
} as const;

/** Layers, width, vocabulary and threads a block from `STEP_SHAPE_OPTIONS`' values. */
export function stepShape(values: {
  readonly layers: string;
  readonly embd: string;
  readonly vocab: string;
  readonly threads: string;
}): { L: number; C: number; V: number; threads: number } {
  const [L, C, V, threads] = [values.layers, values.embd, values.vocab, values.threads].map(Number) as [
    number,
    number,
    number,
    number,
  ];
  return { L, C, V, threads };
}

/** The ring's sizes every ring probe takes (`parseArgs` options). */
export const RING_OPTIONS = {
  stages: { type: 'string', default: '6' },
  'chunk-kb': { type: 'string', default: '32' },
} as const;

/** Slots and bytes a slot from `RING_OPTIONS`' values. */
export function ringSizes(values: { readonly stages: string; readonly 'chunk-kb': string }): RingSizes {
  return { stages: Number(values.stages), chunkBytes: Number(values['chunk-kb']) << 10 };
}

/** Sizes the CUDA source is specialised for. */
export interface RingSizes {
  /** Slots of the ring. */
  readonly stages: number;
  /** Bytes a slot (a chunk is at most this). */
  readonly chunkBytes: number;
}

/**
 * CUDA C: smem(), wait_full(), issue(), the Chunk descriptor, dot8() and run_phase<NQ>(), which
 * walks one phase's chunks of a block (each warp two rows at a time, each lane the NQ 16-byte
 * words q = lane + 32 i of a row against the input columns it holds in registers), writes the
 * phase's outputs to y (or to out for the last phase) and refills each slot once it is read.
 */
export function ringSource({ stages, chunkBytes }: RingSizes): string {
  return `
__device__ __forceinline__ unsigned smem(const void* p) { return (unsigned)__cvta_generic_to_shared(p); }
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
// skip (timing probes only): 1, no waiting for the copies and no refills (whatever the ring
// holds is multiplied); 2, no multiplying (the copies only).
template <int NQ>
__device__ __forceinline__ void run_phase(int p, int& j, int count, const Chunk* mine, unsigned long long* full,
    char* ring, const char* weights, const float* x, float* y, float* out, bool last, int skip) {
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
    const int s = j % ${stages};
    if (!(skip & 1)) wait_full(&full[s], (unsigned)((j / ${stages}) & 1));
    const uint4* w = reinterpret_cast<const uint4*>(ring + s * ${chunkBytes});
    const int rows = c.rows;
    for (int r = 2 * warp; r < rows && !(skip & 2); r += 2 * warps) {
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
    if (threadIdx.x == 0 && j + ${stages} < count && !(skip & 1)) {
      const Chunk n = mine[j + ${stages}];
      issue(&full[s], ring + s * ${chunkBytes}, weights + 16ull * n.at, (unsigned)(n.rows * n.k * 2));
    }
  }
}

`;
}

/** A block's chunks and the tables the kernels read. */
export interface ChunkLayout {
  /** Chunk descriptors, block after block (16 bytes each, the CUDA Chunk struct). */
  readonly table: Uint8Array;
  /** Per block: its first chunk's index and its chunk count. */
  readonly perBlock: Int32Array;
  /** Per block and phase: its row range in units of `rowMultiple` rows. */
  readonly slices: Int32Array;
  /** The most chunks a block has. */
  readonly longest: number;
}

/**
 * Each of `blocks` blocks takes a contiguous slice of every phase's rows (a multiple of
 * `rowMultiple` rows), cut into chunks of at most `chunkBytes`; the phases lie back to back
 * in one weight buffer, chunk addresses in 16-byte units from its start.
 */
export function layoutChunks(
  phases: readonly Phase[],
  blocks: number,
  chunkBytes: number,
  rowMultiple = 1,
): ChunkLayout {
  const chunks: { at: number; phase: number; row0: number; rows: number; k: number }[][] = [];
  for (let b = 0; b < blocks; b++) chunks.push([]);
  const perOf = (rows: number) => rowMultiple * Math.ceil(rows / blocks / rowMultiple);
  let at = 0;
  phases.forEach((ph, p) => {
    const rowBytes = ph.k * 2;
    const per = perOf(ph.rows);
    const rowsPerChunk = Math.floor(chunkBytes / rowBytes);
    for (let b = 0; b < blocks; b++) {
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
  const table = new ArrayBuffer(flat.length * 16);
  const view = new DataView(table);
  flat.forEach((c, i) => {
    view.setUint32(16 * i, c.at, true);
    view.setUint32(16 * i + 4, c.row0, true);
    view.setUint16(16 * i + 8, c.phase, true);
    view.setUint16(16 * i + 10, c.rows, true);
    view.setUint16(16 * i + 12, c.k, true);
  });
  const slices = new Int32Array(2 * blocks * phases.length);
  phases.forEach((ph, p) => {
    const per = perOf(ph.rows);
    for (let b = 0; b < blocks; b++) {
      const r0 = Math.min(ph.rows, b * per);
      slices[2 * (b * phases.length + p)] = r0 / rowMultiple;
      slices[2 * (b * phases.length + p) + 1] = Math.min(ph.rows, r0 + per) / rowMultiple;
    }
  });
  const perBlock = new Int32Array(2 * blocks);
  let first = 0;
  chunks.forEach((list, b) => {
    perBlock[2 * b] = first;
    perBlock[2 * b + 1] = list.length;
    first += list.length;
  });
  return {
    table: new Uint8Array(table),
    perBlock,
    slices,
    longest: Math.max(...chunks.map((c) => c.length)),
  };
}

/** A phase set's weights (bfloat16 ones) and chunk tables on the device (see `uploadPhaseSet`). */
export interface PhaseSetOnDevice {
  /** Bytes of the set's weights. */
  readonly bytes: number;
  readonly weights: DevicePtr;
  /** `layoutChunks`' table and per-block ranges. */
  readonly table: DevicePtr;
  readonly perBlock: DevicePtr;
  /** Frees the three allocations (after the stream is idle). */
  free(): void;
}

/**
 * The ring probes' setup of one phase set: its weights filled with bfloat16 1.0 pairs, its
 * chunks laid out for `blocks` blocks of `chunkBytes` slots (at most `maxChunks` a block) and
 * uploaded, all on the runtime's stream.
 */
export function uploadPhaseSet(
  rt: CudaRuntime,
  phases: readonly Phase[],
  blocks: number,
  chunkBytes: number,
  maxChunks: number,
): PhaseSetOnDevice {
  const bytes = phases.reduce((a, p) => a + p.rows * p.k * 2, 0);
  const { table, perBlock, longest } = layoutChunks(phases, blocks, chunkBytes);
  if (longest > maxChunks) throw new Error(`${longest} chunks a block, at most ${maxChunks}`);
  const weights = rt.ctx.malloc(bytes);
  rt.ctx.memsetD32Async(weights, 0x3f803f80, bytes / 4, rt.stream);
  const tablePtr = rt.ctx.malloc(table.byteLength);
  const blocksPtr = rt.ctx.malloc(perBlock.byteLength);
  rt.ctx.copyToDevice(tablePtr, table, rt.stream);
  rt.ctx.copyToDevice(blocksPtr, perBlock, rt.stream);
  return {
    bytes,
    weights,
    table: tablePtr,
    perBlock: blocksPtr,
    free: () => {
      for (const p of [weights, tablePtr, blocksPtr]) rt.ctx.free(p);
    },
  };
}

/** The activation buffers and barrier counter a ring probe's kernel takes after its tables. */
export interface RingProbeBuffers {
  readonly act: DevicePtr;
  readonly out: DevicePtr;
  readonly bar: DevicePtr;
}

/**
 * GPU microseconds of one launch of a ring probe's kernel (one block an SM; arguments:
 * weights, chunk table, per-block ranges, phases, act, out, barrier, skip), the median of
 * 5 x 20 launches (`gpuMs`).
 */
export function timeRingKernel(
  rt: CudaRuntime,
  fn: CudaFunction,
  launch: { readonly blocks: number; readonly threads: number; readonly sharedMemBytes: number },
  set: PhaseSetOnDevice,
  phases: number,
  buffers: RingProbeBuffers,
  skip: number,
): number {
  const args = [
    { ptr: set.weights },
    { ptr: set.table },
    { ptr: set.perBlock },
    { i32: phases },
    { ptr: buffers.act },
    { ptr: buffers.out },
    { ptr: buffers.bar },
    { i32: skip },
  ];
  const cfg = {
    grid: [launch.blocks] as const,
    block: [launch.threads] as const,
    sharedMemBytes: launch.sharedMemBytes,
  };
  return 1000 * gpuMs(rt, () => rt.ctx.launch(fn, { ...cfg, stream: rt.stream }, args), 20);
}

/**
 * A ring probe's figures as table cells: MB a token, us a token, GB/s, the share of the
 * copy bandwidth, and us a phase beyond streaming the bytes at that bandwidth.
 */
export function ringFigureCells(bytes: number, us: number, bandwidth: number, phases: number): string {
  const streamUs = (bytes / bandwidth) * 1e6;
  return `${(bytes / 1e6).toFixed(1)} | ${us.toFixed(1)} | ${(bytes / us / 1e3).toFixed(0)} | ${((100 * bytes) / us / 1e-6 / bandwidth).toFixed(0)}% | ${((us - streamUs) / phases).toFixed(2)}`;
}
