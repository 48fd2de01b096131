import type { GraphBuilder, Value } from '@rwkv-streams/core';

/**
 * Q-Shift: the token shift of Vision-RWKV over the patch grid. Channels are split in
 * five groups: the first four quarters-of-gamma are moved `shift` patches right, left,
 * down and up (vacated cells become zero), the rest stay. x: [B, H*W, C] -> same shape.
 * The core's `QShift` op (one pass of data movement on every backend).
 */
export function qShift(
  b: GraphBuilder,
  x: Value,
  height: number,
  width: number,
  gamma: number,
  shift: number,
): Value {
  const C = x.shape[2] as number;
  return b.qShift(x, { rows: height, cols: width, group: Math.floor(C * gamma), shift, heads: 1 });
}
