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

/**
 * Group norm with one group per head of `heads` [B, T, H, N], then the affine
 * `<prefix>.weight` and `<prefix>.bias` ([C] = [H * N]), applied on the heads as [H, N]
 * (reshaped in the graph, so backends store them as the vectors they are; the ONNX
 * lowering writes norm and affine as one LayerNormalization on the CPU). Returns
 * [B, T, C], or [B, T, H, N] with `keepHeads`.
 */
export function groupNormHeads(
  ctx: BlockContext,
  heads: Value,
  prefix: string,
  epsilon: number,
  keepHeads = false,
): Value {
  const { b, time } = ctx;
  const { nHead: H, headSize: N, nEmbd: C } = ctx.config;
  const perHead = (suffix: string) => b.reshape(ctx.param(`${prefix}.${suffix}`), [H, N]);
  const normed = b.add(b.mul(b.layerNorm(heads, null, null, epsilon), perHead('weight')), perHead('bias'));
  return keepHeads ? normed : b.reshape(normed, [BATCH, time, C]);
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
