import type { Value } from '../graph/ir.js';
import { BATCH, type BlockContext } from './block-context.js';
import { DEFAULT_LN_X_EPS } from './config.js';
import { groupNormHeads, lerp, silu, tokenShift } from './token-shift.js';
import { channelMixV4 } from './v4.js';
import type { RwkvVersionDef } from './version.js';

/**
 * RWKV-5.2 (Eagle): multi-head matrix-valued state with a constant per-channel decay
 * exp(-exp(time_decay)) and bonus time_faaaa, a SiLU gate and per-head group norm.
 */
export const rwkv5: RwkvVersionDef = {
  version: 5,
  layerState: ({ nEmbd: C, nHead: H, headSize: N }) => [
    { name: 'att_x', shape: [C], init: 0 },
    { name: 'wkv', shape: [H, N, N], init: 0 },
    { name: 'ffn_x', shape: [C], init: 0 },
  ],
  block(ctx, x, state) {
    const { b } = ctx;
    const ln1 = b.layerNorm(x, ctx.param('ln1.weight'), ctx.param('ln1.bias'), 1e-5);
    const att = timeMix(ctx, ln1, state);
    const x1 = b.add(x, att.out);
    const ln2 = b.layerNorm(x1, ctx.param('ln2.weight'), ctx.param('ln2.bias'), 1e-5);
    const ffn = channelMixV4(ctx, ln2, state['ffn_x']!);
    return { x: b.add(x1, ffn.out), state: { ...att.state, ffn_x: ffn.last } };
  },
};

function timeMix(ctx: BlockContext, x: Value, state: Readonly<Record<string, Value>>) {
  const { b, time } = ctx;
  const { nHead: H, headSize: N } = ctx.config;
  const { shifted, last } = tokenShift(ctx, x, state['att_x']!);
  const mixed = (name: string) => lerp(ctx, shifted, b.sub(x, shifted), ctx.param(name));
  const heads = (v: Value) => b.reshape(v, [BATCH, time, H, N]);
  const r = heads(b.linear(mixed('att.time_mix_r'), ctx.param('att.receptance.weight')));
  const k = heads(b.linear(mixed('att.time_mix_k'), ctx.param('att.key.weight')));
  const v = heads(b.linear(mixed('att.time_mix_v'), ctx.param('att.value.weight')));
  const g = silu(ctx, b.linear(mixed('att.time_mix_g'), ctx.param('att.gate.weight')));
  const w = b.exp(b.neg(b.exp(ctx.paramAs('att.time_decay', [H, N]))));
  const wkv = b.wkv5(r, k, v, w, ctx.paramAs('att.time_faaaa', [H, N]), state['wkv']!);
  const y = groupNormHeads(ctx, wkv.y, 'att.ln_x', ctx.config.lnXEpsilon ?? DEFAULT_LN_X_EPS);
  const out = b.linear(b.mul(y, g), ctx.param('att.output.weight'));
  return { out, state: { att_x: last, wkv: wkv.s } };
}
