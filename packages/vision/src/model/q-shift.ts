import type { GraphBuilder, Value } from '@rwkv-streams/core';

/**
 * Q-Shift: the token shift of Vision-RWKV over the patch grid. Channels are split in
 * five groups: the first four quarters-of-gamma are moved `shift` patches right, left,
 * down and up (vacated cells become zero), the rest stay. x: [B, H*W, C] -> same shape.
 * Written with slices and concatenations (zero fills from `x * 0`), so every backend
 * runs it with its standard ops.
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
  const g = Math.floor(C * gamma);
  const grid = b.reshape(x, [x.shape[0]!, height, width, C]); // [B, H, W, C]
  const group = (from: number, to: number) => b.slice(grid, 3, from, to);
  const zerosLike = (v: Value) => b.mul(v, b.scalar(0));
  /** Moves v by +shift (toward higher indices) or -shift along axis (1: rows, 2: columns). */
  const move = (v: Value, axis: 1 | 2, dir: 1 | -1): Value => {
    const n = axis === 1 ? height : width;
    if (shift >= n) return zerosLike(v);
    if (dir === 1)
      return b.concat([zerosLike(b.slice(v, axis, 0, shift)), b.slice(v, axis, 0, n - shift)], axis);
    return b.concat([b.slice(v, axis, shift, n), zerosLike(b.slice(v, axis, n - shift, n))], axis);
  };
  const parts: Value[] = [];
  if (g > 0) {
    parts.push(move(group(0, g), 2, 1)); // right: out[..., w] = in[..., w - shift]
    parts.push(move(group(g, 2 * g), 2, -1)); // left
    parts.push(move(group(2 * g, 3 * g), 1, 1)); // down
    parts.push(move(group(3 * g, 4 * g), 1, -1)); // up
  }
  if (4 * g < C) parts.push(group(4 * g, C));
  const shifted = parts.length === 1 ? parts[0]! : b.concat(parts, 3);
  return b.reshape(shifted, [x.shape[0]!, height * width, C]);
}
