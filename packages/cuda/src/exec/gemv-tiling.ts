import { BadInputError } from '@rwkv-streams/core';

/**
 * How a decode GEMV group's kernel walks its weights (kernels/gemv-group.ts): output
 * columns a warp computes and 16-byte weight loads a lane keeps in flight per column.
 */
export interface GemvTiling {
  readonly columns: 1 | 2 | 4;
  readonly loadsInFlight: number;
}

/** What a plan asked for: either field left out is chosen by `chooseGemvTiling`. */
export interface GemvTilingRequest {
  readonly columns?: 1 | 2 | 4 | undefined;
  readonly loadsInFlight?: number | undefined;
}

/**
 * Bytes of a group's largest half-precision matrix from which 4 columns a warp with 2 loads
 * each in flight are used: 2048 x 2048 (8 MiB), RWKV-7 1.5B's smallest layer matrix.
 */
export const GEMV_WIDE_BYTES = 2048 * 2048 * 2;

/**
 * The tiling for a group whose matrices are `shapes` ([N, K] each, 2-byte elements).
 *
 * Measured on an H100 (2026-12-05, `bench/dist/cuda-gemv.js`, gpu-runs/2026-12-05-h100-gemv-columns.md):
 * on 1.5B's matrices 4 columns with 2 loads each streamed fastest of the variants tried (2048 x
 * 2048: 51% -> 63% of copy bandwidth; 8192 x 2048 and 2048 x 8192: 75-77% -> 86-87%); on
 * 0.1B's (768 x 768 to 3072 x 768) the variants are within a few percent of each other, and
 * 2 columns a warp made the whole 0.1B decode step 1.04x faster (cuda-profile --gemv-columns 2):
 * the input row, read once per column from L1/L2, is then read half as often.
 */
export function chooseGemvTiling(
  shapes: readonly (readonly [number, number])[],
  request: GemvTilingRequest = {},
): GemvTiling {
  const largest = Math.max(0, ...shapes.map(([n, k]) => n * k * 2));
  const wide = largest >= GEMV_WIDE_BYTES;
  const columns = request.columns ?? (wide ? 4 : 2);
  const loadsInFlight = request.loadsInFlight ?? (columns === 4 && wide ? 2 : 4);
  return { columns, loadsInFlight };
}

/** RWKV_STREAMS_CUDA_GEMV_COLUMNS: 1, 2 or 4; unset or `auto`: chosen per group. */
export function gemvColumnsFromEnv(): 1 | 2 | 4 | undefined {
  const v = process.env['RWKV_STREAMS_CUDA_GEMV_COLUMNS'];
  if (v === undefined || v === '' || v === 'auto') return undefined;
  if (v === '1' || v === '2' || v === '4') return Number(v) as 1 | 2 | 4;
  throw new BadInputError(`RWKV_STREAMS_CUDA_GEMV_COLUMNS must be 1, 2, 4 or auto, not '${v}'`, {
    field: 'RWKV_STREAMS_CUDA_GEMV_COLUMNS',
  });
}

/** RWKV_STREAMS_CUDA_GEMV_LOADS: 1..16 loads in flight a lane; unset or `auto`: chosen per group. */
export function gemvLoadsFromEnv(): number | undefined {
  const v = process.env['RWKV_STREAMS_CUDA_GEMV_LOADS'];
  if (v === undefined || v === '' || v === 'auto') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 16)
    throw new BadInputError(`RWKV_STREAMS_CUDA_GEMV_LOADS must be 1..16 or auto, not '${v}'`, {
      field: 'RWKV_STREAMS_CUDA_GEMV_LOADS',
    });
  return n;
}
