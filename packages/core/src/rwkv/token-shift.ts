import type { Value } from '../graph/ir.js';
import { BATCH, type BlockContext } from './block-context.js';

/**
 * Token shift: the previous token's activations for every position. `x` is [B, T, C];
 * `prev` [B, C] is the last token of the previous call (state). Returns the shifted
 * [B, T, C] and the new `prev` (x's last token).
 */
export function tokenShift(ctx: BlockContext, x: Value, prev: Value): { shifted: Value; last: Value } {
  const { b, time } = ctx;
  const C = ctx.config.nEmbd;
  const prev3 = b.reshape(prev, [BATCH, 1, C]);
  if (time === 1) return { shifted: prev3, last: b.reshape(x, [BATCH, C]) };
  const head = b.slice(x, 1, 0, -1, `${String(time)}-1`);
  const shifted = b.concat([prev3, head], 1);
  const last = b.reshape(b.slice(x, 1, -1, 2 ** 31 - 1, 1), [BATCH, C]);
  return { shifted: b.reshape(shifted, [BATCH, time, C]), last };
}

/** x + (shifted - x) * mix: the lerp every version uses to mix a token with its predecessor. */
export function lerp(ctx: BlockContext, x: Value, delta: Value, mix: Value): Value {
  return ctx.b.add(x, ctx.b.mul(delta, mix));
}

/** Group norm with one group per head over [B, T, C] (C = H * N), then affine. */
export function groupNormHeads(
  ctx: BlockContext,
  y: Value,
  weight: Value,
  bias: Value,
  epsilon: number,
): Value {
  const { b, time } = ctx;
  const { nHead: H, headSize: N, nEmbd: C } = ctx.config;
  const heads = b.reshape(y, [BATCH, time, H, N]);
  const normed = b.reshape(b.layerNorm(heads, null, null, epsilon), [BATCH, time, C]);
  return b.add(b.mul(normed, weight), bias);
}

/** x * sigmoid(x). */
export function silu(ctx: BlockContext, x: Value): Value {
  return ctx.b.mul(x, ctx.b.sigmoid(x));
}

/** relu(x)^2, the channel-mix activation of every version. */
export function reluSquared(ctx: BlockContext, x: Value): Value {
  const r = ctx.b.relu(x);
  return ctx.b.mul(r, r);
}
