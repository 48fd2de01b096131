import type { Dim, GraphBuilder, Value } from '@rwkv-streams/core';
import { qShift } from './q-shift.js';

/**
 * VRWKV6's Q-Shift (`q_shift_multihead`): within every head, the four quarters of its
 * channels move `shift` patches right, left, down and up (vacated cells zero). It is
 * VRWKV's Q-Shift with gamma 1/4 applied per head: channels are reordered so that every
 * head's first quarters come first (index d * heads + h), shifted by `qShift`, and put
 * back. x: [B, rows*cols, C] -> same shape. The official code asserts a head size that is
 * a multiple of 4; so does the loader.
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
  if (heads === 1) return qShift(b, x, rows, cols, 1 / 4, shift);
  const [B, T, C] = x.shape as [Dim, Dim, number];
  const N = C / heads;
  const swap = (v: Value, from: [number, number]) =>
    b.reshape(b.transpose(b.reshape(v, [B, T, from[0], from[1]]), [0, 1, 3, 2]), [B, T, C]);
  const quartersFirst = swap(x, [heads, N]); // [.., h, d] -> [.., d, h]
  return swap(qShift(b, quartersFirst, rows, cols, 1 / 4, shift), [N, heads]);
}
