import type { Value } from '../graph/ir.js';
import type { BlockContext } from './block-context.js';
import { lerp, reluSquared, tokenShift } from './token-shift.js';
import type { RwkvVersionDef } from './version.js';

/**
 * RWKV-4: per-channel WKV with a max-tracking state (aa, bb, pp), time mix by
 * `time_mix_*` lerps, channel mix with a receptance gate. As BlinkDL/RWKV-LM's
 * RWKV-v4 RNN runner computes it.
 */
export const rwkv4: RwkvVersionDef = {
  version: 4,
  layerState: ({ nEmbd: C }) => [
    { name: 'att_x', shape: [C], init: 0 },
    { name: 'aa', shape: [C], init: 0 },
    { name: 'bb', shape: [C], init: 0 },
    // Log-scale running maximum: "minus infinity" that stays finite in float32 math.
    { name: 'pp', shape: [C], init: -1e30 },
    { name: 'ffn_x', shape: [C], init: 0 },
  ],
  block(ctx, x, state) {
    const { b } = ctx;
    const ln1 = b.layerNorm(x, ctx.param('ln1.weight'), ctx.param('ln1.bias'), 1e-5);
    const att = timeMix(ctx, ln1, state);
    const x1 = b.add(x, att.out);
    const ln2 = b.layerNorm(x1, ctx.param('ln2.weight'), ctx.param('ln2.bias'), 1e-5);
    const ffn = channelMix(ctx, ln2, state['ffn_x']!);
    return { x: b.add(x1, ffn.out), state: { ...att.state, ffn_x: ffn.last } };
  },
};

function timeMix(ctx: BlockContext, x: Value, state: Readonly<Record<string, Value>>) {
  const { b } = ctx;
  const { shifted, last } = tokenShift(ctx, x, state['att_x']!);
  // Official form x*m + prev*(1-m), written as prev + (x - prev)*m.
  const mixed = (name: string) => lerp(ctx, shifted, b.sub(x, shifted), ctx.param(name));
  const r = b.sigmoid(b.linear(mixed('att.time_mix_r'), ctx.param('att.receptance.weight')));
  const k = b.linear(mixed('att.time_mix_k'), ctx.param('att.key.weight'));
  const v = b.linear(mixed('att.time_mix_v'), ctx.param('att.value.weight'));
  const w = b.neg(b.exp(ctx.param('att.time_decay')));
  const wkv = b.wkv4(k, v, w, ctx.param('att.time_first'), state['aa']!, state['bb']!, state['pp']!);
  const out = b.linear(b.mul(r, wkv.y), ctx.param('att.output.weight'));
  return { out, state: { att_x: last, aa: wkv.aa, bb: wkv.bb, pp: wkv.pp } };
}

/** Channel mix of RWKV-4 and RWKV-5.2 (official `time_mix_k`/`time_mix_r` lerps). */
export function channelMixV4(ctx: BlockContext, x: Value, prev: Value): { out: Value; last: Value } {
  return channelMix(ctx, x, prev);
}

function channelMix(ctx: BlockContext, x: Value, prev: Value) {
  const { b } = ctx;
  const { shifted, last } = tokenShift(ctx, x, prev);
  const mixed = (name: string) => lerp(ctx, shifted, b.sub(x, shifted), ctx.param(name));
  const r = b.sigmoid(b.linear(mixed('ffn.time_mix_r'), ctx.param('ffn.receptance.weight')));
  const k = reluSquared(ctx, b.linear(mixed('ffn.time_mix_k'), ctx.param('ffn.key.weight')));
  return { out: b.mul(r, b.linear(k, ctx.param('ffn.value.weight'))), last };
}
