import { BadInputError, type Node } from '@rwkv-streams/core';
import { CU_DEVICE_ATTRIBUTE } from '../../driver/cuda-driver.js';
import { BI_WKV4, biWkv4Segments } from '../../kernels/bi-wkv4.js';
import { biWkv6Kernel } from '../../kernels/bi-wkv6.js';
import { WKV4 } from '../../kernels/wkv4.js';
import { wkv5Kernel } from '../../kernels/wkv5.js';
import { wkv7Kernel } from '../../kernels/wkv7.js';
import {
  affineColumns,
  affineSplit,
  affineStages,
  wkv7AffineFloats,
  wkv7AffinePrepKernel,
  wkv7AffineScanKernel,
} from '../../kernels/wkv7-chunk-affine.js';
import {
  WKV7_CHUNK,
  WKV7_CHUNKED_MAX_HEAD,
  wkv7ChunkedKernel,
  wkv7ChunkFloats,
  wkv7ChunkPrepKernel,
  wkv7ChunkScanKernel,
} from '../../kernels/wkv7-chunked.js';
import { useWkv7Decode, WKV7_DECODE_ROWS, wkv7DecodeKernel } from '../../kernels/wkv7-decode.js';
import { kernelStep, type Step } from '../step.js';
import type { LowerContext } from './context.js';

/** Scratch bytes of a BiWkv4 node: per-token backward states and the segment carries. */
export function biWkv4ScratchBytes(k: readonly number[]): number {
  const [B, T, C] = k as [number, number, number];
  const { S } = biWkv4Segments(B, T, C);
  return (3 * B * T * C + (S > 1 ? 6 * B * S * C : 0)) * 4;
}

/** Vision-RWKV's bidirectional WKV: segment summaries, a scan over segments, the outputs. */
export function lowerBiWkv4(ctx: LowerContext, node: Node): Step[] {
  const [k, v, w, u] = node.inputs.map((x) => ctx.buf(x));
  const y = ctx.buf(node.outputs[0]!);
  const [B, T, C] = k!.dims as [number, number, number];
  if (B * T * C === 0) return [];
  const { S, L } = biWkv4Segments(B, T, C);
  const threads = 128;
  const scratch = ctx.scratch();
  const carryPtr = scratch + BigInt(3 * B * T * C * 4); // after the per-token states
  const label = `BiWkv4 -> ${node.outputs[0]!.name}`;
  const dims = [{ i32: B }, { i32: T }, { i32: C }, { i32: S }, { i32: L }];
  const segThreads = { grid: [Math.ceil((B * S * C) / threads)] as [number], block: [threads] as [number] };
  const steps: Step[] = [];
  if (S > 1) {
    steps.push(
      kernelStep(
        ctx.rt,
        `${label} (segment sums)`,
        { source: BI_WKV4.source, name: BI_WKV4.sum },
        segThreads,
        [...[k, v, w].map((b) => ({ ptr: b!.ptr })), { ptr: carryPtr }, ...dims],
      ),
      kernelStep(
        ctx.rt,
        `${label} (carries)`,
        { source: BI_WKV4.source, name: BI_WKV4.carry },
        { grid: [Math.ceil((B * C) / threads)], block: [threads] },
        [{ ptr: w!.ptr }, { ptr: carryPtr }, ...dims],
      ),
    );
  }
  steps.push(
    kernelStep(ctx.rt, label, { source: BI_WKV4.source, name: BI_WKV4.out }, segThreads, [
      ...[k, v, w, u, y].map((b) => ({ ptr: b!.ptr })),
      { ptr: scratch },
      { ptr: carryPtr },
      ...dims,
    ]),
  );
  return steps;
}

/** Largest head size the register-resident WKV-5/7 kernels are compiled for. */
export const MAX_HEAD_SIZE = 128;

/** RWKV-4 WKV: one thread per (stream, channel). */
export function lowerWkv4(ctx: LowerContext, node: Node): Step[] {
  const [k, v, w, u, aa, bb, pp] = node.inputs.map((x) => ctx.buf(x));
  const [y, aa2, bb2, pp2] = node.outputs.map((x) => ctx.buf(x));
  const [B, T, C] = k!.dims as [number, number, number];
  const threads = 128;
  return [
    kernelStep(
      ctx.rt,
      `Wkv4 -> ${node.outputs[0]!.name}`,
      WKV4,
      { grid: [Math.ceil((B * C) / threads)], block: [threads] },
      [
        ...[k, v, w, u, aa, bb, pp, y, aa2, bb2, pp2].map((b) => ({ ptr: b!.ptr })),
        { i32: B },
        { i32: T },
        { i32: C },
      ],
    ),
  ];
}

function headSize(node: Node, N: number): void {
  if (N < 1 || N > MAX_HEAD_SIZE)
    throw new BadInputError(`${node.op}: head size ${N} is outside 1..${MAX_HEAD_SIZE}`, {
      field: node.inputs[0]!.name,
    });
}

/** RWKV-5.2/6 WKV: one block per (stream, head). */
export function lowerWkv5(ctx: LowerContext, node: Node): Step[] {
  const [r, k, v, w, u, s] = node.inputs.map((x) => ctx.buf(x));
  const [y, s2] = node.outputs.map((x) => ctx.buf(x));
  const [B, T, H, N] = r!.dims as [number, number, number, number];
  headSize(node, N);
  return [
    kernelStep(ctx.rt, `Wkv5 -> ${node.outputs[0]!.name}`, wkv5Kernel(N), { grid: [B * H], block: [N] }, [
      ...[r, k, v, w, u, s, y, s2].map((b) => ({ ptr: b!.ptr })),
      { i32: T },
      { i32: H },
      { i32: w!.dims.length === 4 ? 1 : 0 },
    ]),
  ];
}

/** Vision-RWKV 6's bidirectional WKV: one block per (image, head), two walks, no scratch. */
export function lowerBiWkv6(ctx: LowerContext, node: Node): Step[] {
  const [r, k, v, w, u] = node.inputs.map((x) => ctx.buf(x));
  const y = ctx.buf(node.outputs[0]!);
  const [B, T, H, N] = r!.dims as [number, number, number, number];
  headSize(node, N);
  if (B * T * H === 0) return [];
  return [
    kernelStep(ctx.rt, `BiWkv6 -> ${node.outputs[0]!.name}`, biWkv6Kernel(N), { grid: [B * H], block: [N] }, [
      ...[r, k, v, w, u, y].map((b) => ({ ptr: b!.ptr })),
      { i32: T },
      { i32: H },
    ]),
  ];
}

/**
 * RWKV-7 WKV: chunked from 16 steps on (kernels/wkv7-chunked.ts), a warp per value row at
 * one step (kernels/wkv7-decode.ts), otherwise one block per (stream, head).
 */
export function lowerWkv7(ctx: LowerContext, node: Node): Step[] {
  const [r, w, k, v, a, b, s] = node.inputs.map((x) => ctx.buf(x));
  const [y, s2] = node.outputs.map((x) => ctx.buf(x));
  const [B, T, H, N] = r!.dims as [number, number, number, number];
  headSize(node, N);
  if (N % 4 !== 0)
    throw new BadInputError(
      `Wkv7: head size ${N} is not a multiple of 4 (the kernel reads 4 floats at a time)`,
      {
        field: node.inputs[0]!.name,
      },
    );
  if (useChunkedWkv7(T, N)) {
    const groups = wkv7RowGroups(B * H, N, ctx.rt.ctx.attribute(CU_DEVICE_ATTRIBUTE.MULTIPROCESSOR_COUNT));
    const label = `Wkv7 (chunked) -> ${node.outputs[0]!.name}`;
    const sizes = [{ i32: T }, { i32: H }];
    const affine = useAffineWkv7(
      r!.dims,
      ctx.rt.ctx.attribute(CU_DEVICE_ATTRIBUTE.MULTIPROCESSOR_COUNT),
      ctx.wkv7Affine,
    );
    if (wkv7ScratchBytes(r!.dims, affine) > 0) {
      const prepKernel = affine ? wkv7AffinePrepKernel(N) : wkv7ChunkPrepKernel(N);
      const cols = ctx.wkv7AffineColumns ?? affineColumns();
      const scan = affine
        ? wkv7AffineScanKernel(
            N,
            groups,
            cols,
            ctx.wkv7AffineSplit ?? affineSplit(N, groups, cols),
            ctx.wkv7AffineStages ?? affineStages(),
          )
        : wkv7ChunkScanKernel(N, groups);
      const prep = ctx.scratch();
      const chunks = Math.ceil(T / WKV7_CHUNK);
      return [
        kernelStep(
          ctx.rt,
          `${label} prep`,
          prepKernel,
          { grid: [B * H * chunks], block: [prepKernel.threads], sharedMemBytes: prepKernel.sharedBytes },
          [...[r, w, k, a, b].map((x) => ({ ptr: x!.ptr })), { ptr: prep }, ...sizes],
        ),
        kernelStep(
          ctx.rt,
          `${label} scan`,
          scan,
          { grid: [B * H * groups], block: [scan.threads], sharedMemBytes: scan.sharedBytes },
          [{ ptr: prep }, ...[v, s, y, s2].map((x) => ({ ptr: x!.ptr })), ...sizes],
        ),
      ];
    }
    const fused = wkv7ChunkedKernel(N, groups);
    return [
      kernelStep(
        ctx.rt,
        label,
        fused,
        { grid: [B * H * groups], block: [fused.threads], sharedMemBytes: fused.sharedBytes },
        [...[r, w, k, v, a, b, s, y, s2].map((x) => ({ ptr: x!.ptr })), ...sizes],
      ),
    ];
  }
  if (useWkv7Decode(T, N, ctx.wkv7OneStep)) {
    const decode = wkv7DecodeKernel(N);
    const rows = B * H * N;
    return [
      kernelStep(
        ctx.rt,
        `Wkv7 (one step) -> ${node.outputs[0]!.name}`,
        decode,
        { grid: [Math.ceil(rows / WKV7_DECODE_ROWS)], block: [decode.threads] },
        [...[r, w, k, v, a, b, s, y, s2].map((x) => ({ ptr: x!.ptr })), { i32: rows }],
      ),
    ];
  }
  const kernel = wkv7Kernel(N);
  return [
    kernelStep(
      ctx.rt,
      `Wkv7 -> ${node.outputs[0]!.name}`,
      kernel,
      { grid: [B * H], block: [N], sharedMemBytes: kernel.sharedBytes },
      [...[r, w, k, v, a, b, s, y, s2].map((x) => ({ ptr: x!.ptr })), { i32: T }, { i32: H }],
    ),
  ];
}

/**
 * Whether a Wkv7 of T steps runs as chunks of 16 (kernels/wkv7-chunked.ts) rather than
 * step by step: from one whole chunk on, for head sizes the chunked kernel is built for.
 * Decoding (T = 1) and short calls keep the step kernel, which has no per-chunk setup.
 */
export function useChunkedWkv7(T: number, N: number): boolean {
  return T >= WKV7_CHUNK && N % 4 === 0 && N <= WKV7_CHUNKED_MAX_HEAD;
}

/**
 * How many blocks share a head's value rows in the chunked WKV-7 kernel (1, 2, 4 or 8, a
 * divisor of the row lanes N / 4): the most that keeps the blocks within one per SM
 * (`sms`). Each block repeats its chunk's row-free loads and reductions, so blocks beyond
 * one per SM cost more than they overlap: on an H200 (132 SMs), 32 heads ran their scan
 * in 103 us at 4 groups (128 blocks) against 161 us at 8 (256 blocks), and 12 heads in
 * 88 us at 8 groups (96 blocks) against 101 us at 4 (packages/cuda/gpu-runs/
 * 2026-12-04-h200-wkv7-row-groups.md). `RWKV_STREAMS_CUDA_WKV7_GROUPS` overrides the
 * choice, for measuring it.
 */
export function wkv7RowGroups(streamHeads: number, N: number, sms: number): 1 | 2 | 4 | 8 {
  const forced = Number(process.env['RWKV_STREAMS_CUDA_WKV7_GROUPS']);
  if ([1, 2, 4, 8].includes(forced) && (N / 4) % forced === 0) return forced as 1 | 2 | 4 | 8;
  let g: 1 | 2 | 4 | 8 = 1;
  while (g < 8 && streamHeads * g * 2 <= sms && (N / 4) % (g * 2) === 0) g = (g * 2) as 2 | 4 | 8;
  return g;
}

/**
 * Whether a chunked Wkv7 (dims of r: [B, T, H, N]) in the two-kernel form walks its chunks
 * as affine maps (kernels/wkv7-chunk-affine.ts). `option` (PlanOptions.wkv7Affine, else
 * RWKV_STREAMS_CUDA_WKV7_AFFINE=0/1) decides when given; by default, when a head's rows are
 * split over 2 or more blocks (few heads: the layouts measured and checked on an H100,
 * 2026-12-06: the op 1.47x at 12 heads, 1.16x at 32; one block a head, from 67 stream-heads
 * on 132 SMs, keeps the four-phase walk, whose 124 KB-a-block affine form has not run on a GPU).
 */
export function useAffineWkv7(
  dims: readonly number[],
  sms: number,
  option: boolean | undefined = affineFromEnv(),
): boolean {
  if (option !== undefined) return option;
  const [B, , H, N] = dims as [number, number, number, number];
  return wkv7RowGroups(B * H, N, sms) >= 2;
}

function affineFromEnv(): boolean | undefined {
  const v = process.env['RWKV_STREAMS_CUDA_WKV7_AFFINE'];
  return v === '1' ? true : v === '0' ? false : undefined;
}

/** Most scratch the two-kernel chunked WKV-7 may take for its prepared chunks (256 MiB). */
const WKV7_PREP_LIMIT = 256 * 1024 * 1024;

/**
 * Scratch bytes of a Wkv7 node (dims of r: [B, T, H, N]): the prepared chunks of the
 * two-kernel form (their affine maps with `affine`: kernels/wkv7-chunk-affine.ts), used
 * when few heads run (at most 256 stream-heads: more fill the GPU with the one-kernel
 * form) and they fit WKV7_PREP_LIMIT; 0 otherwise.
 */
export function wkv7ScratchBytes(dims: readonly number[], affine = false): number {
  const [B, T, H, N] = dims as [number, number, number, number];
  if (!useChunkedWkv7(T, N) || B * H > 256) return 0;
  const perChunk = affine ? wkv7AffineFloats(N) : wkv7ChunkFloats(N);
  const bytes = B * H * Math.ceil(T / WKV7_CHUNK) * perChunk * 4;
  return bytes <= WKV7_PREP_LIMIT ? bytes : 0;
}
