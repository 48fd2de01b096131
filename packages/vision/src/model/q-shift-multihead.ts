import type { GraphBuilder, Value } from '@rwkv-streams/core';

/**
 * VRWKV6's Q-Shift (`q_shift_multihead`): within every head, the four quarters of its
 * channels move `shift` patches right, left, down and up (vacated cells zero). It is
 * VRWKV's Q-Shift with gamma 1/4 over the channels in quarters-first order (every head's
 * first quarters first: rank d * heads + h), which the core's `QShift` op takes as its
 * `heads`. x: [B, rows*cols, C] -> same shape. The official code asserts a head size that
 * is a multiple of 4; so does the loader.
 */
export function qShiftMultihead(
  b: GraphBuilder,
  x: Value,
  rows: number,
  cols: number,
  heads: number,
  shift: number,
): Value {
  if (shift <= 0) return x; // the official slices with shift 0 copy every channel
  const C = x.shape[2] as number;
  return b.qShift(x, { rows, cols, group: Math.floor(C / 4), shift, heads });
}
